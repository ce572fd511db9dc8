"""Phase 1, exposure: paid traffic, seeding content and private-pool touches reach customers.

Each lever has one uniform per customer per day (paid and seeding: every customer; private
touches: pool members). Channels of the same lever share it by splitting [0, 1) into
consecutive intervals of width = the channel's reach, so a customer sees at most one ad (and one
seeding post, one private touch) a day, and the position of the uniform inside its interval
decides the follow-up (a click) without another draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.kernels import morning, reach, touch_members
from sim.core.population import CHURNED, NO_CHANNEL, SOURCE_CODE, STAGE
from sim.core.streams import raw_bound

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

TOUCH_DRAW = "exposure.touch"
_CHURNED = int(STAGE[CHURNED])
_DECISIONS = {lever: f"exposure.{lever}" for lever in ("paid", "seeding")}  # whole-market draws


def exposure(model: ChannelMarket) -> None:
    pop, rec, day = model.pop, model.recorder, model.day
    decay = model.scenario.market.interest_decay
    # adstock: yesterday's interest carries over, fading; nobody has landed or been touched yet
    morning(pop.interest_paid, pop.interest_seed, np.float32(decay), pop.landing, pop.touched)

    model.join_p = float(model.join_p_by_day[day])  # private-ops budgets may move by day
    plan = model.exposure_plan
    spend, levers, spend_rows = plan.today(model, day)
    rec.set_spend(day, spend_rows)  # spend by lever (paid, seeding, private ops), service cost

    # ad clicks of both levers counted at once (whole counts: the sum is the same either way)
    clicks = [_reach(model, "paid", levers["paid"]), _reach(model, "seeding", levers["seeding"])]
    clicks = [c for c in clicks if c is not None]
    if clicks:
        clicked = clicks[0] if len(clicks) == 1 else np.concatenate(clicks)
        rec.flow["visits"][day] += np.bincount(clicked, minlength=len(model.channel_agents))
    if model.levers.active or levers["touch"] is None:
        _touch(model, levers["touch"])
    else:  # nothing reads or moves a touch before choice: it hashes the draws with its own
        model.today.touch = levers["touch"]


class ExposurePlan:
    """Each lever's slices of [0, 1) as arrays, built once per distinct day's spend (most plans
    spend the same every day) instead of asking every channel agent for its reach every day.

    A channel's reach, seeding reach and touch share are functions of its day's spend
    (:class:`sim.core.agents.ChannelAgent`), so days with equal spend share their slices; the
    agents compute them, on the first day with that spend.
    """

    def __init__(self, model: ChannelMarket):
        self.service = np.array([a.spec.service.cost_per_day for a in model.channel_agents])
        self._levers: dict[bytes, tuple[np.ndarray, dict[str, tuple | None], np.ndarray]] = {}

    def today(self, model: ChannelMarket, day: int) -> tuple[np.ndarray, dict, np.ndarray]:
        """The day's spend (channels × paid, seeding, private_ops) and lever slices
        ``{"paid": …, "seeding": …, "touch": …}`` (None: the lever reaches nobody), and the
        ledger's SPEND_MEASURES rows of the day (the spend by lever, then the service cost:
        :meth:`LedgerRecorder.set_spend`)."""
        # the agents read views of ``model.budget`` (ChannelAgent.daily_spend): its day's row is
        # every agent's spend at once; + 0.0 makes −0.0 and 0.0 one key, as floats compare
        spend = model.budget[day] + 0.0
        key = spend.tobytes()
        known = self._levers.get(key)
        if known is None:
            d = day  # the first day with this spend
            levers = {
                "paid": _arrays(model, _slices(model, lambda ch: ch.paid_reach(d)), "paid"),
                "seeding": _arrays(
                    model, _slices(model, lambda ch: ch.seeding_reach(d)), "seeding"
                ),
                "touch": _arrays(
                    model,
                    _slices(model, lambda ch: ch.touch_share(d), private_only=True),
                    "touch",
                ),
            }
            rows = np.vstack([spend.T, self.service[None, :]])  # the ledger's SPEND_MEASURES
            known = self._levers[key] = (spend, levers, rows)
        return known


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


def _arrays(model: ChannelMarket, slices: list[tuple], lever: str) -> tuple | None:
    """A lever's slices as arrays: ``(end, bound, lo, channel, click_below, impact, land)``;
    ``bound`` is ``end`` on the draws' raw bits
    (:func:`sim.core.streams.raw_bound`), ``impact`` is slice × segment (the slice's impact ×
    the segment's content response, the float32 product a customer's adstock gains: one lookup
    a day, not four calls)."""
    if not slices:
        return None
    resp = [ch.spec.response for ch, _, _ in slices]
    paid = lever == "paid"
    impact = np.array([x.paid_impact if paid else x.seeding_impact for x in resp], np.float32)
    impact = impact[:, None] * model.pop.seg_content[None, :]
    land = np.array(
        [
            ch.index
            if lever != "seeding"
            else model.channel_index.get(ch.spec.links_to, NO_CHANNEL)
            for ch, _, _ in slices
        ]
    )
    _, lo, r = slices[-1]
    chans = np.array([ch.index for ch, _, _ in slices])
    # as float32 (what comparing float32 draws with a Python float does), in a 0-d array:
    # a cheaper ufunc operand than a Python float (≈ 0.25 against 0.65 µs a call)
    end = np.array(lo + r, dtype=np.float32)
    return (
        end,
        raw_bound(end),
        np.array([s[1] for s in slices]),
        chans,
        np.array([s[2] * x.click_through for s, x in zip(slices, resp, strict=True)]),
        impact,
        land,
    )


def _reach(model: ChannelMarket, lever: str, slices: tuple | None) -> np.ndarray | None:
    """Reach and adstock of one lever; returns the channels of today's ad clicks."""
    pop, decision = model.pop, _DECISIONS[lever]
    if slices is None:
        model.draws.everyone(decision)  # drawn every day, reach or not (CRN)
        return None
    end, bound, lo, chans, click_below, impact, land = slices[:7]
    # Only draws below the end of the last slice hit anyone: work on those few customers
    # (compared on the block's raw bits; only theirs are made floats: Draws.everyone_below),
    # in one compiled loop (the slices are consecutive: a draw's slice is the last start below it).
    near, u_near = model.draws.everyone_below(decision, end, bound)
    adstock = pop.interest_paid if lever == "paid" else pop.interest_seed
    clicked = np.empty(len(near), dtype=np.int64)
    out = (adstock, pop.landing, pop.landing_source, pop.landing_channel)
    out += (SOURCE_CODE[lever], lever == "paid", clicked)
    args = (near, u_near, pop.stage, _CHURNED, pop.segment, lo, chans, click_below, impact, land)
    return clicked[: reach(*args, out)]


def _touch(model: ChannelMarket, slices: tuple | None) -> None:
    """Private operations touch pool members only: content, perks, 1-to-1 messages."""
    if slices is None:
        return
    members = model.pop.in_private.nonzero()[0]
    touch(model, slices, members, model.draws.u(TOUCH_DRAW, members))


def touch(model: ChannelMarket, slices: tuple, members: np.ndarray, u_members: np.ndarray) -> None:
    """Apply the private touches of pool ``members`` (ascending), given their uniforms of
    ``exposure.touch``: :func:`_touch`, or choice when it hashed them in its own pass (without
    levers nothing between exposure and choice reads or changes a touch or the pool)."""
    pop = model.pop
    end, _, lo, chans = slices[:4]
    out = (pop.touched, pop.landing, pop.landing_source, SOURCE_CODE["private"])
    touch_members(members, u_members, end[()], lo, chans, out)  # (one compiled loop)
