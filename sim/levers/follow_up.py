"""Phase 5b, follow-up (after post-purchase): what the levers did today is recorded and their
state moves on — discounts and promotional revenue, coupon redemptions, samples, subscriptions
(shipments, uptake, cancellations), coupons issued after orders, group-buy invitations, tiers
and membership levels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.kernels import pool_tiers
from sim.core.population import CHURNED, INTERESTED, PROSPECT, SOURCE_CODE, STAGE
from sim.levers.coupons import NO_COUPON
from sim.levers.state import DEPOSIT, NONE, SUBSCRIPTION, issue_coupon
from sim.levers.tiers import NO_TIER, TIER_IDS, classify, level_of

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket
    from sim.levers.state import Levers

_TIER_MEASURES = tuple(f"tier_{tid}" for tid in TIER_IDS)  # the ledger's market columns
_CHURNED = int(STAGE[CHURNED])


def follow_up(model: ChannelMarket) -> None:
    """Record what the levers did today and move their state on."""
    lv, rec, day, t = model.levers, model.recorder, model.day, model.today
    buyers, channel = t.buyers, t.buy_channel
    # Without levers or stock every order paid its channel's shelf price, so on a day without a
    # promotional discount there is no discount and no promotional order: the adds would add 0.
    if lv.active or model.warehouse is not None or np.count_nonzero(lv.cal.discount[day]):
        _priced(model, lv, buyers, channel)
    _update_tiers(model, lv)
    if len(buyers):  # the tier each order left its buyer in
        rec.tag_orders(day, "tier", lv.tier[buyers])


def _priced(model: ChannelMarket, lv: Levers, buyers: np.ndarray, channel: np.ndarray) -> None:
    """Discounts and promotional revenue of today's orders; the levers' own follow-up."""
    pop, rec, day, t = model.pop, model.recorder, model.day, model.today
    revenue = t.units * t.price
    if lv.arms is not None:  # the orders an A/B test's team reads (sim.rules.ab)
        lv.arms.record(day, buyers, revenue)
    sample = t.sample if lv.has_trial else None
    cut = np.maximum(t.units * (model.list_price[channel] - t.price), 0.0)
    rec.add("discount", day, channel, cut if sample is None else np.where(sample, 0.0, cut))
    if sample is not None:
        _samples(model, lv, buyers[sample], channel[sample])
    # An order is promotional if it got a promotion's price: the day's discount on its channel,
    # a full-reduction on its basket, or the balance of a pre-sale deposit.
    promo = lv.cal.discount[day, channel] > 0
    if lv.active:  # (without levers nobody ever holds a deposit: promote leaves locks alone)
        promo |= (lv.lock_kind[buyers] == DEPOSIT) & (lv.lock_day[buyers] == day)
    reduced = t.reduced
    if reduced is not None:
        promo |= reduced
    rec.add("promo_revenue", day, channel[promo], revenue[promo])
    if lv.active:
        _redeem(model, lv, buyers, channel, revenue)
        _subscriptions(model, lv, buyers, channel)
        _issue_after_orders(model, lv, buyers, channel)
        _group_buys(model, lv, buyers, channel)
        stale = (lv.lock_kind == DEPOSIT) & (lv.lock_day <= day)
        lv.lock_kind[stale] = NONE
        if lv.level is not None:
            lv.level = np.maximum(lv.level, level_of(lv.membership, pop.spend))


def _samples(model: ChannelMarket, lv: Levers, who: np.ndarray, channel: np.ndarray) -> None:
    """A sample costs its own unit cost; a convinced sampler wants the full size after
    ``after_days``, the others are back on their own renewal cycle (set by the purchase)."""
    sc, rec, day = model.scenario, model.recorder, model.day
    cost = np.array([c.trial.unit_cost if c.trial else 0.0 for c in sc.channels])
    rec.add("samples", day, channel)
    rec.add("cogs", day, channel, cost[channel] - sc.market.unit_cost)
    after = np.array([c.trial.after_days if c.trial else 0 for c in sc.channels])[channel]
    to_full = np.array([c.trial.to_full if c.trial else 0.0 for c in sc.channels])[channel]
    wants = model.draws.u("levers.sample", who) < to_full
    model.pop.next_need[who[wants]] = day + after[wants]


def _redeem(model: ChannelMarket, lv: Levers, buyers, channel, revenue) -> None:
    if lv.coupons is None:
        return
    book, day = lv.coupons, model.day
    k = book.active(buyers, day)
    ok = (k != NO_COUPON) & book.valid_at[k, channel] & (revenue >= book.min_spend[k])
    ok[ok] = model.draws.u("levers.redeem", buyers[ok]) < book.redeem_p[k[ok]]
    model.recorder.add("coupon_cost", day, channel[ok], book.value[k[ok]])
    model.recorder.add("coupons_redeemed", day, channel[ok])
    book.held[buyers[ok]] = NO_COUPON


def _subscriptions(model: ChannelMarket, lv: Levers, buyers, channel) -> None:
    sub, pop, day, rec = lv.promo.subscription, model.pop, model.day, model.recorder
    if sub is None:
        return
    shipped = (
        (lv.lock_kind[buyers] == SUBSCRIPTION)
        & (lv.lock_day[buyers] == day)
        & (channel == lv.sub_channel)
    )
    rec.add("subscription_orders", day, channel[shipped])
    who = buyers[shipped]
    hazard = sub.cancel * (1.0 + sub.cancel_dissatisfied * (1.0 - pop.satisfaction[who]))
    cancel = who[model.draws.u("levers.cancel", who) < hazard]
    lv.lock_kind[cancel] = NONE
    new = buyers[(channel == lv.sub_channel) & (lv.lock_kind[buyers] == NONE)]
    new = new[model.draws.u("levers.uptake", new) < sub.uptake]
    lv.lock_kind[new] = SUBSCRIPTION
    lv.lock_channel[new] = lv.sub_channel
    lv.lock_p[new] = sub.ship_success
    # Every subscriber whose ship day is today or past (skipped, cancelled not) is rescheduled.
    keep = np.flatnonzero((lv.lock_kind == SUBSCRIPTION) & (lv.lock_day <= day))
    keep = np.union1d(keep, new)
    lv.lock_day[keep] = day + sub.every_days
    pop.next_need[keep] = day + sub.every_days
    pop.in_market[keep] = False
    gone = (lv.lock_kind == SUBSCRIPTION) & (pop.stage == CHURNED)
    lv.lock_kind[gone] = NONE
    subs = lv.lock_kind == SUBSCRIPTION  # a subscriber's need is the next shipment
    pop.next_need[subs] = lv.lock_day[subs]
    rec.market["subscribers"][day] = np.count_nonzero(lv.lock_kind == SUBSCRIPTION)


def _issue_after_orders(model: ChannelMarket, lv: Levers, buyers, channel) -> None:
    pop, t = model.pop, model.today
    if lv.coupons is None:
        return
    joined = np.flatnonzero(pop.in_private & ~lv.pool_before)
    private_ch = lv.private[0] if lv.private else 0
    for k in lv.coupons.of_kind("new_customer"):
        issue_coupon(model, lv, joined, k, private_ch)
    private_buy = np.isin(channel, lv.private)
    for k in lv.coupons.of_kind("repurchase"):
        issue_coupon(model, lv, buyers[private_buy], k, channel[private_buy])
    referrers, referred = t.referrers, t.referred
    if referrers is not None:
        for k in lv.coupons.of_kind("referral"):
            both = np.concatenate([referrers, referred])
            issue_coupon(model, lv, both, k, private_ch)


def _group_buys(model: ChannelMarket, lv: Levers, buyers, channel) -> None:
    """A buyer on a group-buy day opens a group: friends who are prospects start interested."""
    g = lv.cal.group[model.day]
    if g < 0:
        return
    gb, pop = lv.promo.group_buys[g], model.pop
    chans = [lv.ids.index(c) for c in gb.channels] if gb.channels else list(range(len(lv.ids)))
    opens = np.isin(channel, chans)
    opens[opens] = model.draws.u("levers.group", buyers[opens]) < gb.initiate
    who, where = buyers[opens], channel[opens]
    friends = pop.friends[who, : gb.group_size - 1]
    by = np.repeat(where, friends.shape[1])
    friends = friends.ravel()
    fresh = pop.stage[friends] == PROSPECT
    friends, by = friends[fresh], by[fresh]
    friends, first = np.unique(friends, return_index=True)
    by = by[first]
    pop.stage[friends] = INTERESTED
    pop.in_market[friends] = True
    pop.source[friends] = SOURCE_CODE["referral"]
    private = np.isin(by, lv.private)
    pop.in_private[friends[private]] = True
    model.recorder.add("group_invites", model.day, by)
    model.recorder.journey(model.day, friends, "referred", by)


def _update_tiers(model: ChannelMarket, lv: Levers) -> None:
    pop, day, rec = model.pop, model.day, model.recorder
    perks = lv.coupons is not None and lv.tiers.perks
    old = lv.tier.copy() if perks else None
    # Only pool members have a tier: classify those few, not the whole market, every day; and
    # clear yesterday's members' tiers rather than refill the whole market with NO_TIER.
    if day < 365:  # every member's age is a year: one compiled pass (sim.core.kernels)
        counts = np.zeros(len(TIER_IDS), dtype=np.int64)
        rules = (float(lv.tiers.high_value_spend), lv.tiers.high_value_repurchases)
        rules += (lv.tiers.new_max_orders,)
        args = (pop.in_private, pop.stage, _CHURNED, pop.spend, pop.n_orders, rules)
        lv.tier_members = pool_tiers(*args, lv.tier, lv.tier_members, counts)
    else:
        members = (pop.in_private & (pop.stage != STAGE[CHURNED])).nonzero()[0]
        lv.tier[lv.tier_members] = NO_TIER
        tier = classify(
            lv.tiers,
            in_private=np.ones(len(members), dtype=bool),
            n_orders=pop.n_orders[members],
            spend=pop.spend[members],
            first_day=pop.first_day[members],
            day=day,
        )
        lv.tier[members] = tier
        lv.tier_members = members
        counts = np.bincount(tier, minlength=len(TIER_IDS))
    for t, name in enumerate(_TIER_MEASURES):
        rec.market[name][day] = counts[t]
    if not perks:
        return
    coupon_ids = [c.id for c in lv.promo.coupons]
    for t, tid in enumerate(TIER_IDS):
        perk = lv.tiers.perks.get(tid)
        if perk is None or perk.coupon is None:
            continue
        entered = np.flatnonzero((lv.tier == t) & (old != t))
        issue_coupon(
            model, lv, entered, coupon_ids.index(perk.coupon), lv.private[0] if lv.private else 0
        )
