"""Verifying an optimiser's answer exactly like ``channelsim compare`` reports plans.

An optimiser's own evaluations use few replications; its recommendation is judged again with
full replications, on common random numbers, against the baseline and against the plan it
started from (:func:`sim.experiments.compare`), and the comparison is written with
:func:`sim.reports.write_comparison` (``verification/`` inside the optimiser's results dir).

    >>> from sim.scenario import load_scenario
    >>> small = {"market.customers": 800, "horizon.days": 30}
    >>> start = load_scenario("scenarios/baseline.yaml", overrides=small)
    >>> plan = load_scenario("scenarios/baseline.yaml",
    ...                      overrides={**small, "channels.jd.budget.paid": 0})
    >>> v = verify(plan, start, baseline=None, replications=2, seed=1, workers=1)
    >>> v.plan_name, list(v.comparison.names)
    ('baseline-optimised', ['baseline', 'baseline-optimised'])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optimizers.judging import restrict_comparison
from sim.experiments import HEADLINE, Comparison, compare, diff_table
from sim.reports import fmt, target_line, write_comparison
from sim.scenario import Scenario


@dataclass
class Verification:
    comparison: Comparison
    start_name: str
    plan_name: str
    baseline_name: str | None
    vs_start: pd.DataFrame  # paired differences optimised − start, every KPI
    # Failed replications (plan, replication, error); the comparison is on the ones all completed.
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> dict:
        d = self.vs_start.set_index("kpi")
        return {
            "replications": self.comparison.replications,
            "seed": self.comparison.seed,
            "baseline": self.baseline_name,
            "start": self.start_name,
            "plan": self.plan_name,
            "vs_start": {
                k: {
                    c: _num(r[c])
                    for c in ("baseline", "value", "diff", "relative", "paired_low", "paired_high")
                }
                for k, r in d.iterrows()
                if k in HEADLINE
            },
            "targets": {n: [t.to_dict() for t in ts] for n, ts in self.comparison.targets.items()},
            "failures": self.failures.to_dict("records"),
        }


def _num(x) -> float | None:
    x = float(x)
    return x if x == x else None


def verify(
    plan: Scenario,
    start: Scenario,
    *,
    baseline: Scenario | None,
    replications: int,
    seed: int,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Verification:
    """Full-replication comparison: baseline (if any), the starting plan, the recommendation.
    ``progress(done, planned)`` counts replications as they finish (a progress bar)."""
    # Renamed without a re-validation round trip: model_copy keeps the validated parts as they are.
    plan = plan.model_copy(update={"name": f"{start.name}-optimised"})
    if baseline is not None and baseline.name in (start.name, plan.name):
        baseline = baseline.model_copy(update={"name": f"{baseline.name}-baseline"})
    first = baseline if baseline is not None else start
    plans = [start, plan] if baseline is not None else [plan]
    cmp = compare(
        first,
        plans,
        replications=replications,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        cache=False,
        progress=progress,
    )
    cmp, failures = restrict_comparison(cmp)  # like for like: replications all completed
    s_name, p_name = cmp.names[-2], cmp.names[-1]
    vs_start = diff_table(
        cmp.evaluations[s_name], cmp.evaluations[p_name], name=p_name, confidence=cmp.confidence
    )
    return Verification(
        cmp, s_name, p_name, cmp.names[0] if baseline is not None else None, vs_start, failures
    )


def write_verification(v: Verification, out: Path, **manifest_extra) -> None:
    """The compare-style results dir (report.html, report.md, summary.json …) under ``out``."""
    write_comparison(v.comparison, out, command_name="optimize-verification", **manifest_extra)


def markdown(v: Verification) -> str:
    """Headline KPIs: baseline, start, recommendation, Δ vs start and vs baseline [95 % CI]."""
    cmp = v.comparison
    sums = {n: cmp.evaluations[n].summary(cmp.confidence) for n in cmp.names}
    vb = cmp.diffs.set_index(["plan", "kpi"]) if len(cmp.diffs) else None
    vs = v.vs_start.set_index("kpi")
    head = [
        "KPI",
        *([v.baseline_name] if v.baseline_name else []),
        "start",
        "recommended",
        "Δ vs start [95% CI]",
        *(["Δ vs baseline [95% CI]"] if v.baseline_name else []),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in HEADLINE:
        if k not in sums[v.plan_name].index:
            continue
        cells = [k]
        if v.baseline_name:
            cells.append(fmt(sums[v.baseline_name].loc[k, "mean"]))
        cells += [fmt(sums[v.start_name].loc[k, "mean"]), fmt(sums[v.plan_name].loc[k, "mean"])]
        cells.append(_delta(vs.loc[k]) if k in vs.index else "n/a")
        if v.baseline_name:
            key = (v.plan_name, k)
            cells.append(_delta(vb.loc[key]) if vb is not None and key in vb.index else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for name in dict.fromkeys((v.start_name, v.plan_name)):
        for t in cmp.targets.get(name, []):
            lines.append(f"- target ({name}): {target_line(t)}")
    for r in v.failures.to_dict("records"):
        lines.append(f"- failed: {r['plan']} replication {r['replication']}: {r['error']}")
    if len(v.failures):
        lines.append("- every figure above is on the replications that every scenario completed")
    lines.append(
        f"\n{cmp.replications} replications per scenario, seed {cmp.seed}, common "
        "random numbers; the full comparison report (rendered by `sim.reports.report`, like "
        "`channelsim compare`) is `verification/report.html`."
    )
    return "\n".join(lines)


def _delta(r: pd.Series) -> str:
    return f"{fmt(r['diff'])} [{fmt(r['paired_low'])}, {fmt(r['paired_high'])}]"
