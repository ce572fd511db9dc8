"""Report sections on the headline: targets with their verdicts; KPIs and paired differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.comparison import HEADLINE
from sim.reports.format import ci, fmt
from sim.reports.sections.blocks import TITLES, Block, Figure, Table
from sim.reports.store import Stored

TARGET_COLUMNS = (
    "scenario",
    "target",
    "definition",
    "estimate",
    "95 % CI",
    "P(meet) [95 % CI]",
    "verdict",
)
TARGETS_INTRO = (
    "Estimate: mean over replications (relative targets: mean of the paired ratio "
    "plan ÷ baseline, same seeds and window) with its 95 % t interval. P(meet): share "
    "of replications meeting the target, with its 95 % Wilson interval. Verdict: met if "
    "P ≥ 0.8, missed if P ≤ 0.2, otherwise at risk."
)
#: Columns of a paired difference (summary.json) that the forest plot needs as floats.
DIFF_FLOATS = ("relative", "baseline", "paired_low", "paired_high", "welch_low", "welch_high")


def targets_block(st: Stored) -> Block:
    rows = [
        _target_row(name, t) for name in st.names for t in st.summary["scenarios"][name]["targets"]
    ]
    intro = TARGETS_INTRO if rows else "No scenario states targets. " + TARGETS_INTRO
    return Block("targets", TITLES["targets"], intro, [Table(list(TARGET_COLUMNS), rows)], [])


def _target_row(name: str, t: dict[str, Any]) -> list[str]:
    op = "≥" if t["bound"] == "at_least" else "≤"
    rel = " × baseline" if t["relative_to"] else ""
    win = f", days [{t['window'][0]}, {t['window'][1]})" if t["window"] else ""
    what = f"{t['kpi']} {op} {t['threshold']:g}{rel}{win}"
    return [
        name,
        t["label"] or what,
        what,
        fmt(t["estimate"]),
        ci(t["ci_low"], t["ci_high"]),
        f"{fmt(t['probability'])} {ci(t['prob_ci_low'], t['prob_ci_high'])}",
        t["verdict"],
    ]


def kpis_block(st: Stored) -> Block:
    base, plans = st.names[0], st.names[1:]
    sc = st.summary["scenarios"]
    names = [k for k in HEADLINE if k in sc[base]["kpis"]]
    table = Table(_kpi_columns(base, plans), [_kpi_row(sc, k, base, plans) for k in names])
    figures = _paired_figure(sc, plans, names)
    return Block("kpis", TITLES["kpis"], _kpis_intro(st), [table], figures)


def _kpi_columns(base: str, plans: list[str]) -> list[str]:
    cols = ["KPI", f"{base} (baseline) mean [95 % CI]"]
    for p in plans:
        cols += [
            f"{p} mean [95 % CI]",
            f"{p} − baseline, paired [95 % CI]",
            f"{p} − baseline, unpaired (Welch) [95 % CI]",
        ]
    return cols


def _kpi_row(sc: dict[str, Any], k: str, base: str, plans: list[str]) -> list[str]:
    b = sc[base]["kpis"][k]
    row = [k, f"{fmt(b['mean'])} {ci(b['ci_low'], b['ci_high'])}"]
    for p in plans:
        v = sc[p]["kpis"].get(k, {})
        d = sc[p]["paired_diffs"].get(k, {})
        row += [
            f"{fmt(v.get('mean'))} {ci(v.get('ci_low'), v.get('ci_high'))}",
            f"{fmt(d.get('diff'))} ({fmt(d.get('relative'), pct=True)}) "
            f"{ci(d.get('paired_low'), d.get('paired_high'))}",
            f"{ci(d.get('welch_low'), d.get('welch_high'))}",
        ]
    return row


def _paired_figure(sc: dict[str, Any], plans: list[str], names: list[str]) -> list[Figure]:
    """The forest plot of plan − baseline with paired and Welch intervals ([] if no plan)."""
    diffs = pd.DataFrame(
        [
            {"plan": p, "kpi": k, **sc[p]["paired_diffs"][k]}
            for p in plans
            for k in names
            if k in sc[p]["paired_diffs"]
        ]
    )
    if not len(diffs):
        return []
    diffs = diffs.astype(dict.fromkeys(DIFF_FLOATS, float))
    from sim.reports import figures as F

    return [
        Figure(
            "paired_differences",
            "Plan − baseline with paired and unpaired intervals",
            F.diff_forest(diffs),
            f"Pairing replications (common random numbers) makes the 95 % "
            f"intervals a median {fmt(_narrowing(diffs))}× narrower than unpaired ones.",
        )
    ]


def _narrowing(diffs: pd.DataFrame) -> float:
    """Median ratio of unpaired (Welch) to paired interval widths."""
    pw = (diffs["paired_high"] - diffs["paired_low"]).to_numpy(dtype=float)
    ww = (diffs["welch_high"] - diffs["welch_low"]).to_numpy(dtype=float)
    ok = np.isfinite(pw) & np.isfinite(ww) & (pw > 0)
    return float(np.median(ww[ok] / pw[ok])) if ok.any() else float("nan")


def _kpis_intro(st: Stored) -> str:
    intro = (
        f"{st.summary['replications']} replications per scenario, seed "
        f"{st.summary['seed']}, 95 % intervals. Paired differences are the mean of "
        "plan_r − baseline_r over replications r run on the same random streams."
    )
    if st.summary.get("precision"):
        pr = st.summary["precision"]
        intro += (
            f" Adaptive precision {pr['precision']:.1%}: {pr['stopped_because']} after "
            f"{pr['replications']} replications (worst headline KPI "
            f"{pr['worst_kpi']} of {pr['worst_scenario']}: half-width "
            f"{pr['worst_relative_half_width']:.2%} of its mean)."
        )
    return intro
