"""Analysing a sweep: sensitivity indices, tornado and heatmaps, scenario discovery.

:func:`analyze` reads a sweep directory (see :mod:`sim.experiments.sweep`) and works on **point means**
(each KPI averaged over a point's replications):

* **Sobol'** designs: first-order ``S1`` and total ``ST`` indices with bootstrap intervals
  (SALib ``analyze.sobol``; Saltelli/Jansen estimators); ``S2`` when sampled.
* **Morris** designs: ``mu_star`` (mean |elementary effect|, with bootstrap interval) and
  ``sigma`` (spread: interactions / non-linearity), SALib ``analyze.morris``. Effects are per unit
  of the parameter's normalised range.
* **Any design**: Spearman rank correlation of each parameter with the KPI (Fisher-z interval)
  and a **tornado**: the mean KPI over the points in a parameter's lowest vs highest level (grid)
  or tercile (other samplers) — the swing attributable to that parameter.
* **Heatmaps**: the mean KPI over two parameters (levels, or 6 equal-width bins).
* **Scenario discovery**: points whose means meet every target are labelled; a shallow
  decision tree (scikit-learn, CART) separates them, and its purest leaf that predicts "met" is
  the box, stated as ranges, with its *density* (share of points in the box that meet every
  target) and *coverage* (share of all such points that fall in the box) — the measures PRIM uses.

    >>> import tempfile
    >>> from sim.experiments.design import build_design
    >>> from sim.experiments.sweep import run_sweep
    >>> def model(p, seed, rep):
    ...     return {"y": p["a"] + 10 * p["b"]}
    >>> d = build_design({"sampler": "grid", "kpis": ["y"], "targets": [{"kpi": "y",
    ...     "at_least": 10}], "parameters": {"a": {"low": 0, "high": 1, "steps": 4},
    ...     "b": {"low": 0, "high": 1, "steps": 4}}})
    >>> out = tempfile.mkdtemp()
    >>> _ = run_sweep(None, d, out=out, model_fn=model, workers=1, progress=False)
    >>> result = analyze(out, figures=False)
    >>> result["discovery"]["readable"], result["discovery"]["density"]
    (['b > 0.8333'], 1.0)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.design import Design, DesignTarget, build_design, unit_sample
from sim.experiments.sweep import JOURNAL, STATE, kpi_columns, point_means, read_journal, tidy_table
from sim.reports.results import write_json
from sim.scenario import ScenarioError

DEFAULT_KPIS = ("profit", "revenue", "repurchase_rate")


def load_sweep(sweep_dir: str | Path) -> tuple[Design, pd.DataFrame, int]:
    """The design, the results table (partial sweeps work: read from the journal) and #points."""
    sweep_dir = Path(sweep_dir)
    state_path = sweep_dir / STATE
    if not state_path.exists():
        raise ScenarioError([f"{sweep_dir}: not a sweep directory (no {STATE})"])
    state = json.loads(state_path.read_text())
    design = build_design(state["design"], source=str(state_path))
    return design, _results(sweep_dir, design), int(state["points"])


def _results(sweep_dir: Path, design: Design) -> pd.DataFrame:
    """The consolidated table if it is current, else the journal (an unfinished sweep)."""
    consolidated = sweep_dir / "results.parquet"
    parts = list((sweep_dir / JOURNAL).glob("part-*"))
    if consolidated.exists() and all(
        p.stat().st_mtime <= consolidated.stat().st_mtime for p in parts
    ):
        return pd.read_parquet(consolidated)
    points = pd.read_parquet(sweep_dir / "design_points.parquet")
    return tidy_table(read_journal(sweep_dir), points, design)


