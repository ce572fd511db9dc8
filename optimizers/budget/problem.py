"""What one budget optimisation is asked: the levers, the limits and the constraint settings.

:func:`build_problem` checks the arguments of :func:`optimizers.budget.optimize_budget` and
freezes them into a :class:`Problem`, which every other step (metrics, LP, loop) reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from optimizers.response import Lever
from sim.scenario import Scenario, Target

Objective = Literal["revenue", "profit"]
#: The LP aims this much inside the ROI floor and the cost-share ceiling: the curves are fits,
#: and a plan aimed exactly at a limit misses it about half the time when re-simulated.
MARGIN = 0.02
#: Default ceiling on a lever with an observed spend range (``budget.observed``): this many ×
#: its observed maximum; beyond it the response curve would be extrapolated, not fitted.
OBSERVED_MULTIPLE = 1.5

Bounds = dict[str, tuple[float | None, float | None]]


@dataclass
class Problem:
    """Everything fixed for one optimisation: levers, limits, constraint settings."""

    levers: list[Lever]
    total: float
    days: int
    objective: str
    lo: np.ndarray
    hi: np.ndarray
    channel_bounds: Bounds
    roi_floor: float | None
    cost_share_max: float | None
    core_min_share: float | None
    fixed_costs: dict[str, float]
    max_active: int | None
    # How far inside each curve-modelled limit the LP aims (grows when re-simulation misses it).
    margins: dict[str, float] = field(default_factory=dict)
    # The plan's targets when they are constraints (the default), else empty.
    targets: list[Target] = field(default_factory=list)
    # Share of the horizon each variable spends on: 1, or a period's days ÷ horizon days.
    weights: np.ndarray | None = None
    # Observed [min, max] spend per lever index (from budget.observed), for the report.
    observed: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def w(self) -> np.ndarray:
        return np.ones(len(self.levers)) if self.weights is None else self.weights

    def daily(self, x: np.ndarray) -> float:
        """Mean spend per day over the horizon of spend vector ``x`` (levers only)."""
        return float(self.w @ np.asarray(x, dtype=float))

    def extrapolated(self, x: np.ndarray) -> list[str]:
        """Levers whose spend in ``x`` lies outside the spend range the history observed: the
        response there is extrapolated, not fitted."""
        out = []
        for i, (lo, hi) in self.observed.items():
            if x[i] > hi * (1 + 1e-6) + 0.5 or x[i] < lo * (1 - 1e-6) - 0.5:
                name = self.levers[i].name
                out.append(
                    f"{name}: {x[i]:,.0f} CNY/day is outside the observed {lo:,.0f}–{hi:,.0f}"
                )
        return out

    def margin(self, name: str) -> float:
        return self.margins.get(name, MARGIN)

    def target_name(self, i: int) -> str:
        """``target: <label>`` (or the target in words when it has no label)."""
        t = self.targets[i]
        if t.label:
            return f"target: {t.label}"
        op, bound = ("≥", t.at_least) if t.at_least is not None else ("≤", t.at_most)
        rel = " × baseline" if t.relative_to else ""
        win = f" over days {t.window[0]}–{t.window[1] - 1}" if t.window else ""
        return f"target: {t.kpi} {op} {bound:g}{rel}{win}"

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(lv.channel for lv in self.levers))

    @property
    def milp(self) -> bool:
        return bool(self.fixed_costs) or self.max_active is not None

    def roi_levers(self) -> list[int]:
        """One lever per channel with a paid-ROI floor (its first period, with periods)."""
        return [idx[0] for idx in self.roi_channels().values()]

    def roi_channels(self) -> dict[str, list[int]]:
        """Public channels with a paid-ROI floor → the indices of their paid levers."""
        if self.roi_floor is None:
            return {}
        out: dict[str, list[int]] = {}
        for i, lv in enumerate(self.levers):
            if lv.family == "public" and lv.lever == "paid":
                out.setdefault(lv.channel, []).append(i)
        return out

    def cap(self) -> np.ndarray:
        """Largest spend each lever can take: its upper bound, the total (spread over the
        lever's share of the horizon), its lower bound."""
        return np.maximum(np.minimum(self.total / self.w, self.hi), self.lo)

    def active(self, x: np.ndarray) -> dict[str, bool]:
        return {
            c: bool(any(x[i] > 0.5 for i, lv in enumerate(self.levers) if lv.channel == c))
            for c in self.channels
        }

    def fixed_cost(self, x: np.ndarray) -> float:
        act = self.active(x)
        return sum(self.fixed_costs.get(c, 0.0) for c in self.channels if act[c])


def build_problem(
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
    targets: list[Target] | None = None,
) -> Problem:
    """The checked :class:`Problem`; ``ValueError`` naming the argument when one is wrong."""
    total = float(x_start.sum()) if total is None else float(total)
    if total <= 0:
        raise ValueError(f"total: must be > 0 CNY/day, got {total:g}")
    lo, hi, channel_bounds = _split_bounds(lvs, bounds or {})
    weights = np.array([lv.weight(scenario.horizon.days) for lv in lvs])
    _check_settings(lvs, fixed_costs, cost_share_max, core_min_share, max_active)
    return Problem(
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
        targets=list(targets or []),
        weights=weights,
        observed=observed_ranges(scenario, lvs),
    )


def observed_ranges(scenario: Scenario, lvs: list[Lever]) -> dict[int, tuple[float, float]]:
    """Lever index → the ``[min, max]`` daily spend ``budget.observed`` states for it."""
    budgets = {c.id: c.budget for c in scenario.channels}
    out = {}
    for i, lv in enumerate(lvs):
        obs = budgets[lv.channel].observed
        rng = getattr(obs, lv.lever, None) if obs is not None else None
        if rng is not None:
            out[i] = (float(rng[0]), float(rng[1]))
    return out


def observed_bounds(scenario: Scenario, lvs: list[Lever], multiple: float | None) -> Bounds:
    """Default upper bounds: ``multiple`` × the observed maximum of each lever that has one
    (the response beyond it is extrapolated); ``None`` or 0 for none."""
    if not multiple:
        return {}
    return {
        lvs[i].base_name: (None, multiple * hi)
        for i, (_, hi) in observed_ranges(scenario, lvs).items()
    }


def _split_bounds(lvs: list[Lever], bounds: Bounds) -> tuple[np.ndarray, np.ndarray, Bounds]:
    """Per-lever ``(lo, hi)`` arrays and per-channel bounds from ``bounds`` keyed by name."""
    lo, hi = np.zeros(len(lvs)), np.full(len(lvs), np.inf)
    channel_bounds: Bounds = {}
    names: dict[str, list[int]] = {}
    for i, lv in enumerate(lvs):  # a lever's bounds hold in each of its periods
        names.setdefault(lv.name, []).append(i)
        if lv.period:
            names.setdefault(lv.base_name, []).append(i)
    channels = {lv.channel for lv in lvs}
    for key, (blo, bhi) in bounds.items():
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
    return lo, hi, channel_bounds


def _check_settings(
    lvs: list[Lever],
    fixed_costs: dict[str, float] | None,
    cost_share_max: float | None,
    core_min_share: float | None,
    max_active: int | None,
) -> None:
    channels = {lv.channel for lv in lvs}
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
