"""Customers feel the stock: the warehouse inside the customer model (sim.inventory.warehouse,
sim.inventory.fulfilment)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core.ledger import Ledger
from sim.core.model import ChannelMarket, simulate
from sim.kpis import compute_kpis
from sim.scenario import Scenario, ScenarioError, apply_overrides, build_scenario, load_raw

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
# scale 1: a simulated unit is a real unit, so stock levels below are easy to read
SMALL = {"market.customers": 3000, "market.scale": 1, "horizon.days": 90}
HUGE = 10**9
SELLERS_BUT_TMALL = ["jd", "douyin", "wecom", "xiaohongshu"]


def scenario(inventory: dict | None, **overrides) -> Scenario:
    raw = load_raw(SCENARIOS / "baseline.yaml")
    raw["inventory"] = inventory
    raw["targets"] = []
    return build_scenario(raw, overrides={**SMALL, **overrides})


def one_sku(**extra) -> dict:
    return {"skus": [{"id": "item", "price": 150, "unit_cost": 45}], **extra}


def tmall_short(outcome: str, tmall_stock: int = 30) -> dict:
    """Tmall ships from its own small sub-stock (never refilled); the others from a big one."""
    return one_sku(
        locations=[
            {
                "id": "tmall_stock",
                "kind": "channel",
                "serves": ["tmall"],
                "initial": tmall_stock,
                "delivery_days": 3,
            },
            {"id": "central", "serves": SELLERS_BUT_TMALL, "initial": HUGE, "delivery_days": 3},
        ],
        stockout={"tmall": {outcome: 1.0}},
    )


def orders(ledger: Ledger, channels: list[str]) -> float:
    d = ledger.daily
    return float(d.loc[d["channel"].isin(channels), "orders"].sum())


def run(sc: Scenario, seed: int = 4) -> tuple[ChannelMarket, Ledger]:
    model = ChannelMarket(sc, seed=seed)
    return model, model.run()


def test_stockout_switch_moves_customers_to_other_channels_and_stings():
    m_lose, lose = run(scenario(tmall_short("lose")))
    m_switch, switch = run(scenario(tmall_short("switch")))
    ample_model, ample = run(scenario(tmall_short("switch", tmall_stock=HUGE)))
    d = switch.daily
    assert d.loc[d["channel"] == "tmall", "switched_orders"].sum() > 0
    assert lose.daily.loc[lose.daily["channel"] == "tmall", "lost_orders"].sum() > 0
    # the same customers and luck (CRN): switchers buy elsewhere, lost ones do not
    assert orders(switch, SELLERS_BUT_TMALL) > orders(lose, SELLERS_BUT_TMALL)
    assert orders(switch, ["tmall"]) < orders(ample, ["tmall"])
    assert m_switch.pop.satisfaction.mean() < ample_model.pop.satisfaction.mean()
    assert m_lose.pop.satisfaction.mean() < m_switch.pop.satisfaction.mean()


def test_no_overselling_and_orders_are_the_served_units():
    inv = one_sku(
        locations=[{"id": "central", "initial": 200, "delivery_days": 3}],
        policies=[{"type": "sS", "s": 50, "S": 300, "review_period": 7, "lead_time": 6}],
        default_stockout={"lose": 0.5, "switch": 0.5},
    )
    ledger = simulate(scenario(inv), seed=2)
    rec = ledger.extra["inventory"]
    assert (rec["on_hand"] >= 0).all() and (rec["backorders"] == 0).all()
    assert rec["lost"].sum() > 0  # the policy is tight enough to run out
    assert np.allclose(rec["served"] + rec["lost"] + rec["switched"], rec["demand"])
    # scale 1: every unit the customers bought was on the shelf
    assert ledger.daily["units"].sum() == pytest.approx(rec["served"].sum())
    morning = rec["on_hand"].shift(1, fill_value=200) + rec["received"]  # after arrivals
    assert (rec["served"] <= morning).all()
    assert np.allclose(morning - rec["served"], rec["on_hand"])  # stock balance holds


def test_backorders_count_as_orders_and_wait():
    inv = one_sku(
        locations=[{"id": "central", "initial": 100, "delivery_days": 3}],
        policies=[{"type": "sS", "s": 20, "S": 200, "review_period": 7, "lead_time": 5}],
        default_stockout={"backorder": 1.0},
        costs={"backorder": 1.0},
    )
    ledger = simulate(scenario(inv), seed=2)
    rec = ledger.extra["inventory"]
    assert ledger.daily["backordered_orders"].sum() > 0 and rec["lost"].sum() == 0
    assert ledger.daily["units"].sum() == pytest.approx(rec["demand"].sum())
    assert compute_kpis(ledger)["backorder_cost"] > 0


def forecast_inventory(k: float) -> dict:
    return one_sku(
        locations=[{"id": "central", "delivery_days": 3, "initial": "target"}],
        policies=[
            {
                "type": "forecast",
                "k": k,
                "window": 14,
                "review_period": 7,
                "lead_time": 5,
                "initial_forecast": 15,
            }
        ],
        costs={"holding": 0.05},
    )


def test_raising_the_safety_factor_lowers_the_stockout_rate():
    lo = compute_kpis(simulate(scenario(forecast_inventory(0.0)), seed=3))
    hi = compute_kpis(simulate(scenario(forecast_inventory(1.5)), seed=3))
    assert lo["stockout_rate"] > 0.02
    assert hi["stockout_rate"] < lo["stockout_rate"]
    assert hi["holding_cost"] > lo["holding_cost"]


def ample(sc: Scenario, holding: float = 0.0) -> dict:
    """One SKU at the guide price and unit cost, a location per delivery time matching each
    channel's own, stock that never runs out: the customers cannot tell it is there."""
    m = sc.market
    by_days: dict[float, list[str]] = {}
    for c in sc.channels:
        by_days.setdefault(c.service.delivery_days, []).append(c.id)
    locs = [
        {"id": f"loc{i}", "serves": ids, "delivery_days": days, "initial": HUGE}
        for i, (days, ids) in enumerate(sorted(by_days.items()))
    ]
    return {
        "skus": [{"id": "item", "price": m.guide_price, "unit_cost": m.unit_cost}],
        "locations": locs,
        "costs": {"holding": holding},
    }


