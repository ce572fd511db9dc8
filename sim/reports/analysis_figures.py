"""Figures of a sweep analysis, written as PNG files next to ``analysis.json``.

Per KPI: ``tornado_<kpi>.png`` (mean KPI at each parameter's low / high end),
``indices_<kpi>.png`` (Sobol' S1/ST or Morris μ* with intervals) and ``heatmap_<kpi>.png`` (mean
KPI over the two parameters with the largest swing). Money is in CNY.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.experiments.analysis import SweepAnalysis, tornado  # noqa: E402
from sim.experiments.design import Design  # noqa: E402
from sim.reports.format import fmt  # noqa: E402


def write_figures(analysis: SweepAnalysis, out: Path) -> list[str]:
    """Write every figure of ``analysis`` into ``out``; their file names, in order."""
    design, means, sens = analysis.design, analysis.means, analysis.sensitivity
    files = []
    for kpi in analysis.kpis:
        slug = kpi.replace(".", "_")
        tor = tornado(design, means, kpi)
        if len(tor):
            files.append(_tornado(tor, means, kpi, design, out / f"tornado_{slug}.png"))
        idx = sens[(sens["kpi"] == kpi) & sens["measure"].isin(["S1", "ST", "mu_star"])]
        if len(idx):
            files.append(_index_plot(idx, kpi, design, out / f"indices_{slug}.png"))
        if len(tor) >= 2:
            a, b = tor["parameter"][0], tor["parameter"][1]
            files.append(_heatmap(means, kpi, a, b, design, out / f"heatmap_{slug}.png"))
    return files


def _tornado(tor: pd.DataFrame, means: pd.DataFrame, kpi: str, design: Design, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(tor) + 2))
    base = float(means[kpi].mean())
    for i, r in enumerate(tor.itertuples()):
        ax.barh(
            i,
            r.at_high - base,
            left=base,
            color="tab:blue",
            label="high end" if i == 0 else None,
        )
        ax.barh(
            i,
            r.at_low - base,
            left=base,
            color="tab:orange",
            label="low end" if i == 0 else None,
        )
    ax.set_yticks(range(len(tor)), tor["parameter"])
    ax.invert_yaxis()
    ax.axvline(base, color="k", lw=0.8)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: fmt(v)))
    ax.set_xlabel(f"mean {kpi} at the parameter's low / high end ({_unit(kpi)})")
    ax.set_title(f"Tornado: {kpi} ({design.name})")
    ax.legend(loc="best")
    return _save(fig, path)


def _index_plot(idx: pd.DataFrame, kpi: str, design: Design, path: Path) -> str:
    fig, ax = plt.subplots(figsize=(7, 0.5 * idx["parameter"].nunique() + 1.5))
    measures = list(dict.fromkeys(idx["measure"]))
    names = list(dict.fromkeys(idx["parameter"]))
    h = 0.8 / len(measures)
    for m, measure in enumerate(measures):
        part = idx[idx["measure"] == measure].set_index("parameter").reindex(names)
        err = (part["value"] - part["ci_low"]).fillna(0).to_numpy(dtype=float)
        ax.barh(
            np.arange(len(names)) + m * h,
            part["value"],
            height=h,
            xerr=err,
            label=measure,
            capsize=3,
        )
    ax.set_yticks(np.arange(len(names)) + 0.4 - h / 2, names)
    ax.invert_yaxis()
    unit = "share of variance" if design.sampler == "sobol" else f"{_unit(kpi)} per range"
    ax.set_xlabel(f"index ({unit}); bars: 95 % interval")
    ax.set_title(f"{design.sampler.capitalize()} indices: {kpi}")
    ax.legend(loc="best")
    return _save(fig, path)


def _heatmap(means: pd.DataFrame, kpi: str, a: str, b: str, design: Design, path: Path) -> str:
    frame = means[[a, b, kpi]].copy()
    for col in (a, b):
        if frame[col].nunique() > 8:
            frame[col] = pd.cut(frame[col], 6).map(lambda iv: iv.mid).astype(float)
    grid = frame.pivot_table(index=b, columns=a, values=kpi, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 5))
    im = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(grid.columns)), [fmt(v) for v in grid.columns], rotation=45)
    ax.set_yticks(range(len(grid.index)), [fmt(v) for v in grid.index])
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    fig.colorbar(im, ax=ax, label=f"mean {kpi} ({_unit(kpi)})")
    ax.set_title(f"Mean {kpi} over its two most influential parameters ({design.name})")
    return _save(fig, path)


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _unit(kpi: str) -> str:
    head = kpi.split(".")[0]
    if head in ("revenue", "profit", "spend", "cac", "ltv", "aov"):
        return "CNY"
    if head in ("orders", "visits", "buyers", "new_customers", "private_pool"):
        return "count"
    return "ratio"