def analyze(
    sweep_dir: str | Path,
    *,
    kpis: list[str] | None = None,
    targets: list[DesignTarget] | None = None,
    out: str | Path | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Analyse a sweep; write ``analysis.json``, ``sensitivity.csv``, ``analysis.md`` and
    figures into ``out`` (default ``SWEEP_DIR/analysis``) and return the JSON content."""
    design, table, n_points = load_sweep(sweep_dir)
    means = point_means(table, design)
    available = kpi_columns(table, design)
    kpis = list(kpis or design.kpis or [k for k in DEFAULT_KPIS if k in available] or available[:3])
    unknown = [k for k in kpis if k not in available]
    if unknown:
        raise ScenarioError([f"--kpi {k}: not a KPI of this sweep" for k in unknown])
    sens = pd.concat([sensitivity(design, means, k, n_points) for k in kpis], ignore_index=True)
    result: dict[str, Any] = {
        "sweep": design.name,
        "sampler": design.sampler,
        "points": n_points,
        "points_done": int(means["point"].nunique()),
        "replications": design.replications,
        "failed_replications": int(table["error"].notna().sum()),
        "kpis": kpis,
        "parameters": design.names,
        "sensitivity": sens.to_dict("records"),
        "tornado": {k: tornado(design, means, k).to_dict("records") for k in kpis},
        "discovery": discover(
            design, means, targets if targets is not None else list(design.targets)
        ),
    }
    out = Path(out) if out is not None else Path(sweep_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    result["figures"] = _figures(design, means, kpis, sens, out) if figures else []
    sens.to_csv(out / "sensitivity.csv", index=False)
    write_json(out / "analysis.json", result)
    (out / "analysis.md").write_text(report_markdown(result, sens))
    return result


# --------------------------------------------------------------------------------------------
# Sensitivity
# --------------------------------------------------------------------------------------------
def sensitivity(design: Design, means: pd.DataFrame, kpi: str, n_points: int) -> pd.DataFrame:
    """Long table: kpi, parameter, method, measure, value, ci_low, ci_high."""
    rows = spearman(design, means, kpi)
    y = means.set_index("point")[kpi].reindex(range(n_points)).to_numpy(dtype=float)
    complete = bool(np.isfinite(y).all())
    if design.sampler == "sobol" and complete:
        rows += _sobol(design, y, kpi)
    elif design.sampler == "morris" and complete:
        rows += _morris(design, y, kpi)
    elif design.sampler in ("sobol", "morris"):  # the estimators need every point of the design
        rows.append(
            {
                "kpi": kpi,
                "parameter": None,
                "method": design.sampler,
                "measure": "skipped",
                "value": float(np.isfinite(y).sum()),
                "ci_low": None,
                "ci_high": None,
                "note": f"{int((~np.isfinite(y)).sum())} of {n_points} points missing "
                "or failed; Sobol'/Morris need all",
            }
        )
    return pd.DataFrame(
        rows,
        columns=["kpi", "parameter", "method", "measure", "value", "ci_low", "ci_high", "note"],
    )


def _row(kpi, name, method, measure, value, half=None, note=None) -> dict[str, Any]:
    value = float(value)
    ci = (None, None) if half is None or not np.isfinite(half) else (value - half, value + half)
    return {
        "kpi": kpi,
        "parameter": name,
        "method": method,
        "measure": measure,
        "value": value,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "note": note,
    }


def _sobol(design: Design, y: np.ndarray, kpi: str) -> list[dict[str, Any]]:
    from SALib.analyze import sobol

    if np.ptp(y) == 0:
        return [
            _row(kpi, n, "sobol", m, 0.0, note="KPI constant")
            for n in design.names
            for m in ("S1", "ST")
        ]
    res = sobol.analyze(
        design.problem(),
        y,
        calc_second_order=design.second_order,
        conf_level=0.95,
        seed=design.seed,
    )
    rows = []
    for i, name in enumerate(design.names):
        rows.append(_row(kpi, name, "sobol", "S1", res["S1"][i], res["S1_conf"][i]))
        rows.append(_row(kpi, name, "sobol", "ST", res["ST"][i], res["ST_conf"][i]))
        if design.second_order:
            for j in range(i + 1, len(design.names)):
                rows.append(
                    _row(
                        kpi,
                        f"{name} × {design.names[j]}",
                        "sobol",
                        "S2",
                        res["S2"][i, j],
                        res["S2_conf"][i, j],
                    )
                )
    return rows


def _morris(design: Design, y: np.ndarray, kpi: str) -> list[dict[str, Any]]:
    from SALib.analyze import morris

    x = unit_sample(design)  # the same trajectories the sweep ran (same seed)
    res = morris.analyze(
        design.problem(), x, y, num_levels=design.morris_levels, conf_level=0.95, seed=design.seed
    )
    rows = []
    for i, name in enumerate(design.names):
        rows.append(_row(kpi, name, "morris", "mu_star", res["mu_star"][i], res["mu_star_conf"][i]))
        rows.append(_row(kpi, name, "morris", "sigma", res["sigma"][i]))
        rows.append(_row(kpi, name, "morris", "mu", res["mu"][i]))
    return rows


def spearman(design: Design, means: pd.DataFrame, kpi: str) -> list[dict[str, Any]]:
    """Rank correlation of each numeric parameter with the KPI, with a Fisher-z interval."""
    rows = []
    ok = means[np.isfinite(means[kpi])]
    n = len(ok)
    for name in _numeric(design, means):
        if n < 4 or ok[name].nunique() < 2 or ok[kpi].nunique() < 2:
            continue
        rho = float(stats.spearmanr(ok[name], ok[kpi]).statistic)
        half = 1.96 * 1.03 / math.sqrt(n - 3)  # Fieller et al. s.e. of z for Spearman
        z = math.atanh(max(-0.999999, min(0.999999, rho)))
        rows.append(
            {
                "kpi": kpi,
                "parameter": name,
                "method": "spearman",
                "measure": "rho",
                "value": rho,
                "ci_low": math.tanh(z - half),
                "ci_high": math.tanh(z + half),
                "note": None,
            }
        )
    return rows


def _numeric(design: Design, means: pd.DataFrame) -> list[str]:
    return [
        n
        for n in design.names
        if pd.api.types.is_numeric_dtype(means[n]) and not pd.api.types.is_bool_dtype(means[n])
    ]


def tornado(design: Design, means: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """Mean KPI at each parameter's low and high end; sorted by swing, largest first."""
    rows = []
    ok = means[np.isfinite(means[kpi])]
    for name in _numeric(design, means):
        values = ok[name]
        if values.nunique() < 2:
            continue
        if design.sampler == "grid":
            low_mask, high_mask = values == values.min(), values == values.max()
        else:
            lo, hi = values.quantile([1 / 3, 2 / 3])
            low_mask, high_mask = values <= lo, values >= hi
        low, high = float(ok.loc[low_mask, kpi].mean()), float(ok.loc[high_mask, kpi].mean())
        rows.append({"parameter": name, "at_low": low, "at_high": high, "swing": abs(high - low)})
    frame = pd.DataFrame(rows, columns=["parameter", "at_low", "at_high", "swing"])
    return frame.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Scenario discovery
# --------------------------------------------------------------------------------------------
def discover(design: Design, means: pd.DataFrame, targets: list[DesignTarget]) -> dict[str, Any]:
    """The box of parameter space where every target is met (decision-tree leaf)."""
    if not targets:
        return {"targets": [], "note": "no targets in the design: nothing to discover"}
    missing = [t.kpi for t in targets if t.kpi not in means.columns]
    if missing:
        raise ScenarioError([f"targets: KPI {k!r} is not in this sweep" for k in missing])
    met = np.ones(len(means), dtype=bool)
    for t in targets:
        met &= t.met(means[t.kpi]).fillna(False).to_numpy(dtype=bool)
    out: dict[str, Any] = {
        "targets": [t.label() for t in targets],
        "points": len(means),
        "points_met": int(met.sum()),
    }
    names = _numeric(design, means)
    if met.all() or not met.any() or not names:
        out["box"] = {} if met.all() else None
        out["note"] = (
            "every point meets every target"
            if met.all()
            else "no point meets every target"
            if not met.any()
            else "no numeric parameter to describe a box"
        )
        return out
    box, inside = tree_box(means[names], met)
    out.update(
        box=box,
        readable=describe_box(box),
        points_in_box=int(inside.sum()),
        density=float(met[inside].mean()),
        coverage=float(met[inside].sum() / met.sum()),
    )
    return out


def tree_box(x: pd.DataFrame, met: np.ndarray) -> tuple[dict[str, dict], np.ndarray]:
    """The purest 'met' leaf of a shallow CART tree, as per-parameter bounds."""
    from sklearn.tree import DecisionTreeClassifier

    leaf_min = max(2, int(0.05 * len(x)))
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=leaf_min, random_state=0)
    tree.fit(x.to_numpy(dtype=float), met)
    leaves = tree.apply(x.to_numpy(dtype=float))
    best, best_key = None, None
    for leaf in np.unique(leaves):
        inside = leaves == leaf
        key = (met[inside].mean(), met[inside].sum())  # density first, then coverage
        if best_key is None or key > best_key:
            best, best_key = leaf, key
    bounds: dict[str, dict[str, float | None]] = {}
    t = tree.tree_
    path = _path_to(t, best)
    for node, went_left in path:
        name = x.columns[t.feature[node]]
        b = bounds.setdefault(name, {"low": None, "high": None})
        thr = float(t.threshold[node])
        if went_left:  # x ≤ threshold
            b["high"] = thr if b["high"] is None else min(b["high"], thr)
        else:
            b["low"] = thr if b["low"] is None else max(b["low"], thr)
    return bounds, leaves == best


