"""A simulated spend point: the metrics the LP models, its objective, every constraint checked.

These are the *simulated* truth the loop judges every LP answer by: :func:`point_metrics` reads
the means over replications, :func:`objective_value` the objective, :func:`check_constraints`
each constraint with its limit, the value found and whether it holds. The plan's targets
(when they are constraints) are checked on their estimate — the mean over the loop's few
replications of the KPI or of the paired ratio to the baseline, from
:func:`sim.experiments.evaluate_targets`; an undefined estimate (e.g. paid ROI with no paid
spend) does not meet its target. The final word on targets is the verdict at verification
(:mod:`optimizers.budget.choice`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizers.budget.problem import Problem
from optimizers.judging import replication_set, restrict
from sim.experiments import Evaluation, evaluate_targets


@dataclass
class Point:
    """One simulated spend vector with what the loop needs to compare it with others.

    ``ev`` (and the baseline's) are kept so the point can be judged again on fewer
    replications when another point lost some (:meth:`on`); a point whose every replication
    failed has no metrics, value −∞ and infinite violation.
    """

    x: np.ndarray
    metrics: dict[str, float]
    value: float
    violation: float
    checks: list[dict[str, Any]]
    ev: Evaluation | None = None
    baseline: Evaluation | None = None
    prob: Problem | None = None
    reps: frozenset[int] = field(default_factory=frozenset)

    @property
    def failed(self) -> bool:
        return not self.reps

    def on(self, reps: frozenset[int]) -> Point:
        """This point judged on the replications ``reps`` only."""
        if reps == self.reps or self.ev is None or self.prob is None:
            return self
        return simulated_point(self.ev, self.prob, self.x, self.baseline, reps=reps)


def point_metrics(ev: Evaluation, prob: Problem, x: np.ndarray) -> dict[str, float]:
    """Means over replications of what the LP models: revenue, margin, costs, paid revenue."""
    k, days = ev.kpis, prob.days
    lever_spend = days * prob.daily(x)
    cost = k["cost_share"] * k["revenue"]
    out = {
        "revenue": float(k["revenue"].mean()),
        "margin": float(k["profit"].mean()) + lever_spend,  # profit before lever spend
        "nonspend_cost": float(cost.mean()) - lever_spend,  # commission, service, other
        "cost": float(cost.mean()) + days * prob.fixed_cost(x),
    }
    w = prob.w
    for ch, idx in prob.roi_channels().items():
        paid = float(sum(w[i] * x[i] for i in idx))  # mean paid spend per day over the horizon
        roi = k.get(f"roi_paid.{ch}")
        paid_rev = (roi.fillna(0.0) * days * paid).mean() if roi is not None else np.nan
        out[f"paid_revenue.{ch}"] = float(paid_rev) if paid > 0 else 0.0
        out[f"roi_paid.{ch}"] = float(roi.mean()) if roi is not None and paid > 0 else np.nan
    return out


def objective_value(m: dict[str, float], prob: Problem, x: np.ndarray) -> float:
    if prob.objective == "revenue":
        return m["revenue"]
    return m["margin"] - prob.days * (prob.daily(x) + prob.fixed_cost(x))


def check_constraints(m: dict[str, float], prob: Problem, x: np.ndarray) -> list[dict[str, Any]]:
    """Every constraint at a simulated point: its limit, the value found and whether it holds."""
    checks = _Checks()
    _check_spend(checks, prob, x)
    _check_simulated(checks, m, prob, x)
    _check_channels(checks, prob, x)
    _check_targets(checks, m, prob)
    return checks.rows


def simulated_point(
    ev: Evaluation,
    prob: Problem,
    x: np.ndarray,
    baseline: Evaluation | None = None,
    *,
    reps: frozenset[int] | None = None,
) -> Point:
    """The :class:`Point` of spend ``x`` from its evaluation ``ev`` (on ``reps`` if given;
    always on the replications the baseline also has, when there is one)."""
    usable = replication_set(ev) if reps is None else reps & replication_set(ev)
    if baseline is not None:
        usable &= replication_set(baseline)
    if not usable:
        return Point(x, {}, -np.inf, np.inf, [], ev, baseline, prob, frozenset())
    run = restrict(ev, usable)
    base = restrict(baseline, usable) if baseline is not None else None
    m = point_metrics(run, prob, x) | target_metrics(run, prob, base)
    checks = check_constraints(m, prob, x)
    value = objective_value(m, prob, x)
    violation = sum(c["violation"] for c in checks)
    return Point(x, m, value, violation, checks, ev, baseline, prob, frozenset(usable))


def target_metrics(ev: Evaluation, prob: Problem, baseline: Evaluation | None) -> dict[str, float]:
    """``target.i``: the estimate of the problem's i-th target (NaN when undefined)."""
    if not prob.targets:
        return {}
    results = evaluate_targets(prob.targets, ev, baseline)
    return {f"target.{i}": float(r.estimate) for i, r in enumerate(results)}


class _Checks:
    """The rows of :func:`check_constraints`, in the order they are added."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, value: float, limit: float, sense: str, rel: float) -> None:
        if not np.isfinite(value):  # undefined (e.g. a ratio over nothing): not met, one unit
            self.rows.append(
                {
                    "constraint": name,
                    "sense": sense,
                    "limit": limit,
                    "value": value,
                    "holds": False,
                    "violation": 1.0,
                }
            )
            return
        excess = (value - limit) if sense == "≤" else (limit - value)
        holds = bool(excess <= 1e-6 * max(1.0, abs(limit)))  # LP solvers round at ~1e-7
        self.rows.append(
            {
                "constraint": name,
                "sense": sense,
                "limit": limit,
                "value": value,
                "holds": holds,
                "violation": 0.0 if holds else excess / max(rel, 1e-12),
            }
        )


def _check_spend(checks: _Checks, prob: Problem, x: np.ndarray) -> None:
    """The total, then the bounds on each lever and each channel."""
    add = checks.add
    spent = prob.daily(x) + prob.fixed_cost(x)
    add("total", spent, prob.total, "≤", prob.total)
    for i, lv in enumerate(prob.levers):
        if prob.lo[i] > 0:
            add(f"bound {lv.name}", x[i], prob.lo[i], "≥", prob.lo[i])
        if np.isfinite(prob.hi[i]):
            add(f"bound {lv.name}", x[i], prob.hi[i], "≤", max(prob.hi[i], 1.0))
    for ch, (blo, bhi) in prob.channel_bounds.items():
        s = sum(prob.w[i] * x[i] for i, lv in enumerate(prob.levers) if lv.channel == ch)
        if blo is not None:
            add(f"bound {ch}", s, blo, "≥", max(blo, 1.0))
        if bhi is not None:
            add(f"bound {ch}", s, bhi, "≤", max(bhi, 1.0))


def _check_simulated(checks: _Checks, m: dict[str, float], prob: Problem, x: np.ndarray) -> None:
    """The limits only a simulation can judge: paid-traffic ROI floors, the cost share."""
    for ch, idx in prob.roi_channels().items():
        roi = m.get(f"roi_paid.{ch}", np.nan)
        if max(x[i] for i in idx) > 0.5 and np.isfinite(roi):
            checks.add(f"roi_paid.{ch}", roi, prob.roi_floor, "≥", prob.roi_floor)
    if prob.cost_share_max is not None:
        share = m["cost"] / m["revenue"] if m["revenue"] else np.inf
        checks.add("cost_share", share, prob.cost_share_max, "≤", prob.cost_share_max)


def _check_channels(checks: _Checks, prob: Problem, x: np.ndarray) -> None:
    """Core channels' share of spend, and how many channels are active."""
    if prob.core_min_share:
        core = sum(prob.w[i] * x[i] for i, lv in enumerate(prob.levers) if lv.core)
        checks.add(
            "core_share",
            core / max(prob.daily(x), 1e-9),
            prob.core_min_share,
            "≥",
            prob.core_min_share,
        )
    if prob.max_active is not None:
        checks.add(
            "max_active", sum(prob.active(x).values()), prob.max_active, "≤", prob.max_active
        )


def _check_targets(checks: _Checks, m: dict[str, float], prob: Problem) -> None:
    """The plan's targets, on their estimate (relative shortfall; undefined = not met)."""
    for i, t in enumerate(prob.targets):
        sense, limit = ("≥", t.at_least) if t.at_least is not None else ("≤", t.at_most)
        value = m.get(f"target.{i}", np.nan)
        checks.add(prob.target_name(i), value, float(limit), sense, max(abs(float(limit)), 1e-9))
