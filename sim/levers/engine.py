"""The plan's levers in the day: promotions, coupons, subscription, reminders, tiers, levels.

:class:`Levers` holds the per-run lever state (coupon slots, deposit/subscription locks, tiers,
membership levels: ~20 bytes per customer) and offers the hooks the core phases call:

* :func:`promote` (phase 1b, after exposure, before needs) — today's promotion prices, pre-sale
  deposits, pulled-forward needs, reminders, coupon pulls;
* :meth:`Levers.locked_channel` (in choice) — deposit holders and subscribers go to their channel;
* :meth:`Levers.shopper_price`, :meth:`Levers.conversion`, :meth:`Levers.basket` (in purchase);
* :func:`follow_up` (phase 5b, after post-purchase) — discounts and coupon redemptions recorded,
  subscriptions, coupons issued, group-buy invitations, tiers and levels updated.

With no lever configured every hook returns its input unchanged and no random number is drawn;
all lever randomness comes from the ``promotions`` stream in a fixed block of ``N_DRAWS × n``
uniforms a day, so switching a lever on never changes another phase's luck.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.core.population import CHURNED, CUSTOMER, INTERESTED, NO_CHANNEL, PROSPECT, SOURCE_CODE
from sim.levers.coupons import NO_COUPON, CouponBook
from sim.levers.pricing import band_violation, keep_share
from sim.levers.promotions import compile_calendar
from sim.levers.tiers import NO_TIER, TIER_IDS, Tiers, classify, level_of

NONE, DEPOSIT, SUBSCRIPTION = 0, 1, 2
# Rows of the daily uniform block: deposit, pull, reminder, coupon pull, add-on, subscription
# uptake, cancel, group, redeem, sample → full size.
N_DRAWS = 10


class Levers:
    """Lever state for one run of :class:`sim.core.model.ChannelMarket`."""

    def __init__(self, model):
        sc, pop = model.scenario, model.pop
        n, chans = pop.n, sc.channels
        self.promo = sc.promotions
        self.ids = [c.id for c in chans]
        self.private = [i for i, c in enumerate(chans) if c.family == "private" and c.sells]
        self.cal = compile_calendar(
            sc.promotions,
            start=sc.horizon.start,
            days=sc.horizon.days,
            channels=self.ids,
            families=[c.family for c in chans],
            sells=[c.sells for c in chans],
        )
        self.tiers = sc.tiers or Tiers()
        self.membership = sc.membership
        self.band = sc.price_band
        scope = (
            self.band.channels
            if self.band and self.band.channels
            else [c.id for c in chans if c.sells]
        )
        self.band_scope = np.array([c in scope for c in self.ids])
        self.trial_price = np.array([c.trial.price if c.trial else np.nan for c in chans])
        self.trial_conv = np.array(
            [
                c.trial.conversion if c.trial and c.trial.conversion is not None else np.nan
                for c in chans
            ]
        )
        self.has_trial = bool(np.isfinite(self.trial_price).any())
        self.active = (
            not sc.promotions.is_empty()
            or sc.membership is not None
            or bool(sc.tiers and sc.tiers.perks)
            or self.has_trial
        )
        self.tier = np.full(n, -1, dtype=np.int8)
        self.coupons = (
            CouponBook(sc.promotions.coupons, n=n, channels=self.ids, private=self.private)
            if sc.promotions.coupons
            else None
        )
        self.lock_day = np.full(n, -1, dtype=np.int32)
        self.lock_channel = np.full(n, NO_CHANNEL, dtype=np.int8)
        self.lock_kind = np.zeros(n, dtype=np.int8)
        self.lock_p = np.zeros(n, dtype=np.float32)  # conversion when locked
        sub = sc.promotions.subscription
        self.sub_channel = self.ids.index(sub.channel) if sub else NO_CHANNEL
        self._price_factors(model)
        self.u = np.zeros((N_DRAWS, 0), dtype=np.float32)
        self.pool_before = pop.in_private

    def _price_factors(self, model) -> None:
        """Per level × channel and tier × channel price multipliers and utility bonuses."""
        n_ch = len(self.ids)
        perks = self.tiers.perks
        self.tier_keep = np.ones((len(TIER_IDS) + 1, n_ch))  # row −1 = outside the pool
        self.tier_bonus = np.zeros((len(TIER_IDS) + 1, n_ch))
        for t, tid in enumerate(TIER_IDS):
            if tid in perks:
                self.tier_keep[t, self.private] = keep_share(np.array(perks[tid].discount))
                self.tier_bonus[t, self.private] = perks[tid].touch_bonus
        self.level = None
        if self.membership is not None:
            cols = (
                [self.ids.index(c) for c in self.membership.channels]
                if self.membership.channels
                else self.private
            )
            self.level = np.zeros(model.pop.n, dtype=np.int8)
            lv = self.membership.levels
            self.level_keep = np.ones((len(lv), n_ch))
            self.level_bonus = np.zeros((len(lv), n_ch))
            for k, level in enumerate(lv):
                self.level_keep[k, cols] = level.price
                self.level_bonus[k, cols] = level.loyalty

    # ---- hooks used by choice and purchase -------------------------------------------------
    def choice_utility(
        self, model, shoppers: np.ndarray, sell: np.ndarray, sensitivity: np.ndarray
    ) -> np.ndarray | float:
        """Extra utility per shopper × channel: own prices (levels, tiers, coupons), loyalty."""
        if not self.active:
            return 0.0
        base = model.price_today[sell][None, :]
        # A sample is not the full-size product at a discount: the trial price does not enter
        # the comparison between channels, only the sampler's conversion and basket.
        own = self._own_price(
            model,
            shoppers,
            np.broadcast_to(sell, (len(shoppers), len(sell))),
            base,
            coupons=True,
            trial=False,
        )
        m = model.scenario.market
        extra = -m.price_weight * sensitivity[:, None] * (own - base) / m.guide_price
        extra = extra + self.tier_bonus[self.tier[shoppers]][:, sell]
        if self.level is not None:
            extra = extra + self.level_bonus[self.level[shoppers]][:, sell]
        return extra

    def locked_channel(self, model, shoppers: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """Deposit holders and subscribers due today go to the channel they are locked to."""
        if not self.active:
            return channel
        due = (self.lock_kind[shoppers] != NONE) & (self.lock_day[shoppers] == model.day)
        return np.where(due, self.lock_channel[shoppers], channel).astype(channel.dtype)

    def shopper_price(
        self, model, shoppers: np.ndarray, channel: np.ndarray, price: np.ndarray
    ) -> np.ndarray:
        """Unit price each shopper sees at their channel, coupon included (conversion)."""
        if not self.active:
            return price
        return self._own_price(model, shoppers, channel, price, coupons=True)

    def conversion(
        self, model, shoppers: np.ndarray, channel: np.ndarray, p_buy: np.ndarray
    ) -> np.ndarray:
        if not self.active:
            return p_buy
        due = (
            (self.lock_kind[shoppers] != NONE)
            & (self.lock_day[shoppers] == model.day)
            & (self.lock_channel[shoppers] == channel)
        )
        if self.has_trial:
            sample = self._sampling(model, shoppers, channel)
            sample &= np.isfinite(self.trial_conv[channel])
            p_buy = np.where(sample, self.trial_conv[channel], p_buy)
        return np.where(due, self.lock_p[shoppers], p_buy)

    def basket(
        self, model, buyers: np.ndarray, channel: np.ndarray, units: np.ndarray, price: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checkout: the price before coupons, then full-reduction (add-on units, amount off)."""
        if not self.active:
            return units, price
        price = self._own_price(model, buyers, channel, model.price_today[channel], coupons=False)
        model.today["reduced"] = np.zeros(len(buyers), dtype=bool)
        for fr in self.promo.full_reduction:
            units, price = self._full_reduction(model, fr, buyers, channel, units, price)
        if self.has_trial:
            sample = self._sampling(model, buyers, channel)
            model.today["sample"] = sample
            units = np.where(sample, 1, units).astype(units.dtype)
            price = np.where(sample, self.trial_price[channel], price)
        return units, price

    def _sampling(self, model, who: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """A customer who never bought the product, at a channel with a trial price: a sample."""
        never = model.pop.n_orders[who] == 0
        never = never[:, None] if channel.ndim == 2 else never
        return never & np.isfinite(self.trial_price[channel])

    def _own_price(
        self, model, who, channel, price, *, coupons: bool, trial: bool = True
    ) -> np.ndarray:
        price = (
            price
            * self.tier_keep[
                self.tier[who][:, None] if channel.ndim == 2 else self.tier[who], channel
            ]
        )
        if self.level is not None:
            lv = self.level[who][:, None] if channel.ndim == 2 else self.level[who]
            price = price * self.level_keep[lv, channel]
        if self.sub_channel != NO_CHANNEL:
            sub = self.promo.subscription
            ship = (self.lock_kind[who] == SUBSCRIPTION) & (self.lock_day[who] == model.day)
            ship = (ship[:, None] if channel.ndim == 2 else ship) & (channel == self.sub_channel)
            price = np.where(ship, price * (1.0 - sub.discount), price)
        if self.has_trial and trial:
            price = np.where(self._sampling(model, who, channel), self.trial_price[channel], price)
        if coupons and self.coupons is not None:
            mu = model.pop.seg_units[model.pop.segment[who]]
            price = price - self.coupons.price_cut(who, channel, model.day, mu)
        return price

    def _full_reduction(self, model, fr, buyers, channel, units, price):
        on = np.isin(
            channel,
            [self.ids.index(c) for c in fr.channels] if fr.channels else np.arange(len(self.ids)),
        )
        on &= _within(model, fr.start, fr.end)
        if not on.any():
            return units, price
        spends = np.array([t.spend for t in fr.tiers])
        offs = np.array([t.reduce for t in fr.tiers])
        value = units * price
        nxt = np.searchsorted(spends, value, side="left")  # first threshold ≥ value
        has_next = nxt < len(spends)
        target = spends[np.minimum(nxt, len(spends) - 1)]
        near = on & has_next & (value < target) & ((target - value) <= fr.near * target)
        adds = near & (self.u[4, buyers] < fr.add_on)
        units = np.where(adds, np.ceil(target / price - 1e-9).astype(units.dtype), units)
        value = units * price
        reached = np.searchsorted(spends, value + 1e-9, side="right") - 1
        off = np.where(on & (reached >= 0), offs[np.maximum(reached, 0)], 0.0)
        model.today["reduced"] |= off > 0
        return units, np.where(off > 0, price - off / units, price)


def _within(model, start, end) -> bool:
    today = model.scenario.horizon.start + dt.timedelta(days=model.day)
    return (start is None or start <= today) and (end is None or today <= end)


# --------------------------------------------------------------------------------------------
# Phase 1b: before needs
# --------------------------------------------------------------------------------------------
def promote(model, rng: np.random.Generator) -> None:
    """Today's promotion prices; deposits, pulls, reminders and coupon pulls bring needs forward."""
    lv, day, pop = model.levers, model.day, model.pop
    disc = lv.cal.discount[day]
    model.price_today = np.where(disc > 0, model.list_price * (1.0 - disc), model.list_price)
    model.recorder.level["price"][day] = model.price_today
    model.recorder.level["band_violation"][day] = band_violation(
        model.price_today,
        model.scenario.market.guide_price,
        lv.band,
        lv.cal.promo[day],
        lv.band_scope,
    )
    if not lv.active:
        return
    lv.u = rng.random((N_DRAWS, pop.n), dtype=np.float32)
    lv.pool_before = pop.in_private.copy()
    _deposits(model, lv)
    _pulls(model, lv)
    _attention(model, lv)
    _reminders(model, lv)
    _coupon_pulls(model, lv)


def _free(model, lv) -> np.ndarray:
    pop = model.pop
    return (pop.stage == CUSTOMER) & ~pop.in_market & (lv.lock_kind == NONE)


def _bring(model, who: np.ndarray, channel: int, *, touch: bool = False) -> None:
    pop = model.pop
    pop.in_market[who] = True
    pop.landing[who] = channel
    family = model.scenario.channels[channel].family
    pop.landing_source[who] = SOURCE_CODE["private" if family == "private" else "organic"]
    if touch:
        pop.touched[who] = True


def _deposits(model, lv) -> None:
    """Pre-sale: a customer whose need falls before the sale ends (+ pull_days) may put down a
    deposit; they wait for the sale day, locked to a channel of the event (their last one if
    it takes part)."""
    pop, day = model.pop, model.day
    for d, sale_day, ev, chans in lv.cal.presale:
        if d != day:
            continue
        p = 1.0 - (1.0 - ev.deposit_take) ** (1.0 / ev.presale_days)
        horizon = sale_day + ev.days - 1 + ev.pull_days
        eligible = (pop.stage == CUSTOMER) & (lv.lock_kind == NONE) & (pop.next_need <= horizon)
        who = np.flatnonzero(eligible & (lv.u[0] < p))
        last = pop.last_channel[who]
        lv.lock_channel[who] = np.where(np.isin(last, chans), last, chans[0])
        lv.lock_kind[who] = DEPOSIT
        lv.lock_day[who] = sale_day
        lv.lock_p[who] = ev.deposit_conversion
        pop.next_need[who] = sale_day
        pop.in_market[who] = False


def _pulls(model, lv) -> None:
    pop, day = model.pop, model.day
    for d, channel, pull_days, share, pool_only in lv.cal.pulls:
        if d != day:
            continue
        soon = _free(model, lv) & (pop.next_need > day) & (pop.next_need <= day + pull_days)
        if pool_only:
            soon &= pop.in_private
        _bring(model, np.flatnonzero(soon & (lv.u[1] < share)), channel)


def _attention(model, lv) -> None:
    """Event traffic: prospects become interested (row 1 is shared with pulls, which only ever
    concern customers, so the two never read the same uniform)."""
    pop, day = model.pop, model.day
    for d, channel, hazard in lv.cal.attention:
        if d != day:
            continue
        new = np.flatnonzero((pop.stage == PROSPECT) & (lv.u[1] < hazard))
        pop.stage[new] = INTERESTED
        pop.source[new] = SOURCE_CODE["organic"]
        _bring(model, new, channel)
        model.recorder.journey(day, new, "interested")


def _reminders(model, lv) -> None:
    rem, pop, day = lv.promo.reminders, model.pop, model.day
    if rem is None:
        return
    ch = lv.ids.index(rem.channel)
    due = _free(model, lv) & pop.in_private & (pop.next_need == day + rem.days_before)
    sent = np.flatnonzero(due)
    model.recorder.spend["spend_private_ops"][day, ch] += (
        len(sent) * rem.cost_per_message * model.scenario.market.scale
    )
    model.recorder.add("reminders", day, np.full(len(sent), ch))
    if rem.coupon is not None and lv.coupons is not None:
        k = [c.id for c in lv.promo.coupons].index(rem.coupon)
        _issue(model, lv, sent, k, ch)
    _bring(model, sent[lv.u[2, sent] < rem.response], ch, touch=True)


def _coupon_pulls(model, lv) -> None:
    """A valid coupon brings its holder back when their need is within a week."""
    if lv.coupons is None:
        return
    pop, day, book = model.pop, model.day, lv.coupons
    cand = np.flatnonzero(_free(model, lv) & (pop.next_need <= day + 7))
    k = book.active(cand, day)
    go = cand[(k != NO_COUPON) & (lv.u[3, cand] < book.pull_p[k])]
    kk = book.active(go, day)
    first_valid = np.argmax(book.valid_at, axis=1)
    for k_id in np.unique(kk):
        _bring(model, go[kk == k_id], int(first_valid[k_id]))


def _issue(model, lv, who: np.ndarray, k: int, channel: int | np.ndarray) -> None:
    got = lv.coupons.issue(who, k, model.day, lv.tier, list(TIER_IDS))
    ch = np.broadcast_to(np.asarray(channel), who.shape)[np.isin(who, got)]
    model.recorder.add("coupons_issued", model.day, ch.astype(np.int64))


# --------------------------------------------------------------------------------------------
# Phase 5b: after post-purchase
# --------------------------------------------------------------------------------------------
def follow_up(model, rng: np.random.Generator) -> None:
    """Record what the levers did today and move their state on."""
    del rng  # all lever draws come from the day's block drawn in :func:`promote`
    lv, pop, rec, day, t = model.levers, model.pop, model.recorder, model.day, model.today
    buyers, channel = t["buyers"], t["buy_channel"]
    revenue = t["units"] * t["price"]
    sample = t.pop("sample", None) if lv.has_trial else None
    cut = np.maximum(t["units"] * (model.list_price[channel] - t["price"]), 0.0)
    rec.add("discount", day, channel, cut if sample is None else np.where(sample, 0.0, cut))
    if sample is not None:
        _samples(model, lv, buyers[sample], channel[sample])
    # An order is promotional if it got a promotion's price: the day's discount on its channel,
    # a full-reduction on its basket, or the balance of a pre-sale deposit.
    deposit = (lv.lock_kind[buyers] == DEPOSIT) & (lv.lock_day[buyers] == day)
    promo = (lv.cal.discount[day, channel] > 0) | deposit
    reduced = t.pop("reduced", None)
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
    _update_tiers(model, lv)
    rec.tag_orders(day, "tier", lv.tier[buyers])  # the tier each order left its buyer in


def _samples(model, lv, who: np.ndarray, channel: np.ndarray) -> None:
    """A sample costs its own unit cost; a convinced sampler wants the full size after
    ``after_days``, the others are back on their own renewal cycle (set by the purchase)."""
    sc, rec, day = model.scenario, model.recorder, model.day
    cost = np.array([c.trial.unit_cost if c.trial else 0.0 for c in sc.channels])
    rec.add("samples", day, channel)
    rec.add("cogs", day, channel, cost[channel] - sc.market.unit_cost)
    after = np.array([c.trial.after_days if c.trial else 0 for c in sc.channels])[channel]
    to_full = np.array([c.trial.to_full if c.trial else 0.0 for c in sc.channels])[channel]
    wants = lv.u[9, who] < to_full
    model.pop.next_need[who[wants]] = day + after[wants]


def _redeem(model, lv, buyers, channel, revenue) -> None:
    if lv.coupons is None:
        return
    book, day = lv.coupons, model.day
    k = book.active(buyers, day)
    ok = (k != NO_COUPON) & book.valid_at[k, channel] & (revenue >= book.min_spend[k])
    ok &= lv.u[8, buyers] < book.redeem_p[k]
    model.recorder.add("coupon_cost", day, channel[ok], book.value[k[ok]])
    model.recorder.add("coupons_redeemed", day, channel[ok])
    book.held[buyers[ok]] = NO_COUPON


def _subscriptions(model, lv, buyers, channel) -> None:
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
    cancel = who[lv.u[6, who] < hazard]
    lv.lock_kind[cancel] = NONE
    new = buyers[
        (channel == lv.sub_channel)
        & (lv.lock_kind[buyers] == NONE)
        & (lv.u[5, buyers] < sub.uptake)
    ]
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


def _issue_after_orders(model, lv, buyers, channel) -> None:
    pop, t = model.pop, model.today
    if lv.coupons is None:
        t.pop("referrers", None)
        return
    joined = np.flatnonzero(pop.in_private & ~lv.pool_before)
    private_ch = lv.private[0] if lv.private else 0
    for k in lv.coupons.of_kind("new_customer"):
        _issue(model, lv, joined, k, private_ch)
    private_buy = np.isin(channel, lv.private)
    for k in lv.coupons.of_kind("repurchase"):
        _issue(model, lv, buyers[private_buy], k, channel[private_buy])
    referrers, referred = t.pop("referrers", None), t.pop("referred", None)
    if referrers is not None:
        for k in lv.coupons.of_kind("referral"):
            both = np.concatenate([referrers, referred])
            _issue(model, lv, both, k, private_ch)


def _group_buys(model, lv, buyers, channel) -> None:
    """A buyer on a group-buy day opens a group: friends who are prospects start interested."""
    g = lv.cal.group[model.day]
    if g < 0:
        return
    gb, pop = lv.promo.group_buys[g], model.pop
    chans = [lv.ids.index(c) for c in gb.channels] if gb.channels else list(range(len(lv.ids)))
    opens = np.isin(channel, chans) & (lv.u[7, buyers] < gb.initiate)
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


def _update_tiers(model, lv) -> None:
    pop, day, rec = model.pop, model.day, model.recorder
    old = lv.tier
    # Only pool members have a tier: classify those few, not the whole market, every day.
    members = np.flatnonzero(pop.in_private & (pop.stage != CHURNED))
    lv.tier = np.full(pop.n, NO_TIER, dtype=np.int8)
    lv.tier[members] = classify(
        lv.tiers,
        in_private=np.ones(len(members), dtype=bool),
        n_orders=pop.n_orders[members],
        spend=pop.spend[members],
        first_day=pop.first_day[members],
        day=day,
    )
    counts = np.bincount(lv.tier[members], minlength=len(TIER_IDS))
    for t, tid in enumerate(TIER_IDS):
        rec.market[f"tier_{tid}"][day] = counts[t]
    if lv.coupons is None or not lv.tiers.perks:
        return
    coupon_ids = [c.id for c in lv.promo.coupons]
    for t, tid in enumerate(TIER_IDS):
        perk = lv.tiers.perks.get(tid)
        if perk is None or perk.coupon is None:
            continue
        entered = np.flatnonzero((lv.tier == t) & (old != t))
        _issue(
            model, lv, entered, coupon_ids.index(perk.coupon), lv.private[0] if lv.private else 0
        )
