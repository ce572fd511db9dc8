"""Compiled loops (numba) for the parts of a day that are many NumPy calls on few customers.

At 10 000 customers a day is a few hundred NumPy calls on a few hundred customers each, so its
time is the calls, not the arithmetic (docs/performance.md, issue 17). A loop compiled once per
machine (numba's on-disk cache) does such a piece in one call. Every kernel here computes
exactly what the NumPy code it replaced did — integer arithmetic, comparisons, gathers and
float32 adds and multiplies, no transcendentals — so every ledger stays bit-identical
(``benchmarks/ledger_hashes.py``); what uses ``exp``, ``log`` or ``ndtri`` stays in NumPy.

    >>> import numpy as np
    >>> out = np.empty((1, 3), dtype=np.float32)
    >>> hash_rows(np.arange(3), np.array([7], np.uint32), np.array([9], np.uint32), out)
    >>> bool(((out >= 0) & (out < 1)).all())
    True
"""

from __future__ import annotations

import numpy as np
from numba import njit

_LOW = np.uint64(0xFFFFFFFF)
_GOLDEN, _M1, _M2 = np.uint64(0x9E3779B1), np.uint64(0x85EBCA6B), np.uint64(0xC2B2AE35)
_S8, _S13, _S16 = np.uint64(8), np.uint64(13), np.uint64(16)
_SCALE = np.float32(2.0**-24)


@njit(cache=True, inline="always")
def _fmix32(x):
    """MurmurHash3's 32-bit finaliser on a uint32 held in a uint64."""
    x ^= x >> _S16
    x = (x * _M1) & _LOW
    x ^= x >> _S13
    x = (x * _M2) & _LOW
    x ^= x >> _S16
    return x


@njit(cache=True, inline="always")
def uniform(i, lo, hi):
    """The float32 uniform of index ``i`` under the key halves ``lo``, ``hi`` (uint64 holding
    uint32): :func:`sim.core.streams.hash_uniforms` for one index."""
    x = (((np.uint64(i) & _LOW) ^ lo) * _GOLDEN) & _LOW
    x = _fmix32(_fmix32(x) ^ hi)
    return np.float32(x >> _S8) * _SCALE


@njit(cache=True)
def hash_rows(customers, lo, hi, out):
    """``out[j, i]`` = the uniform of ``customers[i]`` under key ``j`` (halves ``lo[j]``,
    ``hi[j]``): several decisions about the same customers in one call."""
    for j in range(lo.size):
        lj, hj = np.uint64(lo[j]), np.uint64(hi[j])
        for i in range(customers.size):
            out[j, i] = uniform(customers[i], lj, hj)


@njit(cache=True)
def below_bound(bits, bound):
    """The positions of the 32-bit draws ``bits`` below ``bound`` and their float32 uniforms,
    ``(b >> 8) × 2⁻²⁴`` (NumPy's float32 from a 32-bit draw): what
    :meth:`sim.core.streams.Draws.everyone_below` keeps of a whole-population block."""
    near = np.empty(bits.size, dtype=np.int64)
    m = 0
    for i in range(bits.size):
        if bits[i] < bound:
            near[m] = i
            m += 1
    u = np.empty(m, dtype=np.float32)
    for j in range(m):
        u[j] = np.float32(bits[near[j]] >> np.uint32(8)) * _SCALE
    return near[:m], u


@njit(cache=True)
def morning(paid, seed, decay, landing, touched):
    """Exposure's morning in one pass: both adstocks fade by ``decay`` (float32, as NumPy
    multiplies float32 arrays by a Python float), nobody has landed or been touched yet."""
    for i in range(paid.size):
        paid[i] *= decay
        seed[i] *= decay
        landing[i] = -1
        touched[i] = False


