"""Inventory KPIs: pure functions of the engine's daily records.

:func:`inventory_kpis` gives every KPI at once (total, per SKU and per location) for the
scenario's KPI table; the single-KPI functions (:func:`stockout_rate`, :func:`fill_rate`, ...)
answer one question about a window, optionally for one SKU or location. ``records`` is the
table of :meth:`sim.inventory.Inventory.records` (one row per day, SKU and location).
"""

from __future__ import annotations

import pandas as pd

from sim.inventory.records import FIELDS
from sim.scenario.kpi_names import INVENTORY_KPIS

__all__ = [
    "backorders",
    "days_of_supply",
    "delivery_days",
    "fill_rate",
    "holding_cost",
    "inventory_kpis",
    "inventory_turnover",
    "lost_sales",
    "stockout_rate",
]

# One list of stock KPI names: the scenario layer checks targets against the same one.
_KPI_NAMES = INVENTORY_KPIS


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return float("nan") if a == 0 else float("inf")
    return float(a / b)


def _kpis_of(sums: pd.Series, n_days: int) -> dict[str, float]:
    inv_value = sums["inventory_value"] / max(n_days, 1)
    fill = _ratio(sums["served"], sums["demand"])
    costs = ("holding_cost", "ordering_cost", "transfer_cost", "backorder_cost", "lost_margin")
    # inventory_cost is the cash cost (what profit subtracts); lost margin is revenue that never
    # came, already missing from profit, so it is reported on its own, not in the sum.
    cash = costs[:-1]
    out = {
        "stockout_rate": 1 - fill,
        "fill_rate": fill,
        "lost_sales": float(sums["lost"]),
        "backorders": float(sums["backordered"]),
        # Little's law: backordered unit-days / units backordered = mean wait in days.
        "backorder_days": _ratio(sums["backorders"], sums["backordered"]),
        "inventory_turnover": _ratio(sums["cogs"] * 365 / max(n_days, 1), inv_value),
        "days_of_supply": _ratio(inv_value, sums["cogs"] / max(n_days, 1)),
        "inventory_cost": float(sum(sums[c] for c in cash)),
        "delivery_days": _ratio(sums["delivery_days_sum"], sums["served_orders"]),
    }
    out.update({c: float(sums[c]) for c in costs})
    return {name: out[name] for name in _KPI_NAMES}


def _window(records: pd.DataFrame, d0: int | None, d1: int | None) -> pd.DataFrame:
    day = records["day"]
    mask = (day >= (d0 if d0 is not None else day.min())) & (
        day < (d1 if d1 is not None else day.max() + 1)
    )
    return records[mask]


def inventory_kpis(
    records: pd.DataFrame, d0: int | None = None, d1: int | None = None
) -> dict[str, float]:
    """All inventory KPIs over days ``[d0, d1)`` as a flat dict: ``name`` for the total,
    ``name.<sku id>`` per SKU and ``name.<location id>`` per location."""
    win = _window(records, d0, d1)
    n_days = int(win["day"].nunique())
    fields = list(FIELDS)
    out = _kpis_of(win[fields].sum(), n_days)
    for col in ("sku", "location"):
        for key, sums in win.groupby(col, sort=False)[fields].sum().iterrows():
            out.update({f"{n}.{key}": v for n, v in _kpis_of(sums, n_days).items()})
    return out


def _one(
    name: str,
    records: pd.DataFrame,
    d0: int | None,
    d1: int | None,
    sku: str | None,
    location: str | None,
) -> float:
    win = _window(records, d0, d1)
    n_days = int(win["day"].nunique())
    if sku is not None:
        win = win[win["sku"] == sku]
    if location is not None:
        win = win[win["location"] == location]
    return _kpis_of(win[list(FIELDS)].sum(), n_days)[name]


def stockout_rate(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units not served from stock at once / units demanded."""
    return _one("stockout_rate", records, d0, d1, sku, location)


def fill_rate(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units served from stock at once / units demanded (= 1 - stockout_rate)."""
    return _one("fill_rate", records, d0, d1, sku, location)


def lost_sales(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units lost to stockouts (switched orders are not lost: the customer went elsewhere)."""
    return _one("lost_sales", records, d0, d1, sku, location)


def backorders(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units backordered (new backorders in the window)."""
    return _one("backorders", records, d0, d1, sku, location)


def inventory_turnover(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """COGS / average inventory value, annualised (x 365 / days in the window)."""
    return _one("inventory_turnover", records, d0, d1, sku, location)


def days_of_supply(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Average inventory value / average daily COGS."""
    return _one("days_of_supply", records, d0, d1, sku, location)


def holding_cost(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Holding cost charged on end-of-day stock."""
    return _one("holding_cost", records, d0, d1, sku, location)


def delivery_days(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Mean delivery days of the orders served from stock (by serving location)."""
    return _one("delivery_days", records, d0, d1, sku, location)
