"""The stock rule: a SKU that ran out too often last week gets more safety stock.

"If the 7-day stockout rate of a SKU exceeds 5 %, raise its safety factor by 0.2" reads the
warehouse's own daily records (units demanded and served at once, all locations) over the
``window_days`` before ``today − lag_days`` — what the team's inventory report shows — and
writes the SKU's safety factor ``k`` through :meth:`sim.inventory.Inventory.set_safety_factor`,
which the next replenishment review uses. Nothing is read from today or later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.scenario.rules import Stock

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket
    from sim.rules.engine import RuleEngine


def stockout_rates(model: ChannelMarket, window: int, lag: int) -> tuple[dict, int, int]:
    """Per SKU ``(rate, demanded units)`` over the visible days ``[lo, hi)``, ``hi = today −
    lag``; the rate is 1 − served ÷ demanded (NaN without demand)."""
    inv = model.warehouse.inventory
    hi = max(model.day - lag, 0)
    lo = max(hi - window, 0)
    demand, served = inv.recorded(("demand", "served"), lo, hi)
    out = {
        sku: (1.0 - served[k] / demand[k] if demand[k] > 0 else float("nan"), float(demand[k]))
        for k, sku in enumerate(inv.sku_ids)
    }
    return out, lo, hi


def stock_review(engine: RuleEngine, model: ChannelMarket, name: str, r: Stock) -> None:
    """Raise ``k`` by ``step`` (up to ``max_k``) for every reviewed SKU above ``threshold``."""
    rates, lo, hi = stockout_rates(model, r.window_days, r.lag_days)
    if hi <= lo:
        return  # nothing reported yet
    inv = model.warehouse.inventory
    for sku in r.skus or inv.sku_ids:
        rate, demand = rates[sku]
        if not rate > r.threshold:
            continue
        before = inv.safety_factor(sku)
        after = min(before + r.step, r.max_k)
        seen = f"{sku} stockout rate days {lo}-{hi - 1}: {rate:.2%} of {demand:.6g} units"
        if after <= before:
            note = f"{rate:.2%} > {r.threshold:.2%}, but k is at max_k {r.max_k:g}"
        else:
            inv.set_safety_factor(sku, after)
            note = f"{rate:.2%} > {r.threshold:.2%}: k {before:g} → {after:g}"
        engine.note_decision(
            model.day, name, r, "", seen, rate, before, after, note, "safety_factor", sku
        )
