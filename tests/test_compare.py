"""Comparisons: paired vs unpaired intervals, executors, adaptive precision, the cache, the CLI."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim.experiments.evaluation as experiment
from sim.commands.cli import main
from sim.experiments.cache import ResultCache
from sim.experiments.comparison import compare, paired_interval, welch_interval
from sim.experiments.differences import scenario_differences
from sim.experiments.replication import Replication
from sim.scenario import apply_overrides, load_scenario

from .conftest import ROOT, SCENARIOS

SMALL = {"market.customers": 1500, "horizon.days": 60, "targets": []}
#: The README's claim ("Plans vs baseline with uncertainty"): for this small change (+10 % paid
#: traffic on Tmall) paired intervals are ≈ this many times narrower than Welch's.
#: ``python -m tests.test_compare`` prints the measured ratios.
CLAIMED_NARROWING = 10
NARROWING_KPIS = ("revenue", "orders", "buyers")
PAIRED_REPLICATIONS = 20


@pytest.fixture(scope="module")
def base():
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=SMALL)


@pytest.fixture(scope="module")
def more_paid():
    """A small plan change: 10 % more paid traffic on Tmall."""
    return load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={**SMALL, "name": "more_paid", "channels.tmall.budget.paid": 44000},
    )


@pytest.fixture(scope="module")
def cmp(base, more_paid):
    return compare(
        base,
        [more_paid],
        replications=PAIRED_REPLICATIONS,
        seed=7,
        workers=1,
        cache=False,
        keep_daily=False,
    )


def narrowing(cmp) -> dict[str, float]:
    """Welch interval width ÷ paired interval width, per KPI of :data:`NARROWING_KPIS`."""
    d = cmp.diffs.set_index("kpi")
    return {
        k: float(
            (d.loc[k, "welch_high"] - d.loc[k, "welch_low"])
            / (d.loc[k, "paired_high"] - d.loc[k, "paired_low"])
        )
        for k in NARROWING_KPIS
    }


def test_paired_intervals_are_as_much_narrower_as_the_readme_claims(cmp):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"≈ {CLAIMED_NARROWING}× narrower than Welch" in readme  # the claim tested here
    for k, ratio in narrowing(cmp).items():
        assert CLAIMED_NARROWING / 1.5 <= ratio <= CLAIMED_NARROWING * 1.5, (k, ratio)


def test_paired_and_welch_intervals_are_scipys(cmp):
    """Both intervals against scipy's t tests on the raw replications, paired by index."""
    b = cmp.evaluations["baseline"].kpis.set_index("replication")
    p = cmp.evaluations["more_paid"].kpis.set_index("replication").loc[b.index]
    d = cmp.diffs.set_index("kpi")
    for k in (*NARROWING_KPIS, "profit", "aov", "roi_overall"):
        welch = stats.ttest_ind(p[k], b[k], equal_var=False).confidence_interval(0.95)
        paired = stats.ttest_rel(p[k], b[k]).confidence_interval(0.95)
        got_w = (d.loc[k, "welch_low"], d.loc[k, "welch_high"])
        got_p = (d.loc[k, "paired_low"], d.loc[k, "paired_high"])
        assert got_w == pytest.approx((welch.low, welch.high), rel=1e-9, abs=1e-9), k
        assert got_p == pytest.approx((paired.low, paired.high), rel=1e-9, abs=1e-9), k
        assert d.loc[k, "n"] == len(b) == PAIRED_REPLICATIONS


def test_interval_formulas_on_known_numbers():
    base = pd.Series([10.0, 20, 30, 40])
    plan = base + pd.Series([1.0, 2, 1, 2])
    mean, lo, hi, n = paired_interval(plan, base)
    half = 3.182446305284263 * np.std([1, 2, 1, 2], ddof=1) / 2  # t(0.975, 3)
    assert (mean, lo, hi, n) == pytest.approx((1.5, 1.5 - half, 1.5 + half, 4))
    diff, wlo, whi = welch_interval(plan, base)
    assert diff == pytest.approx(1.5) and whi - wlo > 10 * (hi - lo)


