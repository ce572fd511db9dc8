"""Plans against a baseline, with uncertainty: paired differences, targets, adaptive precision.

Every scenario of a comparison runs with the same seed, so replication *r* of each plan and of
the baseline share their random streams (common random numbers). A plan's effect on a KPI is
then estimated pair by pair: ``d_r = plan_r − baseline_r`` and the **paired** t interval of the
mean of ``d``. The **unpaired** (Welch) interval, which ignores the pairing, is reported beside
it: with CRN the paired one is far narrower, because the luck both runs share cancels.

With ``precision=0.02`` replications are added in batches until every headline KPI of every
scenario has a 95 % half-width below 2 % of its |mean|, or ``max_replications`` is reached;
:attr:`Comparison.precision` says which happened. With ``until_decided=True`` they are added
until every target's verdict is decided (:mod:`sim.experiments.decision`, which says how the
looks keep the stated confidence), or the cap is reached; :attr:`Comparison.decision` says which
happened and which targets stayed undecided. Either way replication indices continue (R, R + 1,
…) on the same seed for every scenario, so the pairs stay paired.

    >>> from sim.scenario import load_scenario
    >>> small = {"market.customers": 1500, "horizon.days": 60}
    >>> base = load_scenario("scenarios/baseline.yaml", overrides=small)
    >>> plan = load_scenario("scenarios/baseline.yaml", overrides={
    ...     **small, "name": "more_paid", "channels.tmall.budget.paid": 44000})
    >>> cmp = compare(base, [plan], replications=4, seed=7, workers=1, cache=False)
    >>> row = cmp.diffs.query("plan == 'more_paid' and kpi == 'revenue'").iloc[0]
    >>> bool(row["paired_high"] - row["paired_low"] < row["welch_high"] - row["welch_low"])
    True
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.cache import DEFAULT_DIR, ResultCache
from sim.experiments.decision import decision_report, look_confidence, looks, next_look
from sim.experiments.evaluation import Evaluation, evaluate, make_executor
from sim.experiments.targets import (
    REQUIRED_PROBABILITY,
    TargetResult,
    evaluate_targets,
    mean_interval,
    windows_for,
)
from sim.experiments.uncertainty import spread_sources
from sim.experiments.undefined import kpi_entries
from sim.scenario import Scenario, load_scenario

#: KPIs reported first (tables, the adaptive-precision rule, the printed headline).
HEADLINE: tuple[str, ...] = (
    "revenue",
    "revenue.online",
    "orders",
    "buyers",
    "new_customers",
    "conversion_rate",
    "aov",
    "repurchase_rate",
    "repurchase_rate.private",
    "roi_paid",
    "roi_overall",
    "cost_share",
    "satisfaction",
    "profit",
    "private_pool",
    "customer_overlap",
    "traffic_concentration",
)


@dataclass
class Comparison:
    """A baseline and its plans, evaluated on the same seed and replication indices."""

    names: list[str]  # baseline first; unique labels
    evaluations: dict[str, Evaluation]
    targets: dict[str, list[TargetResult]]
    diffs: pd.DataFrame  # plan, kpi, baseline, value, diff, relative, paired_*, welch_*, n
    seed: int
    precision: dict[str, Any] | None = None
    cache_hits: int = 0
    confidence: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] | None = None  # what until_decided reached (None: not asked)
    required_probability: float = REQUIRED_PROBABILITY

    @property
    def baseline(self) -> str:
        return self.names[0]

    @property
    def plans(self) -> list[str]:
        return self.names[1:]

    @property
    def replications(self) -> int:
        return min(ev.replications for ev in self.evaluations.values())

    def summary(self) -> dict[str, Any]:
        """Plain data for ``summary.json``: per scenario KPIs, targets and paired differences."""
        out: dict[str, Any] = {
            "baseline": self.baseline,
            "plans": self.plans,
            "seed": self.seed,
            "replications": self.replications,
            "confidence": self.confidence,
            "required_probability": self.required_probability,
            "precision": self.precision,
            "decision": self.decision,
            "scenarios": {},
        }
        for name in self.names:
            ev = self.evaluations[name]
            d = self.diffs[self.diffs["plan"] == name].set_index("kpi")
            out["scenarios"][name] = {
                "role": "baseline" if name == self.baseline else "plan",
                "scenario": ev.scenario.name,
                "scenario_hash": ev.scenario.content_hash(),
                "replications": ev.replications,
                "kpis": kpi_entries(ev.kpis, self.confidence),
                "targets": [t.to_dict() for t in self.targets.get(name, [])],
                "paired_diffs": {str(k): _finite(r, DIFF_COLUMNS) for k, r in d.iterrows()},
            }
            sources = spread_sources(ev.scenario, ev.seed, ev.kpis, HEADLINE)  # parameters vs luck
            if sources is not None:
                out["scenarios"][name]["spread_sources"] = sources
        return out


DIFF_COLUMNS = (
    "baseline",
    "value",
    "diff",
    "relative",
    "paired_low",
    "paired_high",
    "welch_low",
    "welch_high",
    "n",
)


def _finite(row: pd.Series, columns: Sequence[str]) -> dict[str, float]:
    """The finite numbers of ``row``; an undefined one is left out, not written as null."""
    return {c: float(row[c]) for c in columns if math.isfinite(float(row[c]))}


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------
def paired_interval(
    plan: pd.Series, base: pd.Series, confidence: float = 0.95
) -> tuple[float, float, float, int]:
    """Mean of ``plan_r − base_r`` over replications present (and finite) in both, t interval.

    Both series are indexed by replication; returns (mean, low, high, pairs).
    """
    d = (plan - base).dropna()
    d = d[np.isfinite(d.to_numpy(dtype=float))]
    mean, lo, hi = mean_interval(d.to_numpy(dtype=float), confidence)
    return mean, lo, hi, len(d)


def welch_interval(
    plan: pd.Series, base: pd.Series, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Difference of means with the Welch (unequal variances, unpaired) t interval."""
    a = plan.to_numpy(dtype=float)
    b = base.to_numpy(dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        m = a.mean() - b.mean() if len(a) and len(b) else float("nan")
        return float(m), float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return diff, diff - half, diff + half


def diff_table(
    base: Evaluation,
    plan: Evaluation,
    *,
    name: str,
    confidence: float = 0.95,
    kpis: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Paired and Welch intervals of plan − baseline for every KPI both evaluations have."""
    b = base.kpis.set_index("replication")
    p = plan.kpis.set_index("replication")
    names = [k for k in (kpis or p.columns) if k in b.columns and k in p.columns]
    rows = []
    for k in names:
        diff, lo, hi, n = paired_interval(p[k], b[k], confidence)
        _, wlo, whi = welch_interval(p[k], b[k], confidence)
        bm, pm = float(b[k].mean()), float(p[k].mean())
        rows.append(
            {
                "plan": name,
                "kpi": k,
                "baseline": bm,
                "value": pm,
                "diff": diff,
                "relative": diff / abs(bm) if bm else float("nan"),
                "paired_low": lo,
                "paired_high": hi,
                "welch_low": wlo,
                "welch_high": whi,
                "n": n,
            }
        )
    return pd.DataFrame(rows, columns=["plan", "kpi", *DIFF_COLUMNS])


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------
def compare(
    baseline: str | os.PathLike | Scenario,
    plans: Sequence[str | os.PathLike | Scenario],
    *,
    replications: int = 10,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: float | None = None,
    max_replications: int = 200,
    cache: bool | str | os.PathLike | ResultCache = True,
    overrides: dict[str, Any] | None = None,
    keep_daily: bool = True,
    confidence: float = 0.95,
    until_decided: bool = False,
    required_probability: float = REQUIRED_PROBABILITY,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Evaluate a baseline and plans on common random numbers and compare them.

    ``seed`` defaults to the baseline's; every scenario uses it. ``cache`` is ``True`` for
    ``results/.cache``, a directory, a :class:`ResultCache`, or ``False``. ``overrides``
    (dotted paths) apply to every scenario, e.g. a smaller market for a quick look.
    ``required_probability`` is the P(meet) a target must be shown to reach to be ``met``.
    ``until_decided`` adds replications, up to ``max_replications``, until every target is
    decided (with ``precision`` too: until both hold). ``progress(done, planned)`` is called
    as replications finish: ``planned`` (scenarios × replications so far asked for) grows when
    a batch is added.
    """
    if replications < 1:
        raise ValueError(f"replications must be ≥ 1, got {replications}")
    if precision is not None and not 0 < precision < 1:
        raise ValueError(f"precision must be in (0, 1), got {precision}")
    if not 0 < required_probability < 1:
        raise ValueError(f"required probability must be in (0, 1), got {required_probability}")
    scenarios = [_load(s, overrides) for s in (baseline, *plans)]
    names = _unique([s.name for s in scenarios])
    seed = scenarios[0].seed if seed is None else seed
    windows = windows_for(t for s in scenarios for t in s.targets)
    store = _cache(cache)
    cap = max(max_replications, replications)
    schedule = looks(replications, cap) if until_decided else [replications]
    wilson = look_confidence(confidence, len(schedule)) if until_decided else confidence
    evals: dict[str, Evaluation] = {}
    report: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], len(names) * (n + batch))

    with make_executor(workers=workers, scheduler=scheduler) as ex:
        n, batch = 0, replications
        while True:
            for name, sc in zip(names, scenarios, strict=True):
                ev = evaluate(
                    sc,
                    replications=batch,
                    seed=seed,
                    windows=windows,
                    keep_daily=keep_daily,
                    executor=ex,
                    first_replication=n,
                    cache=store,
                    progress=tick,
                )
                evals[name] = merge_evaluations(evals[name], ev) if name in evals else ev
            n += batch
            targets = {
                name: evaluate_targets(
                    sc.targets,
                    evals[name],
                    evals[names[0]],
                    confidence=wilson,
                    required_probability=required_probability,
                )
                for name, sc in zip(names, scenarios, strict=True)
            }
            if precision is not None:
                report = precision_report(evals, precision, cap, confidence)
            if until_decided:
                decision = decision_report(
                    targets, replications=n, cap=cap, confidence=confidence, n_looks=len(schedule)
                )
            precise = report is None or report["reached"]
            if (precise and (decision is None or decision["decided"])) or n >= cap:
                break
            if not until_decided:
                batch = min(replications, cap - n)
            else:  # the next look that could decide something (any look while imprecise)
                open_ = [t for ts in targets.values() for t in ts] if precise else []
                batch = next_look(n, schedule, open_) - n
    base_ev = evals[names[0]]
    diffs = (
        pd.concat(
            [
                diff_table(base_ev, evals[name], name=name, confidence=confidence)
                for name in names[1:]
            ],
            ignore_index=True,
        )
        if len(names) > 1
        else pd.DataFrame(columns=["plan", "kpi", *DIFF_COLUMNS])
    )
    return Comparison(
        names=names,
        evaluations=evals,
        targets=targets,
        diffs=diffs,
        seed=seed,
        precision=report,
        confidence=confidence,
        cache_hits=sum(ev.cache_hits for ev in evals.values()),
        decision=decision,
        required_probability=required_probability,
    )