def test_ample_stock_gives_the_ledger_of_a_scenario_without_inventory():
    plain = scenario(None, **{"horizon.days": 60})
    base = simulate(plain, seed=7)
    stocked = simulate(scenario(ample(plain, holding=1e-6), **{"horizon.days": 60}), seed=7)
    cols = list(base.daily.columns)
    pd.testing.assert_frame_equal(stocked.daily[cols], base.daily)
    pd.testing.assert_frame_equal(stocked.orders, base.orders)
    assert stocked.daily["stockouts"].sum() == 0
    # inventory costs are a cost in profit, and nothing else changed. The cost, from the
    # customers' orders: holding per unit on hand at the end of each day, stock = initial −
    # units ordered so far through the location's channels (nothing is replenished).
    k0, k1 = compute_kpis(base), compute_kpis(stocked)
    inv = ample(plain, holding=1e-6)
    ids = [c.id for c in plain.channels]
    units = stocked.orders.assign(channel=lambda o: [ids[i] for i in o["channel"]])
    cost = 0.0
    for loc in inv["locations"]:
        daily = units[units["channel"].isin(loc["serves"])].groupby("day")["units"].sum()
        on_hand = HUGE - daily.reindex(range(60), fill_value=0).cumsum()
        cost += 1e-6 * float(on_hand.sum())
    assert k1["inventory_cost"] == pytest.approx(cost, rel=1e-9)
    assert k0["profit"] - k1["profit"] == pytest.approx(cost, rel=1e-9)
    assert k1["cost_share"] > k0["cost_share"]


