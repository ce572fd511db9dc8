"""Targets: thresholds on KPIs, judged over replications with their uncertainty.

A target (``sim.scenario.Target``) names a KPI, an optional ``[start, end)`` window in days from
the horizon start (dates are converted to days when the scenario loads), an optional
``relative_to: baseline`` and one bound, ``at_least`` or ``at_most``.

For each target :func:`evaluate_targets` reports

* the **estimate**: the mean over replications of the KPI (absolute targets) or of the paired
  ratio plan ÷ baseline of replication *r* with replication *r* (relative targets: same seed,
  same window, same random streams), with its t interval;
* the **probability of meeting it**: the share of replications that meet the bound, with a
  Wilson score interval (a replication whose KPI is undefined, NaN, does not meet it);
* ``KPI.online`` is the whole-market KPI when the scenario has no offline channel;
* a **verdict**: ``met`` if that probability is ≥ 0.8, ``missed`` if it is ≤ 0.2, otherwise
  ``at risk`` (:data:`MET_AT`, :data:`MISSED_AT`).

    >>> from sim.scenario import load_scenario
    >>> from sim.experiments.evaluation import evaluate
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={
    ...     "market.customers": 1000, "horizon.days": 30,
    ...     "targets": [{"kpi": "satisfaction", "at_least": 0.5}]})
    >>> ev = evaluate(sc, replications=3, seed=1, workers=1, windows=windows_for(sc.targets))
    >>> [r.verdict for r in evaluate_targets(sc.targets, ev)]
    ['met']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import stats

from sim.scenario import Target

if TYPE_CHECKING:
    from sim.experiments.evaluation import Evaluation

Window = tuple[int, int]
Verdict = Literal["met", "at risk", "missed"]

#: Verdict thresholds on the probability of meeting a target.
MET_AT = 0.8
MISSED_AT = 0.2


@dataclass(frozen=True)
class TargetResult:
    """One target judged over the replications of a plan (and its baseline)."""

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

    def to_dict(self) -> dict:
        out = asdict(self)
        out["window"] = list(self.window) if self.window is not None else None
        return out

    def describe(self) -> str:
        """``revenue.online ≥ 1.4 × baseline over days [90, 180)`` — the target in words."""
        op = "≥" if self.bound == "at_least" else "≤"
        rel = " × baseline" if self.relative_to else ""
        win = f" over days [{self.window[0]}, {self.window[1]})" if self.window else ""
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
) -> list[TargetResult]:
    """Judge every target on ``plan``'s replications (relative ones against ``baseline``).

    Raises ``ValueError`` when a relative target has no baseline, a window was not evaluated
    (pass ``windows=windows_for(targets)`` to ``evaluate``) or a KPI is unknown.
    """
    return [judge(t, _values(t, plan, baseline), confidence=confidence) for t in targets]


def judge(target: Target, values: np.ndarray, *, confidence: float = 0.95) -> TargetResult:
    """Judge one target on per-replication values (the KPI, or the paired ratio)."""
    values = np.asarray(values, dtype=float)
    bound = "at_least" if target.at_least is not None else "at_most"
    threshold = float(target.at_least if target.at_least is not None else target.at_most)
    with np.errstate(invalid="ignore"):
        ok = values >= threshold if bound == "at_least" else values <= threshold
    n = len(values)
    met = int(np.count_nonzero(ok))  # NaN compares False: an undefined KPI does not meet it
    est, lo, hi = mean_interval(values, confidence)
    p = met / n if n else float("nan")
    plo, phi = wilson_interval(met, n, confidence)
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
        verdict=verdict(p),
        replications=n,
    )


def verdict(probability: float) -> Verdict:
    """``met`` (P ≥ 0.8), ``missed`` (P ≤ 0.2) or ``at risk`` (in between)."""
    if not math.isfinite(probability) or probability <= MISSED_AT:
        return "missed"
    return "met" if probability >= MET_AT else "at risk"


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


def _values(target: Target, plan: Evaluation, baseline: Evaluation | None) -> np.ndarray:
    """Per-replication values the target is judged on, in replication order."""
    frame = _kpi_frame(target, plan, "plan")
    if target.relative_to is None:
        return frame[target.kpi].to_numpy(dtype=float)
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
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


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