def _path_to(t, leaf: int) -> list[tuple[int, bool]]:
    parent: dict[int, tuple[int, bool]] = {}
    for node in range(t.node_count):
        if t.children_left[node] != -1:
            parent[t.children_left[node]] = (node, True)
            parent[t.children_right[node]] = (node, False)
    path = []
    while leaf in parent:
        node, left = parent[leaf]
        path.append((node, left))
        leaf = node
    return path[::-1]


def describe_box(box: dict[str, dict[str, float | None]]) -> list[str]:
    """``{"a": {"low": 1, "high": None}}`` → ``["a > 1"]``."""
    lines = []
    for name, b in box.items():
        lo, hi = b["low"], b["high"]
        if lo is not None and hi is not None:
            lines.append(f"{_num(lo)} < {name} ≤ {_num(hi)}")
        elif lo is not None:
            lines.append(f"{name} > {_num(lo)}")
        else:
            lines.append(f"{name} ≤ {_num(hi)}")
    return lines or ["anywhere in the sampled space"]


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


# --------------------------------------------------------------------------------------------
# Figures and report
# --------------------------------------------------------------------------------------------
def _figures(
    design: Design, means: pd.DataFrame, kpis: list[str], sens: pd.DataFrame, out: Path
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    files = []
    for kpi in kpis:
        slug = kpi.replace(".", "_")
        tor = tornado(design, means, kpi)
        if len(tor):
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
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _pos: _num(v)))
            ax.set_xlabel(f"mean {kpi} at the parameter's low / high end ({_unit(kpi)})")
            ax.set_title(f"Tornado: {kpi} ({design.name})")
            ax.legend(loc="best")
            files.append(_save(fig, out / f"tornado_{slug}.png", plt))
        idx = sens[(sens["kpi"] == kpi) & sens["measure"].isin(["S1", "ST", "mu_star"])]
        if len(idx):
            files.append(_index_plot(idx, kpi, design, out / f"indices_{slug}.png", plt))
        if len(tor) >= 2:
            files.append(
                _heatmap(
                    means,
                    kpi,
                    tor["parameter"][0],
                    tor["parameter"][1],
                    design,
                    out / f"heatmap_{slug}.png",
                    plt,
                )
            )
    return files


