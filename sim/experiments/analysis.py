"""Analysing a sweep: sensitivity indices and tornado swings, and where the targets are met.

:func:`analyze_sweep` reads a sweep directory (see :mod:`sim.experiments.sweep`) and works on
**point means** (each KPI averaged over a point's replications):

* **Sobol'** designs: first-order ``S1`` and total ``ST`` indices with bootstrap intervals
  (SALib ``analyze.sobol``; Saltelli/Jansen estimators); ``S2`` when sampled.
* **Morris** designs: ``mu_star`` (mean |elementary effect|, with bootstrap interval) and
  ``sigma`` (spread: interactions / non-linearity), SALib ``analyze.morris``. Effects are per unit
  of the parameter's normalised range.
* **Any design**: Spearman rank correlation of each parameter with the KPI (Fisher-z interval)
  and a **tornado**: the mean KPI over the points in a parameter's lowest vs highest level (grid)
  or tercile (other samplers) — the swing attributable to that parameter.
* **Scenario discovery** (:mod:`sim.experiments.discovery`): the box of parameter space where
  every target is met.

Writing the analysis (``analysis.json``, ``sensitivity.csv``, ``analysis.md``, tornado, index and
heatmap figures) is :func:`sim.reports.analysis.analyze`.

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
    >>> analysis = analyze_sweep(out)
    >>> analysis.summary["discovery"]["readable"], analysis.summary["discovery"]["density"]
    (['b > 0.8333'], 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.design import Design, DesignTarget, build_design, unit_sample
from sim.experiments.discovery import discover
from sim.experiments.sweep import JOURNAL, STATE, kpi_columns, point_means, read_journal, tidy_table
from sim.experiments.sweep_dir import read_state
from sim.scenario import ScenarioError

DEFAULT_KPIS = ("profit", "revenue", "repurchase_rate")


def load_sweep(sweep_dir: str | Path) -> tuple[Design, pd.DataFrame, int]:
    """The design, the results table (partial sweeps work: read from the journal) and #points."""
    sweep_dir = Path(sweep_dir)
    state = read_state(sweep_dir)  # a corrupt or foreign sweep.json is a clear error
    design = build_design(state["design"], source=str(sweep_dir / STATE))
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


@dataclass
class SweepAnalysis:
    """An analysed sweep: what ``analysis.json`` holds, and the tables figures are drawn from."""

    design: Design
    means: pd.DataFrame  # one row per point: its parameters and KPI means
    kpis: list[str]  # the KPIs analysed
    sensitivity: pd.DataFrame  # long table: kpi, parameter, method, measure, value, ci_low, …
    summary: dict[str, Any]  # the content of analysis.json, figures aside


def analyze_sweep(
    sweep_dir: str | Path,
    *,
    kpis: list[str] | None = None,
    targets: list[DesignTarget] | None = None,
) -> SweepAnalysis:
    """Sensitivity of each KPI to each parameter, tornado swings, and the box where every
    target is met (default: the design's KPIs and targets)."""
    design, table, n_points = load_sweep(sweep_dir)
    means = point_means(table, design)
    available = kpi_columns(table, design)
    kpis = list(kpis or design.kpis or [k for k in DEFAULT_KPIS if k in available] or available[:3])
    unknown = [k for k in kpis if k not in available]
    if unknown:
        raise ScenarioError([f"--kpi {k}: not a KPI of this sweep" for k in unknown])
    sens = pd.concat([sensitivity(design, means, k, n_points) for k in kpis], ignore_index=True)
    summary: dict[str, Any] = {
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
            means,
            targets if targets is not None else list(design.targets),
            numeric_parameters(design, means),
        ),
    }
    return SweepAnalysis(design, means, kpis, sens, summary)


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
    for name in numeric_parameters(design, means):
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


def numeric_parameters(design: Design, means: pd.DataFrame) -> list[str]:
    """The design's numeric (not boolean) parameters: those ranks and boxes apply to."""
    return [
        n
        for n in design.names
        if pd.api.types.is_numeric_dtype(means[n]) and not pd.api.types.is_bool_dtype(means[n])
    ]


def tornado(design: Design, means: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """Mean KPI at each parameter's low and high end; sorted by swing, largest first."""
    rows = []
    ok = means[np.isfinite(means[kpi])]
    for name in numeric_parameters(design, means):
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
