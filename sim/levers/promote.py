"""Phase 1b, promote (after exposure, before needs): today's promotion prices and the price
band; pre-sale deposits, pulled-forward needs, attention from events, repurchase reminders and
coupon pulls bring customers' needs forward. Each decision draws counter-based uniforms
(``levers.<decision>``) for the customers it concerns only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.population import CUSTOMER, INTERESTED, PROSPECT, SOURCE_CODE
from sim.levers.coupons import NO_COUPON
from sim.levers.pricing import band_violation
from sim.levers.state import DEPOSIT, NONE, Levers, issue_coupon

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def promote(model: ChannelMarket) -> None:
    """Today's promotion prices; deposits, pulls, reminders and coupon pulls bring needs forward."""
    lv, day, pop = model.levers, model.day, model.pop
    disc, promo = lv.cal.discount[day], lv.cal.promo[day]
    # most days repeat an earlier day's discounts: their prices and band flags are kept (read
    # only) per distinct (discount, promotion) row instead of being recomputed every day
    key = disc.tobytes() + promo.tobytes()
    known = lv.price_days.get(key)
    if known is None:
        price = np.where(disc > 0, model.list_price * (1.0 - disc), model.list_price)
        guide = model.scenario.market.guide_price
        violation = band_violation(price, guide, lv.band, promo, lv.band_scope)
        price.flags.writeable = False
        known = lv.price_days[key] = (price, violation)
    model.price_today = known[0]
    model.recorder.level["price"][day] = known[0]
    model.recorder.level["band_violation"][day] = known[1]
    if not lv.active:
        return
    lv.pool_before = pop.in_private.copy()
    _deposits(model, lv)
    _pulls(model, lv)
    _attention(model, lv)
    _reminders(model, lv)
    _coupon_pulls(model, lv)


def _free(model: ChannelMarket, lv: Levers) -> np.ndarray:
    pop = model.pop
    return (pop.stage == CUSTOMER) & ~pop.in_market & (lv.lock_kind == NONE)


def _bring(model: ChannelMarket, who: np.ndarray, channel: int, *, touch: bool = False) -> None:
    pop = model.pop
    pop.in_market[who] = True
    pop.landing[who] = channel
    family = model.scenario.channels[channel].family
    pop.landing_source[who] = SOURCE_CODE["private" if family == "private" else "organic"]
    if touch:
        pop.touched[who] = True


def _deposits(model: ChannelMarket, lv: Levers) -> None:
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
        who = np.flatnonzero(eligible)
        who = who[model.draws.u("levers.deposit", who) < p]
        last = pop.last_channel[who]
        lv.lock_channel[who] = np.where(np.isin(last, chans), last, chans[0])
        lv.lock_kind[who] = DEPOSIT
        lv.lock_day[who] = sale_day
        lv.lock_p[who] = ev.deposit_conversion
        pop.next_need[who] = sale_day
        pop.in_market[who] = False


def _pulls(model: ChannelMarket, lv: Levers) -> None:
    pop, day = model.pop, model.day
    for d, channel, pull_days, share, pool_only in lv.cal.pulls:
        if d != day:
            continue
        soon = _free(model, lv) & (pop.next_need > day) & (pop.next_need <= day + pull_days)
        if pool_only:
            soon &= pop.in_private
        soon = np.flatnonzero(soon)
        _bring(model, soon[model.draws.u("levers.pull", soon) < share], channel)


def _attention(model: ChannelMarket, lv: Levers) -> None:
    """Event traffic: prospects become interested."""
    pop, day = model.pop, model.day
    for d, channel, hazard in lv.cal.attention:
        if d != day:
            continue
        new = np.flatnonzero(pop.stage == PROSPECT)
        new = new[model.draws.u("levers.attention", new) < hazard]
        pop.stage[new] = INTERESTED
        pop.source[new] = SOURCE_CODE["organic"]
        _bring(model, new, channel)
        model.recorder.journey(day, new, "interested")


def _reminders(model: ChannelMarket, lv: Levers) -> None:
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
        issue_coupon(model, lv, sent, k, ch)
    _bring(model, sent[model.draws.u("levers.reminder", sent) < rem.response], ch, touch=True)


def _coupon_pulls(model: ChannelMarket, lv: Levers) -> None:
    """A valid coupon brings its holder back when their need is within a week."""
    if lv.coupons is None:
        return
    pop, day, book = model.pop, model.day, lv.coupons
    cand = np.flatnonzero(_free(model, lv) & (pop.next_need <= day + 7))
    k = book.active(cand, day)
    held = k != NO_COUPON
    cand, k = cand[held], k[held]
    go = cand[model.draws.u("levers.coupon_pull", cand) < book.pull_p[k]]
    kk = book.active(go, day)
    first_valid = np.argmax(book.valid_at, axis=1)
    for k_id in np.unique(kk):
        _bring(model, go[kk == k_id], int(first_valid[k_id]))
