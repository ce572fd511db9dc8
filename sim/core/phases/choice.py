"""Phase 3, choice: each in-market customer picks a selling channel by multinomial logit.

Utility = family affinity of the segment + loyalty to the last channel used − price weight ×
sensitivity × (price / guide − 1) + service weight × service points + a bonus for the channel
an ad or link landed them on today + private-pool bonuses. Private channels are open only to
pool members (and to whoever a touch or link lands there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.inventory.fulfilment import avoid

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

CHOICE_DRAWS = ("choice.channel", "purchase.conversion")


def choice(model: ChannelMarket) -> None:
    pop, rec, day, m = model.pop, model.recorder, model.day, model.scenario.market
    shoppers = np.flatnonzero(pop.in_market)
    model.today.shoppers = shoppers
    if len(shoppers) == 0:
        model.today.channel = shoppers
        return
    sell = model.selling  # channel indices that take orders
    seg = pop.segment[shoppers]
    util = _segment_utility(model)[seg]  # a fresh shoppers × channels array
    util += m.loyalty * (pop.last_channel[shoppers][:, None] == sell[None, :])
    landed = pop.landing[shoppers][:, None] == sell[None, :]
    util += m.landing_bonus * landed
    util += model.levers.choice_utility(model, shoppers, sell, pop.seg_sensitivity[seg])
    private = model.private_selling  # per selling channel: private family?
    if model.has_private_seller:
        member = pop.in_private[shoppers][:, None]
        bonus = m.private_bonus + m.touch_bonus * pop.touched[shoppers][:, None]
        util += np.where(private[None, :] & member, bonus, 0.0)
        closed = private[None, :] & ~member & ~landed
        util[closed] = -np.inf
    if model.warehouse is not None:  # empty shelves; channels a stockout sent them away from
        avoid(model, shoppers, sell, seg, util)
    util -= util.max(axis=1, keepdims=True)
    prob = np.exp(util)
    prob /= prob.sum(axis=1, keepdims=True)
    # purchase's conversion draw is about the same shoppers: one hashing pass for both
    u, model.today.u_conversion = model.draws.rows(CHOICE_DRAWS, shoppers)
    pick = (prob.cumsum(axis=1) < u[:, None]).sum(axis=1)
    channel = sell[np.minimum(pick, len(sell) - 1)]
    channel = model.levers.locked_channel(model, shoppers, channel)  # deposits, subscriptions
    model.today.channel = channel
    sessions = np.bincount(channel, minlength=len(model.channel_agents))
    rec.flow["sessions"][day] += sessions
    rec.flow["visits"][day] += sessions  # a session is also a visit (as are ad clicks)
    rec.journey(day, shoppers, "visit", channel, ordered=True)  # flatnonzero: ascending


def _segment_utility(model: ChannelMarket) -> np.ndarray:
    """Segment × selling channel: family affinity − the price term + the service term, the part
    of a shopper's utility that depends on their segment alone. Computed with the same
    operations, in the same order and types, as per shopper (so every shopper's utility is
    bit-identical), once per distinct shelf price instead of once per shopper and day."""
    key = model.price_today.tobytes()
    cached = model.choice_base
    if cached is not None and cached[0] == key:
        return cached[1]
    pop, m, sell = model.pop, model.scenario.market, model.selling
    rel_price = model.price_today[sell] / m.guide_price - 1.0
    base = pop.seg_affinity[:, model.family_index[sell]]
    base -= m.price_weight * pop.seg_sensitivity[:, None] * rel_price[None, :]
    base += m.service_weight * model.service_score[sell][None, :]
    model.choice_base = (key, base)
    return base
