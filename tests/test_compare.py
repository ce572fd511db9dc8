"""Comparisons: paired vs unpaired intervals, executors, adaptive precision, the cache, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.experiments.evaluation as experiment
from sim.commands.cli import main
from sim.experiments.cache import ResultCache
from sim.experiments.comparison import (
    compare,
    paired_interval,
    scenario_differences,
    welch_interval,
)
from sim.scenario import apply_overrides, load_scenario

from .conftest import SCENARIOS

SMALL = {"market.customers": 1500, "horizon.days": 60, "targets": []}


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
    return compare(base, [more_paid], replications=6, seed=7, workers=1, cache=False)


def test_paired_intervals_are_far_narrower_than_unpaired(cmp):
    d = cmp.diffs.set_index("kpi")
    for k in ("revenue", "orders", "buyers"):
        paired = d.loc[k, "paired_high"] - d.loc[k, "paired_low"]
        welch = d.loc[k, "welch_high"] - d.loc[k, "welch_low"]
        assert paired < 0.3 * welch, (k, paired, welch)
        # both intervals are centred on the same difference of means
        assert d.loc[k, "diff"] == pytest.approx(d.loc[k, "value"] - d.loc[k, "baseline"])


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


def test_run_fills_relative_targets_with_baseline_flag(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: p\n"
        "channels:\n  - {id: tmall, budget: {paid: 60000}}\ntargets:\n"
        "  - {kpi: revenue.online, window: [10, 30], relative_to: baseline, at_least: 1.05}\n"
        "  - {kpi: cost_share, at_most: 5.0}\n"
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
    targets = json.loads((out / "summary.json").read_text())["targets"]
    assert [t["kpi"] for t in targets] == ["revenue.online", "cost_share"]
    assert targets[0]["estimate"] > 1.0  # more paid traffic sells more
    assert targets[1]["verdict"] == "met"
