"""Black-box plan search with Optuna over a scenario's ``decisions:`` block.

Each trial sets every decision (any dotted path: budgets, discount depths, service levels,
safety factors, …), evaluates the plan with ``replications`` replications and the *same* seed
as every other trial (common random numbers: trials differ by their decisions, not their luck),
and reports the objective(s). The scenario's targets become constraints: a trial is feasible when
each target's probability of being met (:func:`sim.experiments.evaluate_targets`) is at least
``confidence``; Optuna 5 takes them through :meth:`optuna.trial.Trial.set_constraint`.

Studies live in an RDB storage (SQLite by default, PostgreSQL for many machines); running the
same study name again continues it up to ``trials`` COMPLETE trials, and any number of processes
(on any number of machines, with PostgreSQL) may work on one study at once: each takes its next
trial under a study-wide lock, so together they stop at exactly ``trials`` (see
:mod:`optimizers.studies`, which also fails the trials of killed processes). A stored study is
resumed only by the same search: same scenario, objectives, replications, seed and confidence.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={
    ...     "market.customers": 800, "horizon.days": 30,
    ...     "decisions": [{"path": "channels.jd.budget.paid", "low": 0, "high": 40000}]})
    >>> res = search(sc, trials=3, replications=1, workers=1)
    >>> len(res.trials)
    3
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from optimizers.search_space import SearchSpace, search_space
from optimizers.studies import StudyLock, counts, heartbeat, open_storage, reserve
from sim.errors import UsageError
from sim.experiments import Evaluation, evaluate, evaluate_targets, make_executor, windows_for
from sim.kpis import check_kpi_name
from sim.scenario import Decision, Scenario, ScenarioError, apply_overrides

SAMPLERS = ("tpe", "cmaes", "nsga2", "gp")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
CATCH = (ScenarioError, ValueError, RuntimeError)  # a trial that raises these is FAIL, not fatal
POLL = 0.5  # seconds between looks while other processes run the study's last trials
IDENTITY = "channelsim"  # study user attr: what the study searches (checked on resume)
log = logging.getLogger("channelsim.search")


@dataclass
class SearchResult:
    """A finished (or resumed) study, its trials as a table, the best feasible plan."""

    study: optuna.Study
    objectives: list[str]
    trials: pd.DataFrame  # number, state, objective values, params, target probabilities
    best: dict[str, Any] | None  # decisions of the best feasible trial (first objective)
    best_values: list[float] | None
    pareto: pd.DataFrame  # feasible, non-dominated trials
    scenario: Scenario  # the input with the best (else the closest) decisions applied
    closest: dict[str, Any] | None = None  # no feasible trial: the one nearest to feasible


def make_sampler(name: str, *, seed: int | None, objectives: int) -> optuna.samplers.BaseSampler:
    """``tpe`` | ``cmaes`` | ``nsga2`` | ``gp`` with a fixed seed (reproducible studies)."""
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "cmaes":
        if objectives > 1:
            raise ValueError("sampler: cmaes optimises one objective; use tpe or nsga2")
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ValueError(
                "sampler: cmaes needs the 'cmaes' package (pip install cmaes)"
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "gp":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ValueError("sampler: gp needs PyTorch (pip install torch); use tpe") from None
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"sampler: must be one of {', '.join(SAMPLERS)}, got {name!r}")


def check_decisions(scenario: Scenario) -> None:
    """Every decision's range ends (or choices) must give a valid scenario; else ScenarioError."""
    if not scenario.decisions:
        raise ScenarioError(
            [
                "decisions: the scenario declares no decision variables "
                "(add a decisions: block with path + low/high or choices)"
            ]
        )
    problems = []
    for i, d in enumerate(scenario.decisions):
        values = d.choices if d.choices is not None else [_cast(d, d.low), _cast(d, d.high)]
        for v in values:
            try:
                apply_overrides(scenario, {d.path: v})
            except ScenarioError as exc:
                problems += [f"decisions[{i}] ({d.path} = {v!r}): {p}" for p in exc.problems]
    if problems:
        raise ScenarioError(problems)


def _cast(d: Decision, v: float | None) -> Any:
    return int(round(v)) if d.integer and v is not None else v


def suggest(trial: optuna.Trial, d: Decision) -> Any:
    if d.choices is not None:
        return trial.suggest_categorical(d.path, d.choices)
    if d.integer:
        return trial.suggest_int(d.path, int(d.low), int(d.high), log=d.log)
    return trial.suggest_float(d.path, float(d.low), float(d.high), log=d.log)


