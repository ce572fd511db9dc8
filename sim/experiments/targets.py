"""Targets: thresholds on KPIs, judged over replications with their uncertainty.

A target (``sim.scenario.Target``) names a KPI, an optional ``[start, end)`` window in days from
the horizon start (dates are converted to days when the scenario loads), an optional
``relative_to: baseline`` and one bound, ``at_least`` or ``at_most``.

For each target :func:`evaluate_targets` reports

* the **estimate**: the mean over replications of the KPI (absolute targets) or of the paired
  ratio plan ÷ baseline of replication *r* with replication *r* (relative targets: same seed,
  same window, same random streams), with its t interval;
* the **probability of meeting it**, P(meet): the share of replications that meet the bound, with
  a Wilson score interval at ``confidence`` (95 %);
* ``KPI.online`` is the whole-market KPI when the scenario has no offline channel;
* a **verdict** that is never stronger than that evidence. A target asks that the plan meets its
  bound with probability at least ``required_probability`` (:data:`REQUIRED_PROBABILITY`, 0.8,
  the optimisers' default ``--confidence`` too):

  - ``met``: the Wilson interval's lower end is ≥ the required probability;
  - ``missed``: its upper end is < the required probability;
  - ``undecided``: the interval still contains it; :attr:`TargetResult.replications_to_decide`
    estimates the replications that would decide it (:func:`replications_to_decide`);
  - ``undefined``: the KPI (or the paired ratio) has no value in some replication (a zero
    denominator, :mod:`sim.experiments.undefined`); :attr:`TargetResult.reason` says why. Such a
    target is neither met nor missed.

Three replications that all meet a target give P(meet) 100 % [44 %, 100 %]: ``undecided``.

    >>> from sim.scenario import load_scenario
    >>> from sim.experiments.evaluation import evaluate
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={
    ...     "market.customers": 1000, "horizon.days": 30,
    ...     "targets": [{"kpi": "satisfaction", "at_least": 0.5}]})
    >>> ev = evaluate(sc, replications=3, seed=1, workers=1, windows=windows_for(sc.targets))
    >>> [(r.verdict, r.replications_to_decide) for r in evaluate_targets(sc.targets, ev)]
    [('undecided', 16)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.undefined import undefined_reason
from sim.scenario import Target

if TYPE_CHECKING:
    from sim.experiments.evaluation import Evaluation

Window = tuple[int, int]
Verdict = Literal["met", "missed", "undecided", "undefined"]
VERDICTS: tuple[str, ...] = ("met", "missed", "undecided", "undefined")

#: The probability of meeting its bound that a target asks for, unless the caller says otherwise.
REQUIRED_PROBABILITY = 0.8


@dataclass(frozen=True)
class TargetResult:
    """One target judged over the replications of a plan (and its baseline).

    ``probability`` and its interval are over the replications where the value is defined;
    ``undefined`` counts the others. ``replications_to_decide`` (undecided targets only) is an
    *estimate*: the total replications at which the Wilson interval around the current P(meet)
    would exclude ``required_probability`` (``None`` if none would: P(meet) equals it).
    """

    kpi: str
    label: str
    window: Window | None
    relative_to: str | None
    bound: Literal["at_least", "at_most"]
    threshold: float
    estimate: float
    ci_low: float
    ci_high: float
    probability: float
    prob_ci_low: float
    prob_ci_high: float
    verdict: Verdict
    replications: int = 0
    required_probability: float = REQUIRED_PROBABILITY
    confidence: float = 0.95
    replications_to_decide: int | None = None
    undefined: int = 0
    reason: str = ""

    @property
    def decided(self) -> bool:
        """More replications would not change the verdict's kind: met, missed or undefined."""
        return self.verdict != "undecided"

    def to_dict(self) -> dict:
        """Plain data for ``summary.json``: numbers that do not exist are left out, not null."""
        out = asdict(self)
        out["window"] = list(self.window) if self.window is not None else None
        return {
            k: v
            for k, v in out.items()
            if not (isinstance(v, float) and not math.isfinite(v))
            and not (k == "replications_to_decide" and v is None)
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TargetResult:
        """Back from :meth:`to_dict` (missing numbers become NaN; older files load too)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        for k in ("estimate", "ci_low", "ci_high", "probability", "prob_ci_low", "prob_ci_high"):
            values[k] = float("nan") if values.get(k) is None else float(values[k])
        if values.get("window") is not None:
            values["window"] = tuple(values["window"])
        return cls(**values)

    def describe(self) -> str:
        """``revenue.online ≥ 1.4 × baseline over days 90–179`` — the target in words (days
        as a file writes them: both ends included)."""
        op = "≥" if self.bound == "at_least" else "≤"
        rel = " × baseline" if self.relative_to else ""
        win = f" over days {self.window[0]}–{self.window[1] - 1}" if self.window else ""
        return f"{self.kpi} {op} {self.threshold:g}{rel}{win}"


def windows_for(targets: Iterable[Target]) -> list[Window]:
    """The distinct windows ``targets`` need: pass them as ``evaluate(..., windows=...)``."""
    out: list[Window] = []
    for t in targets:
        if t.window is not None and tuple(t.window) not in out:
            out.append((int(t.window[0]), int(t.window[1])))
    return out


def evaluate_targets(
    targets: Sequence[Target],
    plan: Evaluation,
    baseline: Evaluation | None = None,
    *,
    confidence: float = 0.95,
    required_probability: float = REQUIRED_PROBABILITY,
) -> list[TargetResult]:
    """Judge every target on ``plan``'s replications (relative ones against ``baseline``).

    This is the one rule for counting a target — ``compare``, ``run`` and the optimisers call it.
    Raises ``ValueError`` when a relative target has no baseline, a window was not evaluated
    (pass ``windows=windows_for(targets)`` to ``evaluate``) or a KPI is unknown.
    """
    out = []
    for t in targets:
        values, reason = _values(t, plan, baseline)
        out.append(
            judge(
                t,
                values,
                confidence=confidence,
                required_probability=required_probability,
                reason=reason,
            )
        )
    return out


def judge(
    target: Target,
    values: np.ndarray,
    *,
    confidence: float = 0.95,
    required_probability: float = REQUIRED_PROBABILITY,
    reason: str | None = None,
) -> TargetResult:
    """Judge one target on per-replication values (the KPI, or the paired ratio).

    A NaN value is an undefined KPI: any makes the verdict ``undefined`` (``reason``, or a
    sentence naming the KPI's zero denominator), whatever the other replications say.
    """
    if not 0 < required_probability < 1:
        raise ValueError(f"required probability must be in (0, 1), got {required_probability}")
    values = np.asarray(values, dtype=float)
    bound = "at_least" if target.at_least is not None else "at_most"
    threshold = float(target.at_least if target.at_least is not None else target.at_most)
    n = len(values)
    defined = values[np.isfinite(values)]
    met = int(
        np.count_nonzero(defined >= threshold if bound == "at_least" else defined <= threshold)
    )
    est, lo, hi = mean_interval(defined, confidence)
    p = met / len(defined) if len(defined) else float("nan")
    plo, phi = wilson_interval(met, len(defined), confidence)
    missing = n - len(defined)
    if missing:
        v: Verdict = "undefined"
        reason = reason or undefined_reason(target.kpi, missing, n)
    else:
        v = verdict(met, n, required_probability=required_probability, confidence=confidence)
    return TargetResult(
        kpi=target.kpi,
        label=target.label,
        window=tuple(target.window) if target.window is not None else None,
        relative_to=target.relative_to,
        bound=bound,
        threshold=threshold,
        estimate=est,
        ci_low=lo,
        ci_high=hi,
        probability=p,
        prob_ci_low=plo,
        prob_ci_high=phi,
        verdict=v,
        replications=n,
        required_probability=required_probability,
        confidence=confidence,
        replications_to_decide=(
            replications_to_decide(met, n, required_probability, confidence)
            if v == "undecided"
            else None
        ),
        undefined=missing,
        reason=reason if missing else "",
    )


def verdict(
    successes: int,
    n: int,
    *,
    required_probability: float = REQUIRED_PROBABILITY,
    confidence: float = 0.95,
) -> Verdict:
    """``met`` if the Wilson interval of ``successes``/``n`` lies at or above the required
    probability, ``missed`` if it lies below it, otherwise ``undecided`` (also with n = 0)."""
    if n <= 0:
        return "undecided"
    low, high = wilson_interval(successes, n, confidence)
    if low >= required_probability:
        return "met"
    return "missed" if high < required_probability else "undecided"


def replications_to_decide(
    successes: int, n: int, required_probability: float, confidence: float = 0.95
) -> int | None:
    """Estimated total replications at which the verdict would be decided, if P(meet) stayed at
    ``successes / n``; ``None`` if no number would (P(meet) equals the required probability).

    The Wilson interval is the set of p with |p̂ − p| ≤ z·√(p(1 − p)/m), so p* leaves it once
    m ≥ z²·p*(1 − p*) / (p̂ − p*)² (strictly above, on the ``missed`` side). An estimate: the
    next replications move p̂.
    """
    if n <= 0:
        return None
    p_hat, p_star = successes / n, required_probability
    gap = p_hat - p_star
    if abs(gap) < 1e-12:
        return None
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    m = z * z * p_star * (1 - p_star) / (gap * gap)
    need = math.ceil(m - 1e-9) if gap > 0 else math.floor(m) + 1
    return max(need, n + 1)


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of the finite values and its t interval (NaN bounds with fewer than two)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if len(v) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return mean, mean - half, mean + half


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (stays inside [0, 1], sane at 0 and n)."""
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, no 1e-17 noise
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _values(
    target: Target, plan: Evaluation, baseline: Evaluation | None
) -> tuple[np.ndarray, str | None]:
    """Per-replication values the target is judged on, in replication order, and why some are
    undefined (``None``: the default sentence, or all defined)."""
    frame = _kpi_frame(target, plan, "plan")
    if target.relative_to is None:
        return frame[target.kpi].to_numpy(dtype=float), None
    if baseline is None:
        raise ValueError(
            f"target {target.kpi}: relative_to baseline needs a baseline evaluation "
            "(the scenario's `extends` or --baseline PATH)"
        )
    base = _kpi_frame(target, baseline, "baseline")
    pairs = pd.merge(
        frame[["replication", target.kpi]],
        base[["replication", target.kpi]],
        on="replication",
        suffixes=("_plan", "_base"),
    )
    if pairs.empty:
        raise ValueError(f"target {target.kpi}: plan and baseline share no replication index")
    num = pairs[f"{target.kpi}_plan"].to_numpy(dtype=float)
    den = pairs[f"{target.kpi}_base"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)
    return ratio, _ratio_reason(target.kpi, num, den)


def _ratio_reason(kpi: str, num: np.ndarray, den: np.ndarray) -> str | None:
    """Why the paired ratio plan ÷ baseline is undefined where it is."""
    n, parts = len(num), []
    if (k := int(np.count_nonzero(~np.isfinite(num)))) > 0:
        parts.append(f"plan: {undefined_reason(kpi, k, n)}")
    if (k := int(np.count_nonzero(~np.isfinite(den)))) > 0:
        parts.append(f"baseline: {undefined_reason(kpi, k, n)}")
    if (k := int(np.count_nonzero(den == 0))) > 0:
        parts.append(f"baseline {kpi} is zero in {k} of {n} replications")
    if not parts:
        return None
    return "the ratio plan ÷ baseline is undefined: " + "; ".join(parts)


def _kpi_frame(target: Target, ev: Evaluation, who: str) -> pd.DataFrame:
    if target.window is None:
        frame = ev.kpis
    else:
        w = (int(target.window[0]), int(target.window[1]))
        if w not in ev.window_kpis:
            raise ValueError(
                f"target {target.kpi}: window {list(w)} was not evaluated for the "
                f"{who}; pass windows=windows_for(targets) to evaluate()"
            )
        frame = ev.window_kpis[w]
    if target.kpi not in frame.columns and target.kpi.endswith(".online"):
        # without offline channels every channel is online: KPI.online is the whole-market KPI
        whole = target.kpi.removesuffix(".online")
        if whole in frame.columns and not any(c.family == "offline" for c in ev.scenario.channels):
            return frame.assign(**{target.kpi: frame[whole]})
    if target.kpi not in frame.columns:
        raise ValueError(
            f"target {target.kpi}: unknown KPI (known e.g. revenue, "
            "revenue.online, repurchase_rate.private, roi_paid.public, cost_share)"
        )
    return frame
