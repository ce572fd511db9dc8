"""Fulfilment: customers feel the stock (only when the scenario has an ``inventory:`` section).

Three hooks, called by the choice and purchase phases when ``model.warehouse`` exists:

* :func:`avoid` (choice): a channel is closed (utility −inf) to a shopper whose segment it lists
  no SKU for, and, for :data:`AVOID_DAYS` days, to a shopper a stockout there switched away.
  A shopper is never left with no open channel (then nothing is closed for them).
* :func:`sku_factor` (purchase, before conversion): each shopper wants one SKU, drawn by their
  segment's SKU demand shares restricted to the chosen channel's assortment. The unit price they
  see is ``channel price today × sku.price / market.guide_price × clearance multiplier`` (the
  levers' promotions and coupons included in the channel price: the levers price the
  guide-price item, before and after the basket, and the factor multiplies their result), so
  clearance discounts are prices and feed conversion like any other price.
* :func:`fulfil` (purchase, after the basket): the buyers' orders go to the warehouse in a random
  order, each for ``round(units × scale)`` real units of its SKU. Outcomes:

  - served: as before; the serving location's delivery days replace the channel's in the
    satisfaction draw (``p = p_channel × exp(−delivery_penalty × (days − channel days))``);
  - lost: no order; satisfaction ×0.7 (as an unsatisfying order would) and the customer leaves
    the market for this need (next need one mean purchase cycle later);
  - switch: no order today; the customer stays in market, avoids that channel for
    :data:`AVOID_DAYS` days and satisfaction ×0.9;
  - backorder: the order counts (revenue, units) but waits about one replenishment lead time
    more, which lowers its satisfaction through the delivery-days penalty.

Everything is vectorised over the day's orders; the randomness is counter-based uniforms
(``inventory.sku``, ``inventory.outcome``, ``inventory.order`` in
:class:`sim.core.streams.Draws`) drawn for the day's shoppers and buyers only (common random
numbers: a customer's number never depends on who else shops).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.inventory.allocation import BACKORDER, LOST, SERVED, SWITCH

#: Days a switched customer avoids the channel that was out of stock.
AVOID_DAYS = 3
#: Satisfaction multipliers of the stockout experiences (an unsatisfied order gives ×0.7).
LOST_SATISFACTION, SWITCH_SATISFACTION = 0.7, 0.9

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def avoid(
    model: ChannelMarket, shoppers: np.ndarray, sell: np.ndarray, seg: np.ndarray, util: np.ndarray
) -> None:
    """Close (in ``util``, shoppers × selling channels) the channels a shopper cannot use."""
    w = model.warehouse
    block = w.closed[sell][:, seg].T
    away = w.avoid_until[shoppers] > model.day
    if away.any():
        block = block | (away[:, None] & (w.avoid_channel[shoppers][:, None] == sell[None, :]))
    block &= ~(block | np.isneginf(util)).all(axis=1, keepdims=True)  # never close every door
    util[block] = -np.inf


def sku_factor(
    model: ChannelMarket, shoppers: np.ndarray, channel: np.ndarray, seg: np.ndarray
) -> np.ndarray:
    """Draw the SKU each shopper wants; return what multiplies the channel's (levers') unit
    price for it: ``sku.price / guide_price × clearance multiplier``."""
    w = model.warehouse
    if len(shoppers) == 0:
        return np.ones(0)
    cum = w.cum_share[channel, seg]  # shoppers × SKUs
    target = model.draws.u("inventory.sku", shoppers)[:, None] * cum[:, -1:]
    sku = np.minimum((cum <= target).sum(axis=1), cum.shape[1] - 1)
    w.sku_of[shoppers] = sku
    mult = w.inventory.price_multiplier(model.day)[channel, sku]  # clearance discounts
    return w.sku_factor[sku] * mult


def settle(
    model: ChannelMarket,
    buyers: np.ndarray,
    channel: np.ndarray,
    seg: np.ndarray,
    units: np.ndarray,
    price: np.ndarray,
    factor: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Price the basket for its SKU, send the orders to the warehouse and keep those that count.

    ``price`` is what the levers charge for the guide-price item (a trial sample keeps its own
    price); ``factor`` is the buyers' :func:`sku_factor`. Returns buyers, channel, seg, units
    and price of the orders that count, with the levers' per-order flags filtered alike.
    """
    t = model.today
    sample = t.sample if model.levers.active and model.levers.has_trial else None
    price = price * factor if sample is None else np.where(sample, price, price * factor)
    keep = fulfil(model, buyers, channel, units)
    for flag in ("sample", "reduced"):  # the levers' per-order arrays follow the orders
        value = getattr(t, flag)
        if isinstance(value, np.ndarray) and len(value) == len(buyers):
            setattr(t, flag, value[keep])
    out = tuple(x[keep] for x in (buyers, channel, seg, units, price))
    if sample is not None:  # a sample costs the trial's own unit cost (see levers._samples)
        t.unit_cost = np.where(t.sample, model.scenario.market.unit_cost, t.unit_cost)
    _discount_correction(model, out[1], out[3], out[4], t.sample)
    return out