def search(
    scenario: Scenario,
    *,
    objectives: Sequence[str] = ("profit",),
    trials: int = 20,
    timeout: float | None = None,
    sampler: str = "tpe",
    sampler_seed: int | None = 0,
    seed: int | None = None,
    replications: int = 3,
    confidence: float = 0.8,
    baseline: Scenario | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]] = (),
    log: Callable[[str], None] | None = None,
    by_period: str | None = None,
    total: float | None = None,
) -> SearchResult:
    """Search the scenario's decisions for the plan maximising ``objectives`` under its targets.

    ``objectives`` are KPI names (``profit``, ``revenue``, ``repurchase_rate`` …), all
    maximised; two or more give a Pareto front. ``trials`` is the number of COMPLETE trials
    the study should have: a resumed study only runs the missing ones, failed and killed trials
    do not count (a run gives up after ``trials`` failures of its own). ``seed`` is the
    simulation seed shared by every trial; ``sampler_seed`` makes the sampler reproducible.
    ``baseline`` is needed by targets relative to the baseline. ``log`` receives what the user
    should know (a resumed study, trials failed); by default Python's logging.

    ``by_period="month"`` makes each decision on a channel budget one decision per calendar
    month, written into the scenario as ``budget.periods``; ``total`` (CNY/day) caps the mean
    daily spend of the budget decisions over the horizon, a constraint like the targets
    (:mod:`optimizers.search_space`).
    """
    _check_arguments(scenario, objectives, confidence, replications, baseline)
    space = search_space(scenario, by_period=by_period, total=total)
    seed = scenario.seed if seed is None else seed
    say = log or _log
    name = study_name or f"{scenario.name}-{'-'.join(objectives)}"
    identity = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash(),
        "baseline_hash": baseline.content_hash() if baseline is not None else None,
        "objectives": list(objectives),
        "replications": replications,
        "seed": seed,
        "confidence": confidence,
    }
    if by_period or total is not None:  # absent otherwise: studies stored before still resume
        identity.update(by_period=by_period, total=total)
    lock = StudyLock(storage, name)
    store = open_storage(storage, lock)
    smp = make_sampler(sampler, seed=sampler_seed, objectives=len(objectives))
    study = _open_study(store, name, smp, len(objectives), lock, identity, trials, say)
    windows = windows_for(scenario.targets)
    with contextlib.ExitStack() as stack:
        ex = executor or stack.enter_context(make_executor(workers=workers))
        base_ev = (
            evaluate(baseline, replications=replications, seed=seed, windows=windows, executor=ex)
            if baseline is not None
            else None
        )
        objective = _Objective(
            scenario,
            space,
            list(objectives),
            replications,
            seed,
            confidence,
            windows,
            base_ev,
            ex,
            use_constraints=sampler != "cmaes",
        )
        _run_trials(study, store, lock, objective, trials, timeout, callbacks, say)
    return summarise(study, scenario, list(objectives), space)


def _log(text: str) -> None:
    log.warning(text)


def _check_arguments(
    scenario: Scenario,
    objectives: Sequence[str],
    confidence: float,
    replications: int,
    baseline: Scenario | None,
) -> None:
    if not objectives:
        raise ValueError("objectives: give at least one KPI to maximise")
    bad = [p for k in objectives if (p := check_kpi_name(k, scenario)) is not None]
    if bad:  # before the study: a typo would otherwise fail every trial
        raise ValueError(f"objective: {'; '.join(bad)}")
    if not 0 < confidence <= 1:
        raise ValueError(f"confidence: must be in (0, 1], got {confidence:g}")
    if replications < 1:
        raise ValueError(f"replications: must be ≥ 1, got {replications}")
    check_decisions(scenario)
    if any(t.relative_to for t in scenario.targets) and baseline is None:
        raise ValueError(
            "baseline: the scenario has targets relative to the baseline; "
            "give the baseline scenario"
        )