def _index_plot(idx: pd.DataFrame, kpi: str, design: Design, path: Path, plt) -> str:
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
    return _save(fig, path, plt)


def _heatmap(means: pd.DataFrame, kpi: str, a: str, b: str, design: Design, path: Path, plt) -> str:
    frame = means[[a, b, kpi]].copy()
    for col in (a, b):
        if frame[col].nunique() > 8:
            frame[col] = pd.cut(frame[col], 6).map(lambda iv: iv.mid).astype(float)
    grid = frame.pivot_table(index=b, columns=a, values=kpi, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(7, 5))
    im = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(grid.columns)), [_num(v) for v in grid.columns], rotation=45)
    ax.set_yticks(range(len(grid.index)), [_num(v) for v in grid.index])
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    fig.colorbar(im, ax=ax, label=f"mean {kpi} ({_unit(kpi)})")
    ax.set_title(f"Mean {kpi} over its two most influential parameters ({design.name})")
    return _save(fig, path, plt)


def _save(fig, path: Path, plt) -> str:
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


def report_markdown(result: dict[str, Any], sens: pd.DataFrame) -> str:
    """A short human-readable summary of the analysis."""
    lines = [
        f"# Sweep analysis: {result['sweep']}",
        "",
        f"{result['sampler']} design, {result['points_done']} of {result['points']} points "
        f"× {result['replications']} replications; {result['failed_replications']} failed "
        "replications.",
        "",
    ]
    main = sens[sens["method"] != "spearman"]
    show = main if len(main) else sens
    if len(show):
        lines += [
            "## Sensitivity",
            "",
            "| KPI | parameter | method | measure | value | 95 % CI |",
            "|---|---|---|---|---|---|",
        ]
        for r in show.itertuples():
            ci = (
                ""
                if r.ci_low is None or pd.isna(r.ci_low)
                else f"[{r.ci_low:.3g}, {r.ci_high:.3g}]"
            )
            lines.append(
                f"| {r.kpi} | {r.parameter} | {r.method} | {r.measure} | {r.value:.4g} | {ci} |"
            )
        lines.append("")
    for kpi, rows in result["tornado"].items():
        if rows:
            lines += [
                f"## Tornado: {kpi}",
                "",
                "| parameter | at low end | at high end | swing |",
                "|---|---|---|---|",
            ]
            lines += [
                f"| {r['parameter']} | {_num(r['at_low'])} | {_num(r['at_high'])} | "
                f"{_num(r['swing'])} |"
                for r in rows
            ]
            lines.append("")
    d = result["discovery"]
    lines += ["## Where every target is met", ""]
    if not d.get("targets"):
        lines.append(d.get("note", ""))
    else:
        lines.append(
            "Targets: "
            + "; ".join(d["targets"])
            + f". {d['points_met']} of {d['points']} points meet them all."
        )
        if d.get("readable"):
            lines += ["", "Box (decision tree):", ""] + [f"- {s}" for s in d["readable"]]
            lines.append(
                f"\nDensity {d['density']:.0%} (share of the box's "
                f"{d['points_in_box']} points that meet every target), coverage "
                f"{d['coverage']:.0%} (share of all such points inside the box)."
            )
        elif d.get("note"):
            lines.append(d["note"] + ".")
    if result.get("figures"):
        lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in result["figures"]]
    return "\n".join(lines) + "\n"
