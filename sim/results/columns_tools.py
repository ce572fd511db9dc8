"""``columns.csv`` for the directories the optimisers and ``channelsim calibrate`` write.

Their tables are their own (an optimiser's trials and iterations, a calibration's switching
matrix and holdout series), and several name columns after the scenario: a search's decisions
(``channels.tmall.budget.paid@2026-01``, ``rules.0.share``), a budget split's levers
(``tmall.paid``), targets (``P(sales +40 %)``), channels. :func:`write_tool_columns` reads the
header of every CSV under a directory (sub-directories with their own ``columns.csv``, such as an
optimiser's ``verification/``, are described there) and describes each column from
:data:`TOOL_TABLES`, the patterns of :func:`describe_tool` or, for a KPI, the KPI dictionary
(:mod:`sim.results.columns`); anything else is ``UNDOCUMENTED``, and the tests fail on it.

    >>> describe_tool("trials", "channels.tmall.budget.paid@2026-01")[1]
    'decision: the value the trial gave channels.tmall.budget.paid, in month 2026-01 (written as budget.periods)'
    >>> describe_tool("candidates", "tmall.paid")
    ('CNY/day', 'daily spend on tmall.paid in the plan')
"""  # noqa: E501 - the doctest's expected line is one printed line

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pandas as pd

from sim.results.columns import UNDOCUMENTED, describe
from sim.scenario.kpi_labels import LABELS

