"""One replication in a worker: simulate, reduce the ledger to KPIs (whole horizon and windows)
and, on request, the daily tables the reports need. Ledgers stay in the worker.

The result cache (:mod:`sim.experiments.cache`) stores :class:`Replication` objects, and its code
version covers this module and everything it imports.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from sim.core.ledger import cohort_repurchase, family_flows
from sim.core.model import simulate
from sim.kpis import compute_kpis
from sim.scenario import Scenario, apply_overrides, parameter_draw

Window = tuple[int, int]


@dataclass
class Replication:
    """What one worker sends back: KPIs (whole horizon and per window) and optional tables."""

    replication: int
    kpis: dict[str, float] = field(default_factory=dict)
    window_kpis: dict[Window, dict[str, float]] = field(default_factory=dict)
    daily: pd.DataFrame | None = None
    journeys: pd.DataFrame | None = None
    error: str | None = None
    flows: pd.DataFrame | None = None  # family → family moves (sim.core.ledger.family_flows)
    cohorts: pd.DataFrame | None = None  # repurchase by cohort (sim.core.ledger.cohort_repurchase)
    inventory: pd.DataFrame | None = None  # day × SKU × location ledger.extra["inventory"]
    market: pd.DataFrame | None = None  # one row per day: the ledger's market-wide stocks
    decisions: pd.DataFrame | None = None  # review rules' log, ledger.extra["decisions"]
    ab_tests: pd.DataFrame | None = None  # A/B tests decided, ledger.extra["ab_tests"]


def run_replication(
    scenario: Scenario,
    seed: int,
    replication: int,
    windows: Sequence[Window] = (),
    keep_daily: bool = True,
) -> Replication:
    """Simulate one replication and reduce it to KPIs in the worker (ledgers stay there).

    With parameter uncertainty (``scenario.uncertainty``) the replication first takes its row of
    posterior draws (:func:`sim.scenario.parameter_draw`, a function of seed and replication:
    a plan and its baseline share it): second-order Monte Carlo.
    """
    try:
        _, values = parameter_draw(scenario, seed, replication)
        if values:
            scenario = apply_overrides(scenario, {**values, "uncertainty.enabled": False})
        ledger = simulate(scenario, seed=seed, replication=replication)
        rep = Replication(replication, kpis=compute_kpis(ledger))
        rep.window_kpis = {tuple(w): compute_kpis(ledger, window=tuple(w)) for w in windows}
        if isinstance(ab := ledger.extra.get("ab_tests"), pd.DataFrame):  # small: always kept
            rep.ab_tests = ab.assign(replication=replication)
        if keep_daily:
            rep.daily = ledger.daily.assign(replication=replication)
            rep.journeys = ledger.journeys.assign(replication=replication)
            rep.market = ledger.market.assign(replication=replication)
            rep.flows = family_flows(ledger).assign(replication=replication)
            rep.cohorts = cohort_repurchase(ledger).assign(replication=replication)
            if isinstance(log := ledger.extra.get("decisions"), pd.DataFrame):
                rep.decisions = log.assign(replication=replication)
            inv = ledger.extra.get("inventory")
            if isinstance(inv, pd.DataFrame) and {"day", "sku"} <= set(inv.columns):
                keys = [c for c in ("day", "sku", "location") if c in inv.columns]
                rep.inventory = (
                    inv.groupby(keys, as_index=False, sort=False)
                    .sum(numeric_only=True)
                    .assign(replication=replication)
                )
        return rep
    except Exception as exc:  # a failing replication is recorded, not fatal to the others
        msg = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
        return Replication(replication, error=msg)
