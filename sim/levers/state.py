"""The lever state of one run and the hooks the core phases call.

:class:`Levers` holds the per-run lever state (coupon slots, deposit/subscription locks, tiers,
membership levels: ~20 bytes per customer) and offers the hooks the core phases call:

* :meth:`Levers.locked_channel` (in choice) — deposit holders and subscribers go to their channel;
* :meth:`Levers.shopper_price`, :meth:`Levers.conversion`, :meth:`Levers.basket` (in purchase).

The two lever phases of the day are :func:`sim.levers.promote.promote` (before needs) and
:func:`sim.levers.follow_up.follow_up` (after post-purchase). With no lever configured every
hook returns its input unchanged and no random number is drawn. Each lever decision has its own
counter-based uniforms (``levers.<decision>`` in :class:`sim.core.streams.Draws`), drawn only for
the customers it concerns, so switching a lever on never changes another phase's luck.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from sim.core.population import NO_CHANNEL
from sim.levers.arms import ArmBook
from sim.levers.coupons import CouponBook
from sim.levers.pricing import keep_share
from sim.levers.promotions import Promotions, compile_calendar, splice_calendar
from sim.levers.tiers import TIER_IDS, Tiers

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

NONE, DEPOSIT, SUBSCRIPTION = 0, 1, 2
NO_EXTRA = 0.0  # Levers.choice_utility without levers: the very object, so choice can skip it


class Levers:
    """Lever state for one run of :class:`sim.core.model.ChannelMarket`."""

    def __init__(self, model: ChannelMarket):
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
        # A/B tests (sim.rules.ab) set per-customer price multipliers during the run
        ab = any(r.kind == "ab_test" for r in sc.rules)
        self.arms = ArmBook(len(chans)) if ab else None
        self.active = self.active or ab
        self.tier = np.full(n, -1, dtype=np.int8)
        self.tier_members = np.zeros(0, dtype=np.intp)  # who has a tier (the rest: −1)
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
        self.pool_before = pop.in_private
        self.price_days: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # (sim.levers.promote)

    def set_promotions(self, model: ChannelMarket, promotions: Promotions) -> None:
        """A review rule changed the promotions (sim.rules.promotion): the calendar compiled
        from ``promotions`` holds from today on, the days before stay as they were."""
        sc = model.scenario
        new = compile_calendar(
            promotions,
            start=sc.horizon.start,
            days=sc.horizon.days,
            channels=self.ids,
            families=[c.family for c in sc.channels],
            sells=[c.sells for c in sc.channels],
        )
        self.cal = splice_calendar(self.cal, new, model.day)
        self.promo = promotions

    def _price_factors(self, model: ChannelMarket) -> None:
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
        self, model: ChannelMarket, shoppers: np.ndarray, sell: np.ndarray, sensitivity: np.ndarray
    ) -> np.ndarray | float:
        """Extra utility per shopper × channel: own prices (levels, tiers, coupons), loyalty."""
        if not self.active:
            return NO_EXTRA
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

    def locked_channel(
        self, model: ChannelMarket, shoppers: np.ndarray, channel: np.ndarray
    ) -> np.ndarray:
        """Deposit holders and subscribers due today go to the channel they are locked to."""
        if not self.active:
            return channel
        due = (self.lock_kind[shoppers] != NONE) & (self.lock_day[shoppers] == model.day)
        return np.where(due, self.lock_channel[shoppers], channel).astype(channel.dtype)

    def shopper_price(
        self, model: ChannelMarket, shoppers: np.ndarray, channel: np.ndarray, price: np.ndarray
    ) -> np.ndarray:
        """Unit price each shopper sees at their channel, coupon included (conversion)."""
        if not self.active:
            return price
        return self._own_price(model, shoppers, channel, price, coupons=True)

    def conversion(
        self, model: ChannelMarket, shoppers: np.ndarray, channel: np.ndarray, p_buy: np.ndarray
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
        self,
        model: ChannelMarket,
        buyers: np.ndarray,
        channel: np.ndarray,
        units: np.ndarray,
        price: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checkout: the price before coupons, then full-reduction (add-on units, amount off)."""
        if not self.active:
            return units, price
        price = self._own_price(model, buyers, channel, model.price_today[channel], coupons=False)
        model.today.reduced = np.zeros(len(buyers), dtype=bool)
        for fr in self.promo.full_reduction:
            units, price = self._full_reduction(model, fr, buyers, channel, units, price)
        if self.has_trial:
            sample = self._sampling(model, buyers, channel)
            model.today.sample = sample
            units = np.where(sample, 1, units).astype(units.dtype)
            price = np.where(sample, self.trial_price[channel], price)
        return units, price

    def _sampling(self, model: ChannelMarket, who: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """A customer who never bought the product, at a channel with a trial price: a sample."""
        never = model.pop.n_orders[who] == 0
        never = never[:, None] if channel.ndim == 2 else never
        return never & np.isfinite(self.trial_price[channel])

    def _own_price(
        self, model: ChannelMarket, who, channel, price, *, coupons: bool, trial: bool = True
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
        if self.arms is not None:
            price = price * self.arms.factor(who, channel)
        if self.has_trial and trial:
            price = np.where(self._sampling(model, who, channel), self.trial_price[channel], price)
        if coupons and self.coupons is not None:
            pop = model.pop
            mu = pop.seg_units[pop.segment[who]]
            if pop.seg_first_units is not None:  # a first order's own expected basket
                first = pop.n_orders[who] == 0
                mu = np.where(first, pop.seg_first_units[pop.segment[who]], mu)
            price = price - self.coupons.price_cut(who, channel, model.day, mu)
        return price

    def _full_reduction(self, model: ChannelMarket, fr, buyers, channel, units, price):
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
        adds = near.copy()
        adds[near] = model.draws.u("levers.add_on", buyers[near]) < fr.add_on
        units = np.where(adds, np.ceil(target / price - 1e-9).astype(units.dtype), units)
        value = units * price
        reached = np.searchsorted(spends, value + 1e-9, side="right") - 1
        off = np.where(on & (reached >= 0), offs[np.maximum(reached, 0)], 0.0)
        model.today.reduced |= off > 0
        return units, np.where(off > 0, price - off / units, price)


def _within(model: ChannelMarket, start, end) -> bool:
    today = model.scenario.horizon.start + dt.timedelta(days=model.day)
    return (start is None or start <= today) and (end is None or today <= end)


def issue_coupon(
    model: ChannelMarket, lv: Levers, who: np.ndarray, k: int, channel: int | np.ndarray
) -> None:
    got = lv.coupons.issue(who, k, model.day, lv.tier, list(TIER_IDS))
    ch = np.broadcast_to(np.asarray(channel), who.shape)[np.isin(who, got)]
    model.recorder.add("coupons_issued", model.day, ch.astype(np.int64))
