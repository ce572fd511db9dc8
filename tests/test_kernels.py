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
