"""Parameter uncertainty reaches the decisions (issue 15): each replication runs on one row of
posterior draws, chosen by seed and replication alone, and the report splits the spread.

A replication with draws must be the very replication of a fixed scenario holding that row's
values (built here independently with ``apply_overrides``); a plan and its baseline use the same
row; paths a scenario does not have and values outside a field's bounds fail at load; the
variance split recovers known variances of a simulated two-level process.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.commands.cli import main
from sim.experiments.comparison import compare
from sim.experiments.replication import run_replication
from sim.experiments.uncertainty import decompose, explained, spread_sources
from sim.reports.sections.uncertainty import uncertainty_block
from sim.reports.store import Stored
from sim.scenario import (
    ScenarioError,
    apply_overrides,
    draw_row,
    load_scenario,
    parameter_draw,
)

from .conftest import SCENARIOS

SMALL = {
    "market.customers": 1000,
    "market.real_customers": 100_000,
    "horizon.days": 30,
    "targets": [],
    "inventory": None,
}
PATHS = ("market.organic_interest", "channels.tmall.response.paid_reach_max")


@pytest.fixture
def draws(tmp_path):
    path = tmp_path / "draws.csv"
    pd.DataFrame(
        {PATHS[0]: [0.0001, 0.002, 0.0005, 0.004], PATHS[1]: [0.01, 0.02, 0.012, 0.03]}
    ).to_csv(path, index=False)
    return path


def SC_FIXED(sc):  # noqa: N802 - the scenario's own values, no draws
    return apply_overrides(sc, {"uncertainty.enabled": False})


def _with(draws, **extra):
    over = {**SMALL, "uncertainty": {"draws": str(draws), **extra}}
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=over)


def test_a_replication_runs_on_its_draw_and_plan_and_baseline_share_it(draws):
    sc = _with(draws, replications_per_draw=1)
    table = pd.read_csv(draws)
    for r in (0, 3):
        row = draw_row(11, r, n_rows=4, per_draw=1)
        fixed = apply_overrides(
            sc, {**{p: float(table[p][row]) for p in PATHS}, "uncertainty.enabled": False}
        )
        drawn = pd.Series(run_replication(sc, 11, r, keep_daily=False).kpis)
        assert drawn.equals(pd.Series(run_replication(fixed, 11, r, keep_daily=False).kpis))
        plain = pd.Series(run_replication(SC_FIXED(sc), 11, r, keep_daily=False).kpis)
        assert drawn["new_customers"] != plain["new_customers"]  # the draw did change the run
    plan = apply_overrides(sc, {"channels.jd.budget.paid": 50_000, "name": "plan"})
    assert [parameter_draw(plan, 11, r) for r in range(6)] == [
        parameter_draw(sc, 11, r) for r in range(6)
    ]
    rows = [draw_row(11, r, n_rows=4, per_draw=2) for r in range(8)]
    assert rows[0::2] == rows[1::2] and sorted(rows[0::2]) == [0, 1, 2, 3]  # pairs, no repeats


def test_bad_draws_are_refused_naming_the_column(tmp_path, draws):
    bad = tmp_path / "bad.csv"
    bad.write_text("market.organic_interest,channels.taobao.response.paid_reach_max\n0.1,0.1\n")
    with pytest.raises(ScenarioError, match=r"column 'channels.taobao.response.paid_reach_max'"):
        _with(bad)
    bad.write_text("channels.tmall.response.paid_reach_max\n0.01\n1.5\n")
    path = "channels.tmall.response.paid_reach_max"
    with pytest.raises(
        ScenarioError, match=rf"column '{path}', largest draw 1.5: .*less than or eq"
    ):
        _with(bad)
    bad.write_text("market.segments\n1\n")
    with pytest.raises(ScenarioError, match=r"column 'market.segments' names a list"):
        _with(bad)
    with pytest.raises(ScenarioError, match=r"uncertainty.draws: cannot read"):
        _with(tmp_path / "missing.csv")
    assert _with(tmp_path / "missing.csv", enabled=False).uncertainty.enabled is False


def test_variance_split_recovers_known_variances():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(4000), 2)  # 4 000 draws, 2 replications each
    y = 100 + rng.normal(0, 3, 4000)[groups] + rng.normal(0, 1, len(groups))
    split = decompose(pd.DataFrame({"k": y}), groups).loc["k"]
    assert split["parameter_var"] == pytest.approx(9, rel=0.1)
    assert split["luck_var"] == pytest.approx(1, rel=0.1)
    assert split["parameter_share"] == pytest.approx(0.9, abs=0.02)
    one_each = decompose(pd.DataFrame({"k": y[:10]}), np.arange(10)).loc["k"]
    assert np.isnan(one_each["parameter_share"])  # no draw repeated: no split, never a guess


def test_regression_split_with_one_replication_per_draw(draws):
    rng = np.random.default_rng(1)
    params = pd.DataFrame({"a": rng.normal(0, 1, 3000), "b": rng.normal(0, 1, 3000)})
    y = 2 * params["a"] - params["b"] + rng.normal(0, 1, 3000)  # parameters: 5 of 6
    split = explained(pd.DataFrame({"k": y}), params).loc["k"]
    assert split["parameter_share"] == pytest.approx(5 / 6, abs=0.02)
    sc = _with(draws)  # default: one replication per draw, independent replications
    kpis = pd.DataFrame(
        [
            {
                "replication": r,
                "new_customers": run_replication(sc, 4, r, keep_daily=False).kpis["new_customers"],
            }
            for r in range(8)
        ]
    )
    src = spread_sources(sc, 4, kpis, ["new_customers"])
    assert src["method"] == "regression" and src["replications_per_draw"] == 1
    assert src["kpis"]["new_customers"]["interval_widening"] == 1.0
    assert src["kpis"]["new_customers"]["parameter_share"] > 0.8  # organic interest ×40


def test_compare_reports_the_split_and_the_flag_turns_it_off(draws, tmp_path):
    sc = _with(draws, replications_per_draw=2)
    plan = apply_overrides(sc, {"channels.jd.budget.paid": 40_000, "name": "plan"})
    cmp = compare(sc, [plan], replications=8, seed=3, workers=1, cache=False, keep_daily=False)
    summary = cmp.summary()
    src = summary["scenarios"]["baseline"]["spread_sources"]
    assert src["draws"] == 4 and src["replications"] == 8 and src["replications_per_draw"] == 2
    # organic interest varies 40× across the draws: new customers are mostly parameters
    assert src["kpis"]["new_customers"]["parameter_share"] > 0.8
    st = Stored({}, summary, {}, None, None, None)
    block = uncertainty_block(st)
    assert block.tables and any(r[1] == "new_customers" for r in block.tables[0].rows)
    scen = tmp_path / "s.yaml"
    scen.write_text(
        f"name: s\nextends: {SCENARIOS / 'baseline.yaml'}\n"
        f"uncertainty: {{draws: {draws}, replications_per_draw: 2}}\ninventory: null\n"
    )
    plain = tmp_path / "p.yaml"
    plain.write_text(f"name: s\nextends: {SCENARIOS / 'baseline.yaml'}\ninventory: null\n")
    args = ["-r", "2", "--set", "market.customers=1000", "--set", "horizon.days=20"]
    args += ["--workers", "1"]
    means = {}
    for name, file, extra in [
        ("off", scen, ["--no-parameter-uncertainty"]),
        ("on", scen, []),
        ("plain", plain, []),
    ]:
        assert main(["run", str(file), *args, *extra, "--out", str(tmp_path / name)]) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        means[name] = summary["kpis"]["new_customers"]["mean"]
    assert means["off"] == means["plain"] and means["on"] != means["plain"]
    on = json.loads((tmp_path / "on" / "summary.json").read_text())
    assert on["spread_sources"]["draws"] == 1  # 2 replications, 2 per draw
    assert "spread_sources" not in json.loads((tmp_path / "off" / "summary.json").read_text())
    report = (tmp_path / "on" / "report.md").read_text()
    assert "Where the spread comes from" in report and "2 per draw" in report


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "s.yaml"],
        ["compare", "b.yaml", "p.yaml"],
        ["sweep", "s.yaml", "--design", "d.yaml"],
        ["optimize", "budget", "s.yaml"],
        ["optimize", "search", "s.yaml"],
    ],
)
def test_every_simulating_command_takes_the_flag_as_an_override(argv):
    from sim.commands.cli import build_parser

    args = build_parser().parse_args([*argv, "--set", "a.b=1", "--no-parameter-uncertainty"])
    assert args.overrides == ["a.b=1", "uncertainty.enabled=false"]


def test_overrides_can_start_a_section_that_is_off():
    base = load_scenario(SCENARIOS / "baseline.yaml", overrides=SMALL)
    assert base.uncertainty is None and base.channels[0].budget.observed is None
    off = apply_overrides(base, {"uncertainty.enabled": False})  # --no-parameter-uncertainty
    assert off.uncertainty.enabled is False and off.uncertainty.draws is None
    obs = apply_overrides(base, {"channels.tmall.budget.observed.paid": [1, 2]})
    assert obs.channels[0].budget.observed.paid == (1, 2)
