"""The plan studio (``channelsim studio``): its logic without a browser, then the app in one.

Without a browser: the saved plan (minimal, validates, loads into the edited scenario), path
confinement, the results index, the levers' ranges against the validator, the background run
against ``sim.compare``. In a browser: headless Chromium, driven by Playwright, loads the
studio served by ``channelsim studio`` in a subprocess, changes a budget, runs a small
comparison twice, sees a verdict change, saves the plan, and the saved file validates. Skipped,
with the reason, where Chromium or Playwright is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import sim
from sim.commands.cli import main as cli
from sim.errors import UsageError
from sim.scenario import build_scenario, load_raw, merge
from sim.scenario.yaml_io import read_yaml
from sim.studio.background import ComparisonRun
from sim.studio.editing import apply_edits, check, load
from sim.studio.levers import field_problems, plan_levers
from sim.studio.plans import PlanDiffError, changes, plan_diff, save_plan
from sim.studio.results_index import list_results, side_by_side
from sim.studio.roots import Roots, confine, scenario_files

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
TINY = {"market.customers": 1000, "horizon.days": 60, "targets": []}


@pytest.fixture
def workspace(tmp_path: Path) -> Roots:
    """A scenarios folder with the shipped baseline and six-schemes plan, and a results one."""
    (tmp_path / "scenarios").mkdir()
    for name in ("baseline.yaml", "six_schemes.yaml"):
        shutil.copy(SCENARIOS / name, tmp_path / "scenarios" / name)
    return Roots.make(tmp_path / "scenarios", tmp_path / "results")


# --------------------------------------------------------------------------------------------
# Saving a plan
# --------------------------------------------------------------------------------------------
def test_one_edit_saves_as_exactly_that_change(workspace):
    base = load(workspace, "baseline.yaml")
    edited = apply_edits(
        base.raw, {"channels.tmall.budget.paid": 60000.0, "name": "more_tmall"}, {}, base.raw
    )
    saved = save_plan(
        workspace.scenario("more.yaml"),
        baseline_path=base.path,
        baseline_raw=base.raw,
        edited_raw=edited,
    )
    # the whole file, as a reader of YAML sees it: the name, extends, one budget
    assert read_yaml(saved.path) == {
        "name": "more_tmall",
        "extends": "baseline.yaml",
        "channels": [{"id": "tmall", "budget": {"paid": 60000}}],
    }
    assert cli(["validate", str(saved.path)]) == 0
    loaded = sim.load_scenario(saved.path)
    assert loaded.channels[0].budget.paid == 60000
    assert loaded.content_hash() == build_scenario(edited).content_hash()


def test_many_edits_toggles_and_a_removed_section_round_trip(workspace):
    """Edits of every group, a calendar entry switched off and one put back from the baseline,
    saved against the six-schemes plan as baseline: the file loads into the edited scenario."""
    base, plan = load(workspace, "six_schemes.yaml"), load(workspace, "baseline.yaml")
    edits = {
        "channels.jd.budget.paid": 12345.0,
        "channels.wecom.price_index": 0.9,
        "channels.douyin.service.reply_minutes": 4.0,
        "inventory.policies.0.s": 50000,
        "promotions.events.d11.discount": 0.3,
        "name": "mixed",
    }
    toggles = {("events", "d11"): True}  # the baseline lacks d11: put back from six_schemes
    edited = apply_edits(plan.raw, edits, toggles, base.raw)
    scenario, problems = check(edited)
    assert problems == []
    assert [e.id for e in scenario.promotions.events] == ["d11"]
    saved = save_plan(
        workspace.scenario("sub/mixed.yaml"),
        baseline_path=base.path,
        baseline_raw=base.raw,
        edited_raw=edited,
    )
    data = read_yaml(saved.path)
    assert data["extends"] == "../six_schemes.yaml"
    assert {"id": "s618", "remove": True} in data["promotions"]["events"]
    assert data["tiers"] is None  # six_schemes has tiers; the plan does not: stated as null
    assert sim.load_scenario(saved.path).content_hash() == scenario.content_hash()
    assert cli(["validate", str(saved.path)]) == 0


def test_plan_diff_merges_back_and_lists_changes():
    base = {"a": {"x": 1, "y": [1, 2]}, "items": [{"id": "p", "v": 1}, {"id": "q", "v": 2}]}
    edited = {"a": {"x": 1.0, "y": [3]}, "items": [{"id": "q", "v": 5}, {"id": "r", "v": 0}]}
    diff = plan_diff(base, edited)
    assert diff == {
        "a": {"y": [3]},
        "items": [{"id": "q", "v": 5}, {"id": "r", "v": 0}, {"id": "p", "remove": True}],
    }
    assert merge(base, diff) == edited
    assert [(c.path, c.baseline, c.plan) for c in changes(base, edited)] == [
        ("a.y", [1, 2], [3]),
        ("items.q.v", 2, 5),
        ("items.r", None, {"id": "r", "v": 0}),
        ("items.p", {"id": "p", "v": 1}, "(removed)"),
    ]
    reordered = {"items": [{"id": "q", "v": 2}, {"id": "p", "v": 1}]}  # merge keeps base order
    assert merge({"items": base["items"]}, plan_diff({"items": base["items"]}, reordered)) == (
        reordered
    )
    with pytest.raises(PlanDiffError, match=r"^a\.x: the plan drops"):
        plan_diff(base, {"a": {"y": [1, 2]}, "items": base["items"]})


def test_save_refuses_what_would_lose_work(workspace):
    base = load(workspace, "baseline.yaml")
    edited = apply_edits(base.raw, {"channels.tmall.budget.paid": 1.0}, {}, base.raw)
    target = workspace.scenario("six_schemes.yaml")
    before = target.read_bytes()
    with pytest.raises(UsageError, match="exists"):
        save_plan(target, baseline_path=base.path, baseline_raw=base.raw, edited_raw=edited)
    with pytest.raises(UsageError, match="baseline"):
        save_plan(
            base.path,
            baseline_path=base.path,
            baseline_raw=base.raw,
            edited_raw=edited,
            overwrite=True,
        )
    bad = apply_edits(base.raw, {"channels.tmall.budget.paid": -5}, {}, base.raw)
    with pytest.raises(sim.ScenarioError):
        save_plan(
            workspace.scenario("bad.yaml"),
            baseline_path=base.path,
            baseline_raw=base.raw,
            edited_raw=bad,
        )
    assert target.read_bytes() == before
    assert sorted(p.name for p in workspace.scenarios.iterdir()) == [
        "baseline.yaml",
        "six_schemes.yaml",
    ]  # nothing written, no temporary left behind


# --------------------------------------------------------------------------------------------
# Paths stay under the roots
# --------------------------------------------------------------------------------------------
def test_paths_from_the_page_stay_under_their_root(tmp_path, workspace):
    root = workspace.scenarios
    assert confine(root, "a/b.yaml") == root / "a" / "b.yaml"
    for name in ("../x.yaml", "/etc/passwd", "a/../../x.yaml", "", "a\x00b"):
        with pytest.raises(UsageError):
            confine(root, name)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("name: secret\n")
    (root / "link").symlink_to(outside)
    with pytest.raises(UsageError, match="outside"):
        confine(root, "link/secret.yaml")
    (root / "designs").mkdir()
    shutil.copy(SCENARIOS / "designs" / "budgets_grid.yaml", root / "designs" / "grid.yaml")
    shutil.copy(SCENARIOS / "inventory" / "verification.yaml", root / "verification.yaml")
    (root / ".hidden.yaml").write_text("name: h\n")
    assert scenario_files(root) == ["baseline.yaml", "six_schemes.yaml"]


# --------------------------------------------------------------------------------------------
# The form: ranges from the schema, messages on the fields
# --------------------------------------------------------------------------------------------
def test_each_lever_range_is_the_validators(workspace):
    """Just outside a lever's stated range the validator refuses the plan, with a message
    that lands on that very field; on the bound it accepts it."""
    base, plan = load(workspace, "baseline.yaml"), load(workspace, "six_schemes.yaml")
    levers = {lv.path: lv for lv in plan_levers(plan.dump, base.dump)}
    tried = 0
    for path in (
        "channels.tmall.budget.paid",
        "promotions.events.s618.discount",
        "promotions.events.s618.presale_days",
        "channels.wecom.price_index",
        "inventory.policies.0.review_period",
        "tiers.perks.high_value.discount",
    ):
        lv = levers[path]
        for bound, strict, step in ((lv.low, lv.low_strict, -1), (lv.high, lv.high_strict, 1)):
            if bound is None:
                continue
            outside = bound + step * (1 if lv.kind == "int" else 0.01)
            data = apply_edits(plan.raw, {path: outside}, {}, base.raw)
            _, problems = check(data)
            on_field, _ = field_problems(problems, list(levers))
            assert on_field.get(path), (path, outside, problems)
            inside = bound - step * 0.01 if strict else bound
            ok = apply_edits(plan.raw, {path: inside}, {}, base.raw)
            assert check(ok)[1] == [], (path, bound)
            tried += 1
    assert tried >= 8
    assert levers["channels.tmall.budget.paid"].range_text() == "≥ 0"
    assert levers["channels.tmall.budget.paid"].base == 40000
    assert levers["promotions.events.s618.discount"].range_text() == "0 – 1"


# --------------------------------------------------------------------------------------------
# The results index
# --------------------------------------------------------------------------------------------
def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))


def test_results_index_reads_what_it_can(tmp_path):
    r = tmp_path / "results"
    _write(r / "run1" / "manifest.json", {"scenario": "six", "created": "2026-03-01T10:00:00"})
    _write(
        r / "run1" / "summary.json",
        {
            "kpis": {"revenue": {"mean": 5.0}},
            "targets": [{"verdict": "met"}, {"verdict": "missed"}, {"verdict": "met"}],
        },
    )
    _write(
        r / "cmp" / "manifest.json",
        {
            "command_name": "compare",
            "baseline": "b",
            "plans": ["p"],
            "created": "2026-03-02T10:00:00",
        },
    )
    _write(
        r / "cmp" / "summary.json",
        {
            "scenarios": {
                "b": {"kpis": {"revenue": {"mean": 4.0}}, "targets": []},
                "p": {
                    "kpis": {"revenue": {"mean": 6.0}, "orders": {"mean": 2}},
                    "targets": [{"verdict": "undecided"}],
                },
            }
        },
    )
    _write(r / "cmp" / "report.html", "<html></html>")
    _write(
        r / "opt" / "manifest.json",
        {"scenario": "six", "optimizer": "budget", "created": "2026-03-03T10:00:00"},
    )
    _write(r / "sw" / "sweep.json", {"kind": "sweep", "scenario": "base"})
    _write(r / "bad" / "manifest.json", "{cut short")
    _write(r / "bad" / "summary.json", "[1, 2]")
    _write(r / ".cache" / "manifest.json", {})
    _write(r / "notes.txt", "not a directory")
    (r / "empty").mkdir()
    entries = {e.name: e for e in list_results(r)}
    assert sorted(entries) == ["bad", "cmp", "opt", "run1", "sw"]
    assert [entries[n].kind for n in ("run1", "cmp", "opt", "sw", "bad")] == [
        "run",
        "comparison",
        "optimisation",
        "sweep",
        "unknown",
    ]
    assert entries["run1"].verdicts == {"six": {"met": 2, "missed": 1}}
    assert entries["cmp"].verdicts == {"p": {"undecided": 1}}
    assert entries["cmp"].scenarios == ["b", "p"] and entries["cmp"].has_report
    assert entries["bad"].notes == ["manifest.json: unreadable (JSONDecodeError)"]
    dated = [e.name for e in list_results(r) if e.name in ("run1", "cmp", "opt")]
    assert dated == ["opt", "cmp", "run1"]  # newest first
    table = side_by_side(r, "run1", "cmp")
    assert table.loc["revenue"].tolist() == [5.0, 4.0, 6.0]
    assert list(table.columns) == ["run1: six", "cmp: b", "cmp: p"]


# --------------------------------------------------------------------------------------------
# The background run
# --------------------------------------------------------------------------------------------
def test_background_run_is_compare_in_batches():
    """Batch by batch, the run reaches the numbers ``sim.compare`` gets in one go, and the
    spend difference is the budget change × days (spend is exactly the budgets)."""
    base = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides=TINY)
    targets = [
        {"kpi": "revenue", "relative_to": "baseline", "at_least": 1.0},
        {"kpi": "spend", "at_most": 6e6},
    ]
    plan = sim.apply_overrides(
        base, {"name": "p", "channels.jd.budget.paid": 26000, "targets": targets}
    )
    run = ComparisonRun(
        base, plan, replications=3, seed=3, workers=1, batch=1, cache_dir=None
    ).start()
    assert run.wait(300)
    snap = run.snapshot()
    assert (snap.state, snap.done) == ("done", 3)
    ref = sim.compare(base, [plan], replications=3, seed=3, workers=1, cache=False)
    mine = snap.headline.set_index("kpi")
    theirs = ref.diffs.set_index("kpi")
    for kpi in ("revenue", "profit", "orders"):
        assert mine.loc[kpi, "diff"] == pytest.approx(theirs.loc[kpi, "diff"], rel=1e-12)
    assert mine.loc["spend", "diff"] == pytest.approx(6000 * 60)
    assert [t.verdict for t in snap.targets] == [t.verdict for t in ref.targets["p"]]
    assert [t.probability for t in snap.targets] == [t.probability for t in ref.targets["p"]]


def test_background_run_cancels_between_batches():
    base = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides=TINY)
    run = ComparisonRun(base, base, replications=50, workers=1, batch=1, cache_dir=None)
    run.start()
    run.cancel()
    assert run.wait(120)
    snap = run.snapshot()
    assert snap.state == "cancelled" and snap.done < 50


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------
def test_command_refuses_bad_flags(tmp_path, capsys):
    assert cli(["studio", "--scenarios", str(tmp_path / "nope"), "--no-browser"]) == 2
    assert "--scenarios: not a directory" in capsys.readouterr().err
    assert (
        cli(
            [
                "studio",
                "--scenarios",
                str(SCENARIOS),
                "--results",
                str(tmp_path),
                "--port",
                "70000",
                "--no-browser",
            ]
        )
        == 2
    )
    assert "--port: must be 0–65535" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert (
            cli(
                [
                    "studio",
                    "--scenarios",
                    str(SCENARIOS),
                    "--results",
                    str(tmp_path),
                    "--port",
                    str(port),
                    "--no-browser",
                ]
            )
            == 2
        )
    assert f"--port {port}: cannot listen" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# In a real browser
# --------------------------------------------------------------------------------------------
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and Path(p).exists()), None
)
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None
FLAGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs Debian's chromium and the playwright package (.ci/run installs both; "
    "apt-get install chromium; pip install -e '.[test]')",
)
PLAN = """name: plan
extends: baseline.yaml
targets:
  - {kpi: spend, relative_to: baseline, at_least: 1.2, label: "marketing spend +20 %"}
