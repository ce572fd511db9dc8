"""The cohort replay: the simulator's repeat purchases of given customers from given first
orders, checked against the BG/NBD's closed form on the same births."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from sim.calibration.bgnbd import BGNBD
from sim.calibration.cohort_replay import Cohort, births_by_day, replay_scenario

SAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "sample_scenario.yaml"
R, CYCLE, A, B = 2.0, 40.0, 1.5, 4.0  # BG/NBD truth: r, mean days between needs, a, b


def _raw() -> dict:
    """One channel that sells to every shopper on the day of the need (conversion 1, no
    lapse, prices far below anyone's reservation), so the purchase rate is the need rate and
    the BG/NBD holds with α = r × cycle days."""
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["channels"] = [raw["channels"][0] | {"base_conversion": 1.0}]
    seg = raw["market"]["segments"][0]
    seg.update(
        cycle_distribution="exponential",
        purchase_cycle_days=CYCLE,
        rate_shape=R,
        dropout_a=A,
        dropout_b=B,
        reservation_price=100.0,
        affinity={"public": 0.0},
    )
    raw["market"].update(churn=0.0, interest_lapse=0.0)
    return raw


def test_births_are_grouped_by_day():
    got = [(d, ids.tolist()) for d, ids in births_by_day(np.array([2, 0, 2, 5]))]
    assert got == [(0, [1]), (2, [0, 2]), (5, [3])]


def test_replayed_cohort_buys_what_the_bgnbd_forecasts_on_the_same_births():
    days, n = 240, 6000
    rng = np.random.default_rng(0)
    firsts = rng.integers(0, 90, size=n)
    sc = replay_scenario(_raw(), "2025-01-01", n, days)
    cohort = Cohort(sc, firsts, np.zeros(n, dtype=np.int64))
    reps = [cohort.counts(1, r, 120, (120, days)) for r in range(3)]
    simulated = np.mean([d.sum() for d, _ in reps])
    bg = BGNBD(r=R, alpha=R * CYCLE, a=A, b=B, unit_days=1.0)  # days
    expected = float(bg.expected(days - firsts).sum())  # Σᵢ E[X(horizon − firstᵢ)]
    # Measured 0.995: the Monte Carlo error of 3 × 6 000 customers is ≈ 0.3 %, the day
    # rounding of the gaps below 1 %; a first need drawn at once (no gap) adds ≈ one purchase
    # per customer on 2.6 (+38 %), one a cycle late removes as much.
    assert abs(simulated / expected - 1) < 0.02, (simulated, expected)
    held = np.mean([c["holdout"].sum() for _, c in reps])
    in_hold = float((bg.expected(days - firsts) - bg.expected(np.maximum(120 - firsts, 0))).sum())
    assert abs(held / in_hold - 1) < 0.03, (held, in_hold)


def test_nobody_else_enters_the_market():
    n, days = 500, 60
    sc = replay_scenario(_raw(), "2025-01-01", n, days)
    firsts = np.full(n, 30)
    daily, cust = Cohort(sc, firsts, np.zeros(n, dtype=np.int64)).counts(0, 0, 30, (30, days))
    assert daily[:31].sum() == 0  # nobody buys before their first order, nor on its day
    assert len(cust) == n and (cust["x"] == 0).all()


def test_poisson_needs_come_in_calendar_time_whatever_the_shopping():
    """A buyer whose needs come every 5 days and who converts half the time, lapsing 35 % of
    the days they don't, buys at π / cycle, π = c / (c + (1 − c)·lapse): needs keep coming
    while they shop. Counting the next need from the purchase day instead made them 9 %
    slower (0.909 of the rate; ``benchmarks/repeat_rate_bias.py``)."""
    raw = _raw()
    seg = raw["market"]["segments"][0]
    for key in ("rate_shape", "dropout_a", "dropout_b"):
        seg.pop(key)
    seg["purchase_cycle_days"] = 5.0
    raw["channels"][0]["base_conversion"] = 0.5
    raw["market"]["interest_lapse"] = 0.35
    n, days, burn = 4000, 200, 50
    sc = replay_scenario(raw, "2025-01-01", n, days)
    zeros = np.zeros(n, dtype=np.int64)
    daily, _ = Cohort(sc, zeros, zeros).counts(0, 0, burn, (burn, days))
    rate = daily[burn:].sum() / n / (days - burn)
    pi = 0.5 / (0.5 + 0.5 * 0.35)
    assert abs(rate / (pi / 5.0) - 1) < 0.02, rate  # Monte Carlo ≈ 0.4 %
