"""The inventory engine's randomness: lead times and exogenous demand from uniforms.

Every draw is an inverse CDF applied to a fixed-size block of uniforms per day, used or not, and
SKU ``k`` reads its own column of that block (``crn`` maps SKUs to columns). So what a policy
does never shifts the luck of another day, SKU or run: a plan and its baseline run with the same
seed see the same lead times and demand (common random numbers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special, stats

if TYPE_CHECKING:
    from sim.inventory.specs import PolicySpec, SkuDemandSpec


def streams(rng: np.random.Generator) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent child streams (lead times, exogenous demand) so one never shifts the other."""
    try:
        a, b = rng.spawn(2)
    except (TypeError, ValueError, AttributeError):  # a generator without a seed sequence
        a = b = rng
    return a, b


def table_ppf(dist: Any, u: np.ndarray) -> np.ndarray:
    """Exact inverse CDF of a discrete distribution by table look-up (fast, no scipy ppf)."""
    top = int(dist.ppf(1 - 1e-13)) + 1
    cdf = dist.cdf(np.arange(top + 1))
    return np.minimum(np.searchsorted(cdf, u, side="right"), top).astype(np.int64)


def demand_ppf(d: SkuDemandSpec, u: np.ndarray) -> np.ndarray:
    """Daily demand of one SKU from uniforms (the inverse CDF of its distribution)."""
    if d.mean == 0:
        return np.zeros(u.shape, dtype=np.int64)
    if d.distribution == "normal":
        x = d.mean + d.sd * special.ndtri(np.clip(u, 1e-300, 1 - 1e-16))
        return np.maximum(np.rint(x), 0).astype(np.int64)
    if d.distribution == "negbin":
        r = d.dispersion
        return table_ppf(stats.nbinom(r, r / (r + d.mean)), u)
    return table_ppf(stats.poisson(d.mean), u)


def draw_lead_times(
    policies: Sequence[Sequence[PolicySpec | None]],
    rng: np.random.Generator,
    crn: np.ndarray,
    days: int,
) -> np.ndarray:
    """Lead times (days x SKUs x locations) of an order placed on each day, for the horizon.

    ``policies[k][l]`` is the rule of SKU ``k`` at location ``l`` (None: never orders, lead
    time 0).
    """
    n_locations = len(policies[0])
    # One (SKU column x location) block of uniforms per day, used or not (CRN).
    cols = int(crn.max()) + 1
    u = rng.random((days, cols, n_locations))[:, crn, :]
    lead = np.zeros(u.shape, np.int64)
    for k, row in enumerate(policies):
        for l_, p in enumerate(row):
            if p is not None and p.type != "none":
                lead[:, k, l_] = p.lead.ppf(u[:, k, l_])
    return lead


def draw_demand(
    demand: Sequence[SkuDemandSpec], rng: np.random.Generator, crn: np.ndarray, days: int
) -> np.ndarray:
    """Exogenous daily demand (days x SKUs): one block of uniforms per day, turned into demand
    by each SKU's inverse CDF."""
    cols = int(crn.max()) + 1
    u = rng.random((days, cols))[:, crn]
    return np.stack([demand_ppf(demand[k], u[:, k]) for k in range(len(demand))], 1)
