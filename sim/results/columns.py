"""The data dictionary of a results directory: ``columns.csv`` (table, column, unit, meaning).

:func:`write_columns` reads the tables actually written into a directory (``daily``,
``market``, ``kpis``, ``journeys``, ``flows``, ``cohorts``, ``inventory``, a sweep's ``results``
and ``point_summary``, and ``summary.json``'s fields) and describes every column it finds, so the
dictionary cannot drift from the files: a column with no entry here is written with the meaning
``UNDOCUMENTED`` and ``tests/test_report_people.py`` fails. ``docs/data-dictionary.md`` is the
same content for reading.

    >>> describe("daily", "revenue")
    ('CNY', 'order value net of discounts, per day and channel')
    >>> describe("kpis", "roi_paid.tmall")[1]
    'KPI: revenue per CNY of paid traffic (tmall) — revenue of paid-traffic orders ÷ paid spend, tmall only'
"""  # noqa: E501 - the doctest's expected line is one printed line

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sim.scenario.kpi_labels import LABELS, label, meaning

UNDOCUMENTED = "UNDOCUMENTED"
SOURCES_WORDS = {
    "paid": "paid traffic",
    "organic": "organic interest and word of mouth",
    "seeding": "social seeding",
    "private": "private-pool operations",
    "referral": "referrals",
}
#: Columns any table may have.
COMMON = {
    "scenario": ("", "scenario label (the baseline first, then the plans) of a comparison"),
    "replication": ("", "replication index r: random streams SeedSequence([seed, r])"),
    "day": ("day", "day number counted from horizon.start (day 0)"),
    "date": ("date", "calendar date of the day"),
}
DAILY: dict[str, tuple[str, str]] = {
    "channel": ("", "channel id"),
    "family": ("", "channel family: public, private, social or offline"),
    "core": ("yes/no", "the channel counts as core for traffic_concentration"),
    "visits": ("visits", "ad clicks plus shopping sessions"),
    "sessions": ("customers", "in-market customers who came to the channel"),
    "orders": ("orders", "orders placed"),
    "units": ("units", "units sold"),
    "revenue": ("CNY", "order value net of discounts"),
    "cogs": ("CNY", "cost of the goods sold"),
    "commission": ("CNY", "platform commission paid"),
    "discount": ("CNY", "discounts given (promotions, member and tier prices)"),
    "new_customers": ("customers", "first-ever orders"),
    "repeat_orders": ("orders", "orders by customers who had ordered before"),
    "satisfied_orders": ("orders", "orders whose buyer ended satisfied"),
    "joined_private": ("customers", "buyers who joined the private pool"),
    "referrals": ("customers", "friends referred (they start interested)"),
    "promo_revenue": ("CNY", "revenue of orders that got a promotion"),
    "coupon_cost": ("CNY", "value of redeemed coupons"),
    "coupons_issued": ("coupons", "coupons handed out"),
    "coupons_redeemed": ("coupons", "coupons used on an order"),
    "subscription_orders": ("orders", "subscription shipments"),
    "reminders": ("messages", "repurchase reminders sent"),
    "group_invites": ("customers", "buyers invited into a group"),
    "samples": ("orders", "trial-size (sample) orders"),
    "orders_paid_ad": ("orders", "paid-traffic orders by the channel of the last paid ad seen"),
    "revenue_paid_ad": ("CNY", "revenue of paid-traffic orders by the last paid ad's channel"),
    "stockouts": ("orders", "orders that met an empty shelf"),
    "lost_orders": ("orders", "orders lost to a stockout"),
    "switched_orders": ("orders", "orders that switched to another channel on a stockout"),
    "backordered_orders": ("orders", "orders put on backorder"),
    "spend_paid": ("CNY", "paid-traffic spend"),
    "spend_seeding": ("CNY", "content-seeding spend"),
    "spend_private_ops": ("CNY", "private-pool operations spend"),
    "spend": ("CNY", "marketing spend: paid + seeding + private operations"),
    "service_cost": ("CNY", "customer-service cost"),
    "inventory_cost": ("CNY", "cash inventory costs (holding, ordering, transfers)"),
    "price": ("CNY per unit", "shelf price today (not scaled)"),
    "band_violation": ("0/1", "1 when the channel priced outside the price band today"),
    **{f"orders_{s}": ("orders", f"orders that came from {w}") for s, w in SOURCES_WORDS.items()},
    **{f"revenue_{s}": ("CNY", f"revenue of orders from {w}") for s, w in SOURCES_WORDS.items()},
}
MARKET: dict[str, tuple[str, str]] = {
    "private_pool": ("customers", "members of the private pool at the end of the day"),
    "interested": ("customers", "customers interested (in the market) at the end of the day"),
    "customers": ("customers", "customers who have bought and not churned, end of day"),
    "churned": ("customers", "customers who have churned, end of day"),
    "subscribers": ("customers", "active subscriptions at the end of the day"),
    "tier_new": ("customers", "pool members in tier new, end of day"),
    "tier_potential": ("customers", "pool members in tier potential, end of day"),
    "tier_high_value": ("customers", "pool members in tier high value, end of day"),
}
OTHER: dict[str, dict[str, tuple[str, str]]] = {
    "journeys": {
        "customer": ("", "simulated customer id (the first market.journey_sample customers)"),
        "event": ("", "interested, visit, order, joined_private, referred or churned"),
        "channel": ("", "channel id of the event ('' when none)"),
    },
    "flows": {
        "origin": ("", "where the customer last bought, or how a new customer arrived"),
        "destination": ("", "family the order was placed in, or 'private pool' for a join"),
        "count": ("orders", "moves over the horizon (real units)"),
    },
    "cohorts": {
        "cohort": ("month", "month of the first-ever order (YYYY-MM)"),
        "new_customers": ("customers", "customers whose first-ever order fell in the month"),
        "observable": ("customers", "of them, those with within_days left before the end"),
        "repurchased": ("customers", "of the observable, those who ordered again in time"),
        "within_days": ("days", "the repurchase window"),
    },
    "decisions": {
        "rule": ("", "the rule's name (or kind and position in the scenario's rules: block)"),
        "kind": ("", "rule kind: reallocate, pilot, stock, extend_promotion or ab_test"),
        "channel": ("", "channel whose budget the decision set ('' for stock and promotion rules)"),
        "lever": ("", "what was set: paid (budget), safety_factor, promotion_end or price (A/B)"),
        "target": (
            "",
            "what it set: a channel, SKU or promotion id, or an A/B test arm (arm A, arm B)",
        ),
        "seen": ("", "what the rule saw, in words: the ledger days it read and the values"),
        "metric": (
            "CNY/CNY, CNY, share or ratio",
            "the channel's measured paid ROI, a pilot's CAC per new customer, a SKU's stockout "
            "rate, a promotion's week-1 orders ÷ forecast, or an A/B test's p-value",
        ),
        "before": (
            "CNY/day, k, day or × price",
            "the budget, k, last day or price multiplier before",
        ),
        "after": ("CNY/day, k, day or × price", "the same from the decision day on"),
        "note": ("", "the decision in words"),
    },
    "inventory": {
        "sku": ("", "SKU id"),
        "location": ("", "stock location id"),
        "on_hand": ("units", "units on hand at the end of the day"),
        "on_order": ("units", "units ordered and not yet received"),
        "backorders": ("units", "units owed to customers at the end of the day"),
        "demand": ("units", "units demanded where served (unserved: at the first location)"),
        "requested": ("units", "what forecasts see: demand plus replenishment requests"),
        "served": ("units", "units served from stock at once"),
        "lost": ("units", "units lost to stockouts"),
        "switched": ("units", "units whose buyer switched channel on a stockout"),
        "backordered": ("units", "units put on backorder today"),
        "shipped": ("units", "units shipped (orders and transfers)"),
        "received": ("units", "units received (orders and transfers)"),
        "orders_placed": ("orders", "replenishment orders placed"),
        "ordered_units": ("units", "units ordered"),
        "transfer_out": ("units", "units transferred to other locations"),
        "demand_orders": ("orders", "customer orders demanding the SKU here"),
        "served_orders": ("orders", "customer orders served"),
        "delivery_days_sum": ("days", "delivery days summed over served orders"),
        "holding_cost": ("CNY", "cost of holding the stock"),
        "ordering_cost": ("CNY", "replenishment ordering cost"),
        "transfer_cost": ("CNY", "transfer cost"),
        "backorder_cost": ("CNY", "backorder penalty"),
        "lost_margin": ("CNY", "margin of lost units"),
        "purchase_cost": ("CNY", "purchase cost of units ordered"),
        "inventory_value": ("CNY", "value of the stock on hand at unit cost"),
        "cogs": ("CNY", "cost of the goods served"),
        "clearance": ("units", "slow movers cleared"),
    },
    "point_summary": {
        "point": ("", "design point index"),
        "kpi": ("", "KPI name (see the kpis table)"),
        "mean": ("the KPI's", "mean over the point's replications"),
        "ci_low": ("the KPI's", "lower end of the 95 % t interval of the mean"),
        "ci_high": ("the KPI's", "upper end of the 95 % t interval of the mean"),
        "sd": ("the KPI's", "standard deviation over replications"),
        "n": ("replications", "replications with a value"),
        "errors": ("replications", "failed replications of the point"),
    },
    "results": {
        "point": ("", "design point index"),
        "error": ("", "why the replication failed (empty when it ran)"),
    },
}
#: summary.json fields (flattened: ``kpis.KPI.mean`` is ``kpis.*.mean``).
SUMMARY: dict[str, tuple[str, str]] = {
    "kpis.*.mean": ("the KPI's", "mean over replications"),
    "kpis.*.ci_low": ("the KPI's", "lower end of the 95 % t interval of the mean"),
    "kpis.*.ci_high": ("the KPI's", "upper end of the 95 % t interval of the mean"),
    "kpis.*.replications": ("replications", "replications (when some left it undefined)"),
    "kpis.*.defined": ("replications", "replications in which the KPI has a value"),
    "kpis.*.undefined": ("", "why the KPI has no value in some replications"),
    "targets[].kpi": ("", "the KPI the target is on"),
    "targets[].label": ("", "the target's name in the scenario"),
    "targets[].window": ("days", "[first, last) days of the window (null: whole horizon)"),
    "targets[].relative_to": ("", "'baseline' for a ratio plan ÷ baseline, else null"),
    "targets[].bound": ("", "at_least or at_most"),
    "targets[].threshold": ("the KPI's (× baseline if relative)", "the bound"),
    "targets[].estimate": ("the KPI's (× baseline if relative)", "mean over replications"),
    "targets[].ci_low": ("as estimate", "95 % t interval of the estimate, lower end"),
    "targets[].ci_high": ("as estimate", "95 % t interval of the estimate, upper end"),
    "targets[].probability": ("fraction", "P(meet): share of replications meeting it"),
    "targets[].prob_ci_low": ("fraction", "Wilson interval of P(meet), lower end"),
    "targets[].prob_ci_high": ("fraction", "Wilson interval of P(meet), upper end"),
    "targets[].verdict": ("", "met, missed, undecided or undefined (docs/compare.md)"),
    "targets[].replications": ("replications", "replications behind P(meet)"),
    "targets[].required_probability": ("fraction", "P(meet) the target must be shown to reach"),
    "targets[].confidence": ("fraction", "confidence of the Wilson interval"),
    "targets[].replications_to_decide": ("replications", "estimate of those that would decide"),
    "targets[].undefined": ("replications", "replications where the KPI has no value"),
    "targets[].reason": ("", "why the KPI has no value (undefined targets)"),
    "paired_diffs.*.baseline": ("the KPI's", "baseline mean"),
    "paired_diffs.*.value": ("the KPI's", "plan mean"),
    "paired_diffs.*.diff": ("the KPI's", "mean of plan_r − baseline_r (paired)"),
    "paired_diffs.*.relative": ("fraction", "diff ÷ |baseline mean|"),
    "paired_diffs.*.paired_low": ("the KPI's", "95 % paired t interval, lower end"),
    "paired_diffs.*.paired_high": ("the KPI's", "95 % paired t interval, upper end"),
    "paired_diffs.*.welch_low": ("the KPI's", "95 % Welch (unpaired) interval, lower end"),
    "paired_diffs.*.welch_high": ("the KPI's", "95 % Welch (unpaired) interval, upper end"),
    "paired_diffs.*.n": ("replications", "pairs both defined"),
}
#: Units of a KPI value as stored (the reports convert: M CNY, %).
#: ab_tests.csv: one row per A/B test (sim.rules.ab) per replication.
OTHER["ab_tests"] = {
    "rule": ("", "the test's name (or rules[i])"),
    "metric": ("", "what the team compared: conversion or revenue_per_customer"),
    "test": ("", "z: two-sided pooled two-proportion z-test; welch: two-sided Welch t-test"),
    "alpha": ("fraction (0–1)", "the test's level: a p-value below it declares a winner"),
    "start_day": ("day", "first day of the test (arms see their settings)"),
    "decision_day": ("day", "the first day after the test: read, decided, rolled out"),
    "days_seen": ("days", "test days the team had seen on the decision day (days − lag)"),
    "n_a": ("customers", "customers in arm A: enrolled × (1 − share_b), one agent each"),
    "n_b": ("customers", "customers in arm B: enrolled × share_b (real test subjects)"),
    "value_a": ("as metric", "arm A's metric: buyers ÷ customers, or CNY per customer"),
    "value_b": ("as metric", "arm B's metric"),
    "sd_a": ("as metric", "arm A's per-customer standard deviation"),
    "sd_b": ("as metric", "arm B's per-customer standard deviation"),
    "statistic": ("", "the z or t statistic of B − A"),
    "p_value": ("fraction (0–1)", "two-sided p-value"),
    "winner": ("", "A or B (significant, higher metric) or none"),
    "price_a": ("× price", "arm A's price multiplier during the test"),
    "price_b": ("× price", "arm B's price multiplier during the test"),
    "price_after": ("× price", "the multiplier everyone sees from the decision day on"),
    "min_effect": ("as metric", "the smallest B − A difference the plan wants to detect"),
}
RAW_UNITS = {
    "money": "CNY",
    "cny": "CNY",
    "rate": "fraction (0–1)",
    "ratio": "CNY per CNY",
    "count": "customers",
    "orders": "orders",
    "units": "units",
    "days": "days",
    "times": "per year",
}
#: Table files a results directory may hold, by table name.
TABLES = ("daily", "market", "kpis", "journeys", "flows", "cohorts", "inventory", "results")
TABLES += ("decisions",)
TABLES += ("ab_tests",)
TABLES += ("point_summary",)


