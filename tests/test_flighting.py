"""Budgets over time (issue 15): periods and a spend file override the constant daily amounts.

The constant-budget path must stay what it was: a scenario whose periods or spend file restate
the constant amounts gives a bit-identical ledger. The per-day budget must reach the ledger and
the customers: the spend recorded each day equals the amounts stated by hand, a channel with no
paid spend on a day has no paid clicks that day, and the pool-join chance follows the day's
private-ops spend (closed form). Bad periods and spend files fail at load with their field.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim import simulate
from sim.core.model import ChannelMarket
from sim.scenario import LEVERS, ScenarioError, daily_budget, load_scenario

from .conftest import ROOT, SCENARIOS

SMALL = {
    "market.customers": 1500,
    "market.real_customers": 150_000,
    "horizon.days": 40,
    "targets": [],
    "inventory": None,
}


def _hash(ledger) -> str:
    h = hashlib.sha256()
    for frame in (ledger.daily, ledger.orders, ledger.journeys):
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _base():
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=SMALL)


def test_restated_budgets_give_a_bit_identical_ledger(tmp_path):
    base = _base()
    days = base.horizon.days
    whole = {}
    rows = []
    for c in base.channels:
        amounts = {lever: getattr(c.budget, lever) for lever in LEVERS}
        whole[f"channels.{c.id}.budget.periods"] = [{"start": 0, "end": days - 1, **amounts}]
        for d in pd.date_range(base.horizon.start, periods=days):
            rows += [(d.date().isoformat(), c.id, lever, v) for lever, v in amounts.items()]
    spend = tmp_path / "spend.csv"
    pd.DataFrame(rows, columns=["date", "channel", "lever", "spend"]).to_csv(spend, index=False)
    by_periods = load_scenario(SCENARIOS / "baseline.yaml", overrides={**SMALL, **whole})
    by_file = load_scenario(
        SCENARIOS / "baseline.yaml", overrides={**SMALL, "spend_file": str(spend)}
    )
    reference = _hash(simulate(base, seed=5))
    assert _hash(simulate(by_periods, seed=5)) == reference
    assert _hash(simulate(by_file, seed=5)) == reference
    assert by_file.content_hash() != base.content_hash()  # the file is part of the scenario


def test_periods_and_spend_file_reach_the_ledger(tmp_path):
    spend = tmp_path / "spend.csv"
    spend.write_text(
        "date,channel,lever,spend\n"
        "2026-01-26,tmall,paid,12345\n"  # day 25, inside the burst: the file wins
        "2026-01-31,jd,paid,0\n"  # day 30
        "2027-05-01,jd,paid,5\n"  # outside the horizon: skipped, with a warning
    )
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            **SMALL,
            "spend_file": str(spend),
            "channels.tmall.budget.paid": 0,
            "channels.tmall.budget.periods": [
                {"start": 20, "end": "2026-01-30", "paid": 90000},  # days 20 … 29
                {"start": 35, "end": 36, "seeding": 10},  # paid stays the constant 0
            ],
        },
    )
    expected_tmall = np.zeros(40)
    expected_tmall[20:30] = 90000
    expected_tmall[25] = 12345
    expected_jd = np.full(40, 20000.0)
    expected_jd[30] = 0
    daily = simulate(sc, seed=2).daily.groupby(["channel", "day"]).sum(numeric_only=True)
    np.testing.assert_array_equal(daily.loc["tmall", "spend_paid"].to_numpy(), expected_tmall)
    np.testing.assert_array_equal(daily.loc["jd", "spend_paid"].to_numpy(), expected_jd)
    # Same seed without the burst: the days before it are the same (same spend, same luck),
    # the burst changes what follows.
    quiet = load_scenario(
        SCENARIOS / "baseline.yaml", overrides={**SMALL, "channels.tmall.budget.paid": 0}
    )
    other = simulate(quiet, seed=2).daily.groupby(["channel", "day"]).sum(numeric_only=True)
    before = daily.index.get_level_values("day") < 20
    cols = ["orders", "revenue", "orders_paid", "new_customers"]
    pd.testing.assert_frame_equal(daily.loc[before, cols], other.loc[before, cols])
    assert daily.loc["tmall", "orders_paid"].iloc[20:30].sum() > (
        other.loc["tmall", "orders_paid"].iloc[20:30].sum()
    )
    assert any("1 of 3 rows fall outside the horizon" in w for w in sc.warnings())
    assert daily_budget(sc)[36, 0, 1] == 10


def test_pool_join_chance_follows_the_days_private_ops():
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            **SMALL,
            "channels.wecom.budget.periods": [{"start": 10, "end": 19, "private_ops": 8000}],
        },
    )
    r = sc.channels[3].response
    model = ChannelMarket(sc, seed=1)

    def closed_form(ops: float) -> float:
        return r.join_base + (r.join_max - r.join_base) * (1 - math.exp(-ops / r.ops_saturation))

    assert model.join_p_by_day[9] == pytest.approx(closed_form(1000), rel=1e-12)
    assert model.join_p_by_day[10] == pytest.approx(closed_form(8000), rel=1e-12)
    assert model.join_p_by_day[19] == pytest.approx(closed_form(8000), rel=1e-12)
    assert model.join_p_by_day[20] == pytest.approx(closed_form(1000), rel=1e-12)


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        (
            [{"start": "2025-12-31", "end": 3, "paid": 1}],
            r"channels\[0\]\(tmall\)\.budget\.periods\[0\]: \[2025-12-31, 3\] starts before "
            r"the horizon",
        ),
        (
            [{"start": 0, "end": 9, "paid": 1}, {"start": 9, "end": 12, "paid": 2}],
            r"periods\[1\]: \[9, 12\] overlaps periods\[0\] of the same channel",
        ),
        ([{"start": 9, "end": 3, "paid": 1}], r"periods\[0\]: start 9 is after end 3"),
        ([{"start": 1, "end": 3}], r"periods\[0\]: a period sets at least one of paid"),
        ([{"start": 1, "end": 3, "paid": -1}], r"periods\[0\]\.paid: .*greater than or equal"),
    ],
)
def test_bad_periods_name_their_field(periods, message):
    over = {**SMALL, "horizon.days": 30, "channels.tmall.budget.periods": periods}
    with pytest.raises(ScenarioError, match=message):
        load_scenario(SCENARIOS / "baseline.yaml", overrides=over)


def test_periods_past_the_horizon_are_cut_with_a_warning():
    over = {
        **SMALL,
        "channels.tmall.budget.periods": [
            {"start": 30, "end": 45, "paid": 7},
            {"start": "2026-03-01", "end": "2026-03-02", "paid": 9},
        ],
    }
    sc = load_scenario(SCENARIOS / "baseline.yaml", overrides=over)  # a shortened horizon
    b = daily_budget(sc)
    assert (b[30:, 0, 0] == 7).all() and b[29, 0, 0] == 40000
    assert [w for w in sc.warnings() if "budget.periods" in w] == [
        "channels[0](tmall).budget.periods[0]: [30, 45] is cut at its last day (day 39)",
        "channels[0](tmall).budget.periods[1]: [2026-03-01, 2026-03-02] is past the horizon: "
        "not simulated (day 39)",
    ]


def test_spend_file_problems_and_relative_paths(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "spend.csv").write_text(
        "date,channel,lever,spend\n2026-01-02,tmall,paid,100\n2026-01-02,taobao,paid,1\n"
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"name: p\nextends: {SCENARIOS / 'baseline.yaml'}\nspend_file: data/spend.csv\n"
        "horizon: {start: 2026-01-01, days: 30}\ntargets: []\n"
    )
    with pytest.raises(ScenarioError, match=r"spend_file: unknown channel\(s\) \['taobao'\]"):
        load_scenario(plan)
    (tmp_path / "data" / "spend.csv").write_text(
        "date,channel,lever,spend\n2026-01-02,tmall,paid,100\n"
    )
    sc = load_scenario(plan, overrides={"market.customers": 1000})  # relative to plan.yaml
    assert daily_budget(sc)[1, 0, 0] == 100 and daily_budget(sc)[2, 0, 0] == 40000
    (tmp_path / "data" / "spend.csv").write_text("date,channel,lever,spend\n2026-01-02,x,y,1\n")
    with pytest.raises(ScenarioError, match=r"spend_file: .*spend.csv:2: column 'lever'"):
        load_scenario(plan)
    cli = subprocess.run(
        [sys.executable, "-m", "sim.commands.cli", "validate", str(plan)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert "unknown lever 'y'" in cli.stdout + cli.stderr


def test_flighted_example_bursts_before_the_festivals():
    sc = load_scenario(SCENARIOS / "flighted.yaml")
    b = daily_budget(sc)
    start = sc.horizon.start
    day = {d: (pd.Timestamp(d).date() - start).days for d in ("2026-06-18", "2026-11-11")}
    assert b[day["2026-06-18"], 0, 0] == 90000 and b[day["2026-06-18"] + 1, 0, 0] == 30000
    assert b[day["2026-11-11"], 0, 0] == 100000 and b[day["2026-11-11"] + 1, 0, 0] == 30000


def test_weekly_spend_file_spread_over_its_days_when_the_scenario_says_so(tmp_path):
    """A spend_file of weekly totals (rows on Mondays) is refused as days, and with
    ``spend_period: week-starting`` each week's total reaches the ledger as a seventh a day."""
    start = load_scenario(SCENARIOS / "baseline.yaml", overrides=SMALL).horizon.start
    monday = pd.Timestamp(start) + pd.Timedelta(days=(7 - pd.Timestamp(start).day_of_week) % 7)
    weeks = [monday + pd.Timedelta(weeks=k) for k in range(4)]
    spend = tmp_path / "weekly.csv"
    spend.write_text(
        "date,channel,lever,spend\n"
        + "".join(f"{d.date()},tmall,paid,{7000 * (k + 1)}\n" for k, d in enumerate(weeks))
    )
    over = {**SMALL, "spend_file": str(spend)}
    with pytest.raises(ScenarioError, match=r"spend_file: .*every date is a Monday"):
        load_scenario(SCENARIOS / "baseline.yaml", overrides=over)
    sc = load_scenario(
        SCENARIOS / "baseline.yaml", overrides={**over, "spend_period": "week-starting"}
    )
    daily = simulate(sc, seed=2).daily.groupby(["channel", "day"]).sum(numeric_only=True)
    paid = daily.loc["tmall", "spend_paid"].to_numpy()
    first = (monday - pd.Timestamp(start)).days
    expected = paid.copy()  # outside the four weeks: the scenario's own budget
    for k in range(4):
        expected[first + 7 * k : first + 7 * (k + 1)] = 1000.0 * (k + 1)
    np.testing.assert_allclose(paid, expected)
    assert paid[first : first + 28].sum() == pytest.approx(7000 * (1 + 2 + 3 + 4))
