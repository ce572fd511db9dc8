"""Customers who bought before day 0 start somewhere inside a cycle: their first need."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from sim.core.population import CUSTOMER, CustomerPopulation
from sim.scenario import build_scenario

SAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "sample_scenario.yaml"


def _population(n: int = 20_000, **segment) -> CustomerPopulation:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["market"].update(customers=n, initial_customers=1.0)
    raw["market"]["segments"] = [raw["market"]["segments"][0] | {"share": 1.0, **segment}]
    return CustomerPopulation(build_scenario(raw), np.random.default_rng(3))


def test_poisson_needs_have_no_memory_at_day_0():
    """With exponential needs the time to a customer's first need is exponential with their
    own mean cycle, as for any time after: scaled by each one's cycle, the waits are Exp(1)
    (Kolmogorov–Smirnov against scipy's). A uniform point of one cycle, the rule for
    clockwork cycles, fails this (KS distance ≈ 0.23)."""
    pop = _population(cycle_distribution="exponential", rate_shape=2.0, purchase_cycle_days=2000)
    assert (pop.stage == CUSTOMER).all()
    idx = np.arange(pop.n)
    waits = (pop.next_need + 0.5) / pop.cycle_of(idx)  # + 0.5: the day count floors
    assert stats.kstest(waits, "expon").pvalue > 1e-3


def test_clockwork_cycles_keep_a_uniform_start():
    pop = _population(purchase_cycle_days=2000, cycle_cv=0.3)
    waits = (pop.next_need + 0.5) / pop.cycle_of(np.arange(pop.n))
    assert stats.kstest(waits, "uniform").pvalue > 1e-3