def describe(table: str, column: str) -> tuple[str, str] | None:
    """(unit, meaning) of ``column`` in ``table``; None when the dictionary lacks it."""
    if column in COMMON:
        return COMMON[column]
    if table == "daily" and column in DAILY:
        unit, text = DAILY[column]
        return unit, f"{text}, per day and channel" if unit else text
    if table == "market" and column in MARKET:
        return MARKET[column][0], MARKET[column][1] + " (real units)"
    if column in OTHER.get(table, {}):
        return OTHER[table][column]
    if table in ("kpis", "results") and column.partition(".")[0] in LABELS:
        kind = LABELS[column.partition(".")[0]].kind
        return RAW_UNITS[kind], f"KPI: {label(column)} — {meaning(column)}"
    if table == "summary":
        return _summary_field(column)
    return None


def _summary_field(column: str) -> tuple[str, str] | None:
    parts = column.split(".")
    if parts[0] == "targets[]":
        return SUMMARY.get(column)
    if len(parts) >= 3:
        return SUMMARY.get(f"{parts[0]}.*.{parts[-1]}")
    return None


def write_columns(directory: str | Path, *, sweep_parameters: tuple[str, ...] = ()) -> Path:
    """Write ``columns.csv`` describing every column of the tables in ``directory``."""
    d = Path(directory)
    rows = []
    for table, columns in table_columns(d).items():
        for col in columns:
            found = describe(table, col)
            if found is None and col in sweep_parameters:
                found = ("as in the scenario", f"design parameter: the scenario's {col}")
            unit, text = found or ("", UNDOCUMENTED)
            rows.append([table, col, unit, text])
    tmp = d / ".columns.csv.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["table", "column", "unit", "meaning"])
        w.writerows(rows)
    os.replace(tmp, d / "columns.csv")
    return d / "columns.csv"


