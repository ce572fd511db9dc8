"""Reports and outputs for people (issue 16): the one-minute summary, KPI names in words, the
console summary, readable figures and differences, the data dictionary (columns.csv), the
market table and the reproducibility manifest.

Every claim is checked against something computed here from the files or the environment (the
kpis table, the scenario YAML, `git rev-parse`, `platform`), never against the code's own text.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.commands.cli import main
from sim.reports import figures as F
from sim.reports.forest import diff_forest
from sim.reports.summary import console_summary
from sim.results.columns import UNDOCUMENTED
from sim.results.provenance import git_state
from sim.scenario import load_scenario
from sim.scenario.kpi_labels import LABELS, label, meaning, unit
from sim.scenario.kpi_names import INVENTORY_KPIS, MARKET_KPIS, SCOPED_KPIS, kpi_names

from .conftest import ROOT, SCENARIOS

SMALL = ["--set", "market.customers=1000", "--set", "horizon.days=200"]


@pytest.fixture(scope="module")
def cmp_dir(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("people") / "cmp"
    argv = ["compare", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "six_schemes.yaml")]
    argv += ["-r", "3", "--workers", "1", "--no-cache", "--no-progress", "--out", str(out)]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*argv, *SMALL]) == 0
    return out, buf.getvalue()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("people") / "run"
    argv = ["run", str(SCENARIOS / "baseline.yaml"), "-r", "2", "--workers", "1"]
    argv += ["--set", "market.customers=800", "--set", "horizon.days=60", "--out", str(out)]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main([*argv, "--no-progress"]) == 0
    return out, buf.getvalue()


def section(md: str, title: str) -> str:
    """The text of one ``## title`` section of report.md."""
    part = md.split(f"## {title}", 1)[1]
    return part.split("\n## ", 1)[0]


# ---- KPI names in words --------------------------------------------------------------------
def test_every_kpi_name_has_a_label_a_unit_and_a_meaning():
    bases = {*SCOPED_KPIS, *MARKET_KPIS, *INVENTORY_KPIS, "tier_share"}
    for path in sorted(SCENARIOS.glob("*.yaml")):
        try:
            sc = load_scenario(path)
        except Exception:  # noqa: BLE001 - a file that is not a loadable plan (designs…)
            continue
        bases |= {k.partition(".")[0] for k in kpi_names(sc)}
    missing = sorted(b for b in bases if b not in LABELS)
    assert not missing, f"KPIs without a plain-word label in sim/scenario/kpi_labels.py: {missing}"
    for b in bases:
        assert label(b) != b.replace("_", " ") or " " not in b, b
        assert unit(b) and meaning(b), b


# ---- the one-minute summary -----------------------------------------------------------------
def _paired(kpis: pd.DataFrame, kpi: str) -> tuple[float, float]:
    """Mean of plan_r − baseline_r and that ÷ |baseline mean|, straight from kpis.csv."""
    wide = kpis.pivot_table(index="replication", columns="scenario", values=kpi)
    d = wide["six_schemes"] - wide["baseline"]
    return float(d.mean()), float(d.mean() / abs(wide["baseline"].mean()))


def test_summary_opens_the_report_with_verdicts_changes_and_cost(cmp_dir):
    out, _ = cmp_dir
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.index("## In one minute") < md.index("## Targets")
    first = section(md, "In one minute")
    summary = json.loads((out / "summary.json").read_text())
    verdicts = [t["verdict"] for t in summary["scenarios"]["six_schemes"]["targets"]]
    counts = {v: verdicts.count(v) for v in ("met", "undecided", "missed")}
    assert len(verdicts) == 6
    assert (
        f"6 targets: {counts['met']} met, {counts['undecided']} undecided, "
        f"{counts['missed']} missed"
    ) in first
    kpis = pd.read_csv(out / "kpis.csv")
    for kpi, words in (("revenue", "Revenue"), ("profit", "profit")):
        diff, rel = _paired(kpis, kpi)
        assert f"{words} {diff / 1e6:+,.1f} M CNY ({rel * 100:+.0f} %)" in first, kpi
    spend, rel = _paired(kpis, "spend")
    assert f"for {spend / 1e6:+,.1f} M CNY ({rel * 100:+.0f} %) of marketing spend" in first