def test_same_numbers_on_one_worker_two_workers_and_dask(base, more_paid):
    from dask.distributed import LocalCluster

    tiny = {"market.customers": 800, "horizon.days": 30, "targets": []}
    b, p = (apply_overrides(s, tiny) for s in (base, more_paid))
    cmp = compare(b, [p], replications=4, seed=7, workers=1, cache=False)
    two = compare(b, [p], replications=4, seed=7, workers=2, cache=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        dask = compare(
            b, [p], replications=4, seed=7, cache=False, scheduler=cluster.scheduler_address
        )
    for other in (two, dask):
        for name in cmp.names:
            pd.testing.assert_frame_equal(
                cmp.evaluations[name].kpis, other.evaluations[name].kpis, check_exact=True
            )
        pd.testing.assert_frame_equal(cmp.diffs, other.diffs, check_exact=True)


def test_adaptive_precision_stops_and_says_why(base, more_paid):
    loose = compare(
        base,
        [more_paid],
        replications=3,
        seed=7,
        workers=1,
        cache=False,
        precision=0.9,
        max_replications=9,
    )
    assert loose.precision["reached"] and loose.precision["stopped_because"] == "precision reached"
    assert loose.replications == 3
    tight = compare(
        base,
        [more_paid],
        replications=2,
        seed=7,
        workers=1,
        cache=False,
        precision=1e-6,
        max_replications=5,
    )
    assert not tight.precision["reached"]
    assert tight.precision["stopped_because"] == "replication cap reached"
    assert tight.replications == 5  # batches of 2, 2, then 1 to stop exactly at the cap
    assert list(tight.evaluations["more_paid"].kpis["replication"]) == [0, 1, 2, 3, 4]


def test_cache_hit_returns_identical_results_without_simulating(
    base, more_paid, tmp_path, monkeypatch
):
    cache = ResultCache(tmp_path / "cache")
    first = compare(base, [more_paid], replications=3, seed=7, workers=1, cache=cache)
    assert first.cache_hits == 0

    def boom(*a, **k):
        raise AssertionError("simulated although cached")

    monkeypatch.setattr(experiment, "run_replication", boom)
    again = compare(base, [more_paid], replications=3, seed=7, workers=1, cache=tmp_path / "cache")
    assert again.cache_hits == 6
    for name in first.names:
        pd.testing.assert_frame_equal(first.evaluations[name].kpis, again.evaluations[name].kpis)
        pd.testing.assert_frame_equal(first.evaluations[name].daily, again.evaluations[name].daily)
    with pytest.raises(AssertionError, match="simulated"):  # another seed is a miss
        compare(base, [more_paid], replications=1, seed=8, workers=1, cache=cache)


def test_cache_key_follows_code_version(monkeypatch, tmp_path):
    import sim.experiments.cache

    cache = ResultCache(tmp_path)
    before = cache.path("h", seed=1, replication=0)
    monkeypatch.setattr(sim.experiments.cache, "code_version", lambda: "other")
    assert cache.path("h", seed=1, replication=0) != before
    root = Path(sim.experiments.cache.__file__).parents[1]
    files = {p.relative_to(root).as_posix() for p in sim.experiments.cache.simulation_sources(root)}
    assert {
        "experiments/replication.py",
        "core/model.py",
        "kpis.py",
        "core/ledger.py",
        "scenario/schema.py",
    } <= files
    assert (
        not {
            "reports/report.py",
            "reports/figures.py",
            "experiments/comparison.py",
            "commands/cli.py",
        }
        & files
    )


def test_scenario_differences_lists_dotted_paths(base, more_paid):
    diffs = scenario_differences(base, more_paid)
    assert diffs == [("channels.tmall.budget.paid", 40000.0, 44000)]


def test_compare_cli_writes_results_and_bad_flags_exit_2(tmp_path, capsys):
    out = tmp_path / "run"
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: more_private\n"
        "channels:\n  - {id: wecom, budget: {private_ops: 6000}}\n"
    )
    sets = ["--set", "market.customers=800", "--set", "horizon.days=30"]
    code = main(
        [
            "compare",
            str(SCENARIOS / "baseline.yaml"),
            str(plan),
            "-r",
            "2",
            "--workers",
            "1",
            "--no-cache",
            "--out",
            str(out),
            *sets,
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "revenue" in printed and "report.html" in printed
    for name in (
        "report.html",
        "report.md",
        "summary.json",
        "manifest.json",
        "kpis.csv",
        "daily.parquet",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    plan = summary["scenarios"]["more_private"]
    assert {"kpis", "targets", "paired_diffs"} <= set(plan)
    assert plan["kpis"]["revenue"]["ci_low"] <= plan["kpis"]["revenue"]["mean"]
    base = str(SCENARIOS / "baseline.yaml")
    assert main(["compare", base, base, "--precision", "2"]) == 2
    assert main(["compare", base, str(tmp_path / "missing.yaml")]) == 2
    assert main(["compare", base, base, "-r", "0"]) == 2
    err = capsys.readouterr().err
    assert "--precision" in err and "missing.yaml" in err and "Traceback" not in err


def test_run_fills_relative_targets_with_baseline_flag(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: p\n"
        "channels:\n  - {id: tmall, budget: {paid: 60000}}\ntargets:\n"
        "  - {kpi: revenue.online, window: [10, 29], relative_to: baseline, at_least: 1.05}\n"
        "  - {kpi: cost_share, at_most: 5.0}\n"
        "  - {kpi: roi_paid.social, at_least: 1.0}\n"  # social channels buy no paid traffic
    )
    out = tmp_path / "out"
    code = main(
        [
            "run",
            str(plan),
            "-r",
            "2",
            "--workers",
            "1",
            "--out",
            str(out),
            "--baseline",
            str(SCENARIOS / "baseline.yaml"),
            "--set",
            "market.customers=800",
            "--set",
            "horizon.days=30",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_no_nan)
    targets = summary["targets"]
    assert [t["kpi"] for t in targets] == ["revenue.online", "cost_share", "roi_paid.social"]
    assert targets[0]["estimate"] > 1.0  # more paid traffic sells more
    # 2 of 2 replications meet it: Wilson [34 %, 100 %] holds the required 80 %
    assert targets[1]["verdict"] == "undecided"
    assert (
        targets[2]["verdict"] == "undefined"
        and "paid spend (social) is zero" in (targets[2]["reason"])
    )
    assert "roi_paid.social" in summary["kpis"] and "mean" not in summary["kpis"]["roi_paid.social"]
    assert _nulls(summary["kpis"]) == [] and _nulls(targets) == []
    printed = capsys.readouterr().out  # run prints the verdicts too, in compare's words
    low = stats.binomtest(2, 2).proportion_ci(method="wilson").low
    assert f"P(meet) 100% [{low:.0%}, 100%] (2 reps; met needs ≥ 80%) — undecided" in printed
    assert "roi_paid.social ≥ 1: estimate undefined" in printed
    assert "— undefined: roi_paid.social is undefined in 2 of 2 replications" in printed


def _no_nan(name: str):
    raise AssertionError(f"{name} in JSON")


def _nulls(obj, path: str = "") -> list[str]:
    """Paths of null values (a window or relative_to may be null: they are not numbers)."""
    if isinstance(obj, dict):
        return [
            p
            for k, v in obj.items()
            if k not in ("window", "relative_to")
            for p in _nulls(v, f"{path}.{k}")
        ]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _nulls(v, f"{path}[{i}]")]
    return [path] if obj is None else []


def test_p_meet_reads_the_same_in_console_report_md_and_html_and_undefined_says_why(
    tmp_path, capsys
):
    """3 replications that all meet a target are undecided, not met; a target on a KPI with a
    zero denominator is undefined with the reason; the console, report.md and report.html
    print P(meet) in the same words."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: nopaid\nchannels:\n"
        "  - {id: tmall, budget: {paid: 0}}\n  - {id: jd, budget: {paid: 0}}\n"
        "  - {id: douyin, budget: {paid: 0}}\ntargets:\n"
        "  - {kpi: cost_share, at_most: 5.0}\n  - {kpi: roi_paid, at_least: 1.0}\n"
    )
    out = tmp_path / "run"
    args = ["-r", "3", "--workers", "1", "--no-cache", "--out", str(out)]
    sets = ["--set", "market.customers=800", "--set", "horizon.days=30"]
    assert main(["compare", str(SCENARIOS / "baseline.yaml"), str(plan), *args, *sets]) == 0
    printed = capsys.readouterr().out
    low = stats.binomtest(3, 3).proportion_ci(method="wilson").low  # 0.4385
    z = stats.norm.ppf(0.975)
    decide_at = int(np.ceil(z * z * 0.8 / 0.2))  # n / (n + z²) ≥ 0.8 ⇔ n ≥ 4 z² = 15.4
    expected = (
        f"P(meet) 100% [{low:.0%}, 100%] (3 reps; met needs ≥ 80%) — undecided: "
        f"~{decide_at - 3} more reps would decide (estimate)"
    )
    assert expected == (
        "P(meet) 100% [44%, 100%] (3 reps; met needs ≥ 80%) — undecided: "
        "~13 more reps would decide (estimate)"
    )
    lines = [line for line in printed.splitlines() if line.startswith("target nopaid")]
    assert len(lines) == 2 and lines[0].endswith(expected)
    assert "roi_paid is undefined in 3 of 3 replications: paid spend is zero" in lines[1]
    assert "— undefined:" in lines[1] and "missed" not in lines[1]
    p_meets = [line[line.index("P(meet)") :] for line in lines]
    md = (out / "report.md").read_text(encoding="utf-8")
    page = html.unescape(re.sub(r"<[^>]+>", "\n", (out / "report.html").read_text("utf-8")))
    for text in p_meets:
        assert f"| {html.escape(text)} |" in md
        assert f"\n{text}\n" in page
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_no_nan)
    sc = summary["scenarios"]["nopaid"]
    assert [t["verdict"] for t in sc["targets"]] == ["undecided", "undefined"]
    assert sc["kpis"]["roi_paid"]["undefined"].endswith("paid spend is zero")
    assert _nulls(sc["kpis"]) == [] and _nulls(sc["targets"]) == []


# --------------------------------------------------------------------------------------------
# --until-decided, on a stand-in replication whose KPI has a known law
# --------------------------------------------------------------------------------------------
def _normal_replication(scenario, seed, replication, windows=(), keep_daily=True):
    """revenue ~ N(0, 1): one draw per (seed, replication), the same for every scenario."""
    kpis = {"revenue": float(np.random.default_rng([seed, replication]).standard_normal())}
    return Replication(replication, kpis=kpis, window_kpis={tuple(w): dict(kpis) for w in windows})


@pytest.fixture
def known_law(monkeypatch):
    monkeypatch.setattr(experiment, "run_replication", _normal_replication)


#: revenue ≥ AT_THE_LINE holds with probability exactly 0.8, the required probability.
AT_THE_LINE = float(stats.norm.ppf(0.2))


def _looks(first: int, cap: int) -> list[int]:
    out = [first]
    while out[-1] * 2 < cap:
        out.append(out[-1] * 2)
    return out + ([cap] if out[-1] != cap else [])


def _first_met_look(first: int, cap: int, required: float = 0.8) -> int:
    """The first look at which all-meeting replications prove P ≥ required with scipy's Wilson
    interval at the Bonferroni level 1 − 5 % / looks."""
    looks = _looks(first, cap)
    level = 1 - 0.05 / len(looks)
    return next(
        n
        for n in looks
        if stats.binomtest(n, n).proportion_ci(level, method="wilson").low >= required
    )


def _plan(base, targets):
    return apply_overrides(base, {"name": "p", "targets": targets})


def test_until_decided_stops_as_soon_as_every_target_is_decided(base, known_law):
    targets = [
        {"kpi": "revenue", "at_least": -8.0, "label": "sure"},
        {"kpi": "revenue", "at_most": -8.0, "label": "never"},
    ]
    cmp = compare(
        base, [_plan(base, targets)], replications=4, seed=3, workers=1, cache=False,
        until_decided=True, max_replications=256,
    )  # fmt: skip
    assert cmp.replications == _first_met_look(4, 256) == 32
    assert [t.verdict for t in cmp.targets["p"]] == ["met", "missed"]
    assert cmp.decision["decided"] and cmp.decision["stopped_because"] == "every target decided"
    assert cmp.decision["looks"] == len(_looks(4, 256)) == 7
    for ev in cmp.evaluations.values():  # indices continue: 0 … n − 1, the same for both
        assert list(ev.kpis["replication"]) == list(range(32))


def test_until_decided_leaves_a_target_at_the_line_undecided_at_the_cap(base, known_law):
    targets = [
        {"kpi": "revenue", "at_least": -8.0, "label": "sure"},
        {"kpi": "revenue", "at_least": AT_THE_LINE, "label": "at the line"},
    ]
    cmp = compare(
        base, [_plan(base, targets)], replications=4, seed=0, workers=1, cache=False,
        until_decided=True, max_replications=128,
    )  # fmt: skip
    assert cmp.replications == 128
    assert [t.verdict for t in cmp.targets["p"]] == ["met", "undecided"]
    assert cmp.decision["stopped_because"] == "replication cap reached"
    assert cmp.decision["undecided"] == ["p: at the line"]
    json.dumps(cmp.summary()["decision"], allow_nan=False)


def test_until_decided_keeps_its_confidence_over_all_looks(base, known_law):
    """A target whose truth is exactly the required probability must (almost) never be
    decided: over 200 seeds at most 8 % are (5 % promised; deciding at each look at a plain
    95 % would decide ≈ 15 % of them)."""
    plan = _plan(base, [{"kpi": "revenue", "at_least": AT_THE_LINE}])
    wrong = sum(
        compare(
            base, [plan], replications=4, seed=seed, workers=1, cache=False,
            until_decided=True, max_replications=128, keep_daily=False,
        ).targets["p"][0].verdict != "undecided"
        for seed in range(200)
    )  # fmt: skip
    assert wrong <= 16, wrong


def test_until_decided_continues_common_random_numbers_on_the_simulator(base):
    """The added replications are the ones a one-shot run of the same size simulates."""
    tiny = {"market.customers": 800, "horizon.days": 30}
    b = apply_overrides(base, tiny)
    plan = apply_overrides(
        b,
        {
            "name": "more_paid",
            "channels.tmall.budget.paid": 44000,
            "targets": [{"kpi": "revenue", "at_least": 0.0}],
        },
    )
    kw = {"seed": 7, "workers": 1, "cache": False, "keep_daily": False}
    adaptive = compare(
        b, [plan], replications=2, until_decided=True, max_replications=16,
        required_probability=0.5, **kw,
    )  # fmt: skip
    n = _first_met_look(2, 16, required=0.5)
    assert adaptive.replications == n == 8
    once = compare(b, [plan], replications=n, required_probability=0.5, **kw)
    for name in adaptive.names:
        pd.testing.assert_frame_equal(
            adaptive.evaluations[name].kpis, once.evaluations[name].kpis, check_exact=True
        )
    pd.testing.assert_frame_equal(adaptive.diffs, once.diffs, check_exact=True)
    assert adaptive.targets["more_paid"][0].verdict == "met"


def test_compare_cli_until_decided_says_which_targets_stayed_undecided(tmp_path, capsys, known_law):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: p\ntargets:\n"
        "  - {kpi: revenue, at_least: -8, label: sure}\n"
        f"  - {{kpi: revenue, at_least: {AT_THE_LINE!r}, label: at the line}}\n"
    )
    base = str(SCENARIOS / "baseline.yaml")
    out = tmp_path / "out"
    flags = ["--workers", "1", "--no-cache", "--seed", "0", "-r", "4", "--max-replications"]
    code = main(["compare", base, str(plan), *flags, "64", "--until-decided", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "until decided: replication cap reached after 64 replications" in printed
    assert "still undecided: p: at the line" in printed
    decision = json.loads((out / "summary.json").read_text())["decision"]
    assert decision["undecided"] == ["p: at the line"] and not decision["decided"]
    assert "Still undecided: p: at the line." in (out / "report.md").read_text(encoding="utf-8")
    assert main(["compare", base, str(plan), "--required-probability", "1.5"]) == 2
    assert "--required-probability" in capsys.readouterr().err


if __name__ == "__main__":  # the README's paired-vs-Welch figures: python -m tests.test_compare
    small = load_scenario(SCENARIOS / "baseline.yaml", overrides=SMALL)
    plan = apply_overrides(small, {"name": "more_paid", "channels.tmall.budget.paid": 44000})
    measured = narrowing(
        compare(
            small, [plan], replications=PAIRED_REPLICATIONS, seed=7, workers=1, cache=False,
            keep_daily=False,
        )
    )  # fmt: skip
    print(
        f"+10 % Tmall paid, {SMALL['market.customers']} agents × {SMALL['horizon.days']} days, "
        f"{PAIRED_REPLICATIONS} replications, seed 7: Welch width ÷ paired width = "
        + ", ".join(f"{k} {v:.1f}×" for k, v in measured.items())
    )
