"""Figures of a comparison report, as PNG bytes (matplotlib, Agg backend).

Each function takes plain tables (already averaged over replications by
:mod:`sim.reports.sections`) and returns PNG bytes; every figure has a title and axes labelled with
units. Money is in CNY.

    >>> import pandas as pd
    >>> png = diff_forest(pd.DataFrame({"plan": ["p"], "kpi": ["revenue"], "relative": [0.1],
    ...     "paired_low": [90.0], "paired_high": [110.0], "welch_low": [50.0],
    ...     "welch_high": [150.0], "baseline": [1000.0]}))
    >>> png[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

FAMILY_COLOURS = {
    "public": "#1f77b4",
    "private": "#2ca02c",
    "social": "#d62728",
    "offline": "#7f7f7f",
}
DPI = 80


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def revenue_by_family(
    weekly: dict[str, pd.DataFrame],
    promotions: dict[str, list[tuple[pd.Timestamp, pd.Timestamp, str]]],
) -> bytes:
    """One panel per scenario: revenue per day (CNY, weekly means) per family; promotion
    spans shaded."""
    names = list(weekly)
    fig, axes = plt.subplots(
        len(names), 1, figsize=(9, 2.6 * len(names)), sharex=True, sharey=True, squeeze=False
    )
    for ax, name in zip(axes[:, 0], names, strict=True):
        frame = weekly[name]
        for fam in frame.columns:
            ax.plot(frame.index, frame[fam] / 1e3, label=fam, color=FAMILY_COLOURS.get(str(fam)))
        for start, end, _label in promotions.get(name, []):
            ax.axvspan(start, end, color="orange", alpha=0.25, lw=0)
        ax.set_title(
            f"{name}: revenue per day by channel family, weekly mean"
            + (" (promotions shaded)" if promotions.get(name) else ""),
            fontsize=10,
        )
        ax.set_ylabel("k CNY / day")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("week starting (date)")
    return _png(fig)


def flow_matrices(flows: dict[str, pd.DataFrame]) -> bytes:
    """Heatmaps of moves between families (mean per replication, real customers/orders)."""
    names = list(flows)
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        m = flows[name]
        ax.imshow(np.log1p(m.to_numpy(dtype=float)), cmap="Blues", aspect="auto")
        ax.set_xticks(
            range(m.shape[1]), [str(c) for c in m.columns], rotation=30, ha="right", fontsize=8
        )
        ax.set_yticks(range(m.shape[0]), [str(i) for i in m.index], fontsize=8)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{m.iat[i, j] / 1e3:,.1f}k", ha="center", va="center", fontsize=7)
        ax.set_title(f"{name}: moves (thousands)", fontsize=10)
        ax.set_xlabel("to (family of the order / pool joined)")
        ax.set_ylabel("from (where the customer last bought)")
    return _png(fig)


def private_pool(series: dict[str, pd.DataFrame]) -> bytes:
    """Private pool (and tier sizes, where recorded) over time, one line per scenario/tier."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    styles = ["-", "--", ":", "-."]
    for k, (name, frame) in enumerate(series.items()):
        for col in frame.columns:
            label = name if col == "private_pool" else f"{name}: {col}"
            ax.plot(
                frame.index,
                frame[col] / 1e3,
                styles[k % len(styles)],
                label=label,
                lw=2 if col == "private_pool" else 1,
            )
    ax.set_title("Private pool members over time (mean over replications)")
    ax.set_xlabel("date")
    ax.set_ylabel("members (thousands)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def cohort_repurchase(rates: pd.DataFrame, within: int) -> bytes:
    """Grouped bars: share of each month's new customers who bought again within ``within``."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    x = np.arange(len(rates.index))
    width = 0.8 / max(1, rates.shape[1])
    for k, name in enumerate(rates.columns):
        ax.bar(x + k * width - 0.4 + width / 2, rates[name] * 100, width, label=str(name))
    ax.set_xticks(x, [str(i) for i in rates.index], rotation=30, ha="right", fontsize=8)
    ax.set_title(f"Repurchase within {within} days, by month of first order")
    ax.set_xlabel("cohort (month of first-ever order)")
    ax.set_ylabel(f"bought again ≤ {within} d (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def spend_by_channel(spend: pd.DataFrame) -> bytes:
    """Stacked bars of spend per scenario × channel, by lever (CNY over the horizon)."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    labels = [f"{s}\n{c}" for s, c in spend.index]
    bottom = np.zeros(len(spend))
    for lever in spend.columns:
        vals = spend[lever].to_numpy(dtype=float) / 1e6
        ax.bar(range(len(spend)), vals, bottom=bottom, label=lever)
        bottom += vals
    ax.set_xticks(range(len(spend)), labels, fontsize=7, rotation=45, ha="right")
    ax.set_title("Spend by channel and lever over the horizon")
    ax.set_xlabel("scenario / channel")
    ax.set_ylabel("spend (M CNY)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def inventory(series: dict[str, pd.DataFrame], column: str, unit: str) -> bytes:
    """An inventory measure over time, one line per scenario (× SKU class where recorded)."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    for name, frame in series.items():
        for col in frame.columns:
            ax.plot(frame.index, frame[col], label=f"{name}" if col == column else f"{name}: {col}")
    ax.set_title(f"{column} over time (mean over replications)")
    ax.set_xlabel("date")
    ax.set_ylabel(unit)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def diff_forest(diffs: pd.DataFrame, kpis: Sequence[str] | None = None) -> bytes:
    """Plan − baseline in % of the baseline: paired (thick) and Welch (thin) 95 % intervals."""
    d = diffs if kpis is None else diffs[diffs["kpi"].isin(kpis)]
    d = d[np.isfinite(d["relative"].to_numpy(dtype=float))]
    fig, ax = plt.subplots(figsize=(9, 0.32 * max(4, len(d)) + 1.2))
    base = d["baseline"].abs().to_numpy(dtype=float)
    y = np.arange(len(d))[::-1]
    pct = 100 / np.where(base > 0, base, np.nan)
    ax.hlines(
        y,
        d["welch_low"] * pct,
        d["welch_high"] * pct,
        color="#999",
        lw=1.5,
        label="unpaired (Welch) 95 % CI",
    )
    ax.hlines(
        y,
        d["paired_low"] * pct,
        d["paired_high"] * pct,
        color="#1f77b4",
        lw=5,
        label="paired (CRN) 95 % CI",
    )
    ax.plot(d["relative"] * 100, y, "k|", ms=10)
    ax.axvline(0, color="k", lw=0.8)
    # one KPI with a huge relative change (a pool growing from almost nothing) must not squash
    # the others: clip the axis and say so in the title
    ends = np.abs(
        np.concatenate(
            [
                (d["welch_low"] * pct).to_numpy(dtype=float),
                (d["welch_high"] * pct).to_numpy(dtype=float),
            ]
        )
    )
    ends = ends[np.isfinite(ends)]
    clip = None
    if len(ends):
        lim = max(10.0, 2 * float(np.percentile(ends, 75)))
        if ends.max() > lim:
            clip = lim
            ax.set_xlim(-lim, lim)
    ax.set_yticks(y, [f"{p}: {k}" for p, k in zip(d["plan"], d["kpi"], strict=True)], fontsize=7)
    ax.set_title(
        "Plan − baseline, % of the baseline mean"
        + (f" (axis clipped at ±{clip:.0f} %)" if clip else "")
    )
    ax.set_xlabel("difference (% of baseline)")
    ax.set_ylabel("plan: KPI")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    return _png(fig)
