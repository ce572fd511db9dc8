"""Writing a sweep analysis: ``analysis.json``, ``sensitivity.csv``, ``analysis.md`` and figures.

:func:`analyze` analyses a sweep directory (:func:`sim.experiments.analysis.analyze_sweep`) and
writes what it found into ``SWEEP_DIR/analysis`` (or ``out``); :func:`analysis_markdown` is the
short human-readable summary, and :mod:`sim.reports.analysis_figures` draws the figures.

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

from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.analysis import SweepAnalysis, analyze_sweep
from sim.experiments.design import DesignTarget
from sim.reports.format import fmt
from sim.results.directories import write_json


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
    analysis = analyze_sweep(sweep_dir, kpis=kpis, targets=targets)
    out = Path(out) if out is not None else Path(sweep_dir) / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    result = {**analysis.summary, "figures": _figures(analysis, out) if figures else []}
    analysis.sensitivity.to_csv(out / "sensitivity.csv", index=False)
    write_json(out / "analysis.json", result)
    (out / "analysis.md").write_text(analysis_markdown(result, analysis.sensitivity))
    return result


def _figures(analysis: SweepAnalysis, out: Path) -> list[str]:
    from sim.reports.analysis_figures import write_figures  # matplotlib only when drawing

    return write_figures(analysis, out)


def analysis_markdown(result: dict[str, Any], sens: pd.DataFrame) -> str:
    """A short human-readable summary of the analysis (``result``: analysis.json's content)."""
    lines = [
        f"# Sweep analysis: {result['sweep']}",
        "",
        f"{result['sampler']} design, {result['points_done']} of {result['points']} points "
        f"× {result['replications']} replications; {result['failed_replications']} failed "
        "replications.",
        "",
    ]
    lines += _sensitivity_lines(sens)
    for kpi, rows in result["tornado"].items():
        lines += _tornado_lines(kpi, rows)
    lines += _discovery_lines(result["discovery"])
    if result.get("figures"):
        lines += ["", "## Figures", ""] + [f"![{f}]({f})" for f in result["figures"]]
    return "\n".join(lines) + "\n"


def _sensitivity_lines(sens: pd.DataFrame) -> list[str]:
    """The Sobol'/Morris indices, or the Spearman correlations if the design has neither."""
    main = sens[sens["method"] != "spearman"]
    show = main if len(main) else sens
    if not len(show):
        return []
    lines = [
        "## Sensitivity",
        "",
        "| KPI | parameter | method | measure | value | 95 % CI |",
        "|---|---|---|---|---|---|",
    ]
    for r in show.itertuples():
        ci = "" if r.ci_low is None or pd.isna(r.ci_low) else f"[{r.ci_low:.3g}, {r.ci_high:.3g}]"
        lines.append(
            f"| {r.kpi} | {r.parameter} | {r.method} | {r.measure} | {r.value:.4g} | {ci} |"
        )
    lines.append("")
    return lines


def _tornado_lines(kpi: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    return [
        f"## Tornado: {kpi}",
        "",
        "| parameter | at low end | at high end | swing |",
        "|---|---|---|---|",
        *(
            f"| {r['parameter']} | {fmt(r['at_low'])} | {fmt(r['at_high'])} | {fmt(r['swing'])} |"
            for r in rows
        ),
        "",
    ]


def _discovery_lines(d: dict[str, Any]) -> list[str]:
    lines = ["## Where every target is met", ""]
    if not d.get("targets"):
        lines.append(d.get("note", ""))
        return lines
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
    return lines
