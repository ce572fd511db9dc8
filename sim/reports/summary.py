"""The one-minute summary: targets met / undecided / missed, the largest changes in words and
units, and what a plan costs — the opening of every report and the end of the console output
of ``run``, ``compare`` and the optimisers (one function, so they always agree).

Everything is read from a ``summary.json``-shaped dict: a comparison's
(:meth:`~sim.experiments.comparison.Comparison.summary`) or a run's, which :func:`as_comparison`
turns into the same shape with no plans.

    >>> s = {"baseline": "base", "plans": ["plan"], "scenarios": {
    ...   "base": {"kpis": {"revenue": {"mean": 4.36e8}}, "targets": [], "paired_diffs": {}},
    ...   "plan": {"kpis": {"revenue": {"mean": 7.71e8}}, "targets": [{"verdict": "met"}],
    ...            "paired_diffs": {"revenue": {"diff": 3.35e8, "relative": 0.77,
    ...                              "paired_low": 3.2e8, "paired_high": 3.5e8}}}}}
    >>> largest_changes(s, "plan")[0][1]
    '+335.0 M CNY (+77 %)'
    >>> print(console_summary(s).replace("─", "-"))  # doctest: +ELLIPSIS
    Summary -----...
    plan vs base: 1 target: 1 met, 0 undecided, 0 missed
      revenue                                 +335.0 M CNY (+77 %)   [+320.0, +350.0] M CNY
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

from sim.experiments.comparison import HEADLINE
from sim.scenario.kpi_labels import change, label, show

VERDICTS = ("met", "undecided", "missed", "undefined")
#: Changes shown beside the largest ones when present: money first, then what it cost.
MONEY = ("revenue", "profit", "spend")
WIDTH = 100


def as_comparison(run_summary: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A run's ``summary.json`` (``kpis``, ``targets``) in a comparison's shape, no plans."""
    return {
        "baseline": name,
        "plans": [],
        "scenarios": {
            name: {
                "kpis": dict(run_summary.get("kpis", {})),
                "targets": list(run_summary.get("targets", [])),
                "paired_diffs": {},
            }
        },
    }


def verdict_counts(targets: list[Mapping[str, Any]]) -> dict[str, int]:
    """How many targets are met, undecided, missed and undefined."""
    counts = dict.fromkeys(VERDICTS, 0)
    for t in targets:
        v = str(t.get("verdict", "undecided"))
        counts[v] = counts.get(v, 0) + 1
    return counts


def verdict_text(targets: list[Mapping[str, Any]]) -> str:
    """``6 targets: 5 met, 1 undecided, 0 missed`` (undefined only when there are some)."""
    if not targets:
        return "no targets"
    c = verdict_counts(targets)
    n = len(targets)
    text = f"{n} target{'s' if n != 1 else ''}: {c['met']} met, {c['undecided']} undecided, "
    text += f"{c['missed']} missed"
    return text + (f", {c['undefined']} undefined" if c["undefined"] else "")


def _significant(d: Mapping[str, Any]) -> bool:
    lo, hi = d.get("paired_low"), d.get("paired_high")
    if lo is None or hi is None:
        return d.get("diff", 0) not in (0, None)
    return lo > 0 or hi < 0


