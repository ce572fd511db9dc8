"""The recommendation: the best *verified* plan among the start and every accepted candidate.

The loop judges points with few replications; :func:`verify_budget` evaluates the start, every
candidate the loop accepted and the baseline again with full replications on common random
numbers (:func:`sim.experiments.compare`, so the targets' verdicts come from the same code as
``channelsim compare``), on the replications that every one of them completed
(:func:`optimizers.judging.restrict_comparison`). A plan meets the constraints when every
constraint holds on the verified means and — unless the targets were dropped as constraints —
every target's verdict is ``met``. The recommendation is the best plan that meets them; when
none does, the plan closest to meeting them (least total relative shortfall, then the
objective), said to be NOT feasible. :class:`BudgetChoice` says in words which case it is
(:attr:`BudgetChoice.status`, :attr:`BudgetChoice.findings`), including what meeting the
constraints costs in the objective.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from optimizers.budget.metrics import simulated_point
from optimizers.budget.split import BudgetResult
from optimizers.judging import meets, restrict_comparison, target_name
from optimizers.response import spend_overrides
from optimizers.verification import Verification
from sim.experiments import Comparison, Evaluation, TargetResult, compare, diff_table
from sim.scenario import Scenario, apply_overrides


@dataclass
class Judged:
    """One verified plan: its objective, every constraint and target, whether it is feasible."""

    label: str  # "start" or "iteration k"
    name: str  # its name in the comparison
    spend: dict[str, float]
    value: float  # objective, mean over the common replications
    per_replication: pd.Series  # the objective per replication
    checks: list[dict[str, Any]]  # constraints (targets by their verdict when they count)
    targets: list[TargetResult]
    feasible: bool

    @property
    def failing(self) -> list[str]:
        """What fails, in words: ``roi_paid.tmall ≥ 3 (found 2.41)``, ``target …: missed``."""
        out = []
        for c in self.checks:
            if c["holds"]:
                continue
            if "verdict" in c:
                out.append(f"{c['constraint']}: {c['verdict']}{c.get('why', '')}")
            else:
                out.append(
                    f"{c['constraint']} {c['sense']} {c['limit']:g} (found {c['value']:.4g})"
                )
        return out

    @property
    def only_undecided(self) -> bool:
        """Everything that fails is a target the replications could not decide yet."""
        bad = [c for c in self.checks if not c["holds"]]
        return bool(bad) and all(c.get("verdict") == "undecided" for c in bad)

    def to_decide(self) -> int | None:
        """Replications that would decide every undecided target (the largest estimate)."""
        need = [c.get("to_decide") for c in self.checks if c.get("verdict") == "undecided"]
        need = [n for n in need if n]
        return max(need) if need else None

    @property
    def violation(self) -> float:
        return float(sum(c["violation"] for c in self.checks))


@dataclass
class BudgetChoice:
    """The verified recommendation and how it compares with the start and the other plans."""

    objective: str
    chosen: Judged
    start: Judged
    judged: list[Judged]
    status: str  # improved | start_best | start_fixed | none_feasible
    findings: list[str]  # the verdict in sentences, most important first
    comparison: Comparison  # every verified plan, on the common replications
    verification: Verification  # baseline, start and the recommendation (compare-style)
    failures: pd.DataFrame  # failed replications of the verification
    target_constraints: bool

    @property
    def feasible(self) -> bool:
        return self.chosen.feasible

    @property
    def replications(self) -> int:
        return len(self.chosen.per_replication)

    def table(self) -> pd.DataFrame:
        """One row per verified plan: objective, feasible, what fails, spends (candidates.csv)."""
        rows = []
        for j in self.judged:
            rows.append(
                {
                    "plan": j.label,
                    "recommended": j is self.chosen,
                    self.objective: j.value,
                    "feasible": j.feasible,
                    "fails": "; ".join(j.failing),
                    **{f"target: {target_name(t)}": t.verdict for t in j.targets},
                    **j.spend,
                }
            )
        return pd.DataFrame(rows)

    def headline(self) -> str:
        """The one-line verdict: never "feasible" unless verification shows every constraint
        holding and every target met."""
        if self.chosen.feasible:
            return f"verified with {self.replications} replications: every constraint holds" + (
                " and every target is met" if self.target_constraints else ""
            )
        bad = [c for c in self.chosen.checks if not c["holds"]]
        limits = [c["constraint"] for c in bad if "verdict" not in c]
        by_verdict: dict[str, int] = {}
        for c in bad:
            if "verdict" in c:
                by_verdict[c["verdict"]] = by_verdict.get(c["verdict"], 0) + 1
        parts = ([f"fails {', '.join(limits)}"] if limits else []) + [
            f"{n} target(s) {v}" for v, n in by_verdict.items()
        ]
        return f"NOT feasible at verification ({self.replications} replications): " + "; ".join(
            parts
        )

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "feasible": self.feasible,
            "findings": self.findings,
            "recommended": self.chosen.label,
            "replications": self.replications,
            "target_constraints": self.target_constraints,
            "plans": [
                {
                    "plan": j.label,
                    "value": _num(j.value),
                    "feasible": j.feasible,
                    "fails": j.failing,
                    "spend": j.spend,
                    "targets": [
                        {"target": target_name(t), "verdict": t.verdict} for t in j.targets
                    ],
                }
                for j in self.judged
            ],
            "failures": self.failures.to_dict("records"),
        }


def verify_budget(
    res: BudgetResult,
    *,
    baseline: Scenario | None,
    replications: int,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    target_constraints: bool = True,
) -> BudgetChoice:
    """Verify the start and every accepted candidate of ``res``; the best verified plan."""
    if res.start_scenario is None or res.problem is None:
        raise ValueError("verify_budget: needs a BudgetResult from optimize_budget")
    plans = _plans(res)
    if baseline is not None and baseline.name in {sc.name for _, _, sc in plans}:
        baseline = baseline.model_copy(update={"name": f"{baseline.name}-baseline"})
    scenarios = [sc for _, _, sc in plans]
    cmp = compare(
        baseline if baseline is not None else scenarios[0],
        scenarios if baseline is not None else scenarios[1:],
        replications=replications,
        seed=res.seed if seed is None else seed,
        workers=workers,
        scheduler=scheduler,
        cache=False,
    )
    cmp, failures = restrict_comparison(cmp)
    offset = 1 if baseline is not None else 0
    base_ev = cmp.evaluations[cmp.names[0]] if baseline is not None else None
    judged = [
        _judge(label, cmp.names[k + offset], spend, cmp, res, base_ev, target_constraints)
        for k, (label, spend, _) in enumerate(plans)
    ]
    chosen, start = _choose(judged), judged[0]
    status, findings = _findings(judged, chosen, res.objective, replications)
    keep = cmp.names[:offset] + list(dict.fromkeys([start.name, chosen.name]))
    sub = dataclasses.replace(
        cmp,
        names=keep,
        evaluations={n: cmp.evaluations[n] for n in keep},
        targets={n: cmp.targets[n] for n in keep},
        diffs=cmp.diffs[cmp.diffs["plan"].isin(keep)].reset_index(drop=True),
    )
    vs_start = diff_table(
        cmp.evaluations[start.name],
        cmp.evaluations[chosen.name],
        name=chosen.name,
        confidence=cmp.confidence,
    )
    base_name = cmp.names[0] if baseline is not None else None
    ver = Verification(sub, start.name, chosen.name, base_name, vs_start, failures)
    return BudgetChoice(
        res.objective,
        chosen,
        start,
        judged,
        status,
        findings,
        cmp,
        ver,
        failures,
        target_constraints,
    )


def _plans(res: BudgetResult) -> list[tuple[str, dict[str, float], Scenario]]:
    """``(label, spend, scenario)`` of the start and each distinct accepted candidate."""
    start = res.start_scenario
    assert start is not None
    plans = [("start", dict(res.start_spend), start)]
    seen = {tuple(res.start_spend.values())}
    for it, raw in res.candidates:
        spend = {k: round(v, 2) for k, v in raw.items()}  # as --set applies it (to the fen)
        if tuple(spend.values()) in seen:
            continue
        seen.add(tuple(spend.values()))
        sc = apply_overrides(start, spend_overrides(res.levers, list(spend.values())))
        name = f"{start.name}-iteration-{it}"
        plans.append((f"iteration {it}", spend, sc.model_copy(update={"name": name})))
    return plans


def _judge(
    label: str,
    name: str,
    spend: dict[str, float],
    cmp: Comparison,
    res: BudgetResult,
    base_ev: Evaluation | None,
    target_constraints: bool,
) -> Judged:
    """Constraints on the verified means; targets by their verdict (compare's)."""
    prob = res.problem
    ev = cmp.evaluations[name]
    x = np.array([spend[lv.name] for lv in res.levers])
    pt = simulated_point(ev, prob, x, base_ev)
    checks = [c for c in pt.checks if not c["constraint"].startswith("target: ")]
    targets = cmp.targets.get(name, [])
    if target_constraints:
        checks += [_target_row(t) for t in targets]
    per_rep = _objective_per_replication(ev.kpis, res, x)
    return Judged(
        label,
        name,
        spend,
        float(per_rep.mean()),
        per_rep,
        checks,
        targets,
        all(c["holds"] for c in checks),
    )


def _target_row(t: TargetResult) -> dict[str, Any]:
    """A constraint row for a target judged by its verdict; the violation is the estimate's
    relative shortfall (1 when the estimate is undefined)."""
    est, bound = t.estimate, t.threshold
    if not (isinstance(est, float | int) and math.isfinite(est)):
        short = 1.0
    else:
        gap = (bound - est) if t.bound == "at_least" else (est - bound)
        short = max(0.0, gap) / max(abs(bound), 1e-9)
    to_decide = getattr(t, "replications_to_decide", None)
    reason = getattr(t, "reason", "")
    why = ""
    if t.verdict == "undecided" and to_decide:
        why = f" (≈ {to_decide} replications would decide it)"
    elif t.verdict == "undefined" and reason:
        why = f" ({reason})"
    return {
        "constraint": f"target: {target_name(t)}",
        "sense": "≥" if t.bound == "at_least" else "≤",
        "limit": bound,
        "value": est,
        "holds": meets(t),
        "violation": 0.0 if meets(t) else short,
        "verdict": t.verdict,
        "p_meet": t.probability,
        "to_decide": to_decide,
        "why": why,
    }


def _objective_per_replication(kpis: pd.DataFrame, res: BudgetResult, x: np.ndarray) -> pd.Series:
    k = kpis.set_index("replication")
    if res.objective == "revenue":
        return k["revenue"].astype(float)
    return k["profit"].astype(float) - res.problem.days * res.problem.fixed_cost(x)


def _choose(judged: list[Judged]) -> Judged:
    """Best feasible plan (the start wins ties); else the one closest to feasible."""
    feasible = [j for j in judged if j.feasible]
    if feasible:
        return max(feasible, key=lambda j: (j.value, j is judged[0]))
    return min(judged, key=lambda j: (j.violation, -j.value))


def _findings(
    judged: list[Judged], chosen: Judged, objective: str, replications: int
) -> tuple[str, list[str]]:
    start = judged[0]
    n_cand = len(judged) - 1
    out: list[str] = []
    if not start.feasible:
        out.append("The start violates: " + "; ".join(start.failing) + ".")
    if chosen.feasible and chosen is start:
        status = "start_best"
        out.append(
            f"Nothing beats the start under the constraints: none of the {n_cand} accepted "
            f"candidate(s) verified better than the start while meeting every constraint."
        )
    elif chosen.feasible:
        status = "improved" if start.feasible else "start_fixed"
        out.append(
            f"Recommended: {chosen.label}, which meets every constraint; {objective} "
            f"{_delta(chosen, start)} vs the start."
        )
        if not start.feasible:
            cost = start.value - chosen.value
            out.append(
                f"Meeting the constraints {'costs' if cost > 0 else 'gains'} "
                f"{abs(cost):,.0f} CNY of {objective} against the start ({start.value:,.0f} "
                f"→ {chosen.value:,.0f})."
            )
    else:
        status = "none_feasible"
        out.append(
            f"No verified plan meets every constraint ({len(judged)} plans, {replications} "
            f"replications each). The one closest to meeting them is {chosen.label}; it "
            "fails: " + "; ".join(chosen.failing) + "."
        )
        if chosen.only_undecided:
            need = chosen.to_decide()
            out.append(
                f"Its only failures are targets that {replications} replications cannot decide "
                "(undecided, not missed)"
                + (f": rerun with --verify-replications {need} or more." if need else ".")
            )
    best_any = max(judged, key=lambda j: j.value)
    said = best_any is start and status == "start_fixed"  # the cost line above says it
    if best_any is not chosen and best_any.value > chosen.value and not said:
        out.append(
            f"Trade-off: the best verified plan ignoring the constraints is {best_any.label} "
            f"({objective} {best_any.value:,.0f}, fails: {'; '.join(best_any.failing)}); "
            f"holding to them costs {best_any.value - chosen.value:,.0f} CNY."
        )
    return status, out


def _delta(a: Judged, b: Judged) -> str:
    """Paired difference a − b of the objective with its 95 % t interval."""
    d = (a.per_replication - b.per_replication).dropna().to_numpy(dtype=float)
    mean = float(d.mean())
    if len(d) < 2 or not np.isfinite(d).all():
        return f"{mean:+,.0f} CNY"
    half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return f"{mean:+,.0f} CNY [95% CI {mean - half:+,.0f}, {mean + half:+,.0f}]"


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