def precision_report(
    evals: dict[str, Evaluation], precision: float, cap: int, confidence: float = 0.95
) -> dict[str, Any]:
    """Worst relative half-width over the headline KPIs of every scenario, and whether it is
    under ``precision`` (KPIs whose mean is 0 or undefined are listed, not judged)."""
    worst = ("", "", 0.0)
    skipped = []
    for name, ev in evals.items():
        s = ev.summary(confidence)
        for k in HEADLINE:
            if k not in s.index:
                continue
            m, lo, hi = s.loc[k, ["mean", "ci_low", "ci_high"]]
            if not (math.isfinite(m) and m != 0):
                skipped.append(f"{name}:{k}")
                continue
            rel = (hi - lo) / 2 / abs(m) if math.isfinite(hi - lo) else math.inf
            if rel >= worst[2]:
                worst = (name, k, float(rel))
    n = min(ev.replications for ev in evals.values())
    reached = worst[2] < precision
    return {
        "precision": precision,
        "reached": bool(reached),
        "replications": n,
        "max_replications": cap,
        "worst_scenario": worst[0],
        "worst_kpi": worst[1],
        "worst_relative_half_width": worst[2],
        "not_judged": skipped,
        "stopped_because": "precision reached"
        if reached
        else ("replication cap reached" if n >= cap else "not finished"),
    }


