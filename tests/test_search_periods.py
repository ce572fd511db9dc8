"""``optimize search --by-period month`` with a total budget (issue 15).

A two-channel, two-month market where paid traffic is the only way in: a customer won in January
can buy again in February, one won in February cannot, so the same money earns more in January.
That is checked first by simulating the two extreme plans directly (not through the search);
the search, held to the total, must then put more of its money in January, write its months
as ``budget.periods`` day by day, and never call a trial over the total feasible.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizers.search import search
from optimizers.search_space import search_space
from sim.experiments import evaluate
from sim.scenario import daily_budget, load_scenario

from .conftest import SCENARIOS

PAID = {  # paid traffic that matters at 1 000 agents: few acquisitions would be all noise
    f"channels.{c}.response.{k}": 0.3
    for c in ("tmall", "jd")
    for k in ("paid_reach_max", "paid_impact")
}
TWO_MONTHS = {  # January (31 days) and February (28 days); nobody bought before day 0
    "market.customers": 1000,
    "horizon.days": 59,
    "targets": [],
    "inventory": None,
    "market.initial_customers": 0.0,
    "market.initial_private": 0.0,
    "market.word_of_mouth": 0.0,
    "channels.douyin.budget.paid": 0,
    "channels.xiaohongshu.budget.seeding": 0,
    "channels.wecom.budget.private_ops": 0,
    **PAID,
    "decisions": [
        {"path": "channels.tmall.budget.paid", "low": 0, "high": 4000},
        {"path": "channels.jd.budget.paid", "low": 0, "high": 4000},
    ],
}
TOTAL = 4000.0  # CNY/day over the horizon, both channels
JAN, FEB = "2026-01", "2026-02"


@pytest.fixture(scope="module")
def sc():
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=TWO_MONTHS)


def _months(jan: float, feb: float) -> list[dict]:
    return [
        {"start": "2026-01-01", "end": "2026-01-31", "paid": jan},
        {"start": "2026-02-01", "end": "2026-02-28", "paid": feb},
    ]


def test_the_search_puts_more_money_in_the_month_that_earns_more(sc):
    # Independently of the search: the whole total in January vs in February (each channel
    # half), common random numbers.
    money = TOTAL * 59 / 2  # CNY per channel over the horizon
    revenue = {}
    for name, jan, feb in (("jan", money / 31, 0.0), ("feb", 0.0, money / 28)):
        ov = {f"channels.{c}.budget.periods": _months(jan, feb) for c in ("tmall", "jd")}
        ev = evaluate(sc, overrides=ov, replications=2, seed=1, workers=1)
        revenue[name] = float(ev.kpis["revenue"].mean())
    assert revenue["jan"] > 1.2 * revenue["feb"]

    res = search(
        sc,
        objectives=["revenue"],
        trials=30,
        replications=1,
        seed=1,
        sampler_seed=0,
        workers=1,
        by_period="month",
        total=TOTAL,
    )
    t = res.trials
    names = [f"channels.{c}.budget.paid@{m}" for c in ("tmall", "jd") for m in (JAN, FEB)]
    assert set(names) <= set(t.columns)  # one decision per channel and month
    # the total, recomputed here from the trial's months weighted by their days
    spend = (t[names[0]] + t[names[2]]) * 31 / 59 + (t[names[1]] + t[names[3]]) * 28 / 59
    np.testing.assert_allclose(t["spend_per_day"], spend, rtol=1e-12)
    assert not t.loc[spend > TOTAL * (1 + 1e-9), "feasible"].any()
    assert t["feasible"].any() and not t["feasible"].all()  # the total really cuts
    b = res.best
    assert spend[t["revenue"] == res.best_values[0]].iloc[0] <= TOTAL
    jan = b[names[0]] + b[names[2]]
    feb = b[names[1]] + b[names[3]]
    assert jan > feb  # the better month gets more of the money
    # the answer as the scenario states it: budget.periods, simulated day by day
    daily = daily_budget(res.scenario)
    ids = [c.id for c in res.scenario.channels]
    for c in ("tmall", "jd"):
        col = daily[:, ids.index(c), 0]
        assert np.all(col[:31] == round(b[f"channels.{c}.budget.paid@{JAN}"], 2))
        assert np.all(col[31:] == round(b[f"channels.{c}.budget.paid@{FEB}"], 2))


def test_by_period_needs_a_budget_decision_and_keeps_flighting(sc):
    no_budget = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            **TWO_MONTHS,
            "decisions": [{"path": "channels.jd.price_index", "low": 0.9, "high": 1.0}],
        },
    )
    with pytest.raises(ValueError, match=r"^by_period: no decision is a channel budget"):
        search_space(no_budget, by_period="month")
    with pytest.raises(ValueError, match=r"^total: no decision is a channel budget"):
        search_space(no_budget, total=1000)
    with pytest.raises(ValueError, match=r"^total: must be > 0"):
        search_space(sc, total=0)
    flighted = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={**TWO_MONTHS, "channels.tmall.budget.periods": _months(100, 200)},
    )
    with pytest.raises(ValueError, match=r"tmall.budget.paid varies over time.*--by-period"):
        search_space(flighted)  # a constant would be overridden on the periods' days
    seeded = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            **TWO_MONTHS,
            "channels.tmall.budget.periods": [{"start": 0, "end": 9, "seeding": 50}],
        },
    )
    with pytest.raises(ValueError, match=r"tmall.budget.seeding .* would lose its periods"):
        search_space(seeded, by_period="month")


def test_cli_by_period_without_a_budget_decision_is_a_usage_error(tmp_path, capsys):
    from sim.commands.cli import main

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"name: p\nextends: {SCENARIOS / 'baseline.yaml'}\n"
        "decisions:\n  - {path: channels.jd.price_index, low: 0.9, high: 1.0}\n"
    )
    code = main(
        ["optimize", "search", str(plan), "--by-period", "month", "--out", str(tmp_path / "o")]
        + ["--no-progress", "--set", "market.customers=500", "--set", "horizon.days=20"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--by-period: no decision is a channel budget" in err
    assert not (tmp_path / "o").exists()  # refused before the results directory is made


def test_cli_search_by_period_writes_the_months_and_describes_its_columns(tmp_path, capsys):
    import json

    from sim.commands.cli import main

    from .test_tool_columns import assert_every_column_described

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"name: monthly\nextends: {SCENARIOS / 'baseline.yaml'}\n"
        "decisions:\n  - {path: channels.jd.budget.paid, low: 0, high: 40000}\n"
        "targets:\n  - {kpi: revenue, relative_to: baseline, at_least: 0.5, label: half}\n"
    )
    out = tmp_path / "out"
    sets = {"market.customers": 500, "horizon.days": 40, "inventory": "null"}
    code = main(
        ["optimize", "search", str(plan), "--by-period", "month", "--total", "15000"]
        + ["--trials", "3", "-r", "1", "--verify-replications", "2", "--workers", "1"]
        + ["--no-progress", "--out", str(out), *[f"--set={k}={v}" for k, v in sets.items()]]
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["by_period"] == "month" and summary["total"] == 15000
    chosen = summary["best"] or summary["closest"]
    assert set(chosen) == {"channels.jd.budget.paid@2026-01", "channels.jd.budget.paid@2026-02"}
    # the verified plan runs the months as budget.periods (the resolved scenario, as written)
    resolved = json.loads((out / "verification" / "scenarios.json").read_text())
    [name] = [k for k in resolved if k.endswith("-optimised")]
    [jd] = [c for c in resolved[name]["channels"] if c["id"] == "jd"]
    assert [(p["start"], p["end"]) for p in jd["budget"]["periods"]] == [
        ("2026-01-01", "2026-01-31"),
        ("2026-02-01", "2026-02-09"),
    ]
    assert [p["paid"] for p in jd["budget"]["periods"]] == [
        round(chosen["channels.jd.budget.paid@2026-01"], 2),
        round(chosen["channels.jd.budget.paid@2026-02"], 2),
    ]
    cols = assert_every_column_described(out)
    assert {"P(half)", "spend_per_day", "channels.jd.budget.paid@2026-02"} <= set(cols["column"])