Entry = tuple[str, str]
_TRIAL: dict[str, Entry] = {
    "trial": ("", "Optuna trial number"),
    "state": ("", "COMPLETE, FAIL (a simulation error or a killed process; not counted), RUNNING"),
    "spend_per_day": ("CNY/day", "mean daily spend of the budget decisions over the horizon"),
    "feasible": ("yes/no", "every target's P(meet) ≥ --confidence (and within --total)"),
    "seconds": ("s", "wall-clock time of the trial"),
}
_ITERATION: dict[str, Entry] = {
    "iteration": ("", "loop iteration (0: the start)"),
    "status": ("", "start, accepted, rejected or converged"),
    "trust_region": ("CNY/day", "trust-region radius of the iteration"),
    "predicted": ("CNY", "the LP's forecast of the objective"),
    "simulated": ("CNY", "the objective simulated at the point (mean over replications)"),
    "improvement": ("CNY", "simulated gain over the loop's best point, same replications"),
    "feasible": ("yes/no", "every constraint holds on the loop's estimate (not a verdict)"),
    "violation": ("", "total relative violation of the constraints (0: none)"),
    "revenue": ("CNY", "revenue over the horizon (mean over replications)"),
    "replications": ("replications", "replications behind the point"),
    "total_spend": ("CNY/day", "mean daily spend of the optimised levers over the horizon"),
}
_SAMPLE: dict[str, Entry] = {
    "iteration": ("", "loop iteration whose curves the level was simulated for"),
    "lever": ("", "the lever varied (channel.lever, @YYYY-MM for a month)"),
    "spend": ("CNY/day", "the lever's spend at this level (the others at the centre)"),
    "center": ("yes/no", "the row is the centre point itself"),
    "margin": ("CNY", "profit before lever spend over the horizon"),
    "nonspend_cost": ("CNY", "commission, service and other costs over the horizon"),
    "cost": ("CNY", "every cost in the cost share (spend included) over the horizon"),
}
#: Tables of the optimisers' and calibrate's directories: table → column → (unit, meaning).
TOOL_TABLES: dict[str, dict[str, Entry]] = {
    "trials": _TRIAL,
    "pareto": _TRIAL,
    "iterations": _ITERATION,
    "samples": _SAMPLE,
    "curves": {
        "iteration": ("", "loop iteration the curve was fitted in"),
        "lever": ("", "the lever (channel.lever, @YYYY-MM for a month)"),
        "metric": ("", "what the curve models (revenue, margin, paid_revenue.CH, target.i …)"),
        "kind": ("", "exp, hill or linear (the fallback)"),
        "base": ("the metric's", "value at zero spend"),
        "amplitude": ("the metric's", "saturation height (negative: a falling curve)"),
        "scale": ("CNY/day", "spend at which the curve reaches 63 % (exp) or half (hill)"),
        "shape": ("", "Hill exponent (1 for exp and linear)"),
        "rmse": ("the metric's", "root mean square error of the fit"),
    },
    "candidates": {
        "plan": ("", "start, or the loop iteration whose split was verified"),
        "recommended": ("yes/no", "the plan the optimiser recommends"),
        "profit": ("CNY", "verified profit over the horizon (mean over replications)"),
        "revenue": ("CNY", "verified revenue over the horizon (mean over replications)"),
        "feasible": ("yes/no", "every constraint holds and every target is met, verified"),
        "fails": ("", "the constraints and targets it fails, in words"),
    },
    "constraints": {
        "constraint": ("", "total, bound …, roi_paid.CH, cost_share, core share or target: …"),
        "sense": ("", "≤ or ≥"),
        "limit": ("the constraint's", "the limit (CNY/day, a ratio, or the target's threshold)"),
        "value": ("the constraint's", "the recommendation's verified value"),
        "holds": ("yes/no", "the constraint holds (a target: its verdict is met)"),
        "violation": ("", "relative shortfall (0 when it holds)"),
        "verdict": ("", "a target's verdict: met, missed, undecided or undefined"),
        "p_meet": ("fraction (0–1)", "a target's P(meet) over the verification's replications"),
        "to_decide": ("replications", "an undecided target: about how many would decide it"),
        "why": ("", "why a target is undecided or undefined, in words"),
    },
    "failures": {
        "stage": ("", "loop or verification"),
        "iteration": ("", "loop iteration (loop failures)"),
        "point": ("", "which simulated point failed"),
        "plan": ("", "which verified plan failed"),
        "replication": ("", "replication index"),
        "error": ("", "the error the replication raised"),
    },
    "policies": {
        "sku": ("", "SKU id"),
        "location": ("", "stock location id"),
        "type": ("", "policy type: sS"),
        "s": ("units", "reorder point s of the recommended policy"),
        "S": ("units", "order-up-to level S of the recommended policy"),
        "start_s": ("units", "the analytic starting s"),
        "start_S": ("units", "the analytic starting S"),
        "start_analytic_cost": ("CNY/day", "analytic cost of the start"),
        "start_analytic_fill_rate": ("fraction (0–1)", "analytic fill rate of the start"),
        "demand_mean": ("units/day", "mean daily demand fitted or stated"),
        "demand_var": ("units²", "variance of daily demand"),
        "demand_distribution": ("", "poisson, negbin or normal"),
        "backorders": ("yes/no", "unmet demand waits (else it is lost)"),
        "lead_time_mean": ("days", "mean supplier lead time"),
        "review_period": ("days", "days between reviews"),
        "sim_cost": ("CNY/day", "simulated cost of the recommended policy"),
        "sim_cost_se": ("CNY/day", "standard error of sim_cost"),
        "sim_fill_rate": ("fraction (0–1)", "simulated fill rate of the recommended policy"),
        "sim_fill_rate_se": ("fraction (0–1)", "standard error of sim_fill_rate"),
        "target_fill_rate": ("fraction (0–1)", "fill rate required (empty: none)"),
        "feasible": ("yes/no", "the fill-rate requirement holds"),
        "evaluations": ("", "(s, S) points simulated"),
        "analytic_exact": ("yes/no", "the exact theory applies (Poisson, backorders, fixed L)"),
        "method": ("", "exact or simulation: which answered"),
        "analytic_cost": ("CNY/day", "analytic cost of the recommended policy"),
        "analytic_fill_rate": ("fraction (0–1)", "analytic fill rate of the recommended policy"),
        "exact_optimum_s": ("units", "Zheng–Federgruen optimum s (exact theory only)"),
        "exact_optimum_S": ("units", "Zheng–Federgruen optimum S (exact theory only)"),
        "exact_optimum_cost": ("CNY/day", "cost of the Zheng–Federgruen optimum"),
    },
    "switching": {"from": ("", "channel of an order (its next order's channel: the columns)")},
    "after_first_order": {"first_channel": ("", "channel of the customer's first order")},
    "customers": {
        "customer": ("", "customer id from the order file"),
        "first": ("day", "first order, days from the calibration start"),
        "last": ("day", "last order, days from the calibration start"),
        "purchase_days": ("days", "distinct days with an order"),
        "x": ("orders", "repeat purchases (BG/NBD x: purchase days − 1)"),
        "t_x": ("days", "time of the last purchase after the first (BG/NBD t_x)"),
        "T": ("days", "time observed after the first purchase (BG/NBD T)"),
        "spend": ("CNY", "order value over the calibration period"),
        "orders": ("orders", "orders over the calibration period"),
        "p_alive": ("fraction (0–1)", "probability the customer is still active (the fit)"),
        "p_alive_bgnbd": ("fraction (0–1)", "the same under the BG/NBD benchmark"),
        "segment": ("", "segment the customer was assigned to"),
        "member": ("0/1", "the customer bought in a private channel"),
    },
    "validation/weekly": {
        "week": ("", "week number from the calibration start"),
        "week_start": ("date", "first day of the week"),
        "period": ("", "calibration or holdout"),
        "actual": ("orders", "repeat orders of the calibration cohort in the week"),
        "sim_mean": ("orders", "the simulator's, mean over replications"),
        "sim_low": ("orders", "the simulator's 5–95 % band over replications, lower end"),
        "sim_high": ("orders", "the simulator's 5–95 % band over replications, upper end"),
        "bgnbd": ("orders", "the BG/NBD benchmark's expectation"),
        "actual_cum": ("orders", "cumulative actual"),
        "sim_cum": ("orders", "cumulative simulated (mean)"),
        "sim_cum_low": ("orders", "cumulative simulated, 5–95 % band lower end"),
        "sim_cum_high": ("orders", "cumulative simulated, 5–95 % band upper end"),
        "bgnbd_cum": ("orders", "cumulative BG/NBD expectation"),
        "actual_revenue": ("currency", "the cohort's actual repeat revenue in the week"),
        "sim_revenue_mean": ("currency", "simulated repeat revenue (mean over replications)"),
        "sim_revenue_low": ("currency", "simulated repeat revenue, 5–95 % band lower end"),
        "sim_revenue_high": ("currency", "simulated repeat revenue, 5–95 % band upper end"),
        "bgnbd_gamma_gamma_revenue": (
            "currency",
            "the BG/NBD's expected repeat orders × the gamma-gamma's mean value",
        ),
        "actual_revenue_cum": ("currency", "cumulative actual repeat revenue"),
        "sim_revenue_cum": ("currency", "cumulative simulated repeat revenue (mean)"),
        "sim_revenue_cum_low": ("currency", "cumulative simulated revenue, 5–95 % band lower end"),
        "sim_revenue_cum_high": (
            "currency",
            "cumulative simulated revenue, 5–95 % band upper end",
        ),
        "bgnbd_gamma_gamma_revenue_cum": ("currency", "cumulative benchmark revenue"),
    },
    "validation/conditional_expectation": {
        "x": ("orders", "repeat purchases in the calibration period (the group)"),
        "customers": ("customers", "customers in the group"),
        "actual": ("orders", "mean holdout orders per customer in the group"),
        "bgnbd": ("orders", "BG/NBD conditional expectation per customer"),
        "simulator": ("orders", "the simulator's mean per customer"),
        "sim_customers": ("customers", "simulated customers in the group (mean)"),
        "actual_revenue": ("currency", "mean holdout repeat revenue per customer in the group"),
        "bgnbd_gamma_gamma_revenue": (
            "currency",
            "BG/NBD conditional expectation × gamma-gamma expected value per transaction",
        ),
        "simulator_revenue": ("currency", "the simulator's mean holdout revenue per customer"),
    },
    "response/weekly_by_channel": {
        "week_start": ("date", "first day of the week"),
        "channel": ("", "channel id"),
        "measure": ("", "the weekly series: new customers, orders, visits or clicks"),
        "actual": ("the measure's", "the history's weekly total"),
        "simulated": ("the measure's", "the fitted simulator's, mean over replications"),
    },
    "response/backtest": {
        "week_start": ("date", "first day of the week"),
        "period": ("", "calibration or holdout"),
        "actual": ("the series'", "the history's weekly total"),
        "simulated": ("the series'", "the fitted simulator's, mean over replications"),
        "simulated_p5": ("the series'", "5th percentile over replications"),
        "simulated_p95": ("the series'", "95th percentile over replications"),
        "mmm": ("the series'", "the MMM benchmark (adstock + saturating curve regression)"),
    },
}
_LEVER = re.compile(r"^[\w-]+\.(paid|seeding|private_ops)(@\d{4}-\d{2})?$")
_PERIOD = re.compile(r"^(.+)@(\d{4}-\d{2})$")
_CHANNEL_MATRICES = {
    "switching": "share of next orders placed in this channel, given the row's channel",
    "after_first_order": "share of second orders placed in this channel, given the first's",
}


