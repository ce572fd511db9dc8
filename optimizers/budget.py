"""Budget split by LP/MILP over simulated response curves, judged by re-simulation.

:func:`optimize_budget` splits a daily budget across channel × lever spends (paid traffic on
public channels, seeding on social ones, private operations on private ones) to maximise revenue
or profit over the horizon, subject to

* the total (Σ spend + fixed costs of active channels ≤ ``total`` CNY/day),
* per-lever and per-channel ``bounds``,
* paid-traffic ROI ≥ ``roi_floor`` on every public channel that spends,
* ``cost_share`` ≤ ``cost_share_max``, core channels' share of spend ≥ ``core_min_share``,
* optional activation binaries with ``fixed_costs`` and at most ``max_active`` channels (MILP).

The loop (a trust region): simulate every lever at a few spend levels around the current point
(other spends at that point, common random numbers), fit a concave saturating curve per lever
and KPI (:mod:`optimizers.response`), solve the piecewise-linear LP with PuLP, re-simulate its
answer, keep it if the simulated objective improved (shrink the region if not), and repeat
around the kept point. Every iteration is recorded.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={
    ...     "market.customers": 1500, "horizon.days": 45, "market.scale": 1000})
    >>> res = optimize_budget(sc, levers=["tmall.paid", "douyin.paid"], total=60_000,
    ...                       roi_floor=None, replications=2, seed=1, workers=1, max_iter=2)
    >>> round(sum(res.spend.values())) <= 60_000
    True
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pulp

from optimizers.response import (
    Curve,
    CurveKind,
    Lever,
    current_spend,
    fit_curve,
    levers_of,
    simulate_points,
    spend_overrides,
)
from sim.experiments.evaluation import Evaluation, make_executor
from sim.scenario import Scenario, apply_overrides

Objective = Literal["revenue", "profit"]
#: Fractions of the full range sampled in the first iteration (the whole map of each curve).
FIRST_LEVELS = (0.0, 0.15, 0.35, 0.65, 1.0)
#: Offsets (× radius) sampled around the current point in later iterations.
TR_LEVELS = (-1.0, -0.5, 0.5, 1.0)
#: The LP aims this much inside the ROI floor and the cost-share ceiling: the curves are fits,
#: and a plan aimed exactly at a limit misses it about half the time when re-simulated.
MARGIN = 0.02


class InfeasibleError(ValueError):
    """No split satisfies every constraint; ``conflicts`` names the ones that clash."""

    def __init__(self, message: str, conflicts: list[str]):
        self.conflicts = conflicts
        super().__init__(message)


@dataclass
class BudgetResult:
    """The recommended split, how the loop got there, and its constraints re-simulated."""

    scenario: Scenario  # the input scenario with the recommended spends applied
    levers: list[Lever]
    spend: dict[str, float]  # lever name → CNY/day
    start_spend: dict[str, float]
    objective: str
    value: float  # simulated objective at the recommendation (mean over replications)
    start_value: float
    feasible: bool
    iterations: pd.DataFrame
    samples: pd.DataFrame
    curves: pd.DataFrame
    constraints: pd.DataFrame  # name, limit, value (re-simulated), holds
    active: dict[str, bool] = field(default_factory=dict)

    @property
    def overrides(self) -> dict[str, float]:
        """The recommendation as ``--set`` paths (``channels.tmall.budget.paid`` → CNY/day)."""
        return spend_overrides(self.levers, [self.spend[lv.name] for lv in self.levers])


@dataclass
class _Problem:
    """Everything fixed for one optimisation: levers, limits, constraint settings."""

    levers: list[Lever]
    total: float
    days: int
    objective: str
    lo: np.ndarray
    hi: np.ndarray
    channel_bounds: dict[str, tuple[float | None, float | None]]
    roi_floor: float | None
    cost_share_max: float | None
    core_min_share: float | None
    fixed_costs: dict[str, float]
    max_active: int | None
    # How far inside each curve-modelled limit the LP aims (grows when re-simulation misses it).
    margins: dict[str, float] = field(default_factory=dict)

    def margin(self, name: str) -> float:
        return self.margins.get(name, MARGIN)

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(lv.channel for lv in self.levers))

    @property
    def milp(self) -> bool:
        return bool(self.fixed_costs) or self.max_active is not None

    def roi_levers(self) -> list[int]:
        if self.roi_floor is None:
            return []
        return [
            i for i, lv in enumerate(self.levers) if lv.family == "public" and lv.lever == "paid"
        ]

    def cap(self) -> np.ndarray:
        """Largest spend each lever can take: its upper bound, the total, its lower bound."""
        return np.maximum(np.minimum(self.total, self.hi), self.lo)

    def active(self, x: np.ndarray) -> dict[str, bool]:
        return {
            c: bool(any(x[i] > 0.5 for i, lv in enumerate(self.levers) if lv.channel == c))
            for c in self.channels
        }

    def fixed_cost(self, x: np.ndarray) -> float:
        act = self.active(x)
        return sum(self.fixed_costs.get(c, 0.0) for c in self.channels if act[c])


@dataclass
class _Point:
    x: np.ndarray
    metrics: dict[str, float]
    value: float
    violation: float
    checks: list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def optimize_budget(
    scenario: Scenario,
    *,
    total: float | None = None,
    objective: Objective = "revenue",
    levers: Sequence[str] | None = None,
    bounds: dict[str, tuple[float | None, float | None]] | None = None,
    roi_floor: float | None = 3.0,
    cost_share_max: float | None = None,
    core_min_share: float | None = None,
    fixed_costs: dict[str, float] | None = None,
    max_active: int | None = None,
    solver: Literal["cbc", "highs"] = "cbc",
    replications: int = 4,
    seed: int | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    max_iter: int = 8,
    trust_region: float = 0.25,
    min_trust_region: float = 0.02,
    tol: float = 1e-3,
    curve: CurveKind = "exp",
    segments: int = 6,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> BudgetResult:
    """Split ``total`` CNY/day across the scenario's budget levers (see the module docstring).

    ``levers`` restricts the decision variables (``"tmall.paid"``; the others stay fixed);
    ``bounds`` maps a lever (``"tmall.paid"``) or a channel (``"tmall"``, all its levers) to
    ``(low, high)`` CNY/day, ``None`` for no limit; ``fixed_costs`` maps a channel to a CNY/day
    cost paid when it spends at all. Raises :class:`InfeasibleError` naming the conflicting
    constraints when no split can satisfy them, ``ValueError`` for bad arguments.
    """
    if objective not in ("revenue", "profit"):
        raise ValueError(f"objective: must be 'revenue' or 'profit', got {objective!r}")
    if replications < 1:
        raise ValueError(f"replications: must be ≥ 1, got {replications}")
    lvs = levers_of(scenario, levers)
    if not lvs:
        raise ValueError("levers: the scenario has no budget lever to optimise")
    x_start = current_spend(scenario, lvs)
    prob = _problem(
        scenario,
        lvs,
        x_start,
        total=total,
        objective=objective,
        bounds=bounds,
        roi_floor=roi_floor,
        cost_share_max=cost_share_max,
        core_min_share=core_min_share,
        fixed_costs=fixed_costs,
        max_active=max_active,
    )
    lp_solver = make_solver(solver)
    _precheck(prob, lp_solver)  # linear conflicts fail before any simulation
    seed = scenario.seed if seed is None else seed
    with contextlib.ExitStack() as stack:
        ex = executor or stack.enter_context(make_executor(workers=workers))
        loop = _Loop(
            scenario,
            prob,
            lp_solver,
            ex,
            replications=replications,
            seed=seed,
            curve=curve,
            segments=segments,
            progress=progress,
        )
        best, start = loop.run(
            x_start, max_iter=max_iter, rho0=trust_region, min_rho=min_trust_region, tol=tol
        )
    names = [lv.name for lv in lvs]
    return BudgetResult(
        scenario=apply_overrides(scenario, spend_overrides(lvs, best.x)),
        levers=lvs,
        spend=dict(zip(names, map(float, best.x), strict=True)),
        start_spend=dict(zip(names, map(float, x_start), strict=True)),
        objective=objective,
        value=best.value,
        start_value=start.value,
        feasible=best.violation <= 1e-9,
        iterations=pd.DataFrame(loop.records),
        samples=pd.concat(loop.samples, ignore_index=True),
        curves=pd.DataFrame(loop.curve_rows),
        constraints=pd.DataFrame(best.checks),
        active=prob.active(best.x),
    )


def make_solver(name: str) -> pulp.LpSolver:
    """PuLP's bundled CBC, or HiGHS where ``highspy`` (or the ``highs`` binary) is installed."""
    if name == "cbc":
        with warnings.catch_warnings():  # PuLP 3.3 deprecates the bundled CBC for 4.0; still ours
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(msg=False)
    if name == "highs":
        for cls in (pulp.HiGHS, pulp.HiGHS_CMD):
            s = cls(msg=False)
            if s.available():
                return s
        raise ValueError("solver: HiGHS is not installed (pip install highspy), use 'cbc'")
    raise ValueError(f"solver: must be 'cbc' or 'highs', got {name!r}")


