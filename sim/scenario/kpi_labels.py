"""KPIs in plain words: a label, a unit and a meaning for every KPI name of
:mod:`sim.scenario.kpi_names`, and how a value of each is printed for people.

Reports, the console summary and ``docs/data-dictionary.md`` read this one table, so a KPI
cannot be added without saying what it means (``tests/test_report_labels.py`` fails otherwise).

    >>> label("roi_overall")
    'revenue per CNY of marketing spend'
    >>> label("revenue.tmall"), unit("revenue"), unit("conversion_rate")
    ('revenue (tmall)', 'M CNY', '%')
    >>> show("revenue", 435_912_345.0), show("conversion_rate", 0.0412), show("aov", 163.27)
    ('435.9 M CNY', '4.1 %', '163.3 CNY')
    >>> change("revenue", 335e6, 0.77), change("conversion_rate", 0.011, 0.3)
    ('+335.0 M CNY (+77 %)', '+1.1 pts (+30 %)')
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from sim.levers.tiers import TIER_IDS


class KpiLabel(NamedTuple):
    label: str  # plain words, lower case
    kind: str  # money (totals, shown in M CNY) | cny (per-unit money) | rate | ratio | count | …
    meaning: str  # how it is computed, in words


#: How a kind is shown: its unit as printed next to a value.
UNITS = {
    "money": "M CNY",
    "cny": "CNY",
    "rate": "%",
    "ratio": "CNY per CNY",
    "count": "people",
    "orders": "orders",
    "units": "units",
    "days": "days",
    "times": "× per year",
}

#: Every base KPI name (before ``.SCOPE``), in plain words.
LABELS: dict[str, KpiLabel] = {
    "revenue": KpiLabel("revenue", "money", "order value net of discounts"),
    "orders": KpiLabel("orders", "orders", "orders placed"),
    "visits": KpiLabel("visits", "count", "ad clicks plus shopping sessions"),
    "buyers": KpiLabel("buyers", "count", "distinct customers with at least one order"),
    "new_customers": KpiLabel("new customers", "count", "first-ever orders"),
    "conversion_rate": KpiLabel("orders per visit", "rate", "orders ÷ visits"),
    "aov": KpiLabel("average order value", "cny", "revenue ÷ orders"),
    "repurchase_rate": KpiLabel(
        "repeat-buyer share", "rate", "customers with ≥ 2 orders ÷ customers with ≥ 1 order"
    ),
    "spend": KpiLabel("marketing spend", "money", "paid traffic + seeding + private operations"),
    "cac": KpiLabel("marketing spend per new customer", "cny", "spend ÷ new customers"),
    "ltv": KpiLabel(
        "gross margin per buyer", "cny", "(revenue − cost of goods − commission) ÷ buyers"
    ),
    "roi_paid": KpiLabel(
        "revenue per CNY of paid traffic", "ratio", "revenue of paid-traffic orders ÷ paid spend"
    ),
    "roi_overall": KpiLabel(
        "revenue per CNY of marketing spend", "ratio", "revenue ÷ marketing spend"
    ),
    "cost_share": KpiLabel(
        "costs as a share of revenue",
        "rate",
        "(spend + commission + service + other costs) ÷ revenue",
    ),
    "satisfaction": KpiLabel("satisfied orders", "rate", "satisfied orders ÷ orders"),
    "profit": KpiLabel(
        "profit", "money", "revenue − cost of goods − commission − spend − service − other costs"
    ),
    "coupon_cost": KpiLabel("coupons redeemed", "money", "value of redeemed coupons"),
    "subscription_share": KpiLabel(
        "subscription share of orders", "rate", "subscription shipments ÷ orders"
    ),
    "promo_revenue_share": KpiLabel(
        "promotion share of revenue", "rate", "revenue of orders with a promotion ÷ revenue"
    ),
    "price_band_violations": KpiLabel(
        "days priced outside the band",
        "days",
        "days with a channel priced outside the price band and no declared promotion",
    ),
    "traffic_concentration": KpiLabel(
        "share of visits in core channels", "rate", "visits in core channels ÷ all visits"
    ),
    "customer_overlap": KpiLabel(
        "buyers in 2+ channels", "rate", "buyers with orders in ≥ 2 channels ÷ buyers"
    ),
    "private_pool": KpiLabel(
        "private-pool members", "count", "members of the private pool at the end of the window"
    ),
    "tier_share": KpiLabel(
        "share of pool members in tier", "rate", "members in the tier ÷ members in any tier"
    ),
    "stockout_rate": KpiLabel(
        "units not served from stock", "rate", "units not served at once ÷ units demanded"
    ),
    "fill_rate": KpiLabel("units served from stock", "rate", "units served at once ÷ demanded"),
    "lost_sales": KpiLabel("units lost to stockouts", "units", "units demanded and lost"),
    "backorders": KpiLabel("units backordered", "units", "units put on backorder"),
    "backorder_days": KpiLabel(
        "days a backorder waits", "days", "backorder unit-days ÷ units backordered"
    ),
    "inventory_turnover": KpiLabel(
        "stock turns per year", "times", "cost of goods per year ÷ mean stock value"
    ),
    "days_of_supply": KpiLabel(
        "days of stock on hand", "days", "mean stock value ÷ cost of goods per day"
    ),
    "holding_cost": KpiLabel("holding cost", "money", "cost of keeping stock on hand"),
    "ordering_cost": KpiLabel("ordering cost", "money", "fixed and per-unit ordering costs"),
    "transfer_cost": KpiLabel("transfer cost", "money", "cost of moves between locations"),
    "backorder_cost": KpiLabel("backorder penalty", "money", "penalty per unit-day backordered"),
    "lost_margin": KpiLabel("margin lost to stockouts", "money", "margin of lost units"),
    "inventory_cost": KpiLabel("inventory cash cost", "money", "holding + ordering + transfer"),
    "delivery_days": KpiLabel("days to deliver", "days", "mean delivery days per served order"),
}
#: Scope words that read better than their ids.
SCOPE_WORDS = {"online": "online", **{t: f"{t.replace('_', '-')} tier" for t in TIER_IDS}}


def _entry(name: str) -> tuple[KpiLabel | None, str]:
    base, _, scope = name.partition(".")
    return LABELS.get(base), scope


def label(name: str) -> str:
    """The KPI in plain words, its scope in brackets (``revenue (tmall)``); an unknown name is
    returned as it is."""
    entry, scope = _entry(name)
    if entry is None:
        return name
    return f"{entry.label} ({SCOPE_WORDS.get(scope, scope)})" if scope else entry.label


def kind(name: str) -> str:
    """``money``, ``cny``, ``rate``, ``ratio``, ``count``, ``orders``, ``units``, ``days`` or
    ``times`` (``count`` for an unknown name)."""
    entry, _ = _entry(name)
    return entry.kind if entry else "count"


def unit(name: str) -> str:
    """The unit a value of ``name`` is shown in (``M CNY``, ``%`` …)."""
    return UNITS[kind(name)]


def meaning(name: str) -> str:
    entry, scope = _entry(name)
    if entry is None:
        return ""
    return entry.meaning + (f", {SCOPE_WORDS.get(scope, scope)} only" if scope else "")


def show(name: str, value: Any, *, signed: bool = False) -> str:
    """A value of KPI ``name`` for people, with its unit: ``435.9 M CNY``, ``4.12 %``."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    x = float(value)
    k = kind(name)
    sign = "+" if signed else ""
    if k == "money":
        return f"{x / 1e6:{sign},.1f} M CNY" if abs(x) >= 1e5 else f"{x:{sign},.0f} CNY"
    if k == "rate":
        digits = 1 if abs(x) >= 0.01 or x == 0 else 2
        return f"{x * 100:.{digits}f} %" if not signed else f"{x * 100:+.{digits}f} pts"
    if k in ("cny", "ratio"):
        return f"{x:{sign},.1f} {UNITS[k]}" if k == "cny" else f"{x:{sign}.2f}"
    if k in ("days", "times"):
        return f"{x:{sign},.1f} {UNITS[k]}"
    return f"{x:{sign},.0f} {UNITS[k]}" if abs(x) >= 100 else f"{x:{sign},.3g} {UNITS[k]}"


def change(name: str, diff: Any, relative: Any = None) -> str:
    """A plan − baseline difference in words and units, with the relative change:
    ``+335.0 M CNY (+77 %)``; rates change in percentage points (``pts``)."""
    text = show(name, diff, signed=True)
    if relative is not None and math.isfinite(float(relative)):
        pct = float(relative) * 100
        digits = 0 if abs(pct) >= 0.5 else 1
        text += f" ({pct:+.{digits}f} %)" if abs(pct) >= 0.05 or pct == 0 else " (≈ 0 %)"
    return text