def merge_evaluations(a: Evaluation, b: Evaluation) -> Evaluation:
    """Replications of ``a`` followed by those of ``b`` (same scenario, seed and windows)."""

    def cat(x, y):
        if x is None or y is None:
            return None
        return pd.concat([x, y], ignore_index=True)

    return Evaluation(
        scenario=a.scenario,
        seed=a.seed,
        kpis=cat(a.kpis, b.kpis),
        window_kpis={w: cat(a.window_kpis[w], b.window_kpis[w]) for w in a.window_kpis},
        daily=cat(a.daily, b.daily),
        journeys=cat(a.journeys, b.journeys),
        errors={**a.errors, **b.errors},
        flows=cat(a.flows, b.flows),
        cohorts=cat(a.cohorts, b.cohorts),
        cache_hits=a.cache_hits + b.cache_hits,
        inventory=cat(a.inventory, b.inventory),
        market=cat(a.market, b.market),
        decisions=cat(a.decisions, b.decisions),
        ab_tests=cat(a.ab_tests, b.ab_tests),
    )


def _load(s: str | os.PathLike | Scenario, overrides: dict[str, Any] | None) -> Scenario:
    if isinstance(s, Scenario):
        from sim.scenario import apply_overrides

        return apply_overrides(s, overrides or {})
    return load_scenario(Path(s), overrides=overrides)


