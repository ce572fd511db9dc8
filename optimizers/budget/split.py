"""The budget optimiser's entry point: :func:`optimize_budget` and its :class:`BudgetResult`.

It checks the arguments (:mod:`optimizers.budget.problem`), fails early on linear conflicts
(:mod:`optimizers.budget.conflicts`), runs the trust-region loop (:mod:`optimizers.budget.loop`)
on an executor and packages the loop's best split with its history, every accepted candidate
and every failed replication. The loop's answer is an estimate from few replications; the
recommendation is the best *verified* plan among the start and the accepted candidates
(:func:`optimizers.budget.verify_budget`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from optimizers.budget.conflicts import precheck
from optimizers.budget.loop import Loop
from optimizers.budget.lp import make_solver
from optimizers.budget.metrics import Point
from optimizers.budget.problem import (
    OBSERVED_MULTIPLE,
    Objective,
    Problem,
    build_problem,
    observed_bounds,
)
from optimizers.response import (
    CurveKind,
    Lever,
    current_spend,
    levers_of,
    simulate_points,
    spend_overrides,
)
from optimizers.response import by_period as split_by_period
from sim.experiments import Evaluation, make_executor, windows_for
from sim.scenario import LEVERS, Scenario, apply_overrides


@dataclass
class BudgetResult:
    """The loop's best split, how the loop got there, and its constraints re-simulated.

    ``value``, ``feasible`` and ``constraints`` are the loop's own estimates (``replications``
    per point, targets judged on their estimate); the answer to act on is the verified one
    (:func:`optimizers.budget.verify_budget`), chosen among ``start_scenario`` and
    ``candidates``.
    """

    scenario: Scenario  # the input scenario with the loop's best spends applied
    levers: list[Lever]
    spend: dict[str, float]  # lever name → CNY/day
    start_spend: dict[str, float]
    objective: str
    value: float  # simulated objective at the loop's best point (mean over replications)
    start_value: float
    feasible: bool  # every constraint (targets included) holds at the loop's estimate
    iterations: pd.DataFrame
    samples: pd.DataFrame
    curves: pd.DataFrame
    constraints: pd.DataFrame  # name, limit, value (re-simulated), holds
    active: dict[str, bool] = field(default_factory=dict)
    start_scenario: Scenario | None = None  # the input scenario, as given
    problem: Problem | None = None
    candidates: list[tuple[int, dict[str, float]]] = field(default_factory=list)  # accepted
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)  # failed replications
    targets: dict[str, str] = field(default_factory=dict)  # target → how the loop used it
    seed: int = 0

    @property
    def overrides(self) -> dict[str, Any]:
        """The loop's best split as ``--set`` paths (``channels.tmall.budget.paid`` → CNY/day;
        by period: ``channels.tmall.budget.periods``)."""
        return spend_overrides(self.levers, [self.spend[lv.name] for lv in self.levers])

    def extrapolated(self, spend: dict[str, float] | None = None) -> list[str]:
        """Levers of ``spend`` (default: the loop's best) outside the spend range the history
        observed (``budget.observed``): their response is extrapolated, not fitted."""
        if self.problem is None:
            return []
        spend = self.spend if spend is None else spend
        return self.problem.extrapolated(np.array([spend[lv.name] for lv in self.levers]))


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
    baseline: Scenario | None = None,
    target_constraints: bool = True,
    by_period: str | None = None,
    observed_multiple: float | None = OBSERVED_MULTIPLE,
) -> BudgetResult:
    """Split ``total`` CNY/day across the scenario's budget levers (see :mod:`optimizers.budget`).

    ``levers`` restricts the decision variables (``"tmall.paid"``; the others stay fixed);
    ``bounds`` maps a lever (``"tmall.paid"``) or a channel (``"tmall"``, all its levers) to
    ``(low, high)`` CNY/day, ``None`` for no limit; ``fixed_costs`` maps a channel to a CNY/day
    cost paid when it spends at all. The scenario's ``targets`` are constraints too unless
    ``target_constraints=False``; relative ones are judged against ``baseline`` (evaluated
    with the same seed and replications). Raises :class:`InfeasibleError` naming the
    conflicting constraints when no split can satisfy them, ``ValueError`` for bad arguments.

    ``by_period="month"`` makes each lever one variable per calendar month, written back as
    the channels' ``budget.periods``. A lever whose ``budget.observed`` range is known (fitted
    from a spend history) is kept at most ``observed_multiple`` × its observed maximum unless
    ``bounds`` says otherwise (``None`` or 0: no such default); a recommendation outside the
    observed range is listed by :meth:`BudgetResult.extrapolated`.
    """
    lvs = _levers(scenario, levers, objective=objective, replications=replications)
    if by_period:
        lvs = split_by_period(scenario, lvs, by_period)
        _check_periods_kept(scenario, lvs)
    else:
        _check_not_flighted(scenario, lvs)
    if observed_multiple is not None and observed_multiple < 0:
        raise ValueError(f"observed_multiple: must be ≥ 0, got {observed_multiple:g}")
    bounds = {**observed_bounds(scenario, lvs, observed_multiple), **(bounds or {})}
    targets = list(scenario.targets) if target_constraints else []
    if baseline is None and any(t.relative_to for t in targets):
        raise ValueError(
            "baseline: the plan's relative targets need a baseline scenario (its `extends` "
            "root or --baseline), or drop the targets as constraints (--no-target-constraints)"
        )
    x_start = current_spend(scenario, lvs)
    prob = build_problem(
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
        targets=targets,
    )
    lp_solver = make_solver(solver)
    precheck(prob, lp_solver)  # linear conflicts fail before any simulation
    seed = scenario.seed if seed is None else seed
    with contextlib.ExitStack() as stack:
        ex = executor or stack.enter_context(make_executor(workers=workers))
        base_ev = _baseline_evaluation(baseline, prob, replications, seed, ex)
        loop = Loop(
            scenario,
            prob,
            lp_solver,
            ex,
            replications=replications,
            seed=seed,
            curve=curve,
            segments=segments,
            progress=progress,
            baseline=base_ev,
        )
        best, start = loop.run(
            x_start, max_iter=max_iter, rho0=trust_region, min_rho=min_trust_region, tol=tol
        )
    return _result(scenario, prob, loop, best, start, x_start, seed)


def _check_not_flighted(scenario: Scenario, lvs: list[Lever]) -> None:
    """One number per lever cannot state a flighted budget: periods (or a spend file) would
    override it on their days, so the optimiser's answer would not be what is simulated."""
    if scenario.spend_file:
        raise ValueError(
            "levers: the scenario's spend_file sets daily spends that override a constant "
            "budget; optimise by period (--by-period month) without the spend file"
        )
    flighted = sorted(
        lv.name
        for lv in lvs
        for c in scenario.channels
        if c.id == lv.channel
        and any(getattr(p, lv.lever, None) is not None for p in c.budget.periods)
    )
    if flighted:
        raise ValueError(
            f"levers: {', '.join(flighted)} vary over time (budget.periods); optimise them by "
            "period (--by-period month) or leave them out (--levers)"
        )