def largest_changes(
    summary: Mapping[str, Any], plan: str, n: int = 3, exclude: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """The ``n`` headline KPIs whose paired difference is largest relative to the baseline,
    among those whose 95 % interval excludes zero: ``[(kpi, "+335.0 M CNY (+77 %)"), …]``. A
    scoped duplicate (``revenue.online`` equal to ``revenue``) is left out."""
    diffs = summary["scenarios"][plan].get("paired_diffs", {})
    rows = []
    for k in HEADLINE:
        d = diffs.get(k)
        if not d or d.get("relative") is None or not _significant(d) or k in exclude:
            continue
        base = k.partition(".")[0]
        if base != k and base in diffs and diffs[base].get("diff") == d.get("diff"):
            continue
        rows.append((abs(float(d["relative"])), k, change(k, d.get("diff"), d["relative"])))
    rows.sort(key=lambda r: -r[0])
    return [(k, text) for _, k, text in rows[:n]]


def money_changes(summary: Mapping[str, Any], plan: str) -> list[tuple[str, str]]:
    """Revenue, profit and marketing spend changes (what the plan earns and what it costs)."""
    diffs = summary["scenarios"][plan].get("paired_diffs", {})
    return [
        (k, change(k, diffs[k].get("diff"), diffs[k].get("relative"))) for k in MONEY if k in diffs
    ]


def sentences(summary: Mapping[str, Any]) -> list[str]:
    """The summary in sentences, one per plan (one for a run without plans)."""
    base = summary["baseline"]
    sc = summary["scenarios"]
    if not summary.get("plans"):
        kp = sc[base].get("kpis", {})
        vals = ", ".join(
            f"{label(k)} {show(k, kp[k]['mean'])}" for k in MONEY if "mean" in kp.get(k, {})
        )
        return [f"{base}: {verdict_text(sc[base].get('targets', []))}. {_cap(vals)}."]
    out = []
    for p in summary["plans"]:
        text = f"{p} against {base}: {verdict_text(sc[p].get('targets', []))}."
        money = dict(money_changes(summary, p))
        earned = [f"{label(k)} {money[k]}" for k in ("revenue", "profit") if k in money]
        if earned:
            text += " " + _cap(", ".join(earned))
            spent = summary["scenarios"][p]["paired_diffs"].get("spend", {}).get("diff", 0)
            if "spend" not in money:
                text += "."
            elif spent > 0:
                text += f" for {money['spend']} of marketing spend."
            else:
                text += f", with marketing spend {money['spend']}."
        big = [(k, t) for k, t in largest_changes(summary, p, exclude=MONEY)]
        if big:
            text += " Largest other changes: "
            text += "; ".join(f"{label(k)} {t}" for k, t in big) + "."
        out.append(text)
    return out


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def change_rows(summary: Mapping[str, Any], plan: str) -> list[list[str]]:
    """Rows (KPI in words, code name, baseline, plan, change, 95 % interval) of the largest
    and the money changes of ``plan``."""
    base = summary["baseline"]
    sc = summary["scenarios"]
    diffs = sc[plan].get("paired_diffs", {})
    big = [k for k, _ in largest_changes(summary, plan, exclude=MONEY)]
    names = [k for k in MONEY if k in diffs] + big
    rows = []
    for k in names:
        d = diffs.get(k)
        if not d:
            continue
        rows.append(
            [
                label(k),
                k,
                show(k, sc[base]["kpis"].get(k, {}).get("mean")),
                show(k, sc[plan]["kpis"].get(k, {}).get("mean")),
                change(k, d.get("diff"), d.get("relative")),
                interval(k, d.get("paired_low"), d.get("paired_high")),
            ]
        )
    return rows


def interval(k: str, lo: Any, hi: Any) -> str:
    """``[+320.0, +350.0] M CNY``: a 95 % interval of a change in the KPI's unit (the unit
    once, after the bracket, when both ends have the same)."""
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    a, b = show(k, lo, signed=True), show(k, hi, signed=True)
    (na, _, ua), (nb, _, ub) = a.partition(" "), b.partition(" ")
    return f"[{na}, {nb}] {ua}".rstrip() if ua == ub else f"[{a}, {b}]"


def console_summary(summary: Mapping[str, Any], width: int = WIDTH) -> str:
    """The summary as the console prints it last: at most ``width`` columns."""
    lines = ["Summary " + "─" * (width - 12)]
    base = summary["baseline"]
    sc = summary["scenarios"]
    plans = summary.get("plans") or []
    if not plans:
        lines.append(_clip(f"{base}: {verdict_text(sc[base].get('targets', []))}", width))
        kp = sc[base].get("kpis", {})
        for k in (*MONEY, "orders", "buyers"):
            v = kp.get(k, {})
            if "mean" in v:
                ci = interval(k, v.get("ci_low"), v.get("ci_high")).replace("+", "")
                lines.append(_row(label(k), show(k, v["mean"]), ci, width))
        return "\n".join(lines)
    for p in plans:
        lines.append(_clip(f"{p} vs {base}: {verdict_text(sc[p].get('targets', []))}", width))
        for r in change_rows(summary, p):
            lines.append(_row(r[0], r[4], r[5], width))
    return "\n".join(lines)


def _row(name: str, value: str, extra: str, width: int) -> str:
    text = f"  {name[:36]:<36}  {value:>22}   {extra}".rstrip()
    return _clip(text, width)


def _clip(text: str, width: int) -> str:
    return textwrap.shorten(text, width, placeholder="…") if len(text) > width else text