def _open_study(
    store: optuna.storages.BaseStorage | None,
    name: str,
    sampler: optuna.samplers.BaseSampler,
    n_objectives: int,
    lock: StudyLock,
    identity: dict[str, Any],
    trials: int,
    say: Callable[[str], None],
) -> optuna.Study:
    """The study to run: a new one, or the stored one of the same name if it is this search."""
    optuna.logging.set_verbosity(logging.WARNING)
    with lock.hold():
        study = optuna.create_study(
            storage=store,
            study_name=name,
            sampler=sampler,
            directions=["maximize"] * n_objectives,
            load_if_exists=True,
        )
        stored = study.user_attrs.get(IDENTITY)
        if stored is None:
            study.set_user_attr(IDENTITY, identity)
    if stored is not None and stored != identity:
        changed = ", ".join(
            f"{k} (stored {stored.get(k)!r}, now {v!r})"
            for k, v in identity.items()
            if stored.get(k) != v
        )
        raise UsageError(
            f"study {name!r}: holds another search ({changed}); resume it with the same "
            "scenario and flags, or choose another --out / --study-name"
        )
    c = counts(study)
    if c.complete or c.running or c.failed:
        say(
            f"resuming study {name!r}: {c.complete} of {trials} trials complete"
            + (f", {c.running} running" if c.running else "")
            + (f", {c.failed} failed (not counted)" if c.failed else "")
        )
    return study


def _run_trials(
    study: optuna.Study,
    store: optuna.storages.BaseStorage | None,
    lock: StudyLock,
    objective: _Objective,
    trials: int,
    timeout: float | None,
    callbacks: Sequence[Callable[[optuna.Study, FrozenTrial], None]],
    say: Callable[[str], None],
) -> None:
    """Run trials until the study has ``trials`` COMPLETE ones, whoever runs them.

    Each trial is taken under the study lock (:func:`optimizers.studies.reserve`); when the
    only missing trials are running in other processes, wait for them: one may fail and free
    its slot, and the study this process reports is then the finished one."""
    start = time.monotonic()
    failures = 0
    while timeout is None or time.monotonic() - start < timeout:
        if failures >= trials:
            say(f"stopping: {failures} trials failed in this run")
            return
        trial, c, stale = reserve(study, store, lock, trials)
        if stale:
            say(
                f"marked {len(stale)} stale trial(s) failed (their process is gone): "
                + ", ".join(f"#{n}" for n in stale)
            )
        if c.complete >= trials:
            return
        if trial is None:
            time.sleep(POLL)
            continue
        frozen = _run_one(study, store, trial, objective, say)
        failures += frozen.state != TrialState.COMPLETE
        for callback in callbacks:
            callback(study, frozen)


def _run_one(
    study: optuna.Study,
    store: optuna.storages.BaseStorage | None,
    trial: optuna.Trial,
    objective: _Objective,
    say: Callable[[str], None],
) -> FrozenTrial:
    """One trial, told COMPLETE or FAIL; anything but :data:`CATCH` fails it and propagates."""
    error = None
    with heartbeat(store, trial):
        try:
            values = objective(trial)
        except CATCH as exc:
            values, error = None, exc
        except BaseException:
            with contextlib.suppress(Exception):
                study.tell(trial, state=TrialState.FAIL)
            raise
    try:
        if error is not None:
            say(f"trial {trial.number} failed: {error}")
            return study.tell(trial, state=TrialState.FAIL)
        return study.tell(trial, values)
    except optuna.exceptions.UpdateFinishedTrialError:
        say(f"trial {trial.number} was marked failed while it ran (its heartbeat was lost)")
        return study.get_trials(deepcopy=True)[trial.number]


class _Objective:
    """One trial: decisions → evaluate with common random numbers → values and constraints."""

    def __init__(
        self,
        scenario,
        space: SearchSpace,
        objectives,
        replications,
        seed,
        confidence,
        windows,
        base_ev,
        executor,
        *,
        use_constraints: bool,
    ):
        self.scenario, self.space, self.objectives = scenario, space, objectives
        self.replications, self.seed, self.confidence = replications, seed, confidence
        self.windows, self.base_ev, self.ex = windows, base_ev, executor
        self.use_constraints = use_constraints  # CMA-ES ignores them (and warns): keep attrs

    def __call__(self, trial: optuna.Trial) -> float | list[float]:
        params = {d.path: suggest(trial, d) for d in self.space.decisions}
        ev = evaluate(
            self.scenario,
            overrides=self.space.overrides(params),
            replications=self.replications,
            seed=self.seed,
            windows=self.windows,
            executor=self.ex,
        )
        values = [kpi_mean(ev, k) for k in self.objectives]
        probs = [r.probability for r in evaluate_targets(self.scenario.targets, ev, self.base_ev)]
        slack = [self.confidence - (p if math.isfinite(p) else 0.0) for p in probs]
        if self.space.total is not None:  # relative excess over the total: ≤ 0 is within it
            spend = self.space.spend(params)
            trial.set_user_attr("spend", spend)
            slack.append(spend / self.space.total - 1.0)
        if self.use_constraints:
            for j, s in enumerate(slack):
                trial.set_constraint(f"target_{j}" if j < len(probs) else "total", s)
        trial.set_user_attr("probabilities", probs)
        trial.set_user_attr("feasible", all(s <= 0 for s in slack))
        return values[0] if len(values) == 1 else values