def _check_periods_kept(scenario: Scenario, lvs: list[Lever]) -> None:
    """The monthly answer replaces a channel's ``budget.periods``: refuse when that would drop
    the periods of a lever the optimiser does not set."""
    chosen = {(lv.channel, lv.lever) for lv in lvs}
    lost = sorted(
        f"{c.id}.{lever}"
        for c in scenario.channels
        if any(ch == c.id for ch, _ in chosen)
        for lever in LEVERS
        if (c.id, lever) not in chosen
        and any(getattr(p, lever) is not None for p in c.budget.periods)
    )
    if lost:
        raise ValueError(
            f"levers: {', '.join(lost)} vary over time (budget.periods) and would lose their "
            "periods when the optimised months are written back; optimise them too (--levers)"
        )


def _baseline_evaluation(
    baseline: Scenario | None, prob: Problem, replications: int, seed: int, ex: Executor
) -> Evaluation | None:
    """The baseline with the loop's seed and replications, when a relative target needs it."""
    if baseline is None or not any(t.relative_to for t in prob.targets):
        return None
    return simulate_points(
        baseline,
        [{}],
        replications=replications,
        seed=seed,
        executor=ex,
        windows=windows_for(prob.targets),
    )[0]


def _levers(
    scenario: Scenario, levers: Sequence[str] | None, *, objective: str, replications: int
) -> list[Lever]:
    """The levers to optimise, after checking the objective and the replications."""
    if objective not in ("revenue", "profit"):
        raise ValueError(f"objective: must be 'revenue' or 'profit', got {objective!r}")
    if replications < 1:
        raise ValueError(f"replications: must be ≥ 1, got {replications}")
    lvs = levers_of(scenario, levers)
    if not lvs:
        raise ValueError("levers: the scenario has no budget lever to optimise")
    return lvs


def _result(
    scenario: Scenario,
    prob: Problem,
    loop: Loop,
    best: Point,
    start: Point,
    x_start: np.ndarray,
    seed: int,
) -> BudgetResult:
    lvs = prob.levers
    names = [lv.name for lv in lvs]
    failures = pd.DataFrame(loop.failures, columns=["iteration", "point", "replication", "error"])
    return BudgetResult(
        scenario=apply_overrides(scenario, spend_overrides(lvs, best.x)),
        levers=lvs,
        spend=dict(zip(names, map(float, best.x), strict=True)),
        start_spend=dict(zip(names, map(float, x_start), strict=True)),
        objective=prob.objective,
        value=best.value,
        start_value=start.value,
        feasible=best.violation <= 1e-9,
        iterations=pd.DataFrame(loop.records),
        samples=pd.concat(loop.samples, ignore_index=True),
        curves=pd.DataFrame(loop.curve_rows),
        constraints=pd.DataFrame(best.checks),
        active=prob.active(best.x),
        start_scenario=scenario,
        problem=prob,
        candidates=[(it, dict(zip(names, map(float, x), strict=True))) for it, x in loop.accepted],
        failures=failures,
        targets={
            prob.target_name(i)[len("target: ") :]: (
                "LP curves + re-simulation" if i in loop.modelled else "re-simulation only"
            )
            for i in range(len(prob.targets))
        },
        seed=seed,
    )
