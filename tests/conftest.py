"""Shared fixtures: small versions of the shipped scenarios so the suite stays fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
# Shortened horizons cannot hold the plans' 180-day target windows: targets are dropped here.
# A small market (300 k people) at the shipped resolution (3 000 agents: 100 people each).
SMALL = {
    "market.customers": 3000,
    "market.real_customers": 300_000,
    "horizon.days": 120,
    "targets": [],
}


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=SMALL)


@pytest.fixture(scope="session")
def plan() -> Scenario:
    return load_scenario(SCENARIOS / "six_schemes.yaml", overrides=SMALL)


def history_groups(x, t_x, t0: int):
    """Histories by repeat days and recency (the last purchase in the first or second half of
    the ``t0`` days observed), for Monte Carlo checks of P(alive) and forecasts, which vary
    most with t_x for x ≥ 1: (name, mask) pairs, then everyone."""
    late = t_x > t0 / 2
    yield "x=0", x == 0
    for k, sel in ((1, x == 1), (2, x == 2), ("3+", x >= 3)):
        yield f"x={k}, early", sel & ~late
        yield f"x={k}, late", sel & late
    yield "all", np.ones_like(x, dtype=bool)
