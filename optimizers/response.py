"""Response curves measured on the simulator: spend on one lever → a KPI, concave and saturating.

The budget optimiser never assumes how spend works: it *simulates* each channel × lever at a few
spend levels (other spends held at the current point, the same seed and replications for every
level: common random numbers), fits a concave saturating curve through the means, and hands the
linear program a piecewise-linear version of it.

Curves (``x`` = spend in CNY/day):

* ``exp``:    ``y = base + amplitude × (1 − exp(−x / scale))``
* ``hill``:   ``y = base + amplitude × x^shape / (scale^shape + x^shape)`` with ``shape ≤ 1``
* ``linear``: ``y = base + amplitude × x / scale`` (the fallback when a fit fails)

    >>> import numpy as np
    >>> x = np.linspace(0, 50_000, 6)
    >>> c = fit_curve(x, 100 + 900 * (1 - np.exp(-x / 20_000)))
    >>> round(c.scale), round(c.amplitude)
    (20000, 900)
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from optimizers.judging import failed_evaluation
from sim.experiments import Evaluation, collect, run_replication
from sim.scenario import LEVERS, Scenario, apply_overrides, daily_budget, is_flighted

#: The budget lever each channel family spends on (coupons join when a scenario has them).
LEVER_OF_FAMILY: dict[str, str] = {"public": "paid", "social": "seeding", "private": "private_ops"}
STANDARD_LEVERS = frozenset(LEVER_OF_FAMILY.values())

CurveKind = Literal["exp", "hill", "linear"]


@dataclass(frozen=True)
class Lever:
    """One decision variable: daily spend of ``channel`` on ``lever`` (CNY/day), over the whole
    horizon or, with a ``period`` label, on days ``first`` … ``last`` only (a monthly split)."""

    channel: str
    lever: str
    family: str
    core: bool = False
    period: str = ""  # e.g. "2026-06"; empty for the whole horizon
    first: int = 0
    last: int = -1  # inclusive; -1 with no period
    dates: tuple[str, str] = ("", "")  # ISO first and last date, as budget.periods states them

    @property
    def name(self) -> str:
        base = f"{self.channel}.{self.lever}"
        return f"{base}@{self.period}" if self.period else base

    @property
    def base_name(self) -> str:
        """``tmall.paid`` for every period of it (what ``bounds`` and ``observed`` name)."""
        return f"{self.channel}.{self.lever}"

    @property
    def path(self) -> str:
        return f"channels.{self.channel}.budget.{self.lever}"

    def weight(self, days: int) -> float:
        """Share of the horizon this variable spends on (1 without a period)."""
        return (self.last - self.first + 1) / days if self.period else 1.0


def by_period(scenario: Scenario, levers: Sequence[Lever], unit: str = "month") -> list[Lever]:
    """Each lever split into one variable per calendar month of the horizon (``unit``)."""
    if unit != "month":
        raise ValueError(f"by_period: only 'month' is supported, got {unit!r}")
    if scenario.spend_file:
        raise ValueError(
            "by_period: the scenario's spend_file fixes daily spends that would override the "
            "optimised periods; remove spend_file (or optimise without --by-period)"
        )
    start, days = scenario.horizon.start, scenario.horizon.days
    months: list[tuple[str, int, int]] = []
    for d in range(days):
        label = (start + dt.timedelta(days=d)).strftime("%Y-%m")
        if months and months[-1][0] == label:
            months[-1] = (label, months[-1][1], d)
        else:
            months.append((label, d, d))

    def iso(d: int) -> str:
        return (start + dt.timedelta(days=d)).isoformat()

    return [
        Lever(lv.channel, lv.lever, lv.family, lv.core, label, first, last, (iso(first), iso(last)))
        for lv in levers
        for label, first, last in months
    ]


def levers_of(scenario: Scenario, names: Sequence[str] | None = None) -> list[Lever]:
    """The scenario's budget levers: paid on public, seeding on social, private_ops on private.

    Any other numeric budget field a channel spends on (e.g. coupons/incentives, when the
    scenario schema has one) is a lever too. ``names`` (``"tmall.paid"``) restricts the list.
    """
    out = []
    for ch in scenario.channels:
        budget = ch.budget.model_dump()
        for field, value in budget.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                continue
            standard = LEVER_OF_FAMILY.get(ch.family) == field
            extra = field not in STANDARD_LEVERS and value > 0
            if standard or extra:
                out.append(Lever(ch.id, field, ch.family, ch.core))
    if names is None:
        return out
    by_name = {lv.name: lv for lv in out}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"levers: unknown {unknown} (known: {sorted(by_name)})")
    return [by_name[n] for n in names]


def current_spend(scenario: Scenario, levers: Sequence[Lever]) -> np.ndarray:
    """Today's daily spend of each lever in ``scenario`` (a period's mean, flighting included)."""
    spend = {c.id: c.budget.model_dump() for c in scenario.channels}
    if not any(lv.period for lv in levers) and not is_flighted(scenario):
        return np.array([float(spend[lv.channel][lv.lever]) for lv in levers])
    daily = daily_budget(scenario)
    index = {c.id: i for i, c in enumerate(scenario.channels)}
    out = []
    for lv in levers:
        if lv.lever not in LEVERS:
            out.append(float(spend[lv.channel][lv.lever]))
            continue
        last = lv.last if lv.period else scenario.horizon.days - 1
        out.append(
            float(daily[lv.first : last + 1, index[lv.channel], LEVERS.index(lv.lever)].mean())
        )
    return np.array(out)


def spend_overrides(levers: Sequence[Lever], x: Sequence[float]) -> dict[str, Any]:
    """``--set`` overrides of a spend vector: a lever's constant amount, or, for period levers,
    the channel's ``budget.periods`` (one per period, its levers together)."""
    out: dict[str, Any] = {}
    periods: dict[str, dict[tuple[int, int], dict[str, Any]]] = {}
    for lv, v in zip(levers, x, strict=True):
        if not lv.period:
            out[lv.path] = float(round(v, 2))
            continue
        by_day = periods.setdefault(lv.channel, {})
        first, last = lv.dates if lv.dates[0] else (lv.first, lv.last)
        entry = by_day.setdefault((lv.first, lv.last), {"start": first, "end": last})
        entry[lv.lever] = float(round(v, 2))
    for ch, by_day in periods.items():
        out[f"channels.{ch}.budget.periods"] = [by_day[k] for k in sorted(by_day)]
    return out