def _problem(
    scenario: Scenario,
    lvs: list[Lever],
    x_start: np.ndarray,
    *,
    total,
    objective,
    bounds,
    roi_floor,
    cost_share_max,
    core_min_share,
    fixed_costs,
    max_active,
) -> _Problem:
    total = float(x_start.sum()) if total is None else float(total)
    if total <= 0:
        raise ValueError(f"total: must be > 0 CNY/day, got {total:g}")
    lo, hi = np.zeros(len(lvs)), np.full(len(lvs), np.inf)
    channel_bounds: dict[str, tuple[float | None, float | None]] = {}
    names = {lv.name: i for i, lv in enumerate(lvs)}
    channels = {lv.channel for lv in lvs}
    for key, (blo, bhi) in (bounds or {}).items():
        if blo is not None and bhi is not None and blo > bhi:
            raise ValueError(f"bounds[{key}]: low {blo:g} > high {bhi:g}")
        if key in names:
            lo[names[key]] = blo or 0.0
            hi[names[key]] = np.inf if bhi is None else bhi
        elif key in channels:
            channel_bounds[key] = (blo, bhi)
        else:
            raise ValueError(
                f"bounds: unknown lever or channel {key!r} "
                f"(known: {sorted(names) + sorted(channels)})"
            )
    for key in fixed_costs or {}:
        if key not in channels:
            raise ValueError(f"fixed_costs: unknown channel {key!r} (known: {sorted(channels)})")
    if cost_share_max is not None and not 0 < cost_share_max:
        raise ValueError(f"cost_share_max: must be > 0, got {cost_share_max:g}")
    if core_min_share is not None and not 0 <= core_min_share <= 1:
        raise ValueError(f"core_min_share: must be in [0, 1], got {core_min_share:g}")
    if max_active is not None and max_active < 1:
        raise ValueError(f"max_active: must be ≥ 1, got {max_active}")
    if core_min_share and not any(lv.core for lv in lvs):
        raise ValueError("core_min_share: none of the optimised levers is on a core channel")
    return _Problem(
        lvs,
        total,
        scenario.horizon.days,
        objective,
        lo,
        hi,
        channel_bounds,
        roi_floor,
        cost_share_max,
        core_min_share,
        dict(fixed_costs or {}),
        max_active,
    )


