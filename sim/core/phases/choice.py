"""Phase 3, choice: each in-market customer picks a selling channel by multinomial logit.

Utility = family affinity of the segment + loyalty to the last channel used − price weight ×
sensitivity × (price / guide − 1) + service weight × service points + a bonus for the channel
an ad or link landed them on today + private-pool bonuses. Private channels are open only to
pool members (and to whoever a touch or link lands there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.kernels import table_choice
from sim.core.phases.exposure import TOUCH_DRAW, touch
from sim.core.phases.purchase import BUYER_DRAWS
from sim.inventory.fulfilment import avoid
from sim.levers.state import NO_EXTRA

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

CHOICE_DRAWS = ("choice.channel", "purchase.conversion")
# Up to this many shoppers a day, choice also hashes every shopper's per-buyer draws: one pass
# fewer, for ~5 × 0.8 × shoppers extra numbers (a pass costs ≈ 2 000 numbers' worth of calls).
WIDE_PASS_MAX = 1024


def choice(model: ChannelMarket) -> None:
    pop, rec, day = model.pop, model.recorder, model.day
    shoppers = pop.in_market.nonzero()[0]
    model.today.shoppers = shoppers
    u = _draws(model, shoppers)  # (applies a private touch exposure left to this pass)
    if len(shoppers) == 0:
        model.today.channel = shoppers
        return
    sell = model.selling  # channel indices that take orders
    if model.warehouse is None and not model.levers.active:  # utility from who they are alone
        channel = _table_channels(model, shoppers, u)
    else:
        seg = pop.segment[shoppers]
        extra = model.levers.choice_utility(model, shoppers, sell, pop.seg_sensitivity[seg])
        util = _utility(model, seg, *_traits(pop, shoppers), extra)
        if model.warehouse is not None:  # empty shelves; channels a stockout sent them away from
            avoid(model, shoppers, sell, seg, util)
        pick = _count_below(_cumulative(util), u)
        channel = sell[np.minimum(pick, len(sell) - 1)]
    channel = model.levers.locked_channel(model, shoppers, channel)  # deposits, subscriptions
    model.today.channel = channel
    sessions = np.bincount(channel, minlength=len(model.channel_agents))
    rec.add_same(day, ("sessions", "visits"), sessions)  # a session is also a visit
    rec.journey(day, shoppers, "visit", channel, ordered=True)  # flatnonzero: ascending


def _draws(model: ChannelMarket, shoppers: np.ndarray) -> np.ndarray:
    """Today's ``choice.channel`` uniform per shopper, hashed in one pass with purchase's
    conversion draw (same shoppers), on a small day also the per-buyer draws for every shopper
    (purchase keeps its buyers' columns: buyers are shoppers, and without stock no order drops
    in between), and the pool's private touches when exposure left them to this pass."""
    t, pop = model.today, model.pop
    groups = []
    if t.touch is not None:
        members = pop.in_private.nonzero()[0]  # (no phase since exposure moved the pool)
        groups.append(((TOUCH_DRAW,), members))
    wide = model.warehouse is None and len(shoppers) <= WIDE_PASS_MAX
    groups.append((CHOICE_DRAWS + BUYER_DRAWS if wide else CHOICE_DRAWS, shoppers))
    u = model.draws.groups(groups)
    if t.touch is not None:
        touch(model, t.touch, members, u[0][0])
    rows = u[-1]
    t.u_conversion = rows[1]
    if wide:
        t.u_buyers = rows[2:]
    return rows[0]