@njit(cache=True)
def reach(near, u_near, stage, churned, segment, lo, chans, click_below, impact, land, out):
    """Exposure of one lever for the customers ``near`` whose draw ``u_near`` fell below the
    last slice's end (:func:`sim.core.phases.exposure._reach`). Each one alive is in the slice
    ``k`` whose start ``lo[k]`` is the last not above the draw; their adstock gains
    ``impact[k, segment]``; they land where the slice lands (``land[k]``, unless −1) with the
    lever's source code; a paid ad is the ad platform's last touch (``paid``). ``out`` is
    ``(adstock, landing, landing_source, landing_channel, source, paid, clicked)``; ``clicked``
    receives the channels of today's clicks (draw − start < the slice's click share). Returns
    their count."""
    adstock, landing, landing_source, landing_channel, source, paid, clicked = out
    m = 0
    for j in range(near.size):
        i = near[j]
        if stage[i] == churned:
            continue
        u = np.float64(u_near[j])  # (NumPy compares the float32 draw with float64 starts)
        k = 0
        while k + 1 < lo.size and lo[k + 1] <= u:
            k += 1
        adstock[i] += impact[k, segment[i]]
        if land[k] != -1:
            landing[i] = land[k]
            landing_source[i] = source
        if paid:
            landing_channel[i] = chans[k]
        if u - lo[k] < click_below[k]:
            clicked[m] = chans[k]
            m += 1
    return m


@njit(cache=True)
def touch_members(members, u, end, lo, chans, out):
    """Private touches (:func:`sim.core.phases.exposure.touch`): the pool members whose draw is
    below ``end`` (float32) are touched and land on the channel of the slice their draw falls
    in, with source ``code``. ``out`` is ``(touched, landing, landing_source, code)``."""
    touched, landing, landing_source, code = out
    for j in range(members.size):
        if not u[j] < end:
            continue
        x = np.float64(u[j])
        k = 0
        while k + 1 < lo.size and lo[k + 1] <= x:
            k += 1
        i = members[j]
        touched[i] = True
        landing[i] = chans[k]
        landing_source[i] = code


@njit(cache=True)
def price_exponent(shoppers, seen, reservation, segment, neg_sensitivity):
    """Per shopper, their segment and the exponent of the conversion's price factor,
    −sensitivity × max(seen price ÷ their reservation price − 1, 0) (float64, as NumPy computes
    it from the float64 prices and float32 reservations and sensitivities):
    :func:`sim.core.phases.purchase.purchase` takes its ``exp`` in NumPy."""
    seg = np.empty(shoppers.size, dtype=segment.dtype)
    arg = np.empty(shoppers.size, dtype=np.float64)
    for j in range(shoppers.size):
        i = shoppers[j]
        seg[j] = segment[i]
        over = max(seen[j] / np.float64(reservation[i]) - 1.0, 0.0)
        arg[j] = np.float64(neg_sensitivity[seg[j]]) * over
    return seg, arg


@njit(cache=True)
def book_orders(buyers, channel, units, price, day, pop, order_source):
    """The customer side of today's orders (:func:`sim.core.phases.purchase.purchase`): per
    order its revenue (units × price), whether it is the buyer's first, its source (a first
    order keeps what made the customer interested; a repeat credits today's landing when it
    is this channel, else organic); each buyer's count, spend, stage, first day, last
    channel, channels bit and leaving the market. ``pop`` is ``(n_orders, spend, stage,
    first_day, last_channel, channels_mask, in_market, source, landing, landing_source,
    customer, organic)`` (the last two: stage and source codes); ``order_source`` receives the
    sources. Returns ``(revenue, first)``."""
    n_orders, spend, stage, first_day, last_channel, channels_mask = pop[:6]
    in_market, source, landing, landing_source, customer, organic = pop[6:]
    revenue = np.empty(buyers.size, dtype=np.float64)
    first = np.empty(buyers.size, dtype=np.bool_)
    for j in range(buyers.size):
        i, ch = buyers[j], channel[j]
        revenue[j] = units[j] * price[j]
        first[j] = n_orders[i] == 0
        if first[j]:
            order_source[j] = source[i]
            first_day[i] = day
        else:
            order_source[j] = landing_source[i] if landing[i] == ch else organic
        n_orders[i] += 1
        spend[i] = np.float64(spend[i]) + revenue[j]
        stage[i] = customer
        last_channel[i] = ch
        channels_mask[i] |= np.uint32(1) << np.uint32(ch)
        in_market[i] = False
    return revenue, first


