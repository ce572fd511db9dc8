"""KPI formulas on a small hand-made ledger whose answers are computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sim.core.ledger import FLOW_MEASURES, MARKET_MEASURES, SPEND_MEASURES, Ledger
from sim.kpis import compute_kpis


def hand_ledger() -> Ledger:
    """Two channels (A public core, B private), two days, scale 10."""
    rows = []
    for day in (0, 1):
        for ch, fam, core in (("A", "public", True), ("B", "private", False)):
            row = {
                "day": day,
                "date": pd.Timestamp("2026-01-01") + pd.Timedelta(days=day),
                "channel": ch,
                "family": fam,
                "core": core,
            }
            row.update({m: 0.0 for m in (*FLOW_MEASURES, *SPEND_MEASURES)})
            rows.append(row)
    d = pd.DataFrame(rows)
    a0, b0, a1 = 0, 1, 2  # row 3 (B, day 1) stays all zeros
    d.loc[
        a0,
        [
            "visits",
            "orders",
            "revenue",
            "cogs",
            "commission",
            "new_customers",
            "orders_paid",
            "revenue_paid",
            "spend_paid",
            "satisfied_orders",
        ],
    ] = [100, 20, 2000, 600, 100, 10, 10, 1000, 500, 18]
    d.loc[
        b0,
        [
            "visits",
            "orders",
            "revenue",
            "cogs",
            "spend_private_ops",
            "satisfied_orders",
            "service_cost",
        ],
    ] = [50, 10, 1500, 300, 200, 10, 50]
    d.loc[a1, ["visits", "orders", "revenue", "cogs", "spend_paid", "satisfied_orders"]] = [
        50,
        10,
        1000,
        300,
        500,
        8,
    ]
    d["spend"] = d["spend_paid"] + d["spend_seeding"] + d["spend_private_ops"]
    # the market table: one row per day (the pool is not repeated on the channel rows)
    market = pd.DataFrame({"day": [0, 1], "date": d["date"].unique()})
    market = market.assign(**{m: 0.0 for m in MARKET_MEASURES})
    market["private_pool"] = [100.0, 120.0]
    # Orders in sim units: customers 0,1,2; customer 0 buys in A twice and in B once.
    orders = pd.DataFrame(
        {
            "day": [0, 0, 1, 0, 1],
            "customer": [0, 1, 0, 0, 2],
            "channel": [0, 0, 0, 1, 0],
            "units": [1] * 5,
            "revenue": [1.0] * 5,
            "source": [0] * 5,
            "satisfied": [True] * 5,
            "first": [True, True, False, False, True],
        }
    )
    channels = pd.DataFrame(
        {
            "id": ["A", "B"],
            "family": ["public", "private"],
            "core": [True, False],
            "sells": [True, True],
        }
    )
    return Ledger(
        daily=d,
        orders=orders,
        journeys=pd.DataFrame(),
        scale=10.0,
        days=2,
        channels=channels,
        market=market,
    )


def test_whole_market_kpis():
    k = compute_kpis(hand_ledger())
    assert k["revenue"] == 4500
    assert k["orders"] == 40
    assert k["visits"] == 200
    assert k["conversion_rate"] == pytest.approx(40 / 200)
    assert k["aov"] == pytest.approx(4500 / 40)
    assert k["buyers"] == 30  # 3 customers × scale 10
    assert k["repurchase_rate"] == pytest.approx(1 / 3)  # only customer 0 has ≥ 2 orders
    assert k["spend"] == 1200
    assert k["cac"] == pytest.approx(1200 / 10)
    assert k["roi_paid"] == pytest.approx(1000 / 1000)
    assert k["roi_overall"] == pytest.approx(4500 / 1200)
    assert k["cost_share"] == pytest.approx((1200 + 100 + 50) / 4500)
    assert k["profit"] == pytest.approx(4500 - 1200 - 1200 - 100 - 50)
    assert k["ltv"] == pytest.approx((4500 - 1200 - 100) / 30)
    assert k["satisfaction"] == pytest.approx(36 / 40)
    assert k["traffic_concentration"] == pytest.approx(150 / 200)
    assert k["customer_overlap"] == pytest.approx(1 / 3)  # customer 0 bought in A and B
    assert k["private_pool"] == 120


def test_scoped_and_windowed_kpis():
    k = compute_kpis(hand_ledger())
    assert k["revenue.public"] == 3000 and k["revenue.A"] == 3000
    assert k["revenue.private"] == 1500
    assert k["repurchase_rate.A"] == pytest.approx(1 / 3)  # customers 0,1,2 in A; 0 twice
    assert k["repurchase_rate.private"] == 0
    assert math.isnan(k["roi_paid.private"])  # no paid spend: undefined, not zero
    w = compute_kpis(hand_ledger(), window=(1, 2))
    assert w["revenue"] == 1000 and w["orders"] == 10
    assert w["repurchase_rate"] == 0  # customers 0 and 2 each buy once on day 1
    assert w["private_pool"] == 120
