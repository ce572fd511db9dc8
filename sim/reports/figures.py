"""Figures of a comparison report, as PNG bytes (matplotlib, Agg backend).

Each function takes plain tables (already averaged over replications by
:mod:`sim.reports.sections`) and returns PNG bytes; every figure has a title and axes labelled with
units. Money is in CNY.

    >>> import pandas as pd
    >>> png = flow_matrices({"p": pd.DataFrame([[12.0, 250_000.0]], index=["public"],
    ...                                        columns=["private", "public"])})
    >>> png[:4] == b"\\x89PNG", count(12.0), count(250_000.0), count(0.0)
    (True, '12', '250k', '0')

The forest plot of differences is :mod:`sim.reports.forest`.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.dates import ConciseDateFormatter  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

FAMILY_COLOURS = {
    "public": "#1f77b4",
    "private": "#2ca02c",
    "social": "#d62728",
    "offline": "#7f7f7f",
}
DPI = 96
#: At most this many lines share one panel; more are split into small multiples.
MAX_LINES = 6
THOUSANDS = FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def png_bytes(fig, *, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


_png = png_bytes


def count(v: float) -> str:
    """A count for a small cell: ``0``, ``12``, ``8,400``, ``250k``, ``1.2M`` — never ``0.0k``
    for a small non-zero value."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:,.1f}M"
    if a >= 1e5:
        return f"{v / 1e3:,.0f}k"
    return f"{v:,.0f}" if a >= 1 or v == 0 else f"{v:.2g}"


def _text_colour(rgba) -> str:
    """White or black, whichever contrasts more with the cell (WCAG relative luminance: the
    two contrast ratios are equal at L ≈ 0.179)."""
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3])
    return "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.179 else "black"


def _chunks(columns: list, size: int = MAX_LINES) -> list[list]:
    return [columns[i : i + size] for i in range(0, len(columns), size)] or [[]]


def revenue_by_family(
    weekly: dict[str, pd.DataFrame],
    promotions: dict[str, list[tuple[pd.Timestamp, pd.Timestamp, str]]],
    decisions: dict[str, list[pd.Timestamp]] | None = None,
) -> bytes:
    """One panel per scenario: revenue per day (CNY, weekly means) per family; promotion
    spans shaded; the days review rules decided something (``decisions``, the first
    replication's) as dotted vertical lines."""
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
        for k, day in enumerate((decisions or {}).get(name, [])):
            label = "rule decision (replication 0)" if k == 0 else None
            ax.axvline(day, color="black", ls=":", lw=0.8, alpha=0.7, label=label)
        ax.set_title(
            f"{name}: revenue per day by channel family, weekly mean"
            + (" (promotions shaded)" if promotions.get(name) else ""),
            fontsize=10,
        )
        ax.set_ylabel("thousand CNY per day")
        ax.yaxis.set_major_formatter(THOUSANDS)
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("week starting (date)")
    return _png(fig)


def flow_matrices(flows: dict[str, pd.DataFrame]) -> bytes:
    """Heatmaps of moves between families (mean per replication, real customers/orders); each
    number is written in a colour that contrasts with its cell."""
    names = list(flows)
    fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        m = flows[name]
        values = np.log1p(m.to_numpy(dtype=float))
        image = ax.imshow(values, cmap="Blues", aspect="auto")
        ax.set_xticks(
            range(m.shape[1]), [str(c) for c in m.columns], rotation=30, ha="right", fontsize=9
        )
        ax.set_yticks(range(m.shape[0]), [str(i) for i in m.index], fontsize=9)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                colour = _text_colour(image.cmap(image.norm(values[i, j])))
                ax.text(
                    j, i, count(m.iat[i, j]), ha="center", va="center", fontsize=9, color=colour
                )
        ax.set_title(f"{name}: moves per horizon", fontsize=10)
        ax.set_xlabel("to (family of the order / pool joined)")
        ax.set_ylabel("from (where the customer last bought)")
    return _png(fig)


def private_pool(series: dict[str, pd.DataFrame], words: dict[str, str]) -> bytes:
    """Private pool (and tier sizes, where recorded) over time: one panel per scenario, at
    most :data:`MAX_LINES` lines each; ``words`` names each column in plain words."""
    return small_multiples(
        series, words, "members at the end of the day", "Private pool and its tiers"
    )


def small_multiples(
    series: dict[str, pd.DataFrame], words: dict[str, str], ylabel: str, title: str
) -> bytes:
    """One panel per scenario × group of at most :data:`MAX_LINES` columns, sharing the y
    axis; thousands separators on it, the columns' plain words in the legend."""
    panels = [(n, cols) for n, f in series.items() for cols in _chunks(list(f.columns))]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(10, 2.8 * len(panels) + 0.4), sharex=True, squeeze=False
    )
    for ax, (name, cols) in zip(axes[:, 0], panels, strict=True):
        frame = series[name]
        for k, col in enumerate(cols):
            ax.plot(
                frame.index, frame[col], label=words.get(col, str(col)), lw=2 if k == 0 else 1.2
            )
        ax.set_title(f"{name}: {title[:1].lower()}{title[1:]}", fontsize=10, loc="left")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.yaxis.set_major_formatter(THOUSANDS)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("date")
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


def inventory(series: dict[str, pd.DataFrame], title: str, unit: str) -> bytes:
    """An inventory measure over time: one panel per scenario (× at most :data:`MAX_LINES` SKU
    classes), titled in words (``units on hand``)."""
    return small_multiples(series, {}, unit, title)


def decisions_over_time(
    series: dict[str, tuple[pd.DataFrame, str]], marks: dict[str, pd.DataFrame]
) -> bytes:
    """One panel per scenario: the levers review rules set, day by day (``series``: a frame
    with one column per lever, e.g. paid budget per channel, and its y-axis label), with each
    decision (``marks``: date, label) as a vertical line labelled at the top."""
    names = list(series)
    fig, axes = plt.subplots(
        len(names), 1, figsize=(10, 2.9 * len(names) + 0.4), sharex=True, squeeze=False
    )
    for ax, name in zip(axes[:, 0], names, strict=True):
        frame, ylabel = series[name]
        for col in frame.columns:
            ax.plot(frame.index, frame[col], label=str(col), lw=1.5, drawstyle="steps-post")
        for _, m in marks.get(name, pd.DataFrame(columns=["date", "label"])).iterrows():
            ax.axvline(m["date"], color="black", ls=":", lw=0.8, alpha=0.7)
            ax.annotate(
                m["label"],
                (m["date"], 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize=6,
                va="top",
                ha="right",
            )
        ax.set_title(f"{name}: levers set by review rules (replication 0)", fontsize=10, loc="left")
        ax.xaxis.set_major_formatter(ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.set_ylabel(ylabel, fontsize=9)
        if len(frame.columns):
            if frame.to_numpy().max() > 100:  # budgets in CNY; a safety factor keeps decimals
                ax.yaxis.set_major_formatter(THOUSANDS)
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("date")
    return _png(fig)