def describe_tool(table: str, column: str) -> Entry | None:
    """(unit, meaning) of ``column`` in an optimiser's or calibration's ``table``; None when
    neither the tables, the patterns nor the KPI dictionary know it."""
    fixed = TOOL_TABLES.get(table, {})
    if column in fixed:
        return fixed[column]
    if table in _CHANNEL_MATRICES:  # the other columns are channel ids
        return "fraction (0–1)", f"{_CHANNEL_MATRICES[table]} ({column})"
    if table == "response/draws":  # one column per fitted parameter (its scenario path)
        return "as in the scenario", f"posterior draw of {column} (one row per draw)"
    if table in ("trials", "pareto"):
        if column.startswith("P(") and column.endswith(")"):
            return "fraction (0–1)", f"P(meet) of target {column[2:-1]} in the trial"
        if column.partition(".")[0] not in LABELS:
            m = _PERIOD.match(column)
            if m:
                return (
                    "as in the scenario",
                    f"decision: the value the trial gave {m.group(1)}, in month {m.group(2)} "
                    "(written as budget.periods)",
                )
            if "." in column:
                return "as in the scenario", f"decision: the value the trial gave {column}"
    if table in ("iterations", "candidates", "samples") and _LEVER.match(column):
        return "CNY/day", f"daily spend on {column} in the plan"
    if table == "candidates" and column.startswith("target: "):
        return "", f"verified verdict of {column[8:]}: met, missed, undecided or undefined"
    if table in ("samples",) and column.startswith("paid_revenue."):
        return "CNY", f"paid-traffic revenue of {column[13:]} over the horizon"
    if table in ("samples",) and column.startswith("target."):
        return "the KPI's", "estimate of the plan's target number " + column[7:] + " (from 0)"
    if column.partition(".")[0] in LABELS:  # objectives, roi_paid.CH …: a KPI
        return describe("kpis", column)
    return None


