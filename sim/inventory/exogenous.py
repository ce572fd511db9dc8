"""Verification mode: the engine alone on exogenous i.i.d. daily demand, no customer model.

With ``inventory.demand.mode: exogenous`` the customers are replaced by i.i.d. draws per SKU so
simulated long-run costs and fill rates can be checked against exact inventory theory
(:mod:`sim.inventory.theory`), and policies tuned by simulation (:mod:`optimizers.inventory`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.inventory.engine import Inventory
from sim.inventory.schema import InventorySpec

__all__ = ["EXOGENOUS_CHANNEL", "run_exogenous", "simulate_exogenous"]

#: The one channel of a run whose section names none (the engine needs at least one).
EXOGENOUS_CHANNEL = "exogenous"


def run_exogenous(
    spec: InventorySpec,
    days: int,
    seed: int | np.random.Generator,
    *,
    demand: np.ndarray | None = None,
    record: bool = True,
    warmup: int = 0,
    crn_columns: np.ndarray | None = None,
) -> Inventory:
    """Run the engine alone on exogenous i.i.d. demand; returns the finished engine.

    ``demand`` (days x SKUs) replaces the draws (e.g. to share demand across runs).
    """
    if spec.demand.mode != "exogenous":
        raise ValueError("run_exogenous: inventory.demand.mode must be 'exogenous'")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    channels = spec.referenced_channels() or [EXOGENOUS_CHANNEL]
    inv = Inventory(
        spec, channels, days, rng, record=record, warmup=warmup, crn_columns=crn_columns
    )
    dem = inv.draw_exogenous_demand() if demand is None else np.asarray(demand, np.int64)
    if dem.shape != (days, inv.n_skus):
        raise ValueError(f"demand: expected shape {(days, inv.n_skus)}, got {dem.shape}")
    for d in range(days):
        inv.begin_day(d)
        inv.fulfil_units(dem[d])
        inv.end_day(d)
    return inv


def simulate_exogenous(spec: InventorySpec, days: int, seed: int) -> pd.DataFrame:
    """Daily records of the exogenous-demand verification mode (see :func:`run_exogenous`)."""
    return run_exogenous(spec, days, seed).records()
