"""Simulated refinement of inventory policies: (s, S) candidates simulated with common random
numbers (the same demand and lead-time draws in every replication) as SKU copies in one
vectorised engine run, and a pattern search on the (s, S) grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.inventory import InventorySpec, run_exogenous

if TYPE_CHECKING:
    from optimizers.inventory import _Problem

_COST_FIELDS = ["holding_cost", "ordering_cost", "backorder_cost", "lost_margin", "transfer_cost"]
_INFEASIBLE = 1e12


# --------------------------------------------------------------------------------------------
# Simulated refinement with common random numbers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimSettings:
    days: int
    replications: int
    warmup: int
    seed: int


def _evaluation_spec(prob: _Problem, cands: list[tuple[int, int]], reps: int) -> InventorySpec:
    p = prob.policy
    keep = {"lead_time", "order_cost", "review_period", "review_offset", "max_order", "max_stock"}
    base = {f: getattr(p, f) for f in keep if f in p.model_fields_set or f == "lead_time"}
    skus, pols = [], []
    for i, (s, big_s) in enumerate(cands):
        for r in range(reps):
            sid = f"c{i}r{r}"
            skus.append({"id": sid, "price": prob.price, "unit_cost": prob.unit_cost})
            pols.append({**base, "sku": sid, "type": "sS", "s": s, "S": big_s})
    costs = {
        "holding": prob.holding,
        ("backorder" if prob.backorders else "lost_sale"): prob.shortage,
    }
    return InventorySpec.model_validate(
        {
            "skus": skus,
            "policies": pols,
            "costs": costs,
            "demand": {"mode": "exogenous", "backorders": prob.backorders, **prob.demand.as_spec()},
        }
    )


def simulate_candidates(
    prob: _Problem, cands: list[tuple[int, int]], sim: SimSettings
) -> dict[tuple[int, int], dict]:
    """Simulated cost per day and fill rate of each (s, S), with the same luck for all."""
    todo = [c for c in cands if c not in prob.cache]
    if todo:
        reps = sim.replications
        spec = _evaluation_spec(prob, todo, reps)
        inv = run_exogenous(
            spec,
            sim.days,
            sim.seed,
            record=False,
            warmup=sim.warmup,
            crn_columns=np.tile(np.arange(reps), len(todo)),
        )
        tot = inv.totals()
        n_days = sim.days - sim.warmup
        cost = tot[_COST_FIELDS].sum(axis=1).to_numpy().reshape(len(todo), reps) / n_days
        served = tot["served"].to_numpy().reshape(len(todo), reps)
        demand = tot["demand"].to_numpy().reshape(len(todo), reps)
        fill = served / np.maximum(demand, 1)
        for i, c in enumerate(todo):
            prob.cache[c] = {
                "cost": cost[i].mean(),
                "cost_se": cost[i].std(ddof=1) / np.sqrt(reps) if reps > 1 else np.nan,
                "fill_rate": served[i].sum() / max(demand[i].sum(), 1),
                "fill_rate_se": fill[i].std(ddof=1) / np.sqrt(reps) if reps > 1 else np.nan,
            }
    return {c: prob.cache[c] for c in cands}


def _objective(res: dict, target_fill: float | None) -> float:
    if target_fill is not None and res["fill_rate"] < target_fill:
        return _INFEASIBLE + (target_fill - res["fill_rate"])  # closer to feasible is better
    return res["cost"]


def local_search(
    prob: _Problem,
    start: tuple[int, int],
    sim: SimSettings,
    target_fill: float | None,
    max_evaluations: int,
) -> tuple[int, int]:
    """Pattern search on the (s, S) grid, one vectorised simulation per step.

    Each step simulates the 5 x 5 grid ``best + (a, b) * step`` (``a, b`` in -2..2, ``s < S``)
    and moves to its best point; when the centre stays best the step is halved; the search ends
    when the centre is best at step 1 (a local optimum of the simulated cost on the 5 x 5 box).
    """
    best, step = start, max(1, (start[1] - start[0]) // 4)
    while len(prob.cache) < max_evaluations:
        grid = [
            (best[0] + a * step, best[1] + b * step)
            for a in range(-2, 3)
            for b in range(-2, 3)
            if best[0] + a * step < best[1] + b * step
        ]
        res = simulate_candidates(prob, grid, sim)
        cand = min(grid, key=lambda c: (_objective(res[c], target_fill), c != best))
        if cand != best:
            best = cand
        elif step == 1:
            break
        else:
            step //= 2
    return best
