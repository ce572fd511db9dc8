"""Simulated search of inventory policies: (s, S) candidates simulated with common random
numbers (the same demand and lead-time draws in every replication) as SKU copies in one
vectorised engine run; a scan over every order size, then a pattern search on the (s, S) grid
from the best basins of that scan.

The cost as a function of the order size ``q = S − s`` can have more than one dip (with
λ = 25, K = 64, h = 1, p = 9 the exact cost has minima at S = 56 and S ≈ 77, 1.9 % apart),
so a local search from one start can be trapped in the wrong one: :func:`scan_search` first
simulates a grid of order sizes over the whole plausible range (each with a few reorder
points around the analytic best one for that size) and refines the best local minima of that
profile, keeping the best of them.
"""

from __future__ import annotations

from collections.abc import Callable
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
    min_step: int = 1,
) -> tuple[int, int]:
    """Pattern search on the (s, S) grid, one vectorised simulation per step.

    Each step simulates the 5 x 5 grid ``best + (a, b) * step`` (``a, b`` in -2..2, ``s < S``)
    and moves to its best point; when the centre stays best the step is halved; the search ends
    when the centre is best at step ``min_step`` (a local optimum of the simulated cost on the
    5 x 5 box at that resolution).
    """
    simulate_candidates(prob, [start], sim)
    best, step = start, max(min_step, (start[1] - start[0]) // 4)
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
        elif step <= min_step:
            break
        else:
            step = max(min_step, step // 2)
    return best


def scan_search(
    prob: _Problem,
    start: tuple[int, int],
    sim: SimSettings,
    target_fill: float | None,
    max_evaluations: int,
    *,
    s_for_q: Callable[[int], int],
    q_max: int,
    spread: int,
) -> tuple[int, int]:
    """Scan order sizes ``1..q_max``, then refine the best basins; the best point simulated.

    ``s_for_q(q)`` is the analytic best reorder point for order size ``q``; each scanned size
    is simulated at that ``s`` and ``s ± spread, ± 2 spread``. Every local minimum of the
    resulting cost profile over ``q`` (up to three, best first) and ``start`` seed a
    :func:`local_search`; all candidates share the same random numbers, so the final choice
    compares like with like.
    """
    qs = sorted({int(round(q)) for q in np.linspace(1, max(q_max, 2), 25)})
    grid = []
    for q in qs:
        s0 = s_for_q(q)
        grid += [(s0 + k * spread, s0 + k * spread + q) for k in range(-2, 3)]
    res = simulate_candidates(prob, grid, sim)
    profile = [
        min((c for c in grid if c[1] - c[0] == q), key=lambda c: _objective(res[c], target_fill))
        for q in qs
    ]
    value = [_objective(res[c], target_fill) for c in profile]
    minima = [
        profile[i]
        for i in range(len(profile))
        if (i == 0 or value[i] <= value[i - 1])
        and (i == len(profile) - 1 or value[i] <= value[i + 1])
    ]
    minima.sort(key=lambda c: _objective(res[c], target_fill))
    # Resolve (s, S) to 1 unit, or to 0.05 % of the largest order size for stock in real units
    # (tens of thousands), where a unit is far below what the simulation can tell apart.
    min_step = max(1, int(q_max * 0.0005))
    found = [
        local_search(prob, st, sim, target_fill, max_evaluations, min_step)
        for st in dict.fromkeys([*minima[:3], start])
    ]
    return min(found, key=lambda c: (_objective(prob.cache[c], target_fill), c))
