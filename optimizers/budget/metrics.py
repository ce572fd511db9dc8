"""A simulated spend point: the metrics the LP models, its objective, every constraint checked.

These are the *simulated* truth the loop judges every LP answer by: :func:`point_metrics` reads
the means over replications, :func:`objective_value` the objective, :func:`check_constraints`
each constraint with its limit, the value found and whether it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizers.budget.problem import Problem
from sim.experiments import Evaluation


@dataclass
class Point:
    """One simulated spend vector with what the loop needs to compare it with others."""

    x: np.ndarray
    metrics: dict[str, float]
    value: float
    violation: float
    checks: list[dict[str, Any]]


def point_metrics(ev: Evaluation, prob: Problem, x: np.ndarray) -> dict[str, float]:
    """Means over replications of what the LP models: revenue, margin, costs, paid revenue."""
    k, days = ev.kpis, prob.days
    lever_spend = days * float(x.sum())
    cost = k["cost_share"] * k["revenue"]
    out = {
        "revenue": float(k["revenue"].mean()),
        "margin": float(k["profit"].mean()) + lever_spend,  # profit before lever spend
        "nonspend_cost": float(cost.mean()) - lever_spend,  # commission, service, other
        "cost": float(cost.mean()) + days * prob.fixed_cost(x),
    }
    for i in prob.roi_levers():
        ch = prob.levers[i].channel
        roi = k.get(f"roi_paid.{ch}")
        paid_rev = (roi.fillna(0.0) * days * x[i]).mean() if roi is not None else np.nan
        out[f"paid_revenue.{ch}"] = float(paid_rev) if x[i] > 0 else 0.0
        out[f"roi_paid.{ch}"] = float(roi.mean()) if roi is not None and x[i] > 0 else np.nan
    return out


def objective_value(m: dict[str, float], prob: Problem, x: np.ndarray) -> float:
    if prob.objective == "revenue":
        return m["revenue"]
    return m["margin"] - prob.days * (float(x.sum()) + prob.fixed_cost(x))


def check_constraints(m: dict[str, float], prob: Problem, x: np.ndarray) -> list[dict[str, Any]]:
    """Every constraint at a simulated point: its limit, the value found and whether it holds."""
    checks = _Checks()
    _check_spend(checks, prob, x)
    _check_simulated(checks, m, prob, x)
    _check_channels(checks, prob, x)
    return checks.rows


def simulated_point(ev: Evaluation, prob: Problem, x: np.ndarray) -> Point:
    """The :class:`Point` of spend ``x`` from its evaluation ``ev``."""
    m = point_metrics(ev, prob, x)
    checks = check_constraints(m, prob, x)
    return Point(x, m, objective_value(m, prob, x), sum(c["violation"] for c in checks), checks)


class _Checks:
    """The rows of :func:`check_constraints`, in the order they are added."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, name: str, value: float, limit: float, sense: str, rel: float) -> None:
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
    spent = float(x.sum()) + prob.fixed_cost(x)
    add("total", spent, prob.total, "≤", prob.total)
    for i, lv in enumerate(prob.levers):
        if prob.lo[i] > 0:
            add(f"bound {lv.name}", x[i], prob.lo[i], "≥", prob.lo[i])
        if np.isfinite(prob.hi[i]):
            add(f"bound {lv.name}", x[i], prob.hi[i], "≤", max(prob.hi[i], 1.0))
    for ch, (blo, bhi) in prob.channel_bounds.items():
        s = sum(x[i] for i, lv in enumerate(prob.levers) if lv.channel == ch)
        if blo is not None:
            add(f"bound {ch}", s, blo, "≥", max(blo, 1.0))
        if bhi is not None:
            add(f"bound {ch}", s, bhi, "≤", max(bhi, 1.0))


def _check_simulated(checks: _Checks, m: dict[str, float], prob: Problem, x: np.ndarray) -> None:
    """The limits only a simulation can judge: paid-traffic ROI floors, the cost share."""
    for i in prob.roi_levers():
        roi = m.get(f"roi_paid.{prob.levers[i].channel}", np.nan)
        if x[i] > 0.5 and np.isfinite(roi):
            checks.add(
                f"roi_paid.{prob.levers[i].channel}", roi, prob.roi_floor, "≥", prob.roi_floor
            )
    if prob.cost_share_max is not None:
        share = m["cost"] / m["revenue"] if m["revenue"] else np.inf
        checks.add("cost_share", share, prob.cost_share_max, "≤", prob.cost_share_max)


def _check_channels(checks: _Checks, prob: Problem, x: np.ndarray) -> None:
    """Core channels' share of spend, and how many channels are active."""
    if prob.core_min_share:
        core = sum(x[i] for i, lv in enumerate(prob.levers) if lv.core)
        checks.add(
            "core_share",
            core / max(float(x.sum()), 1e-9),
            prob.core_min_share,
            "≥",
            prob.core_min_share,
        )
    if prob.max_active is not None:
        checks.add(
            "max_active", sum(prob.active(x).values()), prob.max_active, "≤", prob.max_active
        )
