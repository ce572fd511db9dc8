"""Mesa agents: one :class:`ChannelAgent` per configured channel.

Channels are few and each has its own rules (price, reach, service), so they are ordinary
``mesa.Agent`` objects; customers are many and live in
:class:`sim.core.population.CustomerPopulation`.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.scenario import FAMILIES, Channel


def saturating(spend: float, maximum: float, saturation: float) -> float:
    """Diminishing returns: ``maximum × (1 − exp(−spend / saturation))``."""
    return maximum * (1.0 - math.exp(-spend / saturation)) if spend > 0 else 0.0


class ChannelAgent(mesa.Agent):
    """A sales or content channel: public marketplace, private pool, social or offline.

    ``budget`` is the channel's spend per day and lever, shape ``(days, 3)`` in the order paid,
    seeding, private_ops (:func:`sim.scenario.spend.daily_budget`); without it every day spends
    the spec's constant amounts. The spend-driven methods take the day.
    """

    def __init__(
        self, model: mesa.Model, spec: Channel, index: int, budget: np.ndarray | None = None
    ):
        super().__init__(model)
        self.spec = spec
        self.index = index
        self.family_index = FAMILIES.index(spec.family)
        b = spec.budget
        self.budget = np.array([[b.paid, b.seeding, b.private_ops]]) if budget is None else budget

    # ---- what the channel offers today ------------------------------------------------------
    @property
    def family(self) -> str:
        return self.spec.family

    def paid_reach(self, day: int = 0) -> float:
        """Share of the market that the day's paid traffic reaches (public channels)."""
        r = self.spec.response
        return saturating(self.daily_spend(day)[0], r.paid_reach_max, r.paid_saturation)

    def seeding_reach(self, day: int = 0) -> float:
        """Share of the market that the day's seeding content reaches."""
        r = self.spec.response
        return saturating(self.daily_spend(day)[1], r.seeding_reach_max, r.seeding_saturation)

    def touch_share(self, day: int = 0) -> float:
        """Share of the private pool this channel's operations touch on the day."""
        r = self.spec.response
        return saturating(self.daily_spend(day)[2], r.touch_max, r.ops_saturation)

    def join_probability(self, day: int = 0) -> float:
        """Chance a buyer elsewhere is moved into the private pool by this channel's operations."""
        r = self.spec.response
        lift = saturating(self.daily_spend(day)[2], 1.0, r.ops_saturation)
        return r.join_base + (r.join_max - r.join_base) * lift

    def unit_price(self, guide_price: float) -> float:
        """Today's list price per unit (before promotions)."""
        return guide_price * self.spec.price_index

    def service_score(self) -> float:
        """Service points: higher is better (fewer reply minutes, faster delivery)."""
        s = self.spec.service
        return -(s.reply_minutes / 10.0 + s.delivery_days / 2.0 + s.resolution_hours / 24.0)

    def daily_spend(self, day: int = 0) -> tuple[float, float, float]:
        """The day's spend by lever (paid, seeding, private_ops), currency per day."""
        paid, seeding, ops = self.budget[day if len(self.budget) > 1 else 0]
        return float(paid), float(seeding), float(ops)
