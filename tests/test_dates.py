"""One date rule (issue 12, item 4): a period is ``[first, last]`` with both ends included —
target windows (as dates or day numbers), promotion periods and calibration periods alike.
Each claim is checked against the ledger's own dates or a hand-made table, not against the
window arithmetic under test."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from sim import compute_kpis, load_scenario, simulate
from sim.calibration.histories import customer_histories
from sim.levers.promotions import FullReduction, GroupBuy, Promotions, compile_calendar
from sim.scenario import ScenarioError, build_scenario

from .conftest import SCENARIOS

SMALL = {"market.customers": 800, "horizon.days": 200, "inventory": None}


def test_date_and_day_windows_cover_both_ends():
    q2_dates = ["2026-04-01", "2026-06-30"]  # horizon.start is 2026-01-01: days 90 … 180
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            **SMALL,
            "targets": [
                {"kpi": "orders", "window": q2_dates, "at_least": 1},
                {"kpi": "orders", "window": [90, 180], "at_least": 1},
                {"kpi": "orders", "window": [0, 0], "at_least": 1},
            ],
        },
    )
    assert sc.targets[0].window == sc.targets[1].window
    ledger = simulate(sc, seed=2)
    daily = ledger.daily
    in_q2 = daily["date"].between(pd.Timestamp(q2_dates[0]), pd.Timestamp(q2_dates[1]))
    assert daily.loc[in_q2, "day"].nunique() == 91  # April 30 + May 31 + June 30
    expected = daily.loc[in_q2, "orders"].sum()
    assert compute_kpis(ledger, window=sc.targets[0].window)["orders"] == pytest.approx(expected)
    first_day = daily.loc[daily["date"] == pd.Timestamp("2026-01-01"), "orders"].sum()
    assert compute_kpis(ledger, window=sc.targets[2].window)["orders"] == pytest.approx(first_day)


def test_a_window_may_end_on_the_last_day_but_not_after_it():
    base = {**SMALL, "horizon.days": 30}
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={**base, "targets": [{"kpi": "orders", "window": [0, 29], "at_least": 1}]},
    )
    assert sc.targets[0].window == (0, 30)
    for window in ([0, 30], ["2026-01-01", "2026-01-31"]):
        with pytest.raises(ScenarioError, match="window's last day 30 is past the horizon's last"):
            load_scenario(
                SCENARIOS / "baseline.yaml",
                overrides={**base, "targets": [{"kpi": "orders", "window": window, "at_least": 1}]},
            )
    with pytest.raises(ScenarioError, match=r"window \[20, 9\] .* needs 0 ≤ first ≤ last"):
        load_scenario(
            SCENARIOS / "baseline.yaml",
            overrides={**base, "targets": [{"kpi": "orders", "window": [20, 9], "at_least": 1}]},
        )


def test_windows_are_written_back_as_read():
    sc = load_scenario(SCENARIOS / "six_schemes.yaml")
    dumped = sc.model_dump(mode="json")["targets"]
    assert [t["window"] for t in dumped[:2]] == [[0, 59], [90, 179]]  # as in the file
    assert build_scenario(sc.model_dump(mode="json")).targets == sc.targets


def test_promotion_periods_include_both_ends():
    start = dt.date(2026, 6, 1)
    promo = Promotions(
        group_buys=[
            GroupBuy(
                id="g",
                discount=0.2,
                initiate=0.1,
                start=dt.date(2026, 6, 10),
                end=dt.date(2026, 6, 12),
            )
        ],
        full_reduction=[
            FullReduction(
                id="f",
                tiers=[{"spend": 300, "reduce": 50}],
                start=dt.date(2026, 6, 20),
                end=dt.date(2026, 6, 20),
            )
        ],
    )
    cal = compile_calendar(
        promo, start=start, days=30, channels=["tmall"], families=["public"], sells=[True]
    )
    on = [start + dt.timedelta(days=d) for d in range(30) if cal.promo[d, 0]]
    assert on == [dt.date(2026, 6, d) for d in (10, 11, 12, 20)]


def test_calibration_periods_include_both_ends():
    table = pd.DataFrame(
        {
            "customer": ["a", "a", "b", "c"],
            "date": pd.to_datetime(["2025-01-01", "2025-01-31", "2025-01-31", "2025-02-01"]),
            "amount": [10.0, 20.0, 30.0, 40.0],
        }
    )
    hist, gaps = customer_histories(
        table, start=pd.Timestamp("2025-01-01"), end=pd.Timestamp("2025-01-31")
    )
    assert sorted(hist.index) == ["a", "b"]  # b bought on the last day; c the day after
    assert hist.loc["a", "orders"] == 2 and list(gaps) == [30]
