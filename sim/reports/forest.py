"""The forest plot of plan − baseline differences, drawn to be read at 100 % zoom.

One panel per plan (small multiples, shared axis), the KPIs in plain words
(:mod:`sim.scenario.kpi_labels`), the legend below the panels where it can never cover a bar,
and an axis clipped so that one huge change (a pool growing from almost nothing) does not
squash the others — every interval the clip cuts is marked at the edge with its value.

    >>> import pandas as pd
    >>> kpis = ["revenue", "orders", "profit", "buyers", "private_pool"]
    >>> d = pd.DataFrame({"plan": "p", "kpi": kpis, "relative": [0.1] * 4 + [6.8],
    ...     "paired_low": [90.0] * 4 + [6700.0], "paired_high": [110.0] * 4 + [6900.0],
    ...     "welch_low": [50.0] * 4 + [6500.0], "welch_high": [150.0] * 4 + [7100.0],
    ...     "baseline": 1000.0})
    >>> png, clipped = diff_forest(d)
    >>> png[:4] == b"\\x89PNG", clipped
    (True, ['p: private-pool members +680 %'])
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.reports.figures import plt, png_bytes
from sim.scenario.kpi_labels import label

PAIRED, WELCH = "#1f77b4", "#9a9a9a"


def _limit(pcts: np.ndarray) -> float | None:
    """The axis half-width when some interval end is far beyond the others, else None."""
    ends = np.abs(pcts[np.isfinite(pcts)])
    if not len(ends):
        return None
    lim = max(10.0, 2 * float(np.percentile(ends, 75)))
    return lim if ends.max() > lim else None


def diff_forest(diffs: pd.DataFrame) -> tuple[bytes, list[str]]:
    """Plan − baseline in % of the baseline mean: paired (thick) and Welch (thin) 95 %
    intervals, one panel per plan. Returns the PNG and the clipped changes in words."""
    d = diffs[np.isfinite(diffs["relative"].to_numpy(dtype=float))].copy()
    base = d["baseline"].abs().to_numpy(dtype=float)
    pct = 100 / np.where(base > 0, base, np.nan)
    for c in ("paired_low", "paired_high", "welch_low", "welch_high"):
        d[c] = d[c].to_numpy(dtype=float) * pct
    d["relative"] = d["relative"].to_numpy(dtype=float) * 100
    plans = list(dict.fromkeys(d["plan"]))
    lim = _limit(d[["welch_low", "welch_high", "relative"]].to_numpy(dtype=float).ravel())
    n_rows = [max(1, int((d["plan"] == p).sum())) for p in plans]
    fig, axes = plt.subplots(
        len(plans),
        1,
        figsize=(10, 0.34 * sum(n_rows) + 1.1 * len(plans) + 0.8),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": n_rows},
    )
    clipped: list[str] = []
    for ax, plan in zip(axes[:, 0], plans, strict=True):
        clipped += _panel(ax, d[d["plan"] == plan], plan, lim)
    axes[-1, 0].set_xlabel("plan − baseline, % of the baseline mean (95 % intervals)")
    title = "Plan − baseline, % of the baseline mean"
    if lim is not None:
        title += f" (axis clipped at ±{lim:.0f} %: values beyond it are written at the edge)"
    fig.suptitle(title, fontsize=11)
    handles = [
        plt.Line2D([], [], color=PAIRED, lw=6, label="paired (common random numbers) 95 % CI"),
        plt.Line2D([], [], color=WELCH, lw=1.5, label="unpaired (Welch) 95 % CI"),
        plt.Line2D([], [], color="k", marker="|", ls="", ms=12, label="mean difference"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if len(plans) > 1 else 0.09, 1, 0.97))
    return png_bytes(fig, tight=False), clipped


def _panel(ax, d: pd.DataFrame, plan: str, lim: float | None) -> list[str]:
    y = np.arange(len(d))[::-1]
    ax.hlines(y, d["welch_low"], d["welch_high"], color=WELCH, lw=1.5)
    ax.hlines(y, d["paired_low"], d["paired_high"], color=PAIRED, lw=6)
    ax.plot(d["relative"], y, "k|", ms=12)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y, [label(str(k)) for k in d["kpi"]], fontsize=9)
    ax.set_title(plan, fontsize=10, loc="left")
    ax.grid(alpha=0.3, axis="x")
    clipped = []
    if lim is not None:
        ax.set_xlim(-lim, lim)
        for yy, (_, r) in zip(y, d.iterrows(), strict=True):
            clipped += _mark_clipped(ax, yy, r, plan, lim)
    return clipped


def _mark_clipped(ax, yy: float, r: pd.Series, plan: str, lim: float) -> list[str]:
    """Write at the axis edge what the clip cut off: the mean itself when it is beyond the
    axis (bold), else how far the interval reaches on each side it is cut."""
    name = label(str(r["kpi"]))
    mean = float(r["relative"])
    if abs(mean) > lim:
        side = 1 if mean > 0 else -1
        _edge_text(ax, yy, side, lim, f"{mean:+,.0f} %", bold=True)
        return [f"{plan}: {name} {mean:+,.0f} %"]
    out = []
    ends = [float(r[c]) for c in ("paired_low", "paired_high", "welch_low", "welch_high")]
    ends = [e for e in ends if math.isfinite(e)]
    for side in (1, -1):
        beyond = [e for e in ends if side * e > lim]
        if beyond:
            far = max(beyond, key=abs)
            _edge_text(ax, yy, side, lim, f"to {far:+,.0f} %", bold=False)
            out.append(f"{plan}: {name} interval to {far:+,.0f} %")
    return out


def _edge_text(ax, yy: float, side: int, lim: float, text: str, *, bold: bool) -> None:
    ax.annotate(
        f"{text} →" if side > 0 else f"← {text}",
        (side * lim, yy),
        xytext=(-4 * side, 0),
        textcoords="offset points",
        ha="right" if side > 0 else "left",
        va="center",
        fontsize=9 if bold else 8,
        fontweight="bold" if bold else "normal",
        color="black" if bold else "#333",
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
    )
