"""Phase 1, exposure: paid traffic, seeding content and private-pool touches reach customers.

Each lever has one uniform per customer per day. Channels of the same lever share it by
splitting [0, 1) into consecutive intervals of width = the channel's reach, so a customer sees
at most one ad (and one seeding post, one private touch) a day, and the position of the uniform
inside its interval decides the follow-up (a click) without another draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.population import CHURNED, NO_CHANNEL, SOURCE_CODE

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def exposure(model: ChannelMarket, rng: np.random.Generator) -> None:
    pop, rec, day = model.pop, model.recorder, model.day
    u_paid, u_seed, u_touch = model.uniforms(rng, 3)
    decay = model.scenario.market.interest_decay
    pop.interest_paid *= decay  # adstock: yesterday's interest carries over, fading
    pop.interest_seed *= decay
    pop.landing[:] = NO_CHANNEL
    pop.touched[:] = False

    for ch in model.channel_agents:
        paid, seeding, ops = ch.daily_spend()
        rec.spend["spend_paid"][day, ch.index] = paid
        rec.spend["spend_seeding"][day, ch.index] = seeding
        rec.spend["spend_private_ops"][day, ch.index] = ops
        rec.spend["service_cost"][day, ch.index] = ch.spec.service.cost_per_day

    _reach(model, u_paid, "paid", lambda ch: ch.paid_reach())
    _reach(model, u_seed, "seeding", lambda ch: ch.seeding_reach())
    _touch(model, u_touch)


def _slices(model: ChannelMarket, share_of, *, private_only: bool = False) -> list[tuple]:
    """``(channel, lo, width)``: consecutive slices of [0, 1), one per channel active today."""
    slices, lo = [], 0.0
    for ch in model.channel_agents:
        r = min(share_of(ch), 1.0 - lo)
        if r <= 0 or (private_only and ch.family != "private"):
            continue
        slices.append((ch, lo, r))
        lo += r
    return slices


def _reach(model: ChannelMarket, u: np.ndarray, lever: str, reach_of) -> None:
    pop, rec, day = model.pop, model.recorder, model.day
    slices = _slices(model, reach_of)
    if not slices:
        return
    # Only draws below the end of the last slice hit anyone: work on those few customers.
    _, lo, r = slices[-1]
    near = np.flatnonzero(u < lo + r)
    near = near[pop.stage[near] != CHURNED]
    u_near = u[near]
    for ch, lo, r in slices:
        hit = near[(u_near >= lo) & (u_near < lo + r)]
        resp = ch.spec.response
        content = pop.seg_content[pop.segment[hit]]
        if lever == "paid":
            pop.interest_paid[hit] += resp.paid_impact * content
            land = ch.index
        else:
            pop.interest_seed[hit] += resp.seeding_impact * content
            land = model.channel_index.get(ch.spec.links_to, NO_CHANNEL)
        if land != NO_CHANNEL:
            pop.landing[hit] = land
            pop.landing_source[hit] = SOURCE_CODE[lever]
        clicks = np.count_nonzero(u[hit] - lo < r * resp.click_through)
        rec.flow["visits"][day, ch.index] += clicks


def _touch(model: ChannelMarket, u: np.ndarray) -> None:
    """Private operations touch pool members only: content, perks, 1-to-1 messages."""
    pop = model.pop
    slices = _slices(model, lambda ch: ch.touch_share(), private_only=True)
    if not slices:
        return
    _, lo, r = slices[-1]
    near = np.flatnonzero((u < lo + r) & pop.in_private)
    u_near = u[near]
    for ch, lo, r in slices:
        hit = near[(u_near >= lo) & (u_near < lo + r)]
        pop.touched[hit] = True
        pop.landing[hit] = ch.index
        pop.landing_source[hit] = SOURCE_CODE["private"]