def kpi_mean(ev: Evaluation, kpi: str) -> float:
    if kpi not in ev.kpis.columns:
        known = ", ".join(sorted(c for c in ev.kpis.columns if "." not in c))
        raise ValueError(f"objective: unknown KPI {kpi!r} (known: {known}, or KPI.scope)")
    return float(ev.kpis[kpi].mean())


# --------------------------------------------------------------------------------------------
# Reading a study back
# --------------------------------------------------------------------------------------------
def trials_table(
    study: optuna.Study, objectives: Sequence[str], targets: Sequence[str] = ()
) -> pd.DataFrame:
    """One row per trial: number, state, objective values, decisions, probabilities, feasible."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name}
        vals = t.values or [np.nan] * len(objectives)
        row.update(dict(zip(objectives, vals, strict=True)))
        row.update(t.params)
        probs = t.user_attrs.get("probabilities", [])
        for j, p in enumerate(probs):
            label = targets[j] if j < len(targets) else f"target_{j}"
            row[f"P({label})"] = p
        if "spend" in t.user_attrs:  # a search with a total: the budget decisions' CNY/day
            row["spend_per_day"] = t.user_attrs["spend"]
        row["feasible"] = (
            bool(t.user_attrs.get("feasible", False)) and t.state == TrialState.COMPLETE
        )
        dur = t.duration
        row["seconds"] = dur.total_seconds() if dur is not None else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def pareto_front(table: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    """Feasible trials no other feasible trial beats on every objective (all maximised)."""
    feas = table[table["feasible"]].reset_index(drop=True)
    vals = feas[list(objectives)].to_numpy(dtype=float)
    keep = []
    for v in vals:
        dominated = np.any(np.all(vals >= v, axis=1) & np.any(vals > v, axis=1))
        keep.append(not dominated)
    return feas[np.array(keep, dtype=bool)] if len(feas) else feas


def summarise(
    study: optuna.Study,
    scenario: Scenario,
    objectives: list[str],
    space: SearchSpace | None = None,
) -> SearchResult:
    """The study as a :class:`SearchResult`: the best feasible trial's decisions (named as
    the trials table names them: ``PATH@YYYY-MM`` by period) applied to the scenario."""
    space = space or search_space(scenario)
    labels = [t.label or t.kpi for t in scenario.targets]
    table = trials_table(study, objectives, labels)
    feas = table[table["feasible"]] if len(table) else table
    best = best_values = None
    sc = scenario
    if len(feas):
        row = feas.loc[feas[objectives[0]].idxmax()]
        best = {d.path: _plain(row[d.path]) for d in space.decisions}
        best_values = [float(row[k]) for k in objectives]
        sc = apply_overrides(scenario, space.overrides(best))
    closest = None
    done = table[table["state"] == "COMPLETE"] if len(table) else table
    if best is None and len(done):
        # Nearest to feasible: within the total, the highest worst-target probability, then
        # the objective.
        probs = done[[c for c in done.columns if c.startswith("P(")]]
        worst = probs.min(axis=1) if probs.shape[1] else pd.Series(1.0, index=done.index)
        within = (
            done["spend_per_day"] <= space.total * (1 + 1e-9)
            if space.total is not None and "spend_per_day" in done
            else pd.Series(True, index=done.index)
        )
        row = done.loc[
            max(done.index, key=lambda i: (within[i], worst[i], done.loc[i, objectives[0]]))
        ]
        closest = {d.path: _plain(row[d.path]) for d in space.decisions}
        sc = apply_overrides(scenario, space.overrides(closest))
    front = pareto_front(table, objectives) if len(table) else table
    return SearchResult(study, objectives, table, best, best_values, front, sc, closest)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