def table_columns(d: Path) -> dict[str, list[str]]:
    """The columns of every table file in ``d`` (Parquet schema or CSV header), and the
    flattened fields of ``summary.json``."""
    out: dict[str, list[str]] = {}
    for table in TABLES:
        pq, csv_path = d / f"{table}.parquet", d / f"{table}.csv"
        if pq.is_file():
            import pyarrow.parquet as pa_pq

            out[table] = list(pa_pq.read_schema(pq).names)
        elif csv_path.is_file():
            out[table] = list(pd.read_csv(csv_path, nrows=0).columns)
        if table in out:
            out[table] = [c for c in out[table] if not c.startswith("__index_level_")]
    if (d / "summary.json").is_file():
        out["summary"] = summary_fields(json.loads((d / "summary.json").read_text("utf-8")))
    return out


def summary_fields(summary: dict[str, Any]) -> list[str]:
    """The fields of a run's or a comparison's ``summary.json`` (per scenario of a comparison)
    as patterns: ``kpis.<KPI>.mean``, ``paired_diffs.<KPI>.diff``, ``targets[].FIELD`` — the
    KPI names themselves are the kpis table's columns."""
    scopes = list(summary.get("scenarios", {}).values()) or [summary]
    fields: dict[str, None] = {}
    for s in scopes:
        for section in ("kpis", "paired_diffs"):
            for entry in (s.get(section) or {}).values():
                for key in entry:
                    fields[f"{section}.<KPI>.{key}"] = None
        for t in s.get("targets") or []:
            for key in t:
                fields[f"targets[].{key}"] = None
    return list(fields)
