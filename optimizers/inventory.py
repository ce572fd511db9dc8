"""Inventory policy optimiser: exact where the theory is exact, a simulated search elsewhere.

Per SKU and location, the search minimises the cost per day (holding + ordering + backorder
penalty + lost margin + transfer) of a periodic-review (s, S) policy, optionally subject to a
fill-rate (or stockout-rate) target:

1. **Demand model.** Exogenous scenarios give it; in customer mode it is fitted (mean, variance
   of the daily ``requested`` units) on the records of a run the caller provides: Poisson when the
   variance is close to the mean, negative binomial when over-dispersed.
2. **Exact optimum where the theory applies** (Poisson demand, backorders, fixed lead time
   L ≥ 0, daily review): the Zheng–Federgruen optimum, or with a fill-rate target the exact
   constrained optimum (:mod:`optimizers.inventory_exact`). Its simulated cost and fill rate
   are reported beside it, as a check, not as the judge.
3. **Elsewhere, a simulated search**: an analytic start (Hadley–Whitin style: ``Q`` from the
   EOQ, then the ``s`` minimising the average one-period cost ``G(y)`` over ``y = s+1..s+Q``
   under Poisson / negative-binomial / normal lead-time demand, meeting the approximate fill
   rate when there is a target), a scan over every order size ``q = S − s`` up to several EOQs
   (so a cost curve with two dips in S cannot trap it), and a pattern search on the (s, S) grid
   from the best basins of that scan (:mod:`optimizers.inventory_search`). Every candidate is
   simulated with *common random numbers* (the same demand and lead-time draws for each
   replication), as SKU copies in one vectorised engine run.

Each (SKU, location) is optimised on its own demand with its own lead time: the source of an
internally replenished location is assumed to have stock (echelon interactions are left to the
full simulation, which is how a recommendation should be verified: ``apply_policies`` then
``evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from sim.inventory import (
    InventorySpec,
    LeadTimeSpec,
    PoissonCosts,
    PolicySpec,
    ss_cost,
    ss_fill_rate,
    zheng_federgruen,
)

__all__ = ["DemandModel", "apply_policies", "optimize_inventory"]

from optimizers.inventory_exact import exact_policy
from optimizers.inventory_search import SimSettings, scan_search, simulate_candidates


@dataclass(frozen=True)
class DemandModel:
    """Daily demand of one (SKU, location): i.i.d. with this mean and variance."""

    mean: float
    var: float
    distribution: str = "poisson"  # poisson | negbin | normal

    @classmethod
    def fit(cls, daily: np.ndarray) -> DemandModel:
        """Poisson unless clearly over-dispersed (variance > 1.1 x mean): then negbin."""
        mean, var = float(np.mean(daily)), float(np.var(daily, ddof=1)) if len(daily) > 1 else 0.0
        if var > 1.1 * mean > 0:
            return cls(mean, var, "negbin")
        return cls(mean, mean, "poisson")

    def as_spec(self) -> dict:
        out: dict = {"distribution": self.distribution, "mean": self.mean}
        if self.distribution == "negbin":
            out["dispersion"] = self.mean**2 / (self.var - self.mean)
        if self.distribution == "normal":
            out["sd"] = float(np.sqrt(self.var))
        return out

    def over(self, periods: float, lead: LeadTimeSpec) -> stats.rv_discrete | None:
        """Demand over ``periods`` days (lead-time variability added to the variance)."""
        if periods <= 0:
            return None
        mu = self.mean * periods
        var = self.var * periods + self.mean**2 * _lead_var(lead)
        if self.distribution == "poisson" and var <= mu * (1 + 1e-9):
            return stats.poisson(mu)
        if var > mu:
            r = mu**2 / (var - mu)
            return stats.nbinom(r, r / (r + mu))
        return stats.poisson(mu)  # under-dispersed normal: Poisson is the closest count law


def _lead_var(lead: LeadTimeSpec) -> float:
    if lead.dist == "poisson":
        return float(lead.mean)
    if lead.dist == "uniform":
        return ((lead.high - lead.low + 1) ** 2 - 1) / 12
    return 0.0


@dataclass
class _Problem:
    """One (SKU, location) to optimise, with everything the search needs."""

    sku: str
    location: str
    policy: PolicySpec
    demand: DemandModel
    holding: float
    shortage: float  # backorder penalty per unit-day, or lost margin per unit
    backorders: bool
    price: float
    unit_cost: float
    cache: dict = field(default_factory=dict)

    @property
    def protection(self) -> float:
        """Periods of demand an order must cover: lead time + review period."""
        return self.policy.lead.mean_days() + self.policy.review_period

    def exact_instance(self) -> PoissonCosts | None:
        """The exact theory applies: Poisson, backorders, fixed lead time, daily review."""
        p = self.policy
        if (
            self.demand.distribution != "poisson"
            or not self.backorders
            or p.lead.dist != "fixed"
            or p.review_period != 1
        ):
            return None
        return PoissonCosts(
            self.demand.mean, p.lead.value, p.order_cost, self.holding, self.shortage
        )


# --------------------------------------------------------------------------------------------
# Analytic start
# --------------------------------------------------------------------------------------------
def _loss_tables(dist: stats.rv_discrete | None, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``E[(y-D)^+]`` and ``E[(D-y)^+]`` for ``y = 0..top`` (exact sums over the pmf)."""
    y = np.arange(top + 1)
    if dist is None:
        return y.astype(float), np.zeros(top + 1)
    cdf = dist.cdf(np.arange(top + 1))
    excess = np.concatenate(([0.0], np.cumsum(cdf)[:-1]))
    return excess, dist.mean() - y + excess


