"""Numbers for people, as every report prints them.

>>> fmt(1234567.8), fmt(0.012345), fmt(0.05, pct=True), fmt(None)
('1,234,568', '0.01235', '+5.0 %', 'n/a')

A target's probability of being met and its verdict are printed by :func:`p_meet`, the one
format the console (``run``, ``compare``, the optimisers), ``report.md`` and ``report.html`` use:

>>> p_meet({"probability": 1.0, "prob_ci_low": 0.4385, "prob_ci_high": 1.0, "replications": 3,
...         "verdict": "undecided", "replications_to_decide": 16, "required_probability": 0.8})
'P(meet) 100% [44%, 100%] (3 reps; met needs ≥ 80%) — undecided: ~13 more reps would decide (estimate)'
"""  # noqa: E501 - the doctest's expected line is one printed line

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sim.experiments.undefined import undefined_reason

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiments.targets import TargetResult


def fmt(x: Any, *, pct: bool = False) -> str:
    """Numbers for people: thousands separators for big values, 4 significant digits else."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    x = float(x)
    if pct:
        return f"{x * 100:+.1f} %"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def mcny(x: Any) -> str:
    """CNY as millions, with digits that matter: ``409.9``, ``1.25``, ``0.0452`` (the table's
    header says ``M CNY``).

    >>> mcny(409_852_000), mcny(1_250_000), mcny(45_200), mcny(0)
    ('409.9', '1.25', '0.0452', '0')
    """
    if x is None or not math.isfinite(float(x)):
        return "n/a"
    m = float(x) / 1e6
    if m == 0:
        return "0"
    return f"{m:,.1f}" if abs(m) >= 10 else f"{m:,.2f}" if abs(m) >= 0.1 else f"{m:.3g}"


def ci(lo: Any, hi: Any) -> str:
    """An interval, ``[low, high]``, both ends through :func:`fmt`."""
    return f"[{fmt(lo)}, {fmt(hi)}]"


def p_meet(target: Any) -> str:
    """``P(meet) 100% [44%, 100%] (3 reps; met needs ≥ 80%) — undecided: ~13 more reps would
    decide (estimate)``: the share of replications meeting a target, its Wilson interval, the
    replications behind it, the verdict and what would change it. ``target`` is a
    :class:`~sim.experiments.targets.TargetResult` or its ``to_dict()`` (as in ``summary.json``).
    """
    d: Mapping[str, Any] = target if isinstance(target, Mapping) else target.to_dict()
    n = int(d.get("replications") or 0)
    undefined = int(d.get("undefined") or 0)
    reps = f"{n - undefined} of {n} reps defined" if undefined else f"{n} reps"
    conf = d.get("confidence", 0.95)
    if conf is not None and abs(float(conf) - 0.95) > 1e-9:
        reps += f"; {_pct(conf, 2)} interval"
    if d.get("required_probability") is not None:
        reps += f"; met needs ≥ {_pct(d['required_probability'])}"
    p = d.get("probability")
    if p is None or not math.isfinite(float(p)):
        text = f"P(meet) n/a ({reps})"
    else:
        text = f"P(meet) {_pct(p)} [{_pct(d.get('prob_ci_low'))}, {_pct(d.get('prob_ci_high'))}]"
        text += f" ({reps})"
    verdict = str(d.get("verdict", "n/a"))
    if verdict == "undefined":
        return f"{text} — undefined: {d.get('reason') or 'the KPI has no value'}"
    if verdict == "undecided":
        need = d.get("replications_to_decide")
        if need is None:
            return f"{text} — undecided: no number of reps would decide it at this P(meet)"
        return f"{text} — undecided: ~{int(need) - n:,} more reps would decide (estimate)"
    return f"{text} — {verdict}"


def _pct(x: Any, digits: int = 0) -> str:
    if x is None or not math.isfinite(float(x)):
        return "n/a"
    return f"{float(x):.{digits}%}"


def target_line(t: TargetResult) -> str:
    """``label: estimate 0.59 [0.55, 0.63], P(meet) … — verdict`` (the one P(meet) format)."""
    est = "undefined" if t.undefined == t.replications else fmt(t.estimate)
    ci = f" [{fmt(t.ci_low)}, {fmt(t.ci_high)}]" if t.replications - t.undefined > 1 else ""
    return f"{t.label or t.describe()}: estimate {est}{ci}, {p_meet(t)}"


def undefined_lines(
    kpis: pd.DataFrame, names: Sequence[str] | None = None, *, prefix: str = ""
) -> list[str]:
    """One line per KPI of ``names`` that is undefined in some replication, saying why."""
    n = len(kpis)
    names = [c for c in kpis.columns if c != "replication"] if names is None else names
    return [
        f"{prefix}{undefined_reason(k, int(kpis[k].isna().sum()), n)}"
        for k in names
        if k in kpis.columns and kpis[k].isna().any()
    ]