# --------------------------------------------------------------------------------------------
# Simulating many points on one executor
# --------------------------------------------------------------------------------------------
def simulate_points(
    scenario: Scenario,
    points: Sequence[dict[str, Any]],
    *,
    replications: int,
    seed: int,
    executor: Executor,
    windows: Sequence[tuple[int, int]] = (),
    keep_failed: bool = False,
) -> list[Evaluation]:
    """Evaluate each override dict with the same seed and replications (common random numbers).

    Every replication of every point is submitted before any is awaited, so a pool stays busy.
    Failed replications are in each evaluation's ``errors``; a point whose every replication
    failed raises (as :func:`sim.experiments.collect` does) unless ``keep_failed``, which gives
    it an evaluation with no KPIs and only its errors.
    """
    scenarios = [apply_overrides(scenario, p) for p in points]
    futures = [
        [
            executor.submit(run_replication, sc, seed, r, list(windows), False)
            for r in range(replications)
        ]
        for sc in scenarios
    ]
    out = []
    for sc, fs in zip(scenarios, futures, strict=True):
        reps = [f.result() for f in fs]
        if keep_failed and all(r.error is not None for r in reps):
            out.append(failed_evaluation(sc, seed, {r.replication: r.error for r in reps}, windows))
        else:
            out.append(collect(sc, seed, reps, windows))
    return out


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """A fitted response: ``y(x)`` for spend ``x`` in CNY/day (see the module docstring)."""

    kind: CurveKind
    base: float
    amplitude: float
    scale: float
    shape: float = 1.0
    rmse: float = 0.0

    def __call__(self, x: Any) -> Any:
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        return self.base + self.amplitude * _unit(self.kind, x, self.scale, self.shape)

    def pwl(self, lo: float, hi: float, segments: int = 6) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints and values of a piecewise-linear interpolation on ``[lo, hi]``."""
        xs = np.linspace(lo, hi, segments + 1) if hi > lo else np.array([lo, lo])
        return xs, np.asarray(self(xs), dtype=float)


def _unit(kind: str, x: np.ndarray, scale: float, shape: float) -> np.ndarray:
    if kind == "exp":
        return 1.0 - np.exp(-x / scale)
    if kind == "hill":
        xh = np.power(x, shape)
        return xh / (scale**shape + xh)
    return x / scale


def fit_curve(
    x: Sequence[float], y: Sequence[float], *, kind: CurveKind = "exp", increasing: bool = True
) -> Curve:
    """Least-squares fit of a saturating curve (``scipy.optimize.curve_fit`` with bounds).

    ``increasing=True`` keeps ``amplitude ≥ 0`` (a concave, non-decreasing response); with
    ``False`` the sign is free. Falls back to a straight line when the fit fails.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return Curve("linear", float(np.mean(y)) if len(y) else 0.0, 0.0, 1.0)
    # Work in units where spend and response are O(1): curve_fit is scale-sensitive.
    xs, ys = max(float(np.max(x)), 1e-9), max(float(np.ptp(y)), 1e-9 * max(1.0, abs(y).max()))
    y0 = float(y[np.argmin(x)])
    u, v = x / xs, (y - y0) / ys
    span = np.ptp(u)
    amp_lo = 0.0 if increasing else -np.inf
    if kind == "exp":
        f = lambda t, c, a, s: c + a * (1.0 - np.exp(-t / s))  # noqa: E731
        p0, lo, hi = [0.0, 1.0, 0.5], [-np.inf, amp_lo, span / 50], [np.inf, np.inf, 100.0]
    elif kind == "hill":
        f = lambda t, c, a, k, h: c + a * t**h / (k**h + t**h)  # noqa: E731
        p0, lo, hi = (
            [0.0, 1.5, 0.5, 1.0],
            [-np.inf, amp_lo, span / 50, 0.3],
            [np.inf, np.inf, 100.0, 1.0],
        )
    else:
        return _linear(x, y, increasing)
    p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            p, _ = curve_fit(f, u, v, p0=p0, bounds=(lo, hi), maxfev=20_000)
    except (RuntimeError, ValueError):
        return _linear(x, y, increasing)
    shape = float(p[3]) if kind == "hill" else 1.0
    curve = Curve(kind, y0 + float(p[0]) * ys, float(p[1]) * ys, float(p[2]) * xs, shape)
    return _with_rmse(curve, x, y)


def _linear(x: np.ndarray, y: np.ndarray, increasing: bool) -> Curve:
    slope, icpt = np.polyfit(x, y, 1)
    if increasing:
        slope = max(slope, 0.0)
        icpt = float(np.mean(y - slope * x))
    return _with_rmse(Curve("linear", float(icpt), float(slope), 1.0), x, y)


def _with_rmse(c: Curve, x: np.ndarray, y: np.ndarray) -> Curve:
    rmse = float(np.sqrt(np.mean((c(x) - y) ** 2)))
    return Curve(c.kind, c.base, c.amplitude, c.scale, c.shape, rmse)