def test_title_is_the_plans_name_and_description(cmp_dir):
    out, _ = cmp_dir
    html = (out / "report.html").read_text(encoding="utf-8")
    raw = yaml.safe_load((SCENARIOS / "six_schemes.yaml").read_text(encoding="utf-8"))
    assert re.search(r"<h1>six_schemes against baseline</h1>", html)
    description = " ".join(raw["description"].split())
    assert description[:60].replace("→", "&rarr;") in html or description[:60] in html
    assert "scenarios/" not in re.search(r"<title>(.*)</title>", html).group(1)


def test_kpi_table_names_kpis_in_words_with_units_and_code_names(cmp_dir):
    out, _ = cmp_dir
    md = (out / "report.md").read_text(encoding="utf-8")
    kpis = section(md, "KPIs and paired differences vs the baseline")
    assert "| revenue (M CNY) | revenue |" in kpis
    assert "| revenue per CNY of marketing spend (CNY per CNY) | roi_overall |" in kpis
    base = pd.read_csv(out / "kpis.csv").query("scenario == 'baseline'")
    rate = base["conversion_rate"].mean() * 100
    row = next(r for r in kpis.splitlines() if "| conversion_rate |" in r)
    assert f"| {rate:.1f} % [" in row  # a rate as a percentage
    money = base["revenue"].mean() / 1e6
    assert f"| {money:,.1f} M CNY [" in kpis


def test_console_ends_with_the_same_summary_within_100_columns(cmp_dir, run_dir):
    for _, printed in (cmp_dir, run_dir):
        tail = printed[printed.rindex("Summary ") :].splitlines()
        assert len(tail) >= 3
        assert max(len(line) for line in tail) <= 100, tail
    out, printed = cmp_dir
    summary = json.loads((out / "summary.json").read_text())
    verdicts = [t["verdict"] for t in summary["scenarios"]["six_schemes"]["targets"]]
    tail = printed[printed.rindex("Summary ") :]
    assert f"{verdicts.count('met')} met, {verdicts.count('undecided')} undecided" in tail
    diff, _ = _paired(pd.read_csv(out / "kpis.csv"), "revenue")
    assert f"{diff / 1e6:+,.1f} M CNY" in tail


def test_console_summary_fits_100_columns_with_many_long_named_plans():
    names = [f"plan_with_a_really_long_descriptive_name_number_{i}" * 2 for i in range(4)]
    diff = {"diff": 3.35e12, "relative": 123.4, "paired_low": 3.2e12, "paired_high": 3.5e12}
    scen = {
        n: {
            "kpis": {"revenue": {"mean": 4e12}},
            "targets": [{"verdict": "met"}] * 12,
            "paired_diffs": {k: diff for k in ("revenue", "profit", "spend", "orders", "aov")},
        }
        for n in ["baseline_" * 12, *names]
    }
    text = console_summary({"baseline": "baseline_" * 12, "plans": names, "scenarios": scen})
    assert max(len(line) for line in text.splitlines()) <= 100


# ---- figures and tables ---------------------------------------------------------------------
def _wcag(rgb) -> float:
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_heatmap_text_contrasts_with_its_cell_and_small_counts_are_not_zero_k():
    import matplotlib

    cmap = matplotlib.colormaps["Blues"]
    for x in np.linspace(0, 1, 21):
        cell = cmap(x)
        chosen = F._text_colour(cell)
        lum = _wcag(cell)
        white, black = 1.05 / (lum + 0.05), (lum + 0.05) / 0.05
        best = "white" if white > black else "black"
        # the chosen colour has the better WCAG contrast, or both are within 15 % of each other
        assert chosen == best or abs(white - black) / max(white, black) < 0.15, (x, chosen)
    assert F.count(0.4) == "0.4" and F.count(12) == "12" and F.count(4_321) == "4,321"
    assert F.count(250_000) == "250k" and F.count(0) == "0"
    for v in (0.01, 0.3, 7, 42, 999):
        assert not F.count(v).startswith(("0.0k", "0k")), v