def write_tool_columns(directory: str | Path) -> Path:
    """Write ``columns.csv`` describing every column of every CSV under ``directory``."""
    d = Path(directory)
    rows = []
    for table, path in _tables(d):
        for col in pd.read_csv(path, nrows=0).columns:
            unit, text = describe_tool(table, str(col)) or ("", UNDOCUMENTED)
            rows.append([table, col, unit, text])
    tmp = d / ".columns.csv.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["table", "column", "unit", "meaning"])
        w.writerows(rows)
    os.replace(tmp, d / "columns.csv")
    return d / "columns.csv"


def _tables(d: Path) -> list[tuple[str, Path]]:
    """(table name, path) of every CSV under ``d``: the path without ``.csv``, ``/``-separated;
    hidden files and directories with their own ``columns.csv`` are left out."""
    own = {p.parent for p in d.rglob("columns.csv") if p.parent != d}
    out = []
    for path in sorted(d.rglob("*.csv")):
        rel = path.relative_to(d)
        if path.name == "columns.csv" or any(p.startswith(".") for p in rel.parts):
            continue
        if any(parent in own for parent in path.parents):
            continue
        out.append((rel.with_suffix("").as_posix(), path))
    return out


def tool_markdown() -> list[str]:
    """The tables above as markdown sections (``docs/data-dictionary.md``)."""
    out = [
        "## The optimisers' and calibrate's tables",
        "",
        "`channelsim optimize search|budget|inventory` and `channelsim calibrate` write a "
        "`columns.csv` of their own tables (`sim/results/columns_tools.py`); their "
        "`verification/` sub-directory has the comparison's. Columns named after the scenario: "
        "a search's decisions (`PATH`, or `PATH@YYYY-MM` for one month's budget; unit as in the "
        "scenario), `P(target)` (P(meet) of each target), a budget split's levers "
        "(`channel.lever[@YYYY-MM]`, CNY/day), `target: …` (verified verdicts), KPIs as in "
        "`kpis`, and the channel columns of `switching` and `after_first_order` (shares).",
        "",
    ]
    for table, columns in TOOL_TABLES.items():
        out += [f"### `{table}`", "", "| column | unit | meaning |", "|---|---|---|"]
        out += [f"| `{c}` | {u} | {t} |" for c, (u, t) in columns.items()]
        out.append("")
    return out