@njit(cache=True)
def record_orders(block, bins, orders, n_ch, paid_code):
    """Add the day's orders to the day's measure × channel ``block`` of the ledger
    (:func:`sim.core.phases.purchase._record`): ``bins[r]`` is the first bin of the measure of
    row ``r``: rows 0–6 (orders, units, revenue, cogs, commission, new customers, repeat
    orders) by the order's channel, 7–8 (orders, revenue) by source × channel, 9–10 (orders,
    revenue from paid ads) by the last paid ad's channel (weight 0 without one). ``orders`` is
    ``(channel, ad, source, units, revenue, unit_cost, commission, first)``; ``unit_cost`` has
    one entry per order or one for all. Each bin sums its orders in their order, starting from
    0.0, and is then added to ``block``: what one ``bincount`` of the rows' keys and weights
    added, so the same floats."""
    channel, ad, source, units, revenue, unit_cost, commission, first = orders
    n_rows = block.shape[0]
    sums = np.zeros(n_rows * n_ch)
    one_cost = unit_cost.size == 1
    for r in range(11):
        for i in range(channel.size):
            ch = channel[i]
            paid = source[i] == paid_code and ad[i] >= 0
            if r < 7:
                key = bins[r] + ch
            elif r < 9:
                key = bins[r] + source[i] * n_ch + ch
            else:
                key = bins[r] + max(ad[i], 0)
            if r == 0 or r == 7:
                w = 1.0
            elif r == 1:
                w = np.float64(units[i])
            elif r == 2 or r == 8:
                w = revenue[i]
            elif r == 3:
                w = units[i] * unit_cost[0 if one_cost else i]
            elif r == 4:
                w = revenue[i] * commission[ch]
            elif r == 5:
                w = 1.0 if first[i] else 0.0
            elif r == 6:
                w = 0.0 if first[i] else 1.0
            elif r == 9:
                w = 1.0 if paid else 0.0
            else:
                w = revenue[i] * (1.0 if paid else 0.0)
            sums[key] += w
    for b in range(n_rows * n_ch):
        block[b // n_ch, b % n_ch] += sums[b]


@njit(cache=True)
def churn_draws(stage, in_market, customer, keys, below, lapse_p, also):
    """Churn's draws (:func:`sim.core.phases.churn.churn`), ascending: the customers (stage
    ``customer``) whose ``churn.churn`` draw is below ``below`` or who are marked in ``also``
    (today's repeat buyers, when customers can drop out after a purchase; empty: nobody), with
    their draws; and the shoppers in the market whose ``churn.lapse`` draw is below
    ``lapse_p``. ``keys`` holds the two decisions' key halves (low, high × churn, lapse)."""
    n = stage.size
    close, lapse = np.empty(n, np.int64), np.empty(n, np.int64)
    u_close = np.empty(n, np.float32)
    k = m = 0
    lc, ll = np.uint64(keys[0, 0]), np.uint64(keys[0, 1])
    hc, hl = np.uint64(keys[1, 0]), np.uint64(keys[1, 1])
    marked = also.size > 0
    for i in range(n):
        if stage[i] == customer:
            u = uniform(i, lc, hc)
            if u < below or (marked and also[i]):
                close[k], u_close[k] = i, u
                k += 1
        if in_market[i] and uniform(i, ll, hl) < lapse_p:
            lapse[m] = i
            m += 1
    return close[:k], u_close[:k], lapse[:m]


@njit(cache=True)
def table_choice(shoppers, traits, pos, table, u, sell, channel):
    """Each shopper's channel from the cumulative choice rows of their combination
    (:func:`sim.core.phases.choice._table_channels`): segment, the positions of their last channel
    and landing channel among the selling ones (``pos``; code −1, none, reads its last entry),
    touched, member — the row ``np.ravel_multi_index`` finds in ``table`` — then the number of
    the row's entries below their draw ``u`` picks the selling channel (the last one past the
    end). ``traits`` is ``(segment, last_channel, landing, touched, in_private)``; ``channel``
    receives the channels."""
    segment, last_channel, landing, touched, in_private = traits
    k = sell.size + 1  # positions: a selling channel or none (the last)
    none = pos.size - 1
    for j in range(shoppers.size):
        i = shoppers[j]
        a = pos[last_channel[i] if last_channel[i] >= 0 else none]
        b = pos[landing[i] if landing[i] >= 0 else none]
        row = (((segment[i] * k + a) * k + b) * 2 + touched[i]) * 2 + in_private[i]
        below = 0
        x = np.float64(u[j])
        for c in range(table.shape[1]):
            below += table[row, c] < x
        channel[j] = sell[min(below, sell.size - 1)]


@njit(cache=True)
def satisfy_and_join(buyers, u_sat, p_sat, u_join, join_p, satisfaction, in_private):
    """Post-purchase, per order (:func:`sim.core.phases.post_purchase.post_purchase`): the
    buyer is satisfied when their draw is below ``p_sat`` (compared in float64, as NumPy
    compares a float32 and a float64 array); their satisfaction becomes 0.7 × it + 0.3 ×
    satisfied (0.7 × a float32 in float32, 0.3 × a bool in float64, the sum rounded to float32:
    NumPy's types); a buyer outside the private pool joins it when their draw is below
    ``join_p`` (float32). Returns ``(satisfied, joins)``, one per order."""
    satisfied = np.empty(buyers.size, dtype=np.bool_)
    joins = np.empty(buyers.size, dtype=np.bool_)
    for j in range(buyers.size):
        i = buyers[j]
        satisfied[j] = np.float64(u_sat[j]) < p_sat[j]
        kept = np.float32(0.7) * satisfaction[i]
        satisfaction[i] = np.float32(np.float64(kept) + (0.3 if satisfied[j] else 0.0))
        joins[j] = u_join[j] < join_p and not in_private[i]
        if joins[j]:
            in_private[i] = True
    return satisfied, joins


@njit(cache=True)
def interested(prospects, u, hazard, total, pop, codes):
    """The prospects whose draw is below their hazard become interested and enter the market
    (:func:`sim.core.phases.needs.needs`); their source is read off where the draw falls in
    their total rate: paid adstock first, then seeding, then organic (float32, as NumPy
    computes it). ``pop`` is ``(interest_paid, interest_seed, stage, in_market, source)``,
    ``codes`` ``(interested, paid, seeding, organic)``. Returns the new ones, ascending."""
    paid, seed, stage, in_market, source = pop
    new = np.empty(prospects.size, dtype=np.int64)
    m = 0
    for j in range(prospects.size):
        i = prospects[j]
        up = u[i]
        if not up < hazard[j]:
            continue
        position = up / hazard[j] * total[j]  # uniform on [0, total): attribution
        if position < paid[i]:
            source[i] = codes[1]
        elif position < paid[i] + seed[i]:
            source[i] = codes[2]
        else:
            source[i] = codes[3]
        stage[i] = codes[0]
        in_market[i] = True
        new[m] = i
        m += 1
    return new[:m]


@njit(cache=True)
def leave(customers, u_churn, hazard, lapse, pop, codes):
    """Churn's outcome (:func:`sim.core.phases.churn.churn`): the customers whose draw is below
    their hazard churn (out of the market and the pool); then the shoppers whose lapse draw
    came up and who are still in the market give up: a prospect goes back to unaware, a
    customer skips this cycle. ``pop`` is ``(stage, in_private, in_market)``, ``codes``
    ``(churned, interested, prospect, customer)``. Returns ``(gone, repeaters)``: who churned,
    and the customers who gave up (their next need is set by the caller), ascending."""
    stage, in_private, in_market = pop
    churned, interested, prospect, customer = codes
    gone = np.empty(customers.size, dtype=np.int64)
    g = 0
    for j in range(customers.size):
        if u_churn[j] < hazard[j]:
            i = customers[j]
            stage[i] = churned
            in_private[i] = False
            in_market[i] = False
            gone[g] = i
            g += 1
    repeaters = np.empty(lapse.size, dtype=np.int64)
    r = 0
    for j in range(lapse.size):
        i = lapse[j]
        if not in_market[i]:  # (churned above)
            continue
        in_market[i] = False
        if stage[i] == interested:
            stage[i] = prospect
        elif stage[i] == customer:
            repeaters[r] = i
            r += 1
    return gone[:g], repeaters[:r]


@njit(cache=True)
def pool_tiers(in_private, stage, churned, spend, n_orders, rules, tier, old, counts):
    """The pool's membership tiers in their first year (``sim.levers.follow_up``; day < 365,
    when every member's yearly spend is ``spend × 365 / 365.0``: float32 product, float64
    quotient, as :func:`sim.levers.tiers.classify` computes it): yesterday's members ``old``
    lose their tier; every member of the pool who has not churned gets tier 2 (high value:
    yearly spend ≥ ``rules[0]`` and at least ``rules[1]`` repurchases), 1 (more orders than
    ``rules[2]``) or 0, counted in ``counts``. Returns the members, ascending."""
    for j in range(old.size):
        tier[old[j]] = -1
    high_spend, high_reps, new_max = rules
    members = np.empty(stage.size, dtype=np.int64)
    m = 0
    for i in range(stage.size):
        if not in_private[i] or stage[i] == churned:
            continue
        yearly = np.float64(spend[i] * np.float32(365.0)) / 365.0
        if yearly >= high_spend and n_orders[i] - 1 >= high_reps:
            t = 2
        else:
            t = 1 if n_orders[i] > new_max else 0
        tier[i] = t
        counts[t] += 1
        members[m] = i
        m += 1
    return members[:m]


@njit(cache=True)
def need_again(stage, next_need, in_market, customer, day):
    """Customers whose renewal clock has run out by ``day`` enter the market."""
    for i in range(stage.size):
        if stage[i] == customer and next_need[i] <= day:
            in_market[i] = True


def _warm() -> None:
    """Compile the kernels for the engine's own types, or load them from numba's on-disk cache,
    now: at import, where a process pays its one-off costs, not inside a run's first day.
    Other types compile on first use."""
    i64, f32, i8 = np.zeros(1, np.int64), np.zeros(1, np.float32), np.zeros(1, np.int8)
    u32, f64, b = np.zeros(1, np.uint32), np.zeros(1, np.float64), np.zeros(1, np.bool_)
    i32 = np.zeros(1, np.int32)
    hash_rows(i64, u32, u32, np.zeros((1, 1), np.float32))
    morning(f32[:0], f32[:0], f32[0], i8[:0], b[:0])
    below_bound(u32[:0], u32[0])
    price_exponent(i64[:0], f64[:0], f32, i8, f32)
    for rows in (f32[:0], np.zeros(4, np.float32)[::2]):  # (draws' rows: contiguous or not)
        touch_members(i64[:0], rows, f32[0], f64, i64, (b[:0], i8[:0], i8[:0], 3))
    out = (f32.copy(), i8.copy(), i8.copy(), i8.copy(), 0, True, i64.copy())
    reach(i64[:0], f32[:0], i8, 3, i8, f64, i64, f64, np.zeros((1, 1), np.float32), i64, out)
    pop = (i32.copy(), f32.copy(), i8.copy(), i32.copy(), i8.copy(), u32.copy(), b.copy())
    pop += (i8, i8, i8, 2, 0)
    book_orders(i64[:0], i64[:0], i32[:0], f64[:0], 0, pop, i8[:0].copy())
    orders = (i64[:0], i8[:0], i8[:0], i32[:0], f64[:0], f64, f64, b[:0])
    record_orders(np.zeros((2, 2, 2))[:, 0], np.zeros(11, np.int64), orders, 1, 0)
    need_again(i8[:0], i32[:0], b[:0], 2, 0)
    pool_tiers(b[:0], i8[:0], 3, f32[:0], i32[:0], (5000.0, 2, 1), i8[:0], i64[:0], i64.copy())
    for hazard in (f32[:0], f64[:0]):  # (float32 hazards; float64 with customers' own)
        leave(i64[:0], f32[:0], hazard, i64[:0], (i8, b, b), (3, 1, 0, 2))
    interested(i64[:0], f32, f32[:0], f32[:0], (f32, f32, i8, b, i8), (1, 0, 1, 2))
    for rows in (f32[:0], np.zeros(4, np.float32)[::2]):  # (draws' rows: contiguous or not)
        satisfy_and_join(i64[:0], rows, f64[:0], rows, f32[0], f32, b)
    churn_draws(i8[:0], b[:0], 2, np.zeros((2, 2), np.uint32), f32[0], f32[0], b[:0])
    traits = (i8, i8, i8, b, b)
    table_choice(i64[:0], traits, i64, np.zeros((1, 1), np.float32), f32[:0], i64, i64[:0])


_warm()