# --------------------------------------------------------------------------------------------
# Metrics of a simulated point and its constraints
# --------------------------------------------------------------------------------------------
def point_metrics(ev: Evaluation, prob: _Problem, x: np.ndarray) -> dict[str, float]:
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


def objective_value(m: dict[str, float], prob: _Problem, x: np.ndarray) -> float:
    if prob.objective == "revenue":
        return m["revenue"]
    return m["margin"] - prob.days * (float(x.sum()) + prob.fixed_cost(x))


def check_constraints(m: dict[str, float], prob: _Problem, x: np.ndarray) -> list[dict[str, Any]]:
    """Every constraint at a simulated point: its limit, the value found and whether it holds."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, limit: float, sense: str, rel: float) -> None:
        excess = (value - limit) if sense == "≤" else (limit - value)
        holds = bool(excess <= 1e-6 * max(1.0, abs(limit)))  # LP solvers round at ~1e-7
        rows.append(
            {
                "constraint": name,
                "sense": sense,
                "limit": limit,
                "value": value,
                "holds": holds,
                "violation": 0.0 if holds else excess / max(rel, 1e-12),
            }
        )

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
    for i in prob.roi_levers():
        roi = m.get(f"roi_paid.{prob.levers[i].channel}", np.nan)
        if x[i] > 0.5 and np.isfinite(roi):
            add(f"roi_paid.{prob.levers[i].channel}", roi, prob.roi_floor, "≥", prob.roi_floor)
    if prob.cost_share_max is not None:
        share = m["cost"] / m["revenue"] if m["revenue"] else np.inf
        add("cost_share", share, prob.cost_share_max, "≤", prob.cost_share_max)
    if prob.core_min_share:
        core = sum(x[i] for i, lv in enumerate(prob.levers) if lv.core)
        add(
            "core_share",
            core / max(float(x.sum()), 1e-9),
            prob.core_min_share,
            "≥",
            prob.core_min_share,
        )
    if prob.max_active is not None:
        add("max_active", sum(prob.active(x).values()), prob.max_active, "≤", prob.max_active)
    return rows


# --------------------------------------------------------------------------------------------
# The LP / MILP
# --------------------------------------------------------------------------------------------
@dataclass
class _Model:
    """Piecewise-linear models of each metric around a simulated centre point."""

    center: np.ndarray
    center_metrics: dict[str, float]
    box_lo: np.ndarray
    box_hi: np.ndarray
    curves: dict[tuple[int, str], Curve]  # (lever index, metric) → fitted curve
    segments: int


@dataclass
class _Constraint:
    name: str  # how the user knows it: "total", "bound tmall.paid", "roi_paid.tmall"
    text: str  # "Σ spend ≤ 100,000 CNY/day"
    expr: Any
    sense: str
    rhs: float
    scale: float
    soft: bool = False  # modelled by fitted curves: a penalty, not a wall, inside the loop
    slack: Any = None


class _LP:
    """Builds and solves the LP/MILP for a problem, optionally around a fitted model."""

    def __init__(
        self,
        prob: _Problem,
        model: _Model | None,
        *,
        mode: Literal["hard", "soft", "elastic"] = "hard",
        penalty: float = 1.0,
        hard: frozenset[str] = frozenset(),
    ):
        self.prob, self.model, self.mode, self.penalty = prob, model, mode, penalty
        self.hard = hard  # names never relaxed in elastic mode
        elastic = mode == "elastic"
        self.lp = pulp.LpProblem("budget", pulp.LpMinimize if elastic else pulp.LpMaximize)
        n = len(prob.levers)
        box_lo = model.box_lo if model else np.zeros(n)
        box_hi = model.box_hi if model else prob.cap()
        segs = model.segments if model else 1
        self.breaks = [np.linspace(box_lo[i], box_hi[i], segs + 1) for i in range(n)]
        self.y = [
            [_var(self.lp, f"y_{i}_{k}", 0, float(b[k + 1] - b[k])) for k in range(segs)]
            for i, b in enumerate(self.breaks)
        ]
        self.x = [float(box_lo[i]) + pulp.lpSum(self.y[i]) for i in range(n)]
        self.z = (
            {c: _var(self.lp, f"z_{c}", cat="Binary") for c in prob.channels} if prob.milp else {}
        )
        self.constraints: list[_Constraint] = []
        self._build()

    # ---- pieces ------------------------------------------------------------------------
    def metric(self, name: str, levers: Sequence[int] | None = None) -> Any:
        """PWL model of a metric: simulated value at the centre + Σ fitted changes."""
        m = self.model
        assert m is not None
        expr: Any = m.center_metrics[name]
        for i in range(len(self.prob.levers)) if levers is None else levers:
            c = m.curves[(i, name)]
            vals = c(self.breaks[i])
            slopes = np.diff(vals) / np.maximum(np.diff(self.breaks[i]), 1e-12)
            expr += float(vals[0] - c(m.center[i])) + pulp.lpSum(
                float(s) * y for s, y in zip(slopes, self.y[i], strict=True)
            )
        return expr

    def fixed(self) -> Any:
        return pulp.lpSum(self.prob.fixed_costs.get(c, 0.0) * z for c, z in self.z.items())

    def add(
        self,
        name: str,
        text: str,
        expr: Any,
        sense: str,
        rhs: float,
        scale: float,
        soft: bool = False,
    ) -> None:
        self.constraints.append(
            _Constraint(name, text, expr, sense, rhs, max(abs(scale), 1.0), soft)
        )

    def _build(self) -> None:
        p, x = self.prob, self.x
        spend = pulp.lpSum(x)
        self.add(
            "total",
            f"Σ spend + fixed costs ≤ {p.total:,.0f} CNY/day",
            spend + self.fixed(),
            "≤",
            p.total,
            p.total,
        )
        for i, lv in enumerate(p.levers):
            if p.lo[i] > 0:
                self.add(
                    f"bound {lv.name}",
                    f"{lv.name} ≥ {p.lo[i]:,.0f} CNY/day",
                    x[i],
                    "≥",
                    p.lo[i],
                    p.lo[i],
                )
            if np.isfinite(p.hi[i]):
                self.add(
                    f"bound {lv.name}",
                    f"{lv.name} ≤ {p.hi[i]:,.0f} CNY/day",
                    x[i],
                    "≤",
                    p.hi[i],
                    p.hi[i],
                )
        for ch, (blo, bhi) in p.channel_bounds.items():
            s = pulp.lpSum(x[i] for i, lv in enumerate(p.levers) if lv.channel == ch)
            if blo is not None:
                self.add(f"bound {ch}", f"{ch} spend ≥ {blo:,.0f} CNY/day", s, "≥", blo, blo)
            if bhi is not None:
                self.add(f"bound {ch}", f"{ch} spend ≤ {bhi:,.0f} CNY/day", s, "≤", bhi, bhi)
        if p.core_min_share:
            core = pulp.lpSum(x[i] for i, lv in enumerate(p.levers) if lv.core)
            self.add(
                "core_share",
                f"core channels' share of spend ≥ {p.core_min_share:.0%}",
                core - p.core_min_share * spend,
                "≥",
                0.0,
                p.total,
            )
        if self.z:
            for i, lv in enumerate(p.levers):  # spend only on an active channel
                self.lp += x[i] <= p.total * self.z[lv.channel], f"active_{i}"
            if p.max_active is not None:
                self.add(
                    "max_active",
                    f"at most {p.max_active} active channels",
                    pulp.lpSum(self.z.values()),
                    "≤",
                    p.max_active,
                    1.0,
                )
        if self.model is not None:
            self._curve_constraints()
        self._objective()
        for c in self.constraints:
            self._post(c)

    def _curve_constraints(self) -> None:
        p, x, days = self.prob, self.x, self.prob.days
        cap = p.cap()
        for i in p.roi_levers():
            # Paid revenue of the channel: its own spend (concave) plus every other lever's
            # effect on it (seeding and rival channels move it too). The floor binds only when
            # the channel spends (on = 1): with no paid spend its ROI is undefined, not low.
            ch = p.levers[i].channel
            floor = p.roi_floor * (1 + p.margin(f"roi_paid.{ch}"))
            on = _var(self.lp, f"on_{i}", cat="Binary")
            self.lp += x[i] <= float(cap[i]) * on, f"on_{i}"
            big = 10.0 * days * p.total * floor
            self.add(
                f"roi_paid.{ch}",
                f"paid-traffic ROI of {ch} ≥ 1:{p.roi_floor:g}",
                self.metric(f"paid_revenue.{ch}") - floor * days * x[i] + big * (1 - on),
                "≥",
                0.0,
                days * p.total,
                soft=True,
            )
        if p.cost_share_max is not None:
            ceiling = p.cost_share_max * (1 - p.margin("cost_share"))
            cost = days * (pulp.lpSum(x) + self.fixed()) + self.metric("nonspend_cost")
            self.add(
                "cost_share",
                f"cost share ≤ {p.cost_share_max:.0%} of revenue",
                cost - ceiling * self.metric("revenue"),
                "≤",
                0.0,
                days * p.total,
                soft=True,
            )

    def _objective(self) -> None:
        p = self.prob
        for j, c in enumerate(self.constraints):
            if (self.mode == "elastic" and c.name not in self.hard) or (
                self.mode == "soft" and c.soft
            ):
                c.slack = _var(self.lp, f"slack_{j}", 0)
        slack = pulp.lpSum(c.slack for c in self.constraints if c.slack is not None)
        if self.mode == "elastic":
            self.lp += slack
        elif self.model is None:
            self.lp += pulp.lpSum(self.x) * 0
        elif p.objective == "revenue":
            self.lp += self.metric("revenue") - self.penalty * slack
        else:
            self.lp += (
                self.metric("margin")
                - p.days * (pulp.lpSum(self.x) + self.fixed())
                - self.penalty * slack
            )

    def _post(self, c: _Constraint) -> None:
        expr = c.expr
        if c.slack is not None:
            expr = expr + c.scale * c.slack if c.sense == "≥" else expr - c.scale * c.slack
        self.lp += (expr >= c.rhs) if c.sense == "≥" else (expr <= c.rhs)

    # ---- solving -------------------------------------------------------------------------
    def solve(self, solver: pulp.LpSolver) -> np.ndarray | None:
        status = self.lp.solve(solver)
        if pulp.LpStatus[status] != "Optimal":
            return None
        return np.array([max(0.0, float(pulp.value(xi))) for xi in self.x])

    def slack_used(self) -> bool:
        return any(
            c.slack is not None and float(c.slack.value() or 0.0) > 1e-7 for c in self.constraints
        )

    def predicted(self) -> float:
        """The model's objective at the solution, without the penalty."""
        slack = sum(float(c.slack.value() or 0.0) for c in self.constraints if c.slack is not None)
        return float(pulp.value(self.lp.objective) or 0.0) + self.penalty * slack

    def conflicts(self) -> tuple[list[str], str]:
        """After an elastic solve: the relaxed constraints and the ones binding with them."""
        relaxed, binding = [], []
        for c in self.constraints:
            s = float(c.slack.value() or 0.0) if c.slack is not None else 0.0
            if s > 1e-7:
                relaxed.append((c, s * c.scale))
                continue
            val = float(pulp.value(c.expr) or 0.0)
            if abs(val - c.rhs) <= 1e-6 * c.scale:
                binding.append(c)
        names = [c.name for c, _ in relaxed] + [c.name for c in binding]
        lines = [
            f"  - {c.name}: {c.text} (misses by {short:,.0f}"
            f"{' CNY' if c.name != 'max_active' else ''})"
            for c, short in relaxed
        ]
        lines += [f"  - {c.name}: {c.text} (binding)" for c in binding]
        return list(dict.fromkeys(names)), "\n".join(lines)


