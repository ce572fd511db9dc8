"""How much of a KPI's spread comes from the parameters and how much from customer-level luck.

With parameter uncertainty (``scenario.uncertainty``) each replication runs on one posterior
draw of the uncertain parameters, and ``replications_per_draw`` consecutive replications share
a draw (:func:`sim.scenario.draw_row`). The law of total variance splits a KPI's variance into
the variance of its mean across draws (what the history could not pin down) and the mean
variance within a draw (which customers happened to buy). The estimator is the one-way
random-effects ANOVA (method of moments, unbalanced groups allowed)::

    luck       = MSW                      (within-draw mean square)
    parameters = max(0, (MSB − MSW) / n0) (between-draw mean square, corrected for luck)
    n0         = (N − Σ n_g² / N) / (G − 1)

with ``N`` replications in ``G`` draws. It needs at least two draws and one draw with two
replications; otherwise the split is undefined (NaN), never guessed. It needs
``replications_per_draw ≥ 2``.

With one replication per draw (the default: replications stay independent, so every interval
and P(meet) keeps its meaning) the split is the share of the variance the drawn parameter
values explain linearly (:func:`explained`: adjusted R² of a least-squares fit of the KPI on
the draws' columns): a lower bound when the response to the parameters is strongly curved.

    >>> import pandas as pd
    >>> k = pd.DataFrame({"revenue": [10.0, 12.0, 20.0, 22.0]})
    >>> split = decompose(k, [0, 0, 1, 1])
    >>> float(split.loc["revenue", "luck_var"]), float(split.loc["revenue", "parameter_var"])
    (2.0, 49.0)

Replications that share a draw are not independent: intervals that treat them as independent
are narrower than they should be by about ``sqrt(1 + (k − 1) ρ)`` (``k`` replications per draw,
``ρ`` the parameter share); :func:`spread_sources` reports that factor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario import Scenario, parameter_draw

COLUMNS = ("parameter_var", "luck_var", "parameter_share", "draws", "replications")


def draw_groups(scenario: Scenario, seed: int, replications: Sequence[int]) -> np.ndarray | None:
    """The draw row each replication used, or None when parameters were fixed."""
    rows = [parameter_draw(scenario, seed, int(r))[0] for r in replications]
    return None if not rows or rows[0] < 0 else np.asarray(rows)


def decompose(kpis: pd.DataFrame, groups: Sequence[int]) -> pd.DataFrame:
    """Per KPI column of ``kpis`` (one row per replication): the parameter and luck variances,
    the parameter share of their sum, and how many draws and replications they rest on."""
    groups = np.asarray(groups)
    out = {}
    for kpi in kpis.columns:
        y = pd.to_numeric(kpis[kpi], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(y)
        out[kpi] = _anova(y[ok], groups[ok])
    return pd.DataFrame.from_dict(out, orient="index", columns=list(COLUMNS))


def _anova(y: np.ndarray, g: np.ndarray) -> tuple[float, float, float, int, int]:
    labels, inverse, sizes = np.unique(g, return_inverse=True, return_counts=True)
    n, k = len(y), len(labels)
    if k < 2 or n <= k:
        return math.nan, math.nan, math.nan, k, n
    means = np.bincount(inverse, weights=y) / sizes
    msw = float(((y - means[inverse]) ** 2).sum() / (n - k))
    msb = float((sizes * (means - y.mean()) ** 2).sum() / (k - 1))
    n0 = (n - (sizes**2).sum() / n) / (k - 1)
    param = max(0.0, (msb - msw) / n0)
    total = param + msw
    share = param / total if total > 0 else math.nan
    return param, msw, share, k, n


def explained(kpis: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """Per KPI column: the variance the parameter values (one row per replication, as
    ``kpis``) explain linearly (adjusted R² × variance), the rest as luck. Undefined (NaN)
    with fewer than (parameters + 3) replications."""
    x = params.to_numpy(dtype=float)
    x = x[:, np.ptp(x, axis=0) > 0]
    out = {}
    for kpi in kpis.columns:
        y = pd.to_numeric(kpis[kpi], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(y)
        n, p = int(ok.sum()), x.shape[1]
        draws = len({tuple(r) for r in x[ok]})
        if n < p + 3 or np.var(y[ok]) == 0:
            out[kpi] = (math.nan, math.nan, math.nan, draws, n)
            continue
        a = np.column_stack([np.ones(n), x[ok]])
        resid = y[ok] - a @ np.linalg.lstsq(a, y[ok], rcond=None)[0]
        total = float(np.var(y[ok], ddof=1))
        luck = float(resid @ resid / (n - p - 1))
        share = min(1.0, max(0.0, 1 - luck / total))
        out[kpi] = (share * total, (1 - share) * total, share, draws, n)
    return pd.DataFrame.from_dict(out, orient="index", columns=list(COLUMNS))


def spread_sources(
    scenario: Scenario, seed: int, kpis: pd.DataFrame, names: Sequence[str]
) -> dict[str, Any] | None:
    """Plain data for a summary: per KPI in ``names``, the split of its spread; None when the
    scenario's parameters were fixed. ``kpis`` has a ``replication`` column."""
    reps = kpis["replication"].tolist()
    groups = draw_groups(scenario, seed, reps)
    if groups is None:
        return None
    per = scenario.uncertainty.replications_per_draw
    chosen = kpis[[k for k in names if k in kpis.columns]]
    if per >= 2:
        split, method = decompose(chosen, groups), "anova"
    else:
        params = pd.DataFrame([parameter_draw(scenario, seed, int(r))[1] for r in reps])
        split, method = explained(chosen, params), "regression"
    entries = {}
    for kpi, row in split.iterrows():
        share = row["parameter_share"]
        entries[str(kpi)] = {
            "sd": math.sqrt(row["parameter_var"] + row["luck_var"])
            if math.isfinite(share)
            else None,
            "parameter_share": share if math.isfinite(share) else None,
            "interval_widening": math.sqrt(1 + (per - 1) * share) if math.isfinite(share) else None,
        }
    return {
        "draws": int(split["draws"].max()) if len(split) else 0,
        "replications": int(len(kpis)),
        "replications_per_draw": per,
        "method": method,
        "kpis": entries,
    }


def spread_line(sources: dict[str, Any], kpis: Sequence[str] = ("revenue", "new_customers")) -> str:
    """One console line: the parameter share of a few KPIs' spread."""
    parts = [
        f"{k} {e['parameter_share']:.0%}"
        for k, e in sources["kpis"].items()
        if k in kpis and e.get("parameter_share") is not None
    ]
    head = (
        f"parameter uncertainty: {sources['replications']} replications on {sources['draws']} draws"
    )
    if not parts:
        return head + " (too few replications to split the spread into parameters and luck)"
    return head + f"; share of the spread from parameters: {', '.join(parts)}"
