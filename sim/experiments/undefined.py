"""Undefined KPIs: saying *why* a KPI has no value instead of printing a number-shaped blank.

:mod:`sim.kpis` returns NaN for a ratio whose denominator is zero (paid ROI with no paid spend,
AOV with no orders). Such a value is not 0 and not "bad": it does not exist. Reports and
``summary.json`` state it as *undefined*, with the denominator that was zero and in how many
replications, and a target on it gets the verdict ``undefined`` (:mod:`sim.experiments.targets`).

    >>> undefined_reason("roi_paid.public", 3, 3)
    'roi_paid.public is undefined in 3 of 3 replications: paid spend (public) is zero'
    >>> import pandas as pd
    >>> kpi_entries(pd.DataFrame({"roi_paid": [float("nan")] * 2}))["roi_paid"]["defined"]
    0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: The denominator of each ratio KPI of :mod:`sim.kpis` (its formula table), in words.
DENOMINATORS: dict[str, str] = {
    "conversion_rate": "visits",
    "aov": "orders",
    "repurchase_rate": "buyers",
    "cac": "new customers",
    "ltv": "buyers",
    "roi_paid": "paid spend",
    "roi_overall": "spend",
    "cost_share": "revenue",
    "satisfaction": "orders",
    "subscription_share": "orders",
    "promo_revenue_share": "revenue",
    "traffic_concentration": "visits",
    "customer_overlap": "buyers",
    "tier_share": "pool members in a tier",
}


def denominator(kpi: str) -> str | None:
    """``roi_paid.public`` → ``paid spend (public)``; ``None`` if the KPI is not a known ratio."""
    head, _, scope = kpi.partition(".")
    if head == "repurchase_rate" and scope in ("new", "potential", "high_value"):
        return f"customers who entered tier {scope}"
    if head == "tier_share":
        return DENOMINATORS[head]
    den = DENOMINATORS.get(head)
    if den is None:
        return None
    return f"{den} ({scope})" if scope else den


def undefined_reason(kpi: str, undefined: int, n: int) -> str:
    """Why ``kpi`` has no value in ``undefined`` of ``n`` replications, in one sentence."""
    den = denominator(kpi)
    why = f"{den} is zero" if den else "a ratio's denominator is zero"
    return f"{kpi} is undefined in {undefined} of {n} replications: {why}"


def kpi_entries(frame: pd.DataFrame, confidence: float = 0.95) -> dict[str, dict[str, Any]]:
    """``summary.json``'s ``kpis``: per KPI column of ``frame`` (one row per replication).

    A KPI defined in every replication gives ``{"mean", "ci_low", "ci_high"}`` (the t interval;
    left out below two replications rather than written as null). A KPI undefined in some or
    all replications also gives ``replications``, ``defined`` and ``undefined`` (the reason);
    its mean and interval cover the defined replications only, and are absent if there are none.
    No entry holds NaN or a null standing in for a number.
    """
    out: dict[str, dict[str, Any]] = {}
    for col in frame.columns:
        if col == "replication":
            continue
        v = frame[col].to_numpy(dtype=float)
        ok = v[np.isfinite(v)]
        entry: dict[str, Any] = {}
        if len(ok):
            entry["mean"] = float(ok.mean())
        if len(ok) >= 2:
            half = stats.t.ppf(0.5 + confidence / 2, len(ok) - 1) * ok.std(ddof=1)
            half = float(half / math.sqrt(len(ok)))
            entry["ci_low"], entry["ci_high"] = entry["mean"] - half, entry["mean"] + half
        if len(ok) < len(v):
            entry["replications"] = len(v)
            entry["defined"] = len(ok)
            entry["undefined"] = undefined_reason(str(col), len(v) - len(ok), len(v))
        out[str(col)] = entry
    return out