def _var(
    lp: pulp.LpProblem,
    name: str,
    low: float | None = None,
    high: float | None = None,
    cat: str = "Continuous",
) -> pulp.LpVariable:
    """A variable attached to ``lp`` (PuLP ≥ 3.3 wants ``add_variable``; older PuLP lacks it)."""
    if hasattr(lp, "add_variable"):
        return lp.add_variable(name, low, high, cat=cat)
    return pulp.LpVariable(name, low, high, cat=cat)


def _infeasible(
    prob: _Problem, model: _Model | None, solver: pulp.LpSolver, where: str
) -> InfeasibleError:
    lp = _LP(prob, model, mode="elastic")
    if lp.solve(solver) is None:
        return InfeasibleError(f"budget: no split satisfies the constraints ({where})", [])
    names, text = lp.conflicts()
    # The cheapest relaxation names one side of a conflict; make those constraints hard and
    # relax again to name the other side too.
    relaxed = [
        c.name
        for c in lp.constraints
        if c.slack is not None and float(c.slack.value() or 0.0) > 1e-7
    ]
    again = _LP(prob, model, mode="elastic", hard=frozenset(relaxed))
    if again.solve(solver) is not None:
        more, more_text = again.conflicts()
        extra = [n for n in more if n not in names]
        names += extra
        text += "".join(
            "\n" + line for line in more_text.splitlines() if any(f"- {n}:" in line for n in extra)
        )
    msg = (
        f"budget: no split satisfies every constraint ({where}). These constraints conflict "
        f"(relax any of them):\n{text}"
    )
    return InfeasibleError(msg, names)


