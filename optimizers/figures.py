"""Figures of the optimisers (matplotlib, Agg): budget iterations and curves, search history,
parameter importances and Pareto front. Each function writes one PNG and returns its path.

    >>> import pandas as pd, tempfile, pathlib
    >>> t = pd.DataFrame({"trial": [0, 1], "state": ["COMPLETE"] * 2, "profit": [1.0, 2.0],
    ...                   "feasible": [True, False]})
    >>> history_figure(t, "profit", pathlib.Path(tempfile.mkdtemp()) / "h.png").name
    'h.png'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from optimizers.response import Curve  # noqa: E402


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _unit(kpi: str) -> str:
    return "CNY" if kpi.split(".")[0] in ("revenue", "profit", "spend", "ltv", "cac") else ""


def iterations_figure(it: pd.DataFrame, objective: str, path: Path) -> Path:
    """Simulated objective per trust-region iteration (accepted / rejected) and the LP forecast."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for status, marker, color in (
        ("start", "s", "grey"),
        ("accepted", "o", "tab:green"),
        ("rejected", "x", "tab:red"),
        ("converged", "*", "tab:blue"),
    ):
        sub = it[it["status"] == status]
        ax.scatter(
            sub["iteration"],
            sub["simulated"] / 1e6,
            marker=marker,
            color=color,
            label=f"simulated ({status})",
            zorder=3,
        )
    pred = it.dropna(subset=["predicted"])
    ax.plot(pred["iteration"], pred["predicted"] / 1e6, ":", color="tab:blue", label="LP forecast")
    best = it["simulated"].where(it["status"].isin(["start", "accepted"])).cummax()
    ax.step(it["iteration"], best / 1e6, where="post", color="black", lw=1, label="best so far")
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"{objective} over the horizon (million CNY)")
    ax.set_title(f"Budget optimisation: simulated {objective} by iteration")
    ax.legend(fontsize=8)
    return _save(fig, path)


def curves_figure(samples: pd.DataFrame, curves: pd.DataFrame, metric: str, path: Path) -> Path:
    """Each lever's sampled points and fitted curve, from the last iteration that sampled it."""
    last = samples["iteration"].max()
    s = samples[samples["iteration"] == last]
    c = curves[(curves["iteration"] == last) & (curves["metric"] == metric)]
    levers = list(dict.fromkeys(s["lever"]))
    fig, axes = plt.subplots(1, len(levers), figsize=(3.6 * len(levers), 3.4), squeeze=False)
    for ax, lever in zip(axes[0], levers, strict=True):
        pts = s[s["lever"] == lever]
        ax.scatter(pts["spend"], pts[metric] / 1e6, color="tab:blue", label="simulated")
        row = c[c["lever"] == lever]
        if len(row):
            r = row.iloc[0]
            curve = Curve(r["kind"], r["base"], r["amplitude"], r["scale"], r["shape"])
            xs = np.linspace(pts["spend"].min(), pts["spend"].max(), 100)
            ax.plot(xs, curve(xs) / 1e6, color="tab:orange", label=f"fit ({r['kind']})")
        ax.set_title(lever, fontsize=9)
        ax.set_xlabel("spend (CNY/day)")
        ax.set_ylabel(f"{metric} (million CNY)")
        ax.legend(fontsize=7)
    fig.suptitle(f"Response curves at iteration {last} (others at the centre point)")
    return _save(fig, path)


def split_figure(start: dict[str, float], best: dict[str, float], path: Path) -> Path:
    """Daily spend per lever: the starting plan against the recommendation."""
    names = list(start)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(names)), 3.6))
    ax.bar(x - 0.2, [start[n] for n in names], 0.4, label="start")
    ax.bar(x + 0.2, [best[n] for n in names], 0.4, label="recommended")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("spend (CNY/day)")
    ax.set_title("Budget split: start vs recommended")
    ax.legend()
    return _save(fig, path)


def history_figure(trials: pd.DataFrame, objective: str, path: Path) -> Path:
    """Optimisation history: each trial's value, feasible or not, and the best feasible so far."""
    t = trials[trials["state"] == "COMPLETE"]
    fig, ax = plt.subplots(figsize=(7, 4))
    scale, unit = (1e6, "million CNY") if _unit(objective) else (1.0, "")
    feas = t[t["feasible"]]
    ax.scatter(feas["trial"], feas[objective] / scale, color="tab:green", label="feasible")
    inf = t[~t["feasible"]]
    ax.scatter(
        inf["trial"],
        inf[objective] / scale,
        color="tab:red",
        marker="x",
        label="infeasible (targets)",
    )
    best = t[objective].where(t["feasible"]).cummax()
    ax.step(
        t["trial"], best / scale, where="post", color="black", lw=1, label="best feasible so far"
    )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{objective} ({unit})" if unit else objective)
    ax.set_title(f"Optimisation history: {objective}")
    ax.legend(fontsize=8)
    return _save(fig, path)


def importance_figure(importances: dict[str, float], path: Path) -> Path:
    """Decision importances for the first objective (Optuna PED-ANOVA)."""
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (Optuna PED-ANOVA, normalised to sum 1)")
    ax.set_title("Decision importances")
    ax.tick_params(axis="y", labelsize=8)
    return _save(fig, path)


def pareto_figure(
    trials: pd.DataFrame, front: pd.DataFrame, objectives: Sequence[str], path: Path
) -> Path:
    """Two objectives: every complete trial and the feasible Pareto front."""
    a, b = objectives[:2]
    t = trials[trials["state"] == "COMPLETE"]
    sa, sb = (1e6 if _unit(a) else 1.0), (1e6 if _unit(b) else 1.0)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    feas = t[t["feasible"]]
    ax.scatter(feas[a] / sa, feas[b] / sb, color="grey", label="feasible trials")
    inf = t[~t["feasible"]]
    ax.scatter(
        inf[a] / sa, inf[b] / sb, color="salmon", marker="x", label="infeasible trials (targets)"
    )
    f = front.sort_values(a)
    ax.plot(f[a] / sa, f[b] / sb, "o-", color="tab:red", label="Pareto front (feasible)")
    ax.set_xlabel(f"{a} (million CNY)" if _unit(a) else a)
    ax.set_ylabel(f"{b} (million CNY)" if _unit(b) else b)
    ax.set_title(f"Pareto front: {a} vs {b}")
    ax.legend(fontsize=8)
    return _save(fig, path)
