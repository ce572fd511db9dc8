"""Shared fixtures: small versions of the shipped scenarios so the suite stays fast."""

from __future__ import annotations

from pathlib import Path

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