def _precheck(prob: _Problem, solver: pulp.LpSolver) -> None:
    if _LP(prob, None).solve(solver) is None:
        raise _infeasible(prob, None, solver, "linear constraints, before any simulation")


# --------------------------------------------------------------------------------------------
# The trust-region loop
# --------------------------------------------------------------------------------------------
class _Loop:
    def __init__(
        self,
        scenario: Scenario,
        prob: _Problem,
        solver: pulp.LpSolver,
        executor: Executor,
        *,
        replications: int,
        seed: int,
        curve: CurveKind,
        segments: int,
        progress: Callable[[dict[str, Any]], None] | None,
    ):
        self.scenario, self.prob, self.solver, self.ex = scenario, prob, solver, executor
        self.replications, self.seed, self.curve, self.segments = (
            replications,
            seed,
            curve,
            segments,
        )
        self.progress = progress
        self.records: list[dict[str, Any]] = []
        self.samples: list[pd.DataFrame] = []
        self.curve_rows: list[dict[str, Any]] = []

    def simulate(self, xs: Sequence[np.ndarray]) -> list[_Point]:
        evs = simulate_points(
            self.scenario,
            [spend_overrides(self.prob.levers, x) for x in xs],
            replications=self.replications,
            seed=self.seed,
            executor=self.ex,
        )
        out = []
        for x, ev in zip(xs, evs, strict=True):
            m = point_metrics(ev, self.prob, x)
            checks = check_constraints(m, self.prob, x)
            out.append(
                _Point(
                    x,
                    m,
                    objective_value(m, self.prob, x),
                    sum(c["violation"] for c in checks),
                    checks,
                )
            )
        return out

    def better(self, new: _Point, old: _Point, tol: float) -> bool:
        """Feasibility first (less violation wins), then a relative objective gain > ``tol``."""
        if new.violation < old.violation - 1e-9:
            return True
        if new.violation > old.violation + 1e-9:
            return False
        return new.value > old.value + tol * max(abs(old.value), 1.0)

    def run(
        self, x_start: np.ndarray, *, max_iter: int, rho0: float, min_rho: float, tol: float
    ) -> tuple[_Point, _Point]:
        start = self.simulate([x_start])[0]
        self.record(0, None, start, start, "start", None)
        best, rho = start, None
        seen = start  # the best point simulated at all (a gain below tol still counts here)
        for it in range(1, max_iter + 1):
            model = self.fit(it, best, rho)
            # Curve-based limits are soft (a heavy penalty): an infeasible incumbent still gets
            # a step towards feasibility that keeps an eye on the objective.
            penalty = 10.0 * max(abs(best.value), self.prob.days * self.prob.total)
            lp = _LP(self.prob, model, mode="soft", penalty=penalty)
            x_new = lp.solve(self.solver)
            if rho is None and (x_new is None or lp.slack_used()):
                # The whole range, and still the fitted curves cannot meet every limit.
                raise _infeasible(self.prob, model, self.solver, "fitted response curves")
            predicted = lp.predicted() if x_new is not None else np.nan
            if x_new is not None and np.abs(x_new - best.x).max() < 1.0:
                # Fresh curves around the point say it is optimal in its region: converged.
                self.record(it, rho, best, best, "converged", predicted)
                break
            cand = self.simulate([x_new])[0] if x_new is not None else best
            accepted = x_new is not None and self.better(cand, best, tol)
            # A curve-modelled limit missed in simulation: aim further inside it next time, and
            # retry in the same region (the step failed on the limit, not on the model's slope).
            backed_off = False
            for c in cand.checks:
                name = c["constraint"]
                if (
                    not c["holds"]
                    and name.startswith(("roi_paid.", "cost_share"))
                    and self.prob.margin(name) < 0.3
                ):
                    self.prob.margins[name] = min(0.3, 2 * self.prob.margin(name))
                    backed_off = True
            seen = cand if self.better(cand, seen, 0.0) else seen
            self.record(it, rho, cand, best, "accepted" if accepted else "rejected", predicted)
            if accepted:
                best = cand
                rho = rho0 if rho is None else rho
            elif not (backed_off and rho is not None):
                rho = (rho0 if rho is None else rho) / 2
            if rho < min_rho:
                break
        return seen, start

    def fit(self, it: int, center: _Point, rho: float | None) -> _Model:
        """Sample every lever around ``center`` (others at the centre) and fit its curves."""
        p, n = self.prob, len(self.prob.levers)
        cap = p.cap()
        if rho is None:  # first iteration: the whole range, to see each curve's shape
            box_lo, box_hi = np.zeros(n), cap.copy()
            levels = [
                box_lo[i] + np.array(FIRST_LEVELS) * (box_hi[i] - box_lo[i]) for i in range(n)
            ]
        else:
            radius = rho * np.maximum(center.x, p.total / n)
            box_lo = np.maximum(0.0, center.x - radius)
            box_hi = np.maximum(np.minimum(cap, center.x + radius), box_lo)
            levels = [
                np.clip(center.x[i] + np.array(TR_LEVELS) * radius[i], box_lo[i], box_hi[i])
                for i in range(n)
            ]
        xs, owner = [], []
        for i in range(n):
            for lvl in np.unique(np.round(levels[i], 2)):
                if abs(lvl - center.x[i]) > 0.5:
                    x = center.x.copy()
                    x[i] = lvl
                    xs.append(x)
                    owner.append(i)
        points = self.simulate(xs)
        metric_names = list(center.metrics)
        rows = [
            {
                "iteration": it,
                "lever": p.levers[i].name,
                "spend": pt.x[i],
                "center": False,
                **pt.metrics,
            }
            for i, pt in zip(owner, points, strict=True)
        ]
        rows += [
            {
                "iteration": it,
                "lever": lv.name,
                "spend": center.x[i],
                "center": True,
                **center.metrics,
            }
            for i, lv in enumerate(p.levers)
        ]
        table = pd.DataFrame(rows)
        self.samples.append(table)
        curves: dict[tuple[int, str], Curve] = {}
        for i, lv in enumerate(p.levers):
            sub = table[table["lever"] == lv.name]
            for name in metric_names:
                if name.startswith("roi_paid") or name == "cost":
                    continue
                # What a lever earns is concave and non-decreasing in its own spend; its effect
                # on another channel's paid revenue (cannibalisation, seeding) and on costs may
                # go either way.
                cross = name.startswith("paid_revenue.") and name != f"paid_revenue.{lv.channel}"
                c = fit_curve(
                    sub["spend"],
                    sub[name],
                    kind=self.curve,
                    increasing=name != "nonspend_cost" and not cross,
                )
                curves[(i, name)] = c
                self.curve_rows.append(
                    {
                        "iteration": it,
                        "lever": lv.name,
                        "metric": name,
                        "kind": c.kind,
                        "base": c.base,
                        "amplitude": c.amplitude,
                        "scale": c.scale,
                        "shape": c.shape,
                        "rmse": c.rmse,
                    }
                )
        return _Model(center.x, center.metrics, box_lo, box_hi, curves, self.segments)

    def record(
        self,
        it: int,
        rho: float | None,
        pt: _Point,
        best: _Point,
        status: str,
        predicted: float | None,
    ) -> None:
        row = {
            "iteration": it,
            "status": status,
            "trust_region": rho,
            "predicted": predicted,
            "simulated": pt.value,
            "improvement": pt.value - best.value if status != "start" else 0.0,
            "feasible": pt.violation <= 1e-9,
            "violation": pt.violation,
            "revenue": pt.metrics["revenue"],
            **{lv.name: float(pt.x[i]) for i, lv in enumerate(self.prob.levers)},
            "total_spend": float(pt.x.sum()),
        }
        self.records.append(row)
        if self.progress is not None:
            self.progress(row)
