"""KPIs: pure functions of a :class:`~sim.core.ledger.Ledger`, over a window of days.

Every figure is in real units (the ledger already multiplied simulated counts by ``scale``).
A KPI restricted to a family or a channel is named ``KPI.SCOPE``: ``revenue.public``,
``repurchase_rate.private``, ``revenue.tmall``; ``.online`` is every family but offline (the
whole market when there is no offline channel). :func:`kpi_names` lists every name a scenario
produces, before simulating (:mod:`sim.scenario.kpi_names`).

==========================  ============================================================
name                        formula (sums over the window and the scope)
==========================  ============================================================
revenue                     Σ order value net of discounts (currency)
orders                      Σ orders
visits                      Σ visits (ad clicks + shopping sessions)
buyers                      distinct customers with ≥ 1 order
new_customers               Σ first-ever orders
conversion_rate             orders ÷ visits
aov                         revenue ÷ orders
repurchase_rate             customers with ≥ 2 orders ÷ customers with ≥ 1 order
spend                       Σ marketing spend (paid + seeding + private operations)
cac                         spend ÷ new_customers
ltv                         (revenue − cogs − commission) ÷ buyers (gross margin per customer)
roi_paid                    revenue of paid-traffic orders ÷ paid spend
roi_overall                 revenue ÷ spend
cost_share                  (spend + commission + service cost + other costs) ÷ revenue
satisfaction                satisfied orders ÷ orders
profit                      revenue − cogs − commission − spend − service cost − other costs
traffic_concentration       visits in core channels ÷ all visits (whole market only)
customer_overlap            buyers with orders in ≥ 2 channels ÷ buyers (whole market only)
private_pool                private-pool members at the end of the window (whole market only)
coupon_cost                 Σ value of redeemed coupons (currency; a cost in profit)
subscription_share          subscription shipments ÷ orders
promo_revenue_share         revenue of orders that got a promotion (discount day, full-reduction,
                            pre-sale balance) ÷ revenue
price_band_violations       days on which ≥ 1 channel in scope priced outside the band with no
                            declared promotion
tier_share.<tier>           pool members in tier new / potential / high_value at the end of the
                            window ÷ pool members in any tier (whole market only)
repurchase_rate.<tier>      customers with an order in the window that left them in <tier> who
                            ordered again later in the window ÷ those customers (whole market)
==========================  ============================================================

Ratios with a zero denominator are NaN (undefined), never 0.

    >>> from sim.scenario import load_scenario
    >>> from sim.core.model import simulate
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 2000,
    ...                                                          "horizon.days": 60})
    >>> k = compute_kpis(simulate(sc, seed=3))
    >>> round(k["aov"] * k["orders"]) == round(k["revenue"])
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.core.ledger import Ledger
from sim.scenario import ONLINE_FAMILIES, Scenario
from sim.scenario.kpi_names import MARKET_KPIS, SCOPED_KPIS, kpi_names, kpi_problem

__all__ = [
    "MARKET_KPIS",
    "OTHER_COSTS",
    "SCOPED_KPIS",
    "check_kpi_name",
    "compute_kpis",
    "kpi_names",
    "market_kpis",
    "ratio",
    "scoped_kpis",
    "tier_kpis",
]

#: Cost columns in the daily table besides the fixed ones; later features add theirs here.
OTHER_COSTS: tuple[str, ...] = ("coupon_cost", "inventory_cost")


def check_kpi_name(name: str, scenario: Scenario) -> str | None:
    """``None`` if ``compute_kpis`` gives ``name`` for ``scenario``, else what is wrong (with a
    close match): for checking objectives and design KPIs before anything is simulated."""
    return kpi_problem(name, scenario)


def ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")


def compute_kpis(ledger: Ledger, *, window: tuple[int, int] | None = None) -> dict[str, float]:
    """All KPIs for the whole market, each family present and each channel, over ``window``.

    ``window`` is ``[start, end)`` in days from the horizon start; ``None`` = whole horizon.
    """
    start, end = window if window is not None else (0, ledger.days)
    daily = ledger.daily[(ledger.daily["day"] >= start) & (ledger.daily["day"] < end)]
    orders = ledger.orders[(ledger.orders["day"] >= start) & (ledger.orders["day"] < end)]
    chans = ledger.channels
    mk = ledger.market
    market = mk[(mk["day"] >= start) & (mk["day"] < end)] if len(mk) else mk
    out = scoped_kpis(daily, orders, ledger.scale, chans.index.to_numpy())
    out.update(market_kpis(daily, orders, market))
    out.update(tier_kpis(market, orders))
    scopes: dict[str, np.ndarray] = {}
    for fam in chans["family"].unique():
        scopes[str(fam)] = chans.index[chans["family"] == fam].to_numpy()
    # every family but offline; without an offline channel the same figures as the market's
    scopes["online"] = chans.index[chans["family"].isin(ONLINE_FAMILIES)].to_numpy()
    for i, cid in enumerate(chans["id"]):
        scopes[str(cid)] = np.array([i])
    for name, idx in scopes.items():
        ids = chans["id"].to_numpy()[idx]
        sub = scoped_kpis(
            daily[daily["channel"].isin(ids)],
            orders[orders["channel"].isin(idx)],
            ledger.scale,
            idx,
        )
        out.update({f"{k}.{name}": v for k, v in sub.items()})
    inv = ledger.extra.get("inventory")
    if isinstance(
        inv, pd.DataFrame
    ):  # stock KPIs (sim.inventory.kpis): stockout_rate, fill_rate...
        from sim.inventory.kpis import inventory_kpis  # local: plain scenarios never need it

        out.update(inventory_kpis(inv, start, end))
    return out


def scoped_kpis(
    daily: pd.DataFrame, orders: pd.DataFrame, scale: float, channel_idx: np.ndarray
) -> dict[str, float]:
    """The KPIs that can be restricted to a set of channels."""
    s = daily.sum(numeric_only=True)
    other = sum(float(s.get(c, 0.0)) for c in OTHER_COSTS)
    cost = s["spend"] + s["commission"] + s["service_cost"] + other
    per_customer = np.bincount(orders["customer"].to_numpy()) if len(orders) else np.zeros(0)
    buyers = np.count_nonzero(per_customer >= 1)
    repeaters = np.count_nonzero(per_customer >= 2)
    return {
        "revenue": float(s["revenue"]),
        "orders": float(s["orders"]),
        "visits": float(s["visits"]),
        "buyers": buyers * scale,
        "new_customers": float(s["new_customers"]),
        "conversion_rate": ratio(s["orders"], s["visits"]),
        "aov": ratio(s["revenue"], s["orders"]),
        "repurchase_rate": ratio(repeaters, buyers),
        "spend": float(s["spend"]),
        "cac": ratio(s["spend"], s["new_customers"]),
        "ltv": ratio(s["revenue"] - s["cogs"] - s["commission"], buyers * scale),
        "roi_paid": ratio(s["revenue_paid"], s["spend_paid"]),
        "roi_overall": ratio(s["revenue"], s["spend"]),
        "cost_share": ratio(cost, s["revenue"]),
        "satisfaction": ratio(s["satisfied_orders"], s["orders"]),
        "profit": float(s["revenue"] - s["cogs"] - cost),
        "coupon_cost": float(s.get("coupon_cost", 0.0)),
        "subscription_share": ratio(s.get("subscription_orders", 0.0), s["orders"]),
        "promo_revenue_share": ratio(s.get("promo_revenue", 0.0), s["revenue"]),
        "price_band_violations": _band_days(daily),
    }


def _band_days(daily: pd.DataFrame) -> float:
    if "band_violation" not in daily or not len(daily):
        return 0.0
    return float((daily.groupby("day")["band_violation"].max() > 0).sum())


def tier_kpis(market: pd.DataFrame, orders: pd.DataFrame) -> dict[str, float]:
    """``tier_share.<tier>`` and ``repurchase_rate.<tier>`` for the private tiers
    (:mod:`sim.levers.tiers`); ``market`` is the ledger's one-row-per-day market table."""
    from sim.levers.tiers import TIER_IDS  # local: kpis stays importable without the levers

    out: dict[str, float] = {}
    if not all(f"tier_{t}" in market for t in TIER_IDS) or not len(market):
        return out
    last = market[market["day"] == market["day"].max()].iloc[0]
    in_tiers = sum(float(last[f"tier_{t}"]) for t in TIER_IDS)
    if "tier" in orders:
        last_day = orders.groupby("customer")["day"].max()
    for k, tid in enumerate(TIER_IDS):
        out[f"tier_share.{tid}"] = ratio(last[f"tier_{tid}"], in_tiers)
        if "tier" in orders:
            # first day each customer was left in this tier by an order, vs their last order day
            entered = orders.loc[orders["tier"] == k].groupby("customer")["day"].min()
            again = last_day.reindex(entered.index) > entered
            out[f"repurchase_rate.{tid}"] = ratio(again.sum(), len(entered))
    return out


def market_kpis(
    daily: pd.DataFrame, orders: pd.DataFrame, market: pd.DataFrame
) -> dict[str, float]:
    """KPIs that only make sense for the whole market (``market``: one row per day)."""
    core_visits = daily.loc[daily["core"], "visits"].sum()
    pairs = orders[["customer", "channel"]].drop_duplicates()
    channels_per_buyer = pairs.groupby("customer").size()
    pool = market["private_pool"].iloc[-1] if len(market) else float("nan")
    return {
        "traffic_concentration": ratio(core_visits, daily["visits"].sum()),
        "customer_overlap": ratio((channels_per_buyer >= 2).sum(), len(channels_per_buyer)),
        "private_pool": float(pool),
    }
