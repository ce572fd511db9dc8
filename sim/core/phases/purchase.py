"""Phase 4, purchase: a shopper at a channel converts, or not, and buys a basket.

Conversion = the channel's base rate × a service factor that falls with customer-service reply
time (1 / (1 + reply / tolerance)) × a price factor that falls once the unit price passes the
customer's own reservation price (exp(−sensitivity × (price / reservation − 1))). Units per
order are geometric with the segment's mean; the next need comes one purchase cycle later, with
lognormal spread (a renewal process, not a clock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from sim.core.kernels import book_orders, price_exponent, record_orders
from sim.core.phases.post_purchase import POST_PURCHASE_DRAWS
from sim.core.population import CUSTOMER, SOURCE_CODE, STAGE
from sim.inventory.fulfilment import settle, sku_factor

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

ORDER_MEASURES = (
    "orders",
    "units",
    "revenue",
    "cogs",
    "commission",
    "new_customers",
    "repeat_orders",
)
# by order source code (SOURCE_CODE's order)
SOURCE_ORDERS = tuple(f"orders_{name}" for name in SOURCE_CODE)
SOURCE_REVENUE = tuple(f"revenue_{name}" for name in SOURCE_CODE)
# paid-sourced orders by the channel of the last paid ad that reached the buyer (where the ad
# platform credits them), not where they bought: what a team's per-channel ad ROI reads
AD_MEASURES = ("orders_paid_ad", "revenue_paid_ad")
# every uniform about a buyer, hashed in one pass when no stock can drop the order in between
BUYER_DRAWS = ("purchase.units", "purchase.cycle", *POST_PURCHASE_DRAWS)


def purchase(model: ChannelMarket) -> None:
    pop, day, draws = model.pop, model.day, model.draws
    shoppers, channel = model.today.shoppers, model.today.channel
    price = model.levers.shopper_price(model, shoppers, channel, model.price_today[channel])
    seen = price  # with a warehouse, the SKU each shopper wants scales the price they see
    if model.warehouse is not None:
        factor = sku_factor(model, shoppers, channel, pop.segment[shoppers])
        seen = price * factor
    neg_sensitivity = _segment_constants(model)[2]  # (−sensitivity per segment: exact)
    seg, exponent = price_exponent(shoppers, seen, pop.reservation, pop.segment, neg_sensitivity)
    p_buy = model.conversion_today[channel] * np.exp(exponent)
    p_buy = model.levers.conversion(model, shoppers, channel, p_buy)  # deposits, auto-ship
    u_buy = model.today.u_conversion  # hashed with choice's draw (the same numbers)
    if u_buy is None or len(u_buy) != len(shoppers):
        u_buy = draws.u("purchase.conversion", shoppers)
    buy = u_buy < p_buy
    buyers, channel, seg, price = shoppers[buy], channel[buy], seg[buy], price[buy]
    if model.warehouse is None:  # the buyers stay who they are: every per-buyer draw at once
        wide = model.today.u_buyers  # hashed for every shopper in choice's pass (small days)
        if wide is not None and wide.shape[1] == len(shoppers):
            per_buyer = wide[:, buy]
        else:
            per_buyer = draws.rows(BUYER_DRAWS, buyers)
        u_units, u_cycle, model.today.u_post = per_buyer[0], per_buyer[1], per_buyer[2:]
    else:  # fulfilment may drop orders: the renewal draw follows it (below)
        u_units, u_cycle = draws.u("purchase.units", buyers), None
    log_q, sigma = _segment_constants(model)[:2]
    own_q = log_q[seg] if pop.basket_mult is None else _log_q(pop.basket_mean(buyers, seg))
    if pop.seg_first_units is not None:  # a first order has its own basket
        own_q = _first_basket(pop, buyers, seg, own_q)
    units = _geometric(u_units, own_q)  # each customer's own basket, if spread
    units, price = model.levers.basket(model, buyers, channel, units, price)  # full-reduction
    if model.warehouse is not None:  # customers feel the stock: lost / switched orders drop
        buyers, channel, seg, units, price = settle(
            model, buyers, channel, seg, units, price, factor[buy]
        )
    t = model.today
    t.buyers, t.buy_channel, t.units, t.price = buyers, channel, units, price
    if len(buyers) == 0:
        model.today.first = np.zeros(0, dtype=bool)
        model.today.order_source = np.zeros(0, dtype=np.int8)
        return
    # the buyers' side of the orders, in one compiled loop (the same numbers as NumPy's calls)
    t.order_source = np.empty(len(buyers), dtype=np.int8)
    revenue, t.first = book_orders(buyers, channel, units, price, day, _book(pop), t.order_source)
    if u_cycle is None:
        u_cycle = draws.u("purchase.cycle", buyers)
    z = ndtri(np.minimum(np.maximum(u_cycle, _U_LO), _U_HI))  # np.clip, without its overhead
    gap = pop.need_gap(buyers, seg, z, sigma[seg])  # each customer's own cycle, if spread
    pop.next_need[buyers] = pop.next_need_after(buyers, day, gap)
    _record(model, buyers, channel, units, revenue, t.first)


def _first_basket(pop, buyers: np.ndarray, seg: np.ndarray, own_q: np.ndarray) -> np.ndarray:
    """``own_q`` with the buyers ordering for the first time on their segment's first basket
    (scaled by their own multiplier when the segment spreads baskets)."""
    first = pop.n_orders[buyers] == 0
    if not first.any():
        return own_q
    units = pop.seg_first_units[seg[first]]
    if pop.basket_mult is not None:
        units = pop.basket_mean(buyers[first], seg[first], units)
    own_q[first] = _log_q(units)  # (own_q is the buyers' own array: fancy-indexed above)
    return own_q


def _geometric(u: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """Units ≥ 1 by inverting the geometric CDF, ``log_q`` from :func:`_log_q` of the mean."""
    return np.maximum(1, np.ceil(np.log1p(-u) / log_q)).astype(np.int32)


def _log_q(mean: np.ndarray) -> np.ndarray:
    """log q of the geometric basket with the given mean.

    A mean of one unit (``basket_units: 1``) gives q = 0 — in float32 also a mean within 1e-7
    of one — and log(0) = −∞; q is floored at the smallest positive float instead, so every
    basket is one unit without a divide-by-zero warning (the ratio is < 1, its ceiling 1).
    """
    q = 1.0 - 1.0 / np.maximum(mean, 1.0 + 1e-9)
    return np.log(np.maximum(q, np.finfo(q.dtype).tiny))


def _segment_constants(model: ChannelMarket) -> tuple[np.ndarray, ...]:
    """Per segment, once per run: log q of the basket, σ of the renewal gap and −price
    sensitivity. Elementwise the same operations on the same float32 values as per buyer (so
    bit-identical), but not ~10 NumPy calls per day on a few dozen buyers."""
    if model.segment_constants is None:
        pop = model.pop
        sigma = np.sqrt(np.log1p(pop.seg_cycle_cv**2))
        model.segment_constants = (_log_q(pop.seg_units), sigma, -pop.seg_sensitivity)
    return model.segment_constants


def _book(pop) -> tuple:
    """The population arrays :func:`sim.core.kernels.book_orders` reads and updates."""
    return (
        pop.n_orders,
        pop.spend,
        pop.stage,
        pop.first_day,
        pop.last_channel,
        pop.channels_mask,
        pop.in_market,
        pop.source,
        pop.landing,
        pop.landing_source,
        _CUSTOMER,
        SOURCE_CODE["organic"],
    )


def _record(model: ChannelMarket, buyers, channel, units, revenue, first) -> None:
    """The day's order measures in one compiled write (:func:`sim.core.kernels.record_orders`):
    seven by the order's channel, orders and revenue by source × channel, and the paid-sourced
    ones by the last paid ad's channel (other orders add 0 there, which leaves every sum as it
    was)."""
    rec, day = model.recorder, model.day
    unit_cost = model.today.unit_cost  # per SKU with inventory
    if unit_cost is None:
        unit_cost = np.array([model.scenario.market.unit_cost])
    source, ad = model.today.order_source, model.pop.landing_channel[buyers]
    orders = (channel, ad, source, units, revenue, unit_cost, model.commission, first)
    n_ch = len(model.channel_agents)
    record_orders(rec.day_block(day), rec.bins_of(_KEYED), orders, n_ch, SOURCE_CODE["paid"])
    rec.journey(day, buyers, "order", channel, ordered=model.warehouse is None)


_CUSTOMER = int(STAGE[CUSTOMER])
# the renewal draw's bounds as the float32 numbers the Python floats became in float32 arithmetic
# (0-d arrays: cheaper ufunc operands than NumPy scalars, see sim.core.population.STAGE)
_U_LO, _U_HI = np.array(1e-7, dtype=np.float32), np.array(1 - 1e-7, dtype=np.float32)
# _record's measures and, per row of its keys, the measure its bins start at
_RECORDED = (*ORDER_MEASURES, *SOURCE_ORDERS, *SOURCE_REVENUE, *AD_MEASURES)
_KEY_ROW = np.array(
    [
        *range(len(ORDER_MEASURES)),
        len(ORDER_MEASURES),
        len(ORDER_MEASURES) + len(SOURCE_ORDERS),
        len(_RECORDED) - 2,
        len(_RECORDED) - 1,
    ]
)
_KEYED = tuple(_RECORDED[j] for j in _KEY_ROW)  # the measure each row of keys starts at
