"""The report's stock section: stock on hand, lost sales and stockout rates per SKU class.

Built from the inventory engine's day × SKU records (``inventory.csv``) when the runs have them,
else from any stock-like columns of the daily table, else an empty section.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.reports.format import fmt
from sim.reports.sections.blocks import TITLES, Block, Figure, Table, empty
from sim.reports.store import Stored

INVENTORY_HINTS = ("stockout", "on_hand", "stock", "inventory", "lost", "backorder")
RECORD_COLUMNS = [
    "scenario",
    "SKU class",
    "demand (units)",
    "served at once (units)",
    "lost (units)",
    "stockout rate",
    "mean on hand (units)",
]


def inventory_block(st: Stored) -> Block:
    if st.inventory is not None and not st.inventory.empty:
        return _records_block(st)
    cols = (
        []
        if st.daily is None
        else [
            c
            for c in st.daily.columns
            if any(h in c for h in INVENTORY_HINTS) and pd.api.types.is_numeric_dtype(st.daily[c])
        ]
    )
    if not cols:
        return empty(
            "inventory",
            "These scenarios record no inventory (no stock or stockout "
            "columns in the daily table): nothing to show yet.",
        )
    figures, rows = [], []
    for col in cols[:3]:
        figure, measured = _daily_measure(st, col)
        figures.append(figure)
        rows += measured
    return Block(
        "inventory",
        TITLES["inventory"],
        "Inventory measures recorded in the daily table (mean over replications; per "
        "SKU class where the table has one).",
        [Table(["scenario", "measure", "total", "mean per day"], rows)],
        figures,
    )


def _daily_measure(st: Stored, col: str) -> tuple[Figure, list[list[str]]]:
    """The figure of daily column ``col`` per scenario, and its table rows."""
    from sim.reports import figures as F

    series, rows = {}, []
    for name in st.names:
        d = st.daily_of(name)
        by = [pd.to_datetime(d["date"])] + (["sku_class"] if "sku_class" in d.columns else [])
        s = d.groupby(by)[col].sum() / st.reps(name)
        series[name] = s.unstack() if "sku_class" in d.columns else s.to_frame(col)
        rows.append([name, col, fmt(float(s.sum())), fmt(float(s.mean()))])
    reading = f"{col} summed over the horizon: " + ", ".join(f"{r[0]} {r[2]}" for r in rows) + "."
    return Figure(
        f"inventory_{col}",
        f"{col} over time",
        F.inventory(series, col.replace("_", " "), "units per day"),
        reading,
    ), rows


def sku_classes(scenario: dict[str, Any]) -> dict[str, str]:
    """SKU id → class (hot / regular / slow …) from a scenario's ``inventory.skus``."""
    skus = (scenario.get("inventory") or {}).get("skus") or []
    return {
        str(s.get("id")): str(s.get("klass", s.get("class", "all")))
        for s in skus
        if isinstance(s, dict)
    }


def _records_block(st: Stored) -> Block:
    """Stock on hand and stockouts per SKU class from the inventory engine's daily records."""
    rows, on_hand, lost = [], {}, {}
    for name in st.names:
        d = _classified(st, name)
        if d is None:
            continue
        per = d.groupby(["date", "sku_class"])
        reps = st.reps(name)
        if "on_hand" in d.columns:
            on_hand[name] = per["on_hand"].sum().unstack() / reps
        if "lost" in d.columns:
            lost[name] = per["lost"].sum().unstack() / reps
        tot = d.groupby("sku_class").sum(numeric_only=True) / reps
        days = max(1, d["day"].nunique())
        rows += [_class_row(name, str(cls), r, days) for cls, r in tot.iterrows()]
    return Block(
        "inventory",
        TITLES["inventory"],
        "From the inventory engine's daily records, summed over SKUs of a class and "
        "locations, mean per replication. Stockout rate = 1 − served at once ÷ demanded.",
        [Table(list(RECORD_COLUMNS), rows)],
        _record_figures(on_hand, lost),
    )


def _classified(st: Stored, name: str) -> pd.DataFrame | None:
    """Records of scenario ``name`` with their SKU class and date (None if it has none)."""
    inv = st.inventory
    d = inv[inv["scenario"] == name]
    if d.empty:
        return None
    start = pd.Timestamp(st.scenarios[name]["horizon"]["start"])
    return d.assign(
        sku_class=d["sku"].astype(str).map(sku_classes(st.scenarios[name])).fillna("unclassified"),
        date=start + pd.to_timedelta(d["day"], unit="D"),
    )


def _class_row(name: str, cls: str, r: pd.Series, days: int) -> list[str]:
    demand, served = r.get("demand", float("nan")), r.get("served", float("nan"))
    return [
        name,
        cls,
        fmt(demand),
        fmt(served),
        fmt(r.get("lost")),
        f"{1 - served / demand:.1%}" if demand else "n/a",
        fmt(r.get("on_hand", float("nan")) / days),
    ]


def _record_figures(
    on_hand: dict[str, pd.DataFrame], lost: dict[str, pd.DataFrame]
) -> list[Figure]:
    from sim.reports import figures as F

    figures = []
    if on_hand:
        figures.append(
            Figure(
                "inventory_on_hand",
                "Stock on hand by SKU class",
                F.inventory(on_hand, "Units on hand by SKU class", "units on hand (end of day)"),
                "Stock on hand per SKU class; stockout rates are in the table.",
            )
        )
    if lost:
        figures.append(
            Figure(
                "inventory_lost",
                "Lost sales by SKU class",
                F.inventory(lost, "Units lost to stockouts by SKU class", "units lost per day"),
                "Units demanded but not served from stock (lost), per SKU class.",
            )
        )
    return figures
