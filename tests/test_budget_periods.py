"""The budget optimiser by period and within the observed spend range (issue 15).

The LP with monthly variables is checked against an optimum computed independently by scipy
(SLSQP on the same concave curves, the total weighted by each month's days); the write-back as
``budget.periods`` against the day-by-day budget; the default bounds and the extrapolation
marks against the stated ``budget.observed`` ranges.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from optimizers.budget import optimize_budget
from optimizers.budget.lp import LP, Model, make_solver
from optimizers.budget.problem import build_problem, observed_bounds
from optimizers.response import Curve, by_period, current_spend, levers_of, spend_overrides
from sim.scenario import apply_overrides, daily_budget, load_scenario

from .conftest import SCENARIOS

TWO_MONTHS = {  # January (31 days) and February (28 days)
    "market.customers": 1000,
    "market.real_customers": 100_000,
    "horizon.days": 59,
    "targets": [],
    "inventory": None,
}


@pytest.fixture(scope="module")
def sc():
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=TWO_MONTHS)


def test_monthly_lp_matches_an_independent_optimum(sc):
    lvs = by_period(sc, levers_of(sc, ["tmall.paid", "jd.paid"]))
    assert [lv.name for lv in lvs] == [
        "tmall.paid@2026-01",
        "tmall.paid@2026-02",
        "jd.paid@2026-01",
        "jd.paid@2026-02",
    ]
    w = np.array([31, 28, 31, 28]) / 59
    total = 50_000.0
    prob = build_problem(
        sc,
        lvs,
        current_spend(sc, lvs),
        total=total,
        objective="revenue",
        bounds={"jd.paid@2026-02": (None, 15_000)},
        roi_floor=None,
        cost_share_max=None,
        core_min_share=None,
        fixed_costs=None,
        max_active=None,
    )
    np.testing.assert_allclose(prob.w, w)
    amp = np.array([4.0e6, 2.5e6, 1.5e6, 3.0e6])  # revenue over the horizon, CNY
    scale = np.array([30_000.0, 20_000.0, 15_000.0, 25_000.0])  # CNY/day
    curves = [Curve("exp", 0.0, a, s) for a, s in zip(amp, scale, strict=True)]
    center = np.full(4, 10_000.0)
    cap = prob.cap()
    model = Model(
        center,
        {"revenue": float(sum(c(x) for c, x in zip(curves, center, strict=True)))},
        np.zeros(4),
        cap,
        {(i, "revenue"): c for i, c in enumerate(curves)},
        segments=400,
    )
    lp = LP(prob, model, mode="hard")
    x_lp = lp.solve(make_solver("cbc"))

    def revenue(x):
        return float(np.sum(amp * (1 - np.exp(-np.asarray(x) / scale))))

    ref = minimize(
        lambda x: -revenue(x) / 1e6,
        x0=np.full(4, 5_000.0),
        jac=lambda x: -(amp / scale * np.exp(-x / scale)) / 1e6,
        bounds=[(0, None)] * 3 + [(0, 15_000)],
        constraints=[{"type": "ineq", "fun": lambda x: (total - w @ x) / 1e4}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    assert ref.success
    assert w @ x_lp <= total * (1 + 1e-6)  # solver tolerance
    np.testing.assert_allclose(x_lp, ref.x, atol=0.01 * total)
    assert revenue(x_lp) == pytest.approx(revenue(ref.x), rel=1e-4)
    # The total is weighted by days: an unweighted split would spend less than the total.
    assert float(x_lp.sum()) > total * 1.05


def test_periods_are_written_back_and_simulated_day_by_day(sc):
    lvs = by_period(sc, levers_of(sc, ["tmall.paid", "jd.paid"]))
    over = spend_overrides(lvs, [10_000, 60_000, 5_000, 0])
    assert over["channels.tmall.budget.periods"] == [
        {"start": "2026-01-01", "end": "2026-01-31", "paid": 10_000.0},
        {"start": "2026-02-01", "end": "2026-02-28", "paid": 60_000.0},
    ]
    planned = apply_overrides(sc, over)
    b = daily_budget(planned)
    assert (b[:31, 0, 0] == 10_000).all() and (b[31:, 0, 0] == 60_000).all()
    assert (b[:31, 1, 0] == 5_000).all() and (b[31:, 1, 0] == 0).all()
    np.testing.assert_allclose(current_spend(planned, lvs), [10_000, 60_000, 5_000, 0])


def test_flighted_levers_need_by_period():
    flighted = load_scenario(SCENARIOS / "flighted.yaml", overrides=TWO_MONTHS)
    with pytest.raises(ValueError, match=r"tmall.paid.*vary over time.*--by-period month"):
        optimize_budget(flighted, levers=["tmall.paid", "jd.paid"], replications=1)


def test_observed_range_bounds_the_levers_and_marks_extrapolation(sc):
    obs = apply_overrides(
        sc,
        {
            "channels.tmall.budget.observed": {"paid": [10_000, 40_000]},
            "channels.jd.budget.observed": {"paid": [5_000, 20_000]},
        },
    )
    lvs = by_period(obs, levers_of(obs, ["tmall.paid", "jd.paid", "douyin.paid"]))
    assert observed_bounds(obs, lvs, 1.5) == {
        "tmall.paid": (None, 60_000.0),
        "jd.paid": (None, 30_000.0),
    }
    assert observed_bounds(obs, lvs, 0) == {}
    prob = build_problem(
        obs,
        lvs,
        current_spend(obs, lvs),
        total=100_000,
        objective="revenue",
        bounds=observed_bounds(obs, lvs, 1.5),
        roi_floor=None,
        cost_share_max=None,
        core_min_share=None,
        fixed_costs=None,
        max_active=None,
    )
    np.testing.assert_array_equal(prob.hi, [60_000, 60_000, 30_000, 30_000, np.inf, np.inf])
    marks = prob.extrapolated(np.array([45_000, 40_000, 4_000, 20_000, 90_000, 0]))
    assert marks == [
        "tmall.paid@2026-01: 45,000 CNY/day is outside the observed 10,000–40,000",
        "jd.paid@2026-01: 4,000 CNY/day is outside the observed 5,000–20,000",
    ]


def test_optimize_budget_by_month_returns_periods_within_the_total(sc):
    res = optimize_budget(
        sc,
        levers=["tmall.paid", "jd.paid"],
        total=60_000,
        by_period="month",
        roi_floor=None,
        replications=1,
        max_iter=1,
        workers=1,
        target_constraints=False,
    )
    assert set(res.spend) == {
        "tmall.paid@2026-01",
        "tmall.paid@2026-02",
        "jd.paid@2026-01",
        "jd.paid@2026-02",
    }
    b = daily_budget(res.scenario)
    assert [len(c.budget.periods) for c in res.scenario.channels[:2]] == [2, 2]
    assert b[:, :2, 0].sum(axis=1).mean() <= 60_000 * (1 + 1e-6)  # the total, a mean per day
    assert res.iterations["total_spend"].max() <= 60_000 * (1 + 1e-6)


def test_by_period_refuses_to_drop_periods_it_does_not_set(sc):
    both = apply_overrides(
        sc, {"channels.tmall.budget.periods": [{"start": 3, "end": 9, "paid": 1, "seeding": 2}]}
    )
    with pytest.raises(ValueError, match=r"tmall.seeding vary over time .* would lose"):
        optimize_budget(both, levers=["tmall.paid"], by_period="month", replications=1)
