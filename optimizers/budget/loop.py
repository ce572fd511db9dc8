"""The trust-region loop of the budget optimiser: sample, fit, solve, re-simulate, repeat.

Each iteration simulates every lever at a few spend levels around the incumbent (the whole
range the first time; other spends at the incumbent, common random numbers), fits a response
curve per lever and metric (the plan's targets included), solves the soft LP around them, and
re-simulates its answer: kept if it is better (less constraint violation first, targets
included, then the objective), else the region shrinks. A missed curve-modelled limit makes
the LP aim further inside it. Every iteration, sample, fitted curve and failed replication is
recorded for the results directory; two points are only ever compared on the replications
both completed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd
import pulp

from optimizers.budget.conflicts import infeasible
from optimizers.budget.lp import LP, Model
from optimizers.budget.metrics import Point, simulated_point
from optimizers.budget.problem import Problem
from optimizers.judging import failure_rows
from optimizers.response import Curve, CurveKind, fit_curve, simulate_points, spend_overrides
from sim.errors import ReplicationsFailed
from sim.experiments import Evaluation, windows_for
from sim.scenario import Scenario

#: Fractions of the full range sampled in the first iteration (the whole map of each curve).
FIRST_LEVELS = (0.0, 0.15, 0.35, 0.65, 1.0)
#: Offsets (× radius) sampled around the current point in later iterations.
TR_LEVELS = (-1.0, -0.5, 0.5, 1.0)


class Loop:
    """One run of the loop; ``records``, ``samples`` and ``curve_rows`` keep its history."""

    def __init__(
        self,
        scenario: Scenario,
        prob: Problem,
        solver: pulp.LpSolver,
        executor: Executor,
        *,
        replications: int,
        seed: int,
        curve: CurveKind,
        segments: int,
        progress: Callable[[dict[str, Any]], None] | None,
        baseline: Evaluation | None = None,
    ):
        self.scenario, self.prob, self.solver, self.ex = scenario, prob, solver, executor
        self.replications, self.seed = replications, seed
        self.curve, self.segments = curve, segments
        self.progress = progress
        self.baseline = baseline  # for relative targets: same seed and replications
        self.windows = windows_for(prob.targets)
        self.records: list[dict[str, Any]] = []
        self.samples: list[pd.DataFrame] = []
        self.curve_rows: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.accepted: list[tuple[int, np.ndarray]] = []  # (iteration, spend) kept by the loop
        self.modelled: set[int] = set()  # targets the LP's curves expressed at least once
        self.it = 0

    def simulate(self, xs: Sequence[np.ndarray], what: str | Sequence[str]) -> list[Point]:
        """Simulate spend vectors; failed replications are recorded under ``what``."""
        evs = simulate_points(
            self.scenario,
            [spend_overrides(self.prob.levers, x) for x in xs],
            replications=self.replications,
            seed=self.seed,
            executor=self.ex,
            windows=self.windows,
            keep_failed=True,
        )
        labels = [what] * len(xs) if isinstance(what, str) else list(what)
        for ev, label in zip(evs, labels, strict=True):
            self.failures += failure_rows(ev, iteration=self.it, point=label)
        return [
            simulated_point(ev, self.prob, x, self.baseline) for x, ev in zip(xs, evs, strict=True)
        ]

    def raise_failed(self) -> None:
        """No replication left to judge by: say which failed first, and why."""
        first = self.failures[0]
        raise ReplicationsFailed(int(first["replication"]), f"{first['point']}: {first['error']}")

    def better(self, new: Point, old: Point, tol: float) -> bool:
        """Feasibility first (less violation wins), then a relative objective gain > ``tol``;
        both judged on the replications both completed (a point with none is never better)."""
        common = new.reps & old.reps
        if not common:
            return False
        new, old = new.on(common), old.on(common)
        if new.violation < old.violation - 1e-9:
            return True
        if new.violation > old.violation + 1e-9:
            return False
        return new.value > old.value + tol * max(abs(old.value), 1.0)

    # ---- the iterations ------------------------------------------------------------------
    def run(
        self, x_start: np.ndarray, *, max_iter: int, rho0: float, min_rho: float, tol: float
    ) -> tuple[Point, Point]:
        """The best point simulated (feasibility first) and the start point."""
        start = self.simulate([x_start], "start")[0]
        if start.failed:
            self.raise_failed()
        self.record(0, None, start, start, "start", None)
        best, rho = start, None
        seen = start  # the best point simulated at all (a gain below tol still counts here)
        for it in range(1, max_iter + 1):
            self.it = it
            x_new, predicted = self.propose(it, best, rho)
            if x_new is not None and np.abs(x_new - best.x).max() < 1.0:
                # Fresh curves around the point say it is optimal in its region: converged.
                self.record(it, rho, best, best, "converged", predicted)
                break
            cand = self.simulate([x_new], "candidate")[0] if x_new is not None else best
            accepted = x_new is not None and self.better(cand, best, tol)
            backed_off = self.back_off(cand)
            seen = cand if self.better(cand, seen, 0.0) else seen
            self.record(it, rho, cand, best, "accepted" if accepted else "rejected", predicted)
            if accepted:
                best = cand
                self.accepted.append((it, cand.x.copy()))
            rho = _next_radius(rho, rho0, accepted=accepted, backed_off=backed_off)
            if rho < min_rho:
                break
        return seen, start

    def propose(self, it: int, best: Point, rho: float | None) -> tuple[np.ndarray | None, float]:
        """Fit curves around ``best`` and solve the soft LP: its answer and forecast."""
        model = self.fit(it, best, rho)
        # Curve-based limits are soft (a heavy penalty): an infeasible incumbent still gets
        # a step towards feasibility that keeps an eye on the objective.
        penalty = 10.0 * max(abs(best.value), self.prob.days * self.prob.total)
        lp = LP(self.prob, model, mode="soft", penalty=penalty)
        self.modelled |= {i for i in range(len(self.prob.targets)) if lp.models_target(i)}
        x_new = lp.solve(self.solver)
        limits = (
            [n for n in lp.relaxed() if not n.startswith("target: ")] if x_new is not None else []
        )
        if rho is None and (x_new is None or limits):
            # The whole range, and still the fitted curves cannot meet every limit. (A target
            # they cannot meet is not an error: the loop minimises its shortfall, and the
            # verification says it is not met.)
            raise infeasible(self.prob, model, self.solver, "fitted response curves")
        return x_new, lp.predicted() if x_new is not None else np.nan

    def back_off(self, cand: Point) -> bool:
        """A curve-modelled limit missed in simulation: aim further inside it next time.

        Returns whether any margin grew (then the loop retries in the same region: the step
        failed on the limit, not on the model's slope).
        """
        backed_off = False
        for c in cand.checks:
            name = c["constraint"]
            if (
                not c["holds"]
                and name.startswith(("roi_paid.", "cost_share", "target: "))
                and self.prob.margin(name) < 0.3
            ):
                self.prob.margins[name] = min(0.3, 2 * self.prob.margin(name))
                backed_off = True
        return backed_off

    # ---- sampling and fitting ------------------------------------------------------------
    def fit(self, it: int, center: Point, rho: float | None) -> Model:
        """Sample every lever around ``center`` (others at the centre) and fit its curves."""
        box_lo, box_hi, levels = self.region(center, rho)
        xs, owner = [], []
        for i in range(len(self.prob.levers)):
            for lvl in np.unique(np.round(levels[i], 2)):
                if abs(lvl - center.x[i]) > 0.5:
                    x = center.x.copy()
                    x[i] = lvl
                    xs.append(x)
                    owner.append(i)
        points = self.simulate(xs, [f"sample {self.prob.levers[i].name}" for i in owner])
        # Fit on the replications the centre and every sample completed (like for like).
        common = center.reps.intersection(*(pt.reps for pt in points)) if points else center.reps
        if not common:  # every replication failed at some sampled level: nothing to fit
            self.raise_failed()
        center, points = center.on(common), [pt.on(common) for pt in points]
        table = self.sample_table(it, center, owner, points)
        self.samples.append(table)
        curves = self.fit_curves(it, table, list(center.metrics))
        return Model(center.x, center.metrics, box_lo, box_hi, curves, self.segments)

    def region(
        self, center: Point, rho: float | None
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """The box to model and the spend levels to sample per lever."""
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
        return box_lo, box_hi, levels

    def sample_table(
        self, it: int, center: Point, owner: list[int], points: list[Point]
    ) -> pd.DataFrame:
        """One row per simulated level, then the centre once per lever."""
        levers = self.prob.levers
        rows = [
            {
                "iteration": it,
                "lever": levers[i].name,
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
            for i, lv in enumerate(levers)
        ]
        return pd.DataFrame(rows)

    def fit_curves(
        self, it: int, table: pd.DataFrame, metric_names: list[str]
    ) -> dict[tuple[int, str], Curve]:
        """A curve per lever and modelled metric, each recorded in ``curve_rows``."""
        curves: dict[tuple[int, str], Curve] = {}
        for i, lv in enumerate(self.prob.levers):
            sub = table[table["lever"] == lv.name]
            for name in metric_names:
                if name.startswith("roi_paid") or name == "cost":
                    continue
                if name.startswith("target.") and not np.isfinite(sub[name]).any():
                    continue  # undefined everywhere here: judged by simulation only
                # What a lever earns is concave and non-decreasing in its own spend; its effect
                # on another channel's paid revenue (cannibalisation, seeding) and on costs may
                # go either way.
                cross = name.startswith("paid_revenue.") and name != f"paid_revenue.{lv.channel}"
                free = name == "nonspend_cost" or cross or name.startswith("target.")
                c = fit_curve(sub["spend"], sub[name], kind=self.curve, increasing=not free)
                curves[(i, name)] = c
                self.curve_rows.append(_curve_row(it, lv.name, name, c))
        return curves

    # ---- history -------------------------------------------------------------------------
    def record(
        self,
        it: int,
        rho: float | None,
        pt: Point,
        best: Point,
        status: str,
        predicted: float | None,
    ) -> None:
        row = {
            "iteration": it,
            "status": status,
            "trust_region": rho,
            "predicted": predicted,
            "simulated": pt.value,
            "improvement": _gain(pt, best) if status != "start" else 0.0,
            "feasible": pt.violation <= 1e-9,
            "violation": pt.violation,
            "revenue": pt.metrics.get("revenue", np.nan),
            "replications": len(pt.reps),
            **{lv.name: float(pt.x[i]) for i, lv in enumerate(self.prob.levers)},
            "total_spend": self.prob.daily(pt.x),
        }
        self.records.append(row)
        if self.progress is not None:
            self.progress(row)


def _gain(pt: Point, best: Point) -> float:
    """``pt`` − ``best`` in the objective, on the replications both completed."""
    common = pt.reps & best.reps
    return pt.on(common).value - best.on(common).value if common else float("nan")


def _next_radius(rho: float | None, rho0: float, *, accepted: bool, backed_off: bool) -> float:
    """Keep the region after a success or a backed-off limit, halve it after a failure."""
    if accepted:
        return rho0 if rho is None else rho
    if backed_off and rho is not None:
        return rho
    return (rho0 if rho is None else rho) / 2


def _curve_row(it: int, lever: str, metric: str, c: Curve) -> dict[str, Any]:
    return {
        "iteration": it,
        "lever": lever,
        "metric": metric,
        "kind": c.kind,
        "base": c.base,
        "amplitude": c.amplitude,
        "scale": c.scale,
        "shape": c.shape,
        "rmse": c.rmse,
    }
