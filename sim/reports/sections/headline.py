"""Report sections on the headline: targets with their verdicts; KPIs and paired differences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.comparison import HEADLINE
from sim.reports.format import fmt, p_meet
from sim.reports.sections.blocks import TITLES, Block, Figure, Table
from sim.reports.store import Stored
from sim.reports.summary import interval
from sim.scenario.kpi_labels import change, label, show, unit

TARGET_COLUMNS = (
    "scenario",
    "target",
    "definition",
    "estimate",
    "95 % CI",
    "P(meet) [95 % Wilson CI] and what decides it",
    "verdict",
)
TARGETS_INTRO = (
    "Estimate: mean over replications (relative targets: mean of the paired ratio "
    "plan ÷ baseline, same seeds and window) with its 95 % t interval. P(meet): share "
    "of replications meeting the target, with its Wilson interval. A target asks for "
    "P(meet) ≥ the required probability: met when the interval's lower end is at or above it, "
    "missed when its upper end is below it, otherwise undecided (with an estimate of the "
    "replications that would decide it); undefined when the KPI has no value in some "
    "replication (a zero denominator), with the reason."
)
#: Columns of a paired difference (summary.json) that the forest plot needs as floats.
DIFF_FLOATS = ("relative", "baseline", "paired_low", "paired_high", "welch_low", "welch_high")


def targets_block(st: Stored) -> Block:
    rows = [
        _target_row(name, t) for name in st.names for t in st.summary["scenarios"][name]["targets"]
    ]
    intro = TARGETS_INTRO if rows else "No scenario states targets. " + TARGETS_INTRO
    intro += f" Required probability: {st.summary.get('required_probability', 0.8):.0%}."
    dec = st.summary.get("decision")
    if dec:
        intro += (
            f" Replications were added until every target was decided: {dec['stopped_because']}"
            f" after {dec['replications']} (cap {dec['max_replications']}); each of the "
            f"{dec['looks']} possible looks was judged at {dec['look_confidence']:.2%} so that "
            f"all together keep {dec['confidence']:.0%}."
        )
        if dec["undecided"]:
            intro += " Still undecided: " + "; ".join(dec["undecided"]) + "."
    return Block("targets", TITLES["targets"], intro, [Table(list(TARGET_COLUMNS), rows)], [])


def _target_row(name: str, t: dict[str, Any]) -> list[str]:
    op = "≥" if t["bound"] == "at_least" else "≤"
    rel = " × baseline" if t["relative_to"] else ""
    win = f", days {t['window'][0]}–{t['window'][1] - 1}" if t["window"] else ""  # both included
    what = f"{t['kpi']} {op} {t['threshold']:g}{rel}{win}"
    words = f"{label(t['kpi'])} {op} {_level(t, t['threshold'])}{rel}"
    estimate = _level(t, t.get("estimate"))
    return [
        name,
        t["label"] or words,
        f"{words} ({what})",
        estimate if "estimate" in t or not t.get("undefined") else "undefined",
        f"[{_level(t, t.get('ci_low'))}, {_level(t, t.get('ci_high'))}]",
        p_meet(t),
        t["verdict"],
    ]


def _level(t: dict[str, Any], x: Any) -> str:
    """A target's threshold or estimate: a ratio to the baseline as it is (``1.79``), an
    absolute one in the KPI's unit (``28.8 %``)."""
    if x is None:
        return "n/a"
    return fmt(x) if t["relative_to"] else show(t["kpi"], x)


def kpis_block(st: Stored) -> Block:
    base, plans = st.names[0], st.names[1:]
    sc = st.summary["scenarios"]
    names = [k for k in HEADLINE if k in sc[base]["kpis"]]
    table = Table(_kpi_columns(base, plans), [_kpi_row(sc, k, base, plans) for k in names])
    figures = _paired_figure(sc, plans, names)
    title = TITLES["kpis"] if plans else "KPIs with their 95 % intervals"  # a run: no plans
    return Block("kpis", title, _kpis_intro(st), [table], figures)


def _kpi_columns(base: str, plans: list[str]) -> list[str]:
    cols = ["KPI (unit)", "code name", f"{base} mean [95 % CI]"]
    for p in plans:
        cols += [
            f"{p} mean [95 % CI]",
            f"{p} − baseline, paired [95 % CI]",
            f"{p} − baseline, unpaired (Welch) [95 % CI]",
        ]
    return cols


def _kpi_row(sc: dict[str, Any], k: str, base: str, plans: list[str]) -> list[str]:
    row = [_named(k), k, _kpi_cell(k, sc[base]["kpis"][k])]
    for p in plans:
        v = sc[p]["kpis"].get(k, {})
        d = sc[p]["paired_diffs"].get(k, {})
        row += [
            _kpi_cell(k, v),
            f"{change(k, d.get('diff'), d.get('relative'))} "
            f"{interval(k, d.get('paired_low'), d.get('paired_high'))}",
            interval(k, d.get("welch_low"), d.get("welch_high")) or "n/a",
        ]
    return row


def _kpi_cell(k: str, v: dict[str, Any]) -> str:
    """``mean [low, high]`` in the KPI's unit; an undefined KPI says so and why (summary.json's
    ``undefined``)."""
    if "mean" not in v and "undefined" in v:
        return f"undefined: {v['undefined']}"
    cell = f"{show(k, v.get('mean'))} {_range(k, v.get('ci_low'), v.get('ci_high'))}"
    return f"{cell} (undefined in some: {v['undefined']})" if "undefined" in v else cell


def _named(k: str) -> str:
    """``revenue (M CNY)``: the KPI in words with its unit (unless the words say it)."""
    words, u = label(k), unit(k)
    return words if u in words else f"{words} ({u})"


def _range(k: str, lo: Any, hi: Any) -> str:
    """``[low, high]`` of a level (not a change), numbers only: the unit is beside the mean."""
    if lo is None or hi is None:
        return ""
    u = f" {unit(k)}"
    a, b = show(k, lo), show(k, hi)
    return f"[{a.removesuffix(u)}, {b.removesuffix(u)}]"


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
    diffs = diffs.reindex(columns=[*diffs.columns.difference(DIFF_FLOATS), *DIFF_FLOATS])
    diffs = diffs.astype(dict.fromkeys(DIFF_FLOATS, float))  # an undefined one is left out
    from sim.reports.forest import diff_forest

    png, clipped = diff_forest(diffs)
    reading = (
        f"Pairing replications (common random numbers) makes the 95 % intervals a median "
        f"{fmt(_narrowing(diffs))}× narrower than unpaired ones."
    )
    means = [c for c in clipped if " interval to " not in c]
    if means:
        reading += " Beyond the clipped axis: " + "; ".join(means) + "."
    if len(clipped) > len(means):
        reading += (
            f" {len(clipped) - len(means)} interval end(s) reach past the axis: each is written "
            "at the edge with how far it goes."
        )
    return [
        Figure(
            "paired_differences", "Plan − baseline with paired and unpaired intervals", png, reading
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