def test_forest_plot_marks_every_clipped_interval_with_its_value():
    kpis = ["revenue", "orders", "profit", "buyers", "aov", "private_pool"]
    rel = [0.1, 0.2, -0.05, 0.15, 0.02, 6.84]
    base = 1000.0
    d = pd.DataFrame(
        {
            "plan": "p",
            "kpi": kpis,
            "relative": rel,
            "baseline": base,
            "paired_low": [(r - 0.02) * base for r in rel],
            "paired_high": [(r + 0.02) * base for r in rel],
            "welch_low": [(r - 0.05) * base for r in rel],
            "welch_high": [(r + 0.05) * base for r in rel],
        }
    )
    png, clipped = diff_forest(d)
    assert png[:4] == b"\x89PNG"
    assert clipped == ["p: private-pool members +684 %"]


def test_pool_and_stock_panels_have_at_most_six_lines(monkeypatch):
    captured = []
    monkeypatch.setattr(F, "_png", lambda fig: captured.append(fig) or b"")
    idx = pd.date_range("2026-01-01", periods=5)
    frame = pd.DataFrame({f"c{i}": np.arange(5) * 1000.0 * i for i in range(10)}, index=idx)
    F.private_pool({"a": frame, "b": frame.iloc[:, :3]}, {"c0": "zero"})
    fig = captured[0]
    lines = [len(ax.get_lines()) for ax in fig.axes]
    assert lines == [6, 4, 3]  # 10 columns split 6 + 4, then 3
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "zero"
    fig.axes[0].figure.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert any("," in t for t in ticks)  # thousands separators


def test_differences_are_a_readable_table_with_units(cmp_dir):
    out, _ = cmp_dir
    diffs = section((out / "report.md").read_text(encoding="utf-8"), "What each plan changes")
    assert "null" not in diffs and "{" not in diffs and '"' not in diffs
    base = yaml.safe_load((SCENARIOS / "baseline.yaml").read_text(encoding="utf-8"))
    plan = yaml.safe_load((SCENARIOS / "six_schemes.yaml").read_text(encoding="utf-8"))
    b = next(c for c in base["channels"] if c["id"] == "tmall")["budget"]["paid"]
    p = next(c for c in plan["channels"] if c["id"] == "tmall")["budget"]["paid"]
    assert f"| channels.tmall.budget.paid | {b:,.0f} | {p:,.0f} | CNY / day |" in diffs
    assert "| targets[0] | — |" in diffs  # a target in words, not a dict


def test_wide_tables_scroll_in_their_box_and_the_page_prints(cmp_dir):
    html = (cmp_dir[0] / "report.html").read_text(encoding="utf-8")
    assert ".scroll{overflow-x:auto" in html and "@media print" in html
    assert html.count("<table>") == html.count('<div class="scroll"><table>')


