"""The compiled kernels (sim/core/kernels.py): NumPy's numbers, and no compiling mid-run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim.core.kernels as kernels
from sim.core.model import ChannelMarket
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
# numba dispatchers, without the helpers inlined into them (never compiled on their own)
KERNELS = [
    name
    for name, f in vars(kernels).items()
    if hasattr(f, "signatures") and f.targetoptions.get("inline") != "always"
]


@pytest.mark.parametrize("name", ["baseline", "six_schemes", "baseline_spread"])
def test_a_run_calls_the_kernels_with_the_types_compiled_at_import(name):
    """Each kernel is compiled (or loaded from numba's cache) at import for the engine's types:
    a run that called one with other types would compile it inside its first day (≈ 1 s)."""
    overrides = {"market.customers": 400, "horizon.days": 40, "inventory": None, "targets": []}
    before = {k: len(getattr(kernels, k).signatures) for k in KERNELS}
    ChannelMarket(load_scenario(ROOT / "scenarios" / f"{name}.yaml", overrides=overrides)).run()
    after = {k: len(getattr(kernels, k).signatures) for k in KERNELS}
    assert after == before
    assert all(n >= 1 for n in after.values()), after
    assert {"hash_rows", "reach", "book_orders", "record_orders", "churn_draws"} <= set(KERNELS)


def test_satisfaction_and_joining_are_numpys_numbers():
    """Against the NumPy expression the post-purchase phase used: 0.7 × a float32 (float32),
    plus 0.3 × a bool (float64), rounded to float32; joins compared in float32."""
    rng = np.random.default_rng(3)
    n = 5000
    satisfaction = rng.random(n, dtype=np.float32)
    in_private = rng.random(n) < 0.3
    buyers = np.sort(rng.choice(n, 800, replace=False))
    u_sat, u_join = rng.random(800, dtype=np.float32), rng.random(800, dtype=np.float32)
    p_sat = rng.random(800)
    join_p = 0.3
    u_join[:50] = np.float32(join_p)  # on the threshold, as float32 compares it
    satisfied = u_sat < p_sat
    expected_sat = satisfaction.copy()
    expected_sat[buyers] = 0.7 * satisfaction[buyers] + 0.3 * satisfied
    joins = (u_join < join_p) & ~in_private[buyers]
    got_sat, got_join = kernels.satisfy_and_join(
        buyers, u_sat, p_sat, u_join, np.float32(join_p), satisfaction, in_private
    )
    np.testing.assert_array_equal(got_sat, satisfied)
    np.testing.assert_array_equal(got_join, joins)
    np.testing.assert_array_equal(satisfaction, expected_sat)
    assert in_private[buyers[joins]].all()


@pytest.mark.parametrize("day", [0, 200, 364])
def test_pool_tiers_in_the_first_year_equal_the_classifier(day):
    """The compiled pool classification against sim.levers.tiers.classify, with spends one
    float32 step either side of the high-value threshold (where a float32 quotient would move
    some across it) and yesterday's members losing their tier."""
    from sim.levers.tiers import Tiers, classify

    rng = np.random.default_rng(day)
    n = 4000
    in_private = rng.random(n) < 0.4
    stage = rng.integers(0, 4, n).astype(np.int8)
    n_orders = rng.integers(0, 8, n).astype(np.int32)
    spend = rng.gamma(1.0, 2500.0, n).astype(np.float32)
    steps = np.float32(2718.28).view(np.int32) + np.arange(-100, 100, dtype=np.int32)
    spend[:200], n_orders[:200], in_private[:200], stage[:200] = steps.view(np.float32), 5, 1, 2
    tiers = Tiers(new_max_orders=2, high_value_spend=2718.28, high_value_repurchases=2)
    tier = np.full(n, -1, dtype=np.int8)
    old = np.sort(rng.choice(n, 300, replace=False))
    tier[old] = 1
    counts = np.zeros(3, dtype=np.int64)
    rules = (tiers.high_value_spend, tiers.high_value_repurchases, tiers.new_max_orders)
    members = kernels.pool_tiers(in_private, stage, 3, spend, n_orders, rules, tier, old, counts)

    expected_members = (in_private & (stage != 3)).nonzero()[0]
    expected = classify(
        tiers,
        in_private=np.ones(len(expected_members), dtype=bool),
        n_orders=n_orders[expected_members],
        spend=spend[expected_members],
        first_day=np.full(len(expected_members), -1, dtype=np.int32),
        day=day,
    )
    np.testing.assert_array_equal(members, expected_members)
    np.testing.assert_array_equal(tier[members], expected)
    assert (tier[np.setdiff1d(np.arange(n), members)] == -1).all()
    np.testing.assert_array_equal(counts, np.bincount(expected, minlength=3))
    assert 0 < (tier[:200] == 2).sum() < 200  # the threshold splits the stepped spends