def test_records_and_kpis_reach_the_ledger_and_compute_kpis():
    ledger = simulate(scenario(tmall_short("switch")), seed=1)
    rec = ledger.extra["inventory"]
    assert {"day", "sku", "location", "on_hand", "on_order", "demand", "served", "lost"} <= set(
        rec.columns
    )
    k = compute_kpis(ledger, window=(10, 60))
    for name in (
        "stockout_rate",
        "fill_rate",
        "inventory_turnover",
        "days_of_supply",
        "holding_cost",
        "delivery_days",
        "lost_sales",
        "backorders",
        "stockout_rate.item",
        "fill_rate.central",
        "fill_rate.tmall_stock",
    ):
        assert name in k
    assert 0 < k["stockout_rate"] < 1
    # Over the whole run, from the scenario: Tmall's 30 units are all it ever ships (never
    # refilled; Tmall's orders are exactly those units) and the huge central stock serves all.
    whole = compute_kpis(ledger)
    ids = [c.id for c in scenario(tmall_short("switch")).channels]
    tmall = ids.index("tmall")
    assert ledger.orders.loc[ledger.orders["channel"] == tmall, "units"].sum() == 30
    asked = rec.groupby("location")["demand"].sum()
    assert asked["tmall_stock"] > 30 and whole["fill_rate.central"] == 1.0
    assert whole["fill_rate.tmall_stock"] == pytest.approx(30 / asked["tmall_stock"], rel=1e-12)
    assert whole["stockout_rate"] == pytest.approx((asked["tmall_stock"] - 30) / asked.sum())


def test_sku_prices_are_prices_not_discounts():
    inv = {
        "skus": [{"id": "cheap", "price": 120, "unit_cost": 30}],
        "locations": [{"id": "central", "initial": HUGE}],
    }
    sc = scenario(inv)
    ledger = simulate(sc, seed=1)
    d, o = ledger.daily, ledger.orders
    assert d["discount"].sum() == pytest.approx(0.0, abs=1e-6)  # the baseline runs no promotions
    tmall = sc.channel_ids().index("tmall")
    unit = o.loc[o["channel"] == tmall, "revenue"] / o.loc[o["channel"] == tmall, "units"]
    assert np.allclose(unit, 120 * sc.channels[tmall].price_index)
    assert d["cogs"].sum() == pytest.approx(30 * d["units"].sum())


def test_a_channel_that_lists_nothing_gets_no_orders():
    inv = {
        "skus": [
            {"id": "item", "price": 150, "unit_cost": 45, "channels": ["tmall", "jd", "douyin"]}
        ],
        "locations": [{"id": "central", "initial": HUGE}],
    }
    ledger = simulate(scenario(inv), seed=1)
    assert orders(ledger, ["wecom"]) == 0 and orders(ledger, ["tmall", "jd"]) > 0


def test_exogenous_demand_is_refused_in_the_customer_model():
    inv = one_sku(demand={"mode": "exogenous", "mean": 5})
    with pytest.raises(ScenarioError, match="exogenous"):
        ChannelMarket(scenario(inv))


def shipped_with_inventory() -> list[Path]:
    out = []
    for path in sorted(SCENARIOS.rglob("*.yaml")):
        try:
            raw = load_raw(path)
        except ScenarioError:  # data files and designs are not scenarios
            continue
        if isinstance(raw, dict) and raw.get("inventory") and "market" in raw:
            out.append(path)
    return out


@pytest.mark.parametrize("path", shipped_with_inventory(), ids=lambda p: p.name)
def test_shipped_inventory_sections_survive_overrides(path):
    raw = load_raw(path)
    sc = build_scenario(raw)
    # 2000: scenarios/ab_test.yaml enrols 2000 customers and refuses fewer simulated ones
    again = apply_overrides(sc, {"market.customers": 2000})
    assert again.inventory == sc.inventory


def test_shipped_plans_with_inventory_are_found():
    names = {p.name for p in shipped_with_inventory()}
    assert {"baseline.yaml", "uplift_plan.yaml"} <= names