def _discount_correction(model: ChannelMarket, channel, units, price, sample) -> None:
    """The levers record ``units × (list price − price)`` as discount against the guide-price
    item; for a SKU the list price is ``list price × sku.price / guide`` (a clearance cut is
    a discount). Add the difference so the ``discount`` column is right."""
    w = model.warehouse
    plain = w.sku_factor[w.sku_of_orders]
    listed = model.list_price[channel]
    recorded = np.maximum(units * (listed - price), 0.0)
    right = np.maximum(units * (listed * plain - price), 0.0)
    diff = right - recorded if sample is None else np.where(sample, 0.0, right - recorded)
    model.recorder.add("discount", model.day, channel, diff)


def fulfil(
    model: ChannelMarket, buyers: np.ndarray, channel: np.ndarray, units: np.ndarray
) -> np.ndarray:
    """Send today's orders to the warehouse; return which orders count (served, backordered).

    Sets ``model.today.sat_p`` (satisfaction probability) and ``["unit_cost"]`` for the
    orders that count, and records stockouts, lost, switched and backordered orders.
    """
    w, pop, day, rec = model.warehouse, model.pop, model.day, model.recorder
    sku = w.sku_of[buyers].astype(np.int64)
    seg = pop.segment[buyers]
    q = np.maximum(1, np.rint(units * w.scale)).astype(np.int64)
    open_ = ~w.closed[channel, seg]  # a levers-locked channel may still list nothing for them
    idx = np.flatnonzero(open_)
    order = model.draws.u("inventory.order", buyers[idx])
    idx = idx[np.argsort(order, kind="stable")]  # a random service order
    outcome_u = model.draws.u("inventory.outcome", buyers[idx])
    res = w.inventory.fulfil(channel[idx], sku[idx], q[idx], outcome_u)
    outcome = np.full(len(buyers), SWITCH, dtype=np.int8)
    outcome[idx] = res.outcome
    days = np.full(len(buyers), np.nan)
    days[idx] = res.delivery_days
    w.demand_units[day] += np.bincount(
        channel[idx], weights=q[idx], minlength=w.demand_units.shape[1]
    )
    _record(rec, day, channel[idx], res.outcome)
    _lost(model, buyers[outcome == LOST])
    _switched(model, buyers, channel, outcome == SWITCH, open_)
    back = outcome == BACKORDER
    days[back] = w.first_delivery[channel[back]] + w.backorder_wait[channel[back], sku[back]]
    keep = (outcome == SERVED) | back
    ch = channel[keep]
    extra = days[keep] - w.channel_delivery[ch]
    penalty = model.scenario.market.service.delivery_penalty
    model.today.sat_p = model.satisfaction_p[ch] * np.exp(-penalty * extra)
    model.today.unit_cost = w.unit_costs[sku[keep]]
    w.sku_of_orders = sku[keep]
    return keep


def _record(rec, day: int, channel: np.ndarray, outcome: np.ndarray) -> None:
    rec.add("stockouts", day, channel[outcome != SERVED])
    for name, code in (
        ("lost_orders", LOST),
        ("switched_orders", SWITCH),
        ("backordered_orders", BACKORDER),
    ):
        rec.add(name, day, channel[outcome == code])


def _lost(model: ChannelMarket, who: np.ndarray) -> None:
    """A lost sale: the customer gives up on this need and remembers the empty shelf."""
    pop = model.pop
    pop.satisfaction[who] *= LOST_SATISFACTION
    pop.in_market[who] = False
    cycle = pop.cycle_of(who)  # the customer's own cycle when rates are spread
    pop.next_need[who] = model.day + np.maximum(1, np.rint(cycle)).astype(np.int32)


def _switched(
    model, buyers: np.ndarray, channel: np.ndarray, switch: np.ndarray, open_: np.ndarray
) -> None:
    """Still in market, but not at this channel for a few days; a real stockout also stings."""
    w, pop = model.warehouse, model.pop
    who = buyers[switch]
    w.avoid_channel[who] = channel[switch]
    w.avoid_until[who] = model.day + AVOID_DAYS
    pop.satisfaction[buyers[switch & open_]] *= SWITCH_SATISFACTION