@pytest.mark.skipif(not shutil.which("chromium"), reason="no Chromium installed")
def test_report_fits_1280_px_and_prints_in_chromium(cmp_dir):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto((cmp_dir[0] / "report.html").as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        widest = page.evaluate(
            "Math.max(...[...document.querySelectorAll('.scroll')].map(e => e.clientWidth))"
        )
        assert widest <= 1280
        pdf = page.pdf(format="A4")
        browser.close()
    assert pdf[:4] == b"%PDF" and pdf.count(b"/Type /Page") > 3


# ---- the data dictionary and the market table ---------------------------------------------
def _written_columns(d: Path) -> dict[str, list[str]]:
    """Every table file's columns, read here with pandas."""
    out = {}
    for f in sorted(d.iterdir()):
        if f.suffix == ".parquet":
            out[f.stem] = list(pd.read_parquet(f).columns)
        elif f.suffix == ".csv" and f.stem != "columns":
            out.setdefault(f.stem, list(pd.read_csv(f, nrows=0).columns))
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    from sim.experiments.design import build_design
    from sim.experiments.sweep import run_sweep

    design = build_design(
        {
            "sampler": "grid",
            "seed": 5,
            "replications": 1,
            "parameters": {"channels.tmall.budget.paid": {"levels": [20000, 50000]}},
            "kpis": ["revenue"],
        }
    )
    sc = load_scenario(
        SCENARIOS / "baseline.yaml", overrides={"market.customers": 800, "horizon.days": 30}
    )
    out = tmp_path_factory.mktemp("people") / "sweep"
    run_sweep(sc, design, out=out, workers=1, progress=False)
    return out


def test_columns_csv_describes_every_column_written(cmp_dir, run_dir, sweep_dir):
    for d in (cmp_dir[0], run_dir[0], sweep_dir):
        with open(d / "columns.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        described = {(r["table"], r["column"]): r for r in rows}
        written = _written_columns(d)
        assert written, d
        for table, columns in written.items():
            if table in ("design_points",) or table.startswith("journal"):
                continue  # a sweep's working files
            for col in columns:
                row = described.get((table, col))
                assert row is not None, (d.name, table, col)
                assert row["meaning"] and row["meaning"] != UNDOCUMENTED, (d.name, table, col)
        # summary.json's fields, as patterns over the KPI names
        if (d / "summary.json").is_file():
            s = json.loads((d / "summary.json").read_text())
            for sc in s.get("scenarios", {"": s}).values():
                for entry in sc["kpis"].values():
                    for key in entry:
                        assert ("summary", f"kpis.<KPI>.{key}") in described, key
                for t in sc["targets"]:
                    for key in t:
                        assert ("summary", f"targets[].{key}") in described, key
    tables = {r["table"] for r in csv.DictReader(open(cmp_dir[0] / "columns.csv"))}
    assert {"daily", "market", "kpis", "summary"} <= tables
    assert {"results", "point_summary"} <= {
        r["table"] for r in csv.DictReader(open(sweep_dir / "columns.csv"))
    }


def test_the_data_dictionary_page_is_current():
    from sim.results.dictionary_doc import markdown

    assert (ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8") == markdown(), (
        "docs/data-dictionary.md is out of date: python -m sim.results.dictionary_doc"
    )


def test_market_measures_have_their_own_table_one_row_per_day(baseline):
    from sim.core.ledger import MARKET_MEASURES
    from sim.core.model import ChannelMarket
    from sim.kpis import compute_kpis

    model = ChannelMarket(baseline, seed=2)
    ledger = model.run()
    assert not set(MARKET_MEASURES) & set(ledger.daily.columns)
    assert list(ledger.market["day"]) == list(range(baseline.horizon.days))
    # the pool at the end, counted on the customers themselves, in real units
    pool = model.pop.pool_size() * baseline.market.scale
    assert ledger.market["private_pool"].iloc[-1] == pytest.approx(pool, rel=1e-12)
    assert compute_kpis(ledger)["private_pool"] == pytest.approx(pool, rel=1e-12)
    mid = compute_kpis(ledger, window=(0, 30))["private_pool"]
    assert mid == pytest.approx(ledger.market["private_pool"].iloc[29], rel=1e-12)


def test_results_hold_the_market_table(cmp_dir, run_dir):
    m = pd.read_csv(cmp_dir[0] / "market.csv")
    assert len(m) == 2 * 3 * 200  # scenarios × replications × days
    assert m.groupby(["scenario", "replication"])["day"].nunique().eq(200).all()
    assert "private_pool" not in pd.read_parquet(cmp_dir[0] / "daily.parquet").columns
    r = pd.read_csv(run_dir[0] / "market.csv")
    assert len(r) == 2 * 60
    kpis = pd.read_csv(run_dir[0] / "kpis.csv")
    last = r[r["day"] == 59].set_index("replication")["private_pool"]
    np.testing.assert_allclose(kpis.set_index("replication")["private_pool"], last, rtol=1e-12)


# ---- reproducibility ------------------------------------------------------------------------
def _code_hash() -> str:
    """sha256 over sim/ and optimizers/ .py files, walked here with os.walk."""
    h = hashlib.sha256()
    files = []
    for pkg in ("sim", "optimizers"):
        for dirpath, _, names in os.walk(ROOT / pkg):
            files += [Path(dirpath) / n for n in names if n.endswith(".py")]
    for pkg in ("sim", "optimizers"):
        for f in sorted(x for x in files if x.relative_to(ROOT).parts[0] == pkg):
            h.update(f.relative_to(ROOT).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_manifest_says_how_to_reproduce_the_directory(cmp_dir, run_dir):
    for d in (cmp_dir[0], run_dir[0]):
        r = json.loads((d / "manifest.json").read_text())["reproduce"]
        assert "--out" in r["command"] and str(d) in r["command"]
        assert r["command"].split()[1] in ("compare", "run")
        assert r["python"]["version"] == platform.python_version()
        assert r["platform"]["system"] == platform.system()
        assert r["platform"]["machine"] == platform.machine()
        assert r["distributions"]["numpy"] == metadata.version("numpy")
        assert r["distributions"]["pandas"] == pd.__version__
        installed = {d.metadata["Name"] for d in metadata.distributions() if d.metadata["Name"]}
        assert set(r["distributions"]) == installed
        assert re.fullmatch(r"[0-9a-f]{64}", r["code_hash"])
        git = shutil.which("git")
        head = (
            subprocess.run(
                ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
            )
            if git
            else None
        )
        if head is None or head.returncode != 0:
            assert r["git"] is None
        else:
            assert r["git"]["commit"] == head.stdout.strip()
            status = subprocess.run(
                ["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True
            ).stdout
            assert isinstance(r["git"]["dirty"], bool)
            if status.strip():  # the tree cannot get cleaner while the tests run
                assert r["git"]["dirty"] is True
    assert (cmp_dir[0] / "scenarios.json").is_file() and (run_dir[0] / "scenarios.json").is_file()


def test_a_sweep_says_how_to_reproduce_it_too(sweep_dir):
    rep = json.loads((sweep_dir / "reproduce.json").read_text())
    assert rep["scenario"]["market"]["customers"] == 800  # the resolved scenario
    assert rep["reproduce"]["python"]["version"] == platform.python_version()
    assert rep["reproduce"]["distributions"]["numpy"] == metadata.version("numpy")


def test_code_hash_covers_every_source_file_of_sim_and_optimizers():
    from sim.results.provenance import reproducibility

    assert reproducibility(["channelsim", "run", "x.yaml"])["code_hash"] == _code_hash()


def test_no_git_or_no_checkout_is_null_never_an_error(tmp_path, monkeypatch):
    assert git_state(tmp_path) is None  # not a checkout
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert git_state(ROOT) is None


# ---- `run` reports, `report` on any results directory ---------------------------------------
def test_run_writes_a_report_and_report_rerenders_it(run_dir, capsys):
    out, printed = run_dir
    assert "report: " in printed and (out / "report.html").is_file()
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# baseline: 2 replications") and "## In one minute" in md
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()


def test_report_on_a_sweep_says_where_its_write_up_is(sweep_dir, capsys):
    code = main(["report", str(sweep_dir)])
    err = capsys.readouterr()
    assert code == 2 and "channelsim analyze" in err.err and "Traceback" not in err.err


def test_progress_bar_follows_a_growing_plan():
    from sim.commands.progress import ProgressBar

    bar = ProgressBar("x", total=4, enabled=False)
    bar.update_to(4, 4)
    bar.update_to(5, 8)  # --until-decided added a batch
    bar.tick(2)
    assert (bar.done, bar.total) == (7, 8)
    assert math.isfinite(bar.done / bar.total)
