"""Phase 3, choice: each in-market customer picks a selling channel by multinomial logit.

Utility = family affinity of the segment + loyalty to the last channel used − price weight ×
sensitivity × (price / guide − 1) + service weight × service points + a bonus for the channel
an ad or link landed them on today + private-pool bonuses. Private channels are open only to
pool members (and to whoever a touch or link lands there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.population import PRIVATE_FAMILY
from sim.inventory.fulfilment import avoid

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def choice(model: ChannelMarket) -> None:
    pop, rec, day, m = model.pop, model.recorder, model.day, model.scenario.market
    shoppers = np.flatnonzero(pop.in_market)
    model.today.shoppers = shoppers
    if len(shoppers) == 0:
        model.today.channel = shoppers
        return
    sell = model.selling  # channel indices that take orders
    seg = pop.segment[shoppers]
    rel_price = model.price_today[sell] / m.guide_price - 1.0
    util = pop.seg_affinity[seg][:, model.family_index[sell]]
    util -= m.price_weight * pop.seg_sensitivity[seg][:, None] * rel_price[None, :]
    util += m.service_weight * model.service_score[sell][None, :]
    util += m.loyalty * (pop.last_channel[shoppers][:, None] == sell[None, :])
    landed = pop.landing[shoppers][:, None] == sell[None, :]
    util += m.landing_bonus * landed
    util += model.levers.choice_utility(model, shoppers, sell, pop.seg_sensitivity[seg])
    private = model.family_index[sell] == PRIVATE_FAMILY
    if private.any():
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
    u = model.draws.u("choice.channel", shoppers)
    pick = (prob.cumsum(axis=1) < u[:, None]).sum(axis=1)
    channel = sell[np.minimum(pick, len(sell) - 1)]
    channel = model.levers.locked_channel(model, shoppers, channel)  # deposits, subscriptions
    model.today.channel = channel
    sessions = np.bincount(channel, minlength=len(model.channel_agents))
    rec.flow["sessions"][day] += sessions
    rec.flow["visits"][day] += sessions  # a session is also a visit (as are ad clicks)
    rec.journey(day, shoppers, "visit", channel)