def _count_below(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per row, how many of ``cum``'s entries are below the row's ``u``: the chosen channel's
    position. A product of the 0/1 bytes with a ones vector (whole counts, so the same
    numbers) costs half what ``np.add.reduce`` over the row does at a few hundred shoppers."""
    below = cum < u[:, None]
    k = below.shape[1]
    if k > 255:  # (a uint8 count would wrap)
        return np.add.reduce(below, axis=1)
    ones = _ONES.get(k)
    if ones is None:
        ones = _ONES[k] = np.ones(k, dtype=np.uint8)
    return np.dot(below.view(np.uint8), ones)


_ONES: dict[int, np.ndarray] = {}  # _count_below's ones vectors, by row length


def _traits(pop, shoppers: np.ndarray) -> tuple[np.ndarray, ...]:
    """What a shopper's utility depends on besides their segment (and the levers)."""
    return (
        pop.last_channel[shoppers],
        pop.landing[shoppers],
        pop.in_private[shoppers],
        pop.touched[shoppers],
    )


def _utility(model: ChannelMarket, seg, last, landing, member, touched, extra) -> np.ndarray:
    """Shoppers × selling channels: the utility of each shopper given their traits."""
    m, sell = model.scenario.market, model.selling
    util = _segment_utility(model)[seg]  # a fresh shoppers × channels array
    util += m.loyalty * (last[:, None] == sell[None, :])
    landed = landing[:, None] == sell[None, :]
    util += m.landing_bonus * landed
    if extra is not NO_EXTRA:  # (without levers: adding 0.0 would change nothing)
        util += extra
    private = model.private_selling  # per selling channel: private family?
    if model.has_private_seller:
        member = member[:, None]
        bonus = m.private_bonus + m.touch_bonus * touched[:, None]
        util += np.where(private[None, :] & member, bonus, 0.0)
        closed = private[None, :] & ~member & ~landed
        util[closed] = -np.inf
    return util


def _cumulative(util: np.ndarray) -> np.ndarray:
    """The multinomial logit's cumulative choice probabilities, row by row (``util`` is
    overwritten). The ufuncs' own reductions: what ndarray.max / sum / cumsum call."""
    util -= np.maximum.reduce(util, axis=1, keepdims=True)
    prob = np.exp(util)
    prob /= np.add.reduce(prob, axis=1, keepdims=True)
    return np.add.accumulate(prob, axis=1)


def _table_channels(model: ChannelMarket, shoppers: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Without levers or stock a shopper's choice probabilities depend only on their segment,
    which selling channel (if any) they last bought from and landed on, pool membership and
    touch: a few hundred combinations. Their cumulative rows are computed once per distinct
    shelf price, by :func:`_utility` and :func:`_cumulative` on one made-up shopper per
    combination (elementwise and row-wise operations only, so every row is bit-identical to
    the per-shopper computation), and each day one compiled loop finds each shopper's row and
    channel (:func:`sim.core.kernels.table_choice`)."""
    key = model.price_today.tobytes()
    cached = model.choice_table
    if cached is None or cached[0] != key:
        cached = model.choice_table = (key, *_combination_table(model))
    _, table, pos = cached
    pop = model.pop
    traits = (pop.segment, pop.last_channel, pop.landing, pop.touched, pop.in_private)
    channel = np.empty(len(shoppers), dtype=np.int64)
    table_choice(shoppers, traits, pos, table, u, model.selling, channel)
    return channel


def _combination_table(model: ChannelMarket) -> tuple[np.ndarray, ...]:
    """Cumulative choice rows of every (segment, last selling channel or none, landing selling
    channel or none, touched, member), row-major over (segments, k, k, 2, 2) with k the selling
    channels + 1 (the layout :func:`sim.core.kernels.table_choice` indexes), and each channel
    code's position among the selling channels (none: the last)."""
    sell, n_ch = model.selling, len(model.channel_agents)
    n_seg, k = len(model.pop.seg_affinity), len(sell) + 1  # k: a selling channel or none
    # position of each channel code in ``sell`` (none: k − 1); code −1 reads the last entry
    pos = np.full(n_ch + 1, k - 1)
    pos[sell] = np.arange(len(sell))
    code = np.append(sell, -1)  # a channel code for each position
    s, a, b, t, mem = np.unravel_index(np.arange(n_seg * k * k * 4), (n_seg, k, k, 2, 2))
    last = code[a].astype(np.int8)
    landing = code[b].astype(np.int8)
    util = _utility(
        model, s.astype(np.int8), last, landing, mem.astype(bool), t.astype(bool), NO_EXTRA
    )
    return _cumulative(util), pos


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