"""


def _tiny_workspace(root: Path) -> Path:
    """baseline.yaml at 1 000 agents and 60 days, and a plan that wants 20 % more spend."""
    scen = root / "scenarios"
    scen.mkdir()
    text = (SCENARIOS / "baseline.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^  customers: 20000 ", "  customers: 1000 ", text)
    text = re.sub(r"(?m)^  days: 365$", "  days: 60", text)
    (scen / "baseline.yaml").write_text(text, encoding="utf-8")
    (scen / "plan.yaml").write_text(PLAN, encoding="utf-8")
    _write(root / "results" / "old" / "manifest.json", {"scenario": "baseline"})
    _write(root / "results" / "old" / "report.html", "<html><body>old report</body></html>")
    return scen


@pytest.fixture
def studio(tmp_path):
    scen = _tiny_workspace(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "studio.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim.commands.cli",
            "studio",
            "--port",
            str(port),
            "--no-browser",
            "--workers",
            "1",
            "--scenarios",
            str(scen),
            "--results",
            str(tmp_path / "results"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/readyz", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "studio.log").read_text()
                time.sleep(0.25)
        yield url, scen, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


@browser
def test_studio_in_a_browser(studio):
    url, scen, root = studio
    assert "http://127.0.0.1:" in (root / "studio.log").read_text()
    # the results route serves reports and nothing outside the results folder
    assert _status(url + "/studio/results/old/report.html") == 200
    assert _status(url + "/studio/results/%2e%2e/scenarios/plan.yaml") == 404
    assert _status(url + "/studio/results/old/manifest.json/../../../scenarios/plan.yaml") == 404
    # spend is the budgets × days: the plan's ratio to the baseline, worked out here
    budgets = {"tmall": 40000, "jd": 20000, "douyin": 30000, "wecom": 1000, "xiaohongshu": 5000}
    ratio = (sum(budgets.values()) + 100000 - budgets["tmall"]) / sum(budgets.values())
    outside = []
    with sync_playwright() as p:
        chrome = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = chrome.new_page(viewport={"width": 1400, "height": 1000})
        page.on(
            "request",
            lambda r: (
                outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None
            ),
        )
        page.goto(url)
        budget = page.get_by_label("Tmall flagship store · paid traffic")
        budget.wait_for(timeout=90_000)
        reps = page.get_by_label("replications", exact=True)
        reps.fill("3")
        reps.press("Enter")
        page.get_by_role("button", name="Run comparison").click()
        page.get_by_text(re.compile(r"^run 1 · done: 3 of 3")).wait_for(timeout=120_000)
        row = page.locator("tr", has_text="spend ≥ 1.2 × baseline")
        assert "missed" in row.inner_text()  # same budgets: spend ratio 1, 0 of 3 meet
        budget.fill("100000")
        budget.press("Enter")
        page.get_by_text("plan file: 40,000").wait_for(timeout=10_000)
        page.get_by_role("button", name="Run comparison").click()
        page.get_by_text(re.compile(r"^run 2 · done: 3 of 3")).wait_for(timeout=120_000)
        cells = row.locator("td").all_inner_texts()
        assert cells[1].startswith(f"× {ratio:.3g}")  # 156 000 / 96 000 = 1.625
        assert cells[3:] == ["undecided", "missed"]  # 3 of 3 meet; the previous run's verdict
        page.get_by_text("What the change since the previous run did").wait_for(timeout=10_000)
        name = page.get_by_label("file name (under the scenarios folder)")
        name.fill("more_tmall.yaml")
        name.press("Enter")
        page.get_by_role("button", name="Save plan").click()
        page.get_by_text(re.compile(r"^saved more_tmall\.yaml")).wait_for(timeout=20_000)
        page.get_by_role("button", name="Results").click()
        link = page.get_by_role("link", name="report")
        link.wait_for(timeout=30_000)
        page.screenshot(path=str(root / "studio.png"), full_page=True)
        page.goto(url + link.get_attribute("href"))
        assert "old report" in page.content()
        chrome.close()
    assert outside == []  # every script, style and font came from the studio itself
    saved = scen / "more_tmall.yaml"
    assert cli(["validate", str(saved)]) == 0
    data = read_yaml(saved)
    assert data["extends"] == "baseline.yaml"
    assert data["channels"] == [{"id": "tmall", "budget": {"paid": 100000}}]
    expected = sim.load_scenario(
        scen / "plan.yaml", overrides={"channels.tmall.budget.paid": 100000}
    )
    assert sim.load_scenario(saved).content_hash() == expected.content_hash()
    assert load_raw(saved)["extends"] == str((scen / "baseline.yaml").resolve())
