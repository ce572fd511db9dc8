"""The piecewise-linear LP/MILP of one budget step, built and solved with PuLP.

:class:`LP` turns a :class:`~optimizers.budget.problem.Problem` — and, inside the loop, a
:class:`Model` of fitted response curves around a simulated centre — into a PuLP problem:
spend variables split into segments, the linear constraints (total, bounds, core share,
activation), the curve-modelled ones (ROI floors, cost share) and the objective. Its three
modes: ``hard`` (every constraint a wall), ``soft`` (curve-modelled limits carry a penalised
slack) and ``elastic`` (minimise the slack needed: which constraints conflict).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pulp

from optimizers.budget.problem import Problem
from optimizers.response import Curve


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


@dataclass
class Model:
    """Piecewise-linear models of each metric around a simulated centre point."""

    center: np.ndarray
    center_metrics: dict[str, float]
    box_lo: np.ndarray
    box_hi: np.ndarray
    curves: dict[tuple[int, str], Curve]  # (lever index, metric) → fitted curve
    segments: int


@dataclass
class Constraint:
    name: str  # how the user knows it: "total", "bound tmall.paid", "roi_paid.tmall"
    text: str  # "Σ spend ≤ 100,000 CNY/day"
    expr: Any
    sense: str
    rhs: float
    scale: float
    soft: bool = False  # modelled by fitted curves: a penalty, not a wall, inside the loop
    slack: Any = None


class LP:
    """Builds and solves the LP/MILP for a problem, optionally around a fitted model."""

    def __init__(
        self,
        prob: Problem,
        model: Model | None,
        *,
        mode: Literal["hard", "soft", "elastic"] = "hard",
        penalty: float = 1.0,
        hard: frozenset[str] = frozenset(),
    ):
        self.prob, self.model, self.mode, self.penalty = prob, model, mode, penalty
        self.hard = hard  # names never relaxed in elastic mode
        elastic = mode == "elastic"
        self.lp = pulp.LpProblem("budget", pulp.LpMinimize if elastic else pulp.LpMaximize)
        self._variables()
        self.constraints: list[Constraint] = []
        self._build()

    # ---- pieces ------------------------------------------------------------------------
    def _variables(self) -> None:
        """Spend ``x`` = box low + Σ segment variables ``y``; channel switches ``z`` (MILP)."""
        prob, model, n = self.prob, self.model, len(self.prob.levers)
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

    def spent(self, keep: Any = None) -> Any:
        """Mean lever spend per day over the horizon (:func:`weighted`)."""
        return weighted(self.prob, self.x, keep)

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
            Constraint(name, text, expr, sense, rhs, max(abs(scale), 1.0), soft)
        )

    def _build(self) -> None:
        self._total()
        self._bounds()
        self._core_share()
        self._activation()
        if self.model is not None:
            self._roi_floors()
            self._cost_share()
            self._targets()
        self._objective()
        for c in self.constraints:
            self._post(c)

    # ---- linear constraints --------------------------------------------------------------
    def _total(self) -> None:
        p = self.prob
        self.add(
            "total",
            f"Σ spend + fixed costs ≤ {p.total:,.0f} CNY/day",
            self.spent() + self.fixed(),
            "≤",
            p.total,
            p.total,
        )

    def _bounds(self) -> None:
        p, x = self.prob, self.x
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
            s = self.spent(lambda lv, ch=ch: lv.channel == ch)
            if blo is not None:
                self.add(f"bound {ch}", f"{ch} spend ≥ {blo:,.0f} CNY/day", s, "≥", blo, blo)
            if bhi is not None:
                self.add(f"bound {ch}", f"{ch} spend ≤ {bhi:,.0f} CNY/day", s, "≤", bhi, bhi)

    def _core_share(self) -> None:
        p = self.prob
        if p.core_min_share:
            core = self.spent(lambda lv: lv.core)
            self.add(
                "core_share",
                f"core channels' share of spend ≥ {p.core_min_share:.0%}",
                core - p.core_min_share * self.spent(),
                "≥",
                0.0,
                p.total,
            )

    def _activation(self) -> None:
        """Spend only on an active channel; at most ``max_active`` of them (MILP only)."""
        p = self.prob
        if not self.z:
            return
        for i, lv in enumerate(p.levers):
            self.lp += self.x[i] <= p.total / p.w[i] * self.z[lv.channel], f"active_{i}"
        if p.max_active is not None:
            self.add(
                "max_active",
                f"at most {p.max_active} active channels",
                pulp.lpSum(self.z.values()),
                "≤",
                p.max_active,
                1.0,
            )

    # ---- curve-modelled constraints --------------------------------------------------------
    def _roi_floors(self) -> None:
        p, x, days = self.prob, self.x, self.prob.days
        cap = p.cap()
        for ch, idx in p.roi_channels().items():
            # Paid revenue of the channel: its own spend (concave) plus every other lever's
            # effect on it (seeding and rival channels move it too). The floor binds only when
            # the channel spends (on = 1): with no paid spend its ROI is undefined, not low.
            # With periods, the channel's paid spend is its periods' spend, weighted by days.
            i = idx[0]
            floor = p.roi_floor * (1 + p.margin(f"roi_paid.{ch}"))
            on = _var(self.lp, f"on_{i}", cat="Binary")
            for j in idx:
                self.lp += x[j] <= float(cap[j]) * on, f"on_{j}"
            paid = self.spent(lambda lv, ch=ch: lv.channel == ch and lv.lever == "paid")
            big = 10.0 * days * p.total * floor
            self.add(
                f"roi_paid.{ch}",
                f"paid-traffic ROI of {ch} ≥ 1:{p.roi_floor:g}",
                self.metric(f"paid_revenue.{ch}") - floor * days * paid + big * (1 - on),
                "≥",
                0.0,
                days * p.total,
                soft=True,
            )

    def _cost_share(self) -> None:
        p, days = self.prob, self.prob.days
        if p.cost_share_max is None:
            return
        ceiling = p.cost_share_max * (1 - p.margin("cost_share"))
        cost = days * (self.spent() + self.fixed()) + self.metric("nonspend_cost")
        self.add(
            "cost_share",
            f"cost share ≤ {p.cost_share_max:.0%} of revenue",
            cost - ceiling * self.metric("revenue"),
            "≤",
            0.0,
            days * p.total,
            soft=True,
        )

    def _targets(self) -> None:
        """The plan's targets the curves can express: those defined at the centre (the value
        of ``target.i`` there is finite and every lever has a curve for it). Each is a soft
        row on its fitted estimate, aimed a margin inside the threshold; the others (e.g. paid
        ROI where no paid spend remains) are judged by re-simulation and verification only."""
        p, m = self.prob, self.model
        assert m is not None
        for i, t in enumerate(p.targets):
            key = f"target.{i}"
            if not self.models_target(i):
                continue
            name = p.target_name(i)
            bound = float(t.at_least if t.at_least is not None else t.at_most)
            unit = max(abs(bound), 1e-9)  # rows in units of the threshold: slack 1 = 100 %
            expr = self.metric(key) * (1.0 / unit)
            if t.at_least is not None:
                rhs = (bound + p.margin(name) * unit) / unit
                self.add(name, f"{name[8:]} ≥ {bound:g}", expr, "≥", rhs, 1.0, soft=True)
            else:
                rhs = (bound - p.margin(name) * unit) / unit
                self.add(name, f"{name[8:]} ≤ {bound:g}", expr, "≤", rhs, 1.0, soft=True)

    def models_target(self, i: int) -> bool:
        """Whether the fitted model can express target ``i`` around its centre."""
        m = self.model
        key = f"target.{i}"
        return (
            m is not None
            and np.isfinite(m.center_metrics.get(key, np.nan))
            and all((j, key) in m.curves for j in range(len(self.prob.levers)))
        )

    # ---- objective ---------------------------------------------------------------------------
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
                - p.days * (self.spent() + self.fixed())
                - self.penalty * slack
            )

    def _post(self, c: Constraint) -> None:
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

    def relaxed(self) -> list[str]:
        """After a solve: the names of the constraints whose slack is in use."""
        return [
            c.name
            for c in self.constraints
            if c.slack is not None and float(c.slack.value() or 0.0) > 1e-7
        ]

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


def weighted(prob: Problem, xs: Sequence[Any], keep: Any = None) -> Any:
    """Σ weight × spend: a lever over a period counts for its share of the horizon's days;
    ``keep(lever)`` restricts the sum to some levers."""
    w = prob.w
    return pulp.lpSum(
        x if w[i] == 1.0 else float(w[i]) * x
        for i, x in enumerate(xs)
        if keep is None or keep(prob.levers[i])
    )


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