def _approx_curve(
    prob: _Problem, q: int, s_max: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate cost per day and fill rate of (s, s + q) for every s on a grid.

    The inventory position after a review is taken as uniform on ``s+1..s+q`` (exact for unit
    demand and daily review). The period cost ``G`` and the base-stock fill rate are averaged
    over the review cycle: the j-th day after a review (j = 1..R) is protected by the position
    against ``L + j`` days of demand. Orders cost ``K`` at most once per review:
    ``K min(mu / q, 1 / R)``.
    """
    d, lead, big_r = prob.demand, prob.policy.lead, prob.policy.review_period
    tau = prob.protection
    top = int(d.mean * tau + 12 * np.sqrt(max(d.var, d.mean, 1) * (tau + 1)) + q + 20)
    top = max(top, s_max + q + 2)
    g, beta = np.zeros(top + 1), np.zeros(top + 1)
    for j in range(1, big_r + 1):
        horizon = lead.mean_days() + j
        excess, short = _loss_tables(d.over(horizon, lead), top)
        _, short_prev = _loss_tables(d.over(horizon - 1, lead), top)
        g += (prob.holding * excess + prob.shortage * short) / big_r
        beta += (1 - (short - short_prev) / max(d.mean, 1e-12)) / big_r
    cg, cb = np.r_[0, np.cumsum(g)], np.r_[0, np.cumsum(beta)]
    s_grid = np.arange(-1, top - q)  # y = s+1..s+q stays inside the tables
    order_rate = min(d.mean / q, 1 / big_r)
    cost = (cg[s_grid + q + 1] - cg[s_grid + 1]) / q + prob.policy.order_cost * order_rate
    fill = (cb[s_grid + q + 1] - cb[s_grid + 1]) / q
    return s_grid, cost, fill


def analytic_policy(prob: _Problem, target_fill: float | None) -> dict:
    """EOQ order size, then the reorder point minimising the approximate cost (meeting the
    approximate fill-rate target when one is given)."""
    d = prob.demand
    q = max(1, int(round(np.sqrt(2 * prob.policy.order_cost * d.mean / prob.holding))))
    s_grid, cost, fill = _approx_curve(prob, q)
    ok = cost if target_fill is None else np.where(fill >= target_fill, cost, np.inf)
    i = int(np.argmin(ok)) if np.isfinite(ok).any() else len(s_grid) - 1
    return {
        "s": int(s_grid[i]),
        "S": int(s_grid[i] + q),
        "cost": float(cost[i]),
        "fill_rate": float(fill[i]),
    }


def analytic_at(prob: _Problem, s: int, big_s: int) -> tuple[float, float]:
    """Approximate (cost per day, fill rate) of one (s, S) policy."""
    s_grid, cost, fill = _approx_curve(prob, big_s - s, max(s, 0))
    i = int(np.clip(s - s_grid[0], 0, len(s_grid) - 1))
    return float(cost[i]), float(fill[i])


# --------------------------------------------------------------------------------------------
# Problems from a spec
# --------------------------------------------------------------------------------------------
def _problems(spec: InventorySpec, records: pd.DataFrame | None) -> list[_Problem]:
    exo = spec.demand.mode == "exogenous"
    if not exo and records is None:
        raise ValueError(
            "optimize_inventory: demand comes from customers; pass `records` of a "
            "simulated run (Inventory.records()) to estimate it"
        )
    if spec.costs.holding <= 0:
        raise ValueError("optimize_inventory: costs.holding must be > 0 (else stock is free)")
    central = [loc.id for loc in spec.locations if loc.kind == "central"]
    exo_loc = spec.demand.location or (central or [spec.locations[0].id])[0]
    out = []
    for sku in spec.skus:
        for loc in spec.locations:
            pol = spec.policy_for(sku, loc.id)
            if pol is None or pol.type == "none":
                continue
            if exo:
                if loc.id != exo_loc:
                    continue
                d = spec.demand.resolve(sku.id)
                var = {
                    "poisson": d.mean,
                    "negbin": d.mean + d.mean**2 / (d.dispersion or 1),
                    "normal": (d.sd or 0) ** 2,
                }[d.distribution]
                model, backorders = DemandModel(d.mean, var, d.distribution), spec.demand.backorders
            else:
                rows = records[(records["sku"] == sku.id) & (records["location"] == loc.id)]
                model = DemandModel.fit(rows.sort_values("day")["requested"].to_numpy())
                backorders = rows["backordered"].sum() >= rows[["lost", "switched"]].sum().sum()
            if model.mean <= 0:
                continue
            out.append(_make_problem(spec, sku, loc.id, pol, model, backorders))
    return out


def _make_problem(
    spec: InventorySpec, sku, location: str, pol: PolicySpec, model: DemandModel, backorders: bool
) -> _Problem:
    lost = spec.costs.lost_sale if spec.costs.lost_sale is not None else sku.price - sku.unit_cost
    return _Problem(
        sku.id,
        location,
        pol,
        model,
        spec.costs.holding * sku.volume,
        spec.costs.backorder if backorders else lost,
        backorders,
        sku.price,
        sku.unit_cost,
    )


def _fill_target(
    target_fill_rate: float | None, target_stockout_rate: float | None
) -> float | None:
    targets = [
        t
        for t in (
            target_fill_rate,
            None if target_stockout_rate is None else 1 - target_stockout_rate,
        )
        if t is not None
    ]
    for t in targets:
        if not 0 < t < 1:
            raise ValueError(f"optimize_inventory: service target must be in (0, 1), got {t}")
    return max(targets) if targets else None


def _row(
    prob: _Problem,
    start: dict,
    best: tuple[int, int],
    sim_res: dict,
    target: float | None,
    method: str,
) -> dict:
    inst = prob.exact_instance()
    row = {
        "sku": prob.sku,
        "location": prob.location,
        "type": "sS",
        "s": best[0],
        "S": best[1],
        "start_s": start["s"],
        "start_S": start["S"],
        "start_analytic_cost": start["cost"],
        "start_analytic_fill_rate": start["fill_rate"],
        "demand_mean": prob.demand.mean,
        "demand_var": prob.demand.var,
        "demand_distribution": prob.demand.distribution,
        "backorders": prob.backorders,
        "lead_time_mean": prob.policy.lead.mean_days(),
        "review_period": prob.policy.review_period,
        "sim_cost": sim_res["cost"],
        "sim_cost_se": sim_res["cost_se"],
        "sim_fill_rate": sim_res["fill_rate"],
        "sim_fill_rate_se": sim_res["fill_rate_se"],
        "target_fill_rate": target,
        "feasible": target is None or sim_res["fill_rate"] >= target,
        "evaluations": len(prob.cache),
        "analytic_exact": inst is not None,
        "method": method,
    }
    if inst is not None:
        zs, zbig, zc = zheng_federgruen(inst)
        fill = ss_fill_rate(*best, inst)
        row |= {
            "analytic_cost": ss_cost(*best, inst),
            "analytic_fill_rate": fill,
            "exact_optimum_s": zs,
            "exact_optimum_S": zbig,
            "exact_optimum_cost": zc,
        }
        if method.startswith("exact"):  # the exact fill rate is the truth, not a noisy estimate
            row["feasible"] = target is None or fill >= target
    else:
        cost, fill = analytic_at(prob, *best)
        row |= {
            "analytic_cost": cost,
            "analytic_fill_rate": fill,
            "exact_optimum_s": np.nan,
            "exact_optimum_S": np.nan,
            "exact_optimum_cost": np.nan,
        }
    return row


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------
def optimize_inventory(
    spec: InventorySpec,
    *,
    target_fill_rate: float | None = None,
    target_stockout_rate: float | None = None,
    days: int = 3000,
    replications: int = 8,
    seed: int = 0,
    warmup: int = 200,
    records: pd.DataFrame | None = None,
    max_evaluations: int = 600,
    starts: dict[tuple[str, str], tuple[int, int]] | None = None,
    method: Literal["auto", "simulation"] = "auto",
) -> pd.DataFrame:
    """Recommend an (s, S) policy per (SKU, location) with replenishment.

    Minimises the cost per day (holding + ordering + backorder penalty or lost margin +
    transfer), subject to ``fill_rate >= target_fill_rate`` (or ``stockout_rate <=
    target_stockout_rate``; the stricter wins). Where exact theory applies (Poisson demand,
    backorders, fixed lead time L ≥ 0, daily review) and ``method="auto"`` the answer is the
    exact optimum (:func:`optimizers.inventory_exact.exact_policy`); elsewhere, or with
    ``method="simulation"``, a simulated search (scan of order sizes, then pattern searches).

    Returns one row per (SKU, location): the recommendation (``s``, ``S``) and ``method``, the
    analytic start, simulated cost / fill rate with standard errors over ``replications`` runs
    of ``days`` days (``warmup`` days discarded), and, where exact theory applies, the exact cost
    and fill rate of the recommendation and the unconstrained Zheng-Federgruen optimum.
    ``starts`` replaces the analytic start of some (SKU, location) pairs (e.g. the current
    policy) for the simulated search, ``records`` (customer mode) are the daily records the
    demand is fitted on.
    """
    target = _fill_target(target_fill_rate, target_stockout_rate)
    if days <= warmup or replications < 1:
        raise ValueError("optimize_inventory: need days > warmup and replications >= 1")
    if method not in ("auto", "simulation"):
        raise ValueError(
            f"optimize_inventory: method must be 'auto' or 'simulation', got {method!r}"
        )
    sim = SimSettings(days, replications, warmup, seed)
    rows = []
    for prob in _problems(spec, records):
        start = analytic_policy(prob, target)
        if starts and (prob.sku, prob.location) in starts:
            s0, big_s0 = starts[(prob.sku, prob.location)]
            cost0, fill0 = analytic_at(prob, s0, big_s0)
            start = {"s": s0, "S": big_s0, "cost": cost0, "fill_rate": fill0}
        inst = prob.exact_instance()
        if inst is not None and method == "auto":
            s, big_s, _, how = exact_policy(inst, target)
            best = (s, big_s)
            simulate_candidates(prob, [best], sim)  # reported beside it, as a check
        else:
            best = _simulated_search(prob, start, sim, target, max_evaluations)
            how = "simulation search"
        rows.append(_row(prob, start, best, prob.cache[best], target, how))
    return pd.DataFrame(rows)


def _simulated_search(
    prob: _Problem, start: dict, sim: SimSettings, target: float | None, max_evaluations: int
) -> tuple[int, int]:
    """Scan order sizes up to 4 × the larger of the EOQ and the start's, then refine."""
    eoq = np.sqrt(2 * prob.policy.order_cost * prob.demand.mean / prob.holding)
    q_max = int(np.ceil(4 * max(eoq, start["S"] - start["s"], 5)))
    spread = max(1, int(round(0.5 * np.sqrt(max(prob.demand.var, 1.0) * prob.protection))))

    def s_for_q(q: int) -> int:
        s_grid, cost, fill = _approx_curve(prob, q)
        ok = cost if target is None else np.where(fill >= target, cost, np.inf)
        return int(s_grid[int(np.argmin(ok))] if np.isfinite(ok).any() else s_grid[-1])

    return scan_search(
        prob,
        (start["s"], start["S"]),
        sim,
        target,
        max_evaluations,
        s_for_q=s_for_q,
        q_max=q_max,
        spread=spread,
    )


def apply_policies(spec: InventorySpec, table: pd.DataFrame) -> InventorySpec:
    """A copy of ``spec`` with one (s, S) rule per row of ``table`` (from
    :func:`optimize_inventory`), keeping each location's lead time, order cost, review period,
    source and capacities."""
    data = spec.model_dump(exclude_unset=True)
    pols = list(data.get("policies", []))
    sku_by_id = {s.id: s for s in spec.skus}
    keep = (
        "lead_time",
        "order_cost",
        "review_period",
        "review_offset",
        "max_order",
        "max_stock",
        "source",
        "transfer_cost",
    )
    for r in table.itertuples(index=False):
        old = spec.policy_for(sku_by_id[r.sku], r.location)
        base = {f: getattr(old, f) for f in keep} if old is not None else {}
        if isinstance(base.get("lead_time"), LeadTimeSpec):
            base["lead_time"] = base["lead_time"].model_dump(exclude_none=True)
        pols.append(
            {
                **base,
                "sku": r.sku,
                "location": r.location,
                "type": "sS",
                "s": int(r.s),
                "S": int(r.S),
            }
        )
    data["policies"] = pols
    return InventorySpec.model_validate(data)