def _unique(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        label, i = n, 2
        while label in out:
            label, i = f"{n}#{i}", i + 1
        out.append(label)
    return out


def _cache(cache: bool | str | os.PathLike | ResultCache) -> ResultCache | None:
    if cache is False or cache is None:
        return None
    if cache is True:
        return ResultCache(DEFAULT_DIR)
    return cache if isinstance(cache, ResultCache) else ResultCache(cache)


def judge_run_targets(
    scenario: Scenario,
    ev: Evaluation,
    *,
    baseline: str | os.PathLike | Scenario | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    cache: bool | str | os.PathLike = False,
    required_probability: float = REQUIRED_PROBABILITY,
    progress: Callable[[int], None] | None = None,
) -> list[TargetResult]:
    """Targets of one evaluated scenario (``channelsim run``). Relative targets need a baseline:
    ``baseline`` or else the scenario's ``extends``; it runs with the same seed, replication
    indices, windows and ``overrides`` (common random numbers)."""
    if not scenario.targets:
        return []
    base_ev = None
    if any(t.relative_to for t in scenario.targets):
        source = baseline if baseline is not None else scenario.extends
        if source is None:
            rel = next(t.kpi for t in scenario.targets if t.relative_to)
            raise ValueError(
                f"target {rel} is relative_to baseline but the scenario extends "
                "no baseline: give --baseline PATH"
            )
        first = int(ev.kpis["replication"].min())
        base_ev = evaluate(
            _load(source, overrides),
            replications=ev.replications,
            seed=ev.seed,
            windows=windows_for(scenario.targets),
            workers=workers,
            scheduler=scheduler,
            first_replication=first,
            cache=_cache(cache),
            progress=progress,
        )
    return evaluate_targets(
        scenario.targets, ev, base_ev, required_probability=required_probability
    )
