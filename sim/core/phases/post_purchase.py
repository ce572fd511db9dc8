"""Phase 5, post-purchase: satisfaction, migration into the private pool, referrals.

An order satisfies with probability base × exp(−penalties for delivery days, after-sales
resolution time and reply time). A buyer outside the private pool joins it with the channel
operations' join probability (it grows with private-operations spend). A satisfied buyer in a
private channel refers one of their friends with the channel's referral rate × the segment's
referral response; a prospect friend starts interested, in the pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.kernels import satisfy_and_join
from sim.core.population import INTERESTED, PROSPECT, SOURCE_CODE

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

POST_PURCHASE_DRAWS = ("post_purchase.satisfied", "post_purchase.join", "post_purchase.referral")


def post_purchase(model: ChannelMarket) -> None:
    pop, rec, day = model.pop, model.recorder, model.day
    buyers, channel = model.today.buyers, model.today.buy_channel
    if len(buyers) == 0:  # nobody bought: nothing to satisfy, join or refer today
        return
    u_post = model.today.u_post  # hashed in purchase with its draws when no stock intervened
    if u_post is None or u_post.shape[1] != len(buyers):
        u_post = model.draws.rows(POST_PURCHASE_DRAWS, buyers)
    u_sat, u_join, u_ref = u_post

    # with a warehouse, each order's delivery days depend on the location that served it
    p_sat = model.satisfaction_p[channel] if model.warehouse is None else model.today.sat_p
    # satisfaction and joining the private pool, in one compiled loop (NumPy's numbers)
    join_p = np.float32(model.join_p)
    satisfied, joins = satisfy_and_join(
        buyers, u_sat, p_sat, u_join, join_p, pop.satisfaction, pop.in_private
    )
    rec.add("satisfied_orders", day, channel[satisfied])
    t = model.today
    rec.add_orders(
        day,
        customer=buyers.astype(np.int32),
        channel=channel.astype(np.int16),
        units=t.units.astype(np.int16),
        revenue=(t.units * t.price).astype(np.float32),
        source=t.order_source,
        satisfied=satisfied,
        first=t.first,
        tier=model.levers.tier[buyers],
    )

    joined, joined_at = buyers[joins], channel[joins]
    rec.add("joined_private", day, joined_at)
    rec.journey(day, joined, "joined_private", joined_at, ordered=model.warehouse is None)

    p_ref = model.referral_p[channel] * pop.seg_referral[pop.segment[buyers]]
    refers = satisfied & (u_ref < p_ref)
    if not np.count_nonzero(refers):  # (ndarray.any costs 8 times as much on a few dozen)
        return
    who = buyers[refers]
    slot = np.minimum(
        (u_ref[refers] / p_ref[refers] * pop.friends.shape[1]).astype(int), pop.friends.shape[1] - 1
    )  # position in the hit interval picks the friend
    friend = pop.friends[who, slot]
    fresh = pop.stage[friend] == PROSPECT
    friend, by = friend[fresh], channel[refers][fresh]
    pop.stage[friend] = INTERESTED
    pop.in_market[friend] = True
    pop.in_private[friend] = True
    pop.source[friend] = SOURCE_CODE["referral"]
    rec.add("referrals", day, by)
    t.referrers, t.referred = who[fresh], friend  # for referral coupons (sim.levers.coupons)
    rec.journey(day, friend, "referred", by)
