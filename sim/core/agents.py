"""Mesa agents: one :class:`ChannelAgent` per configured channel.

Channels are few and each has its own rules (price, reach, service), so they are ordinary
``mesa.Agent`` objects; customers are many and live in
:class:`sim.core.population.CustomerPopulation`.
"""

from __future__ import annotations

import math

import mesa

from sim.scenario import FAMILIES, Channel


def saturating(spend: float, maximum: float, saturation: float) -> float:
    """Diminishing returns: ``maximum × (1 − exp(−spend / saturation))``."""
    return maximum * (1.0 - math.exp(-spend / saturation)) if spend > 0 else 0.0


class ChannelAgent(mesa.Agent):
    """A sales or content channel: public marketplace, private pool, social or offline."""

    def __init__(self, model: mesa.Model, spec: Channel, index: int):
        super().__init__(model)
        self.spec = spec
        self.index = index
        self.family_index = FAMILIES.index(spec.family)

    # ---- what the channel offers today ------------------------------------------------------
    @property
    def family(self) -> str:
        return self.spec.family

    def paid_reach(self) -> float:
        """Share of the market that today's paid traffic reaches (public channels)."""
        b, r = self.spec.budget, self.spec.response
        return saturating(b.paid, r.paid_reach_max, r.paid_saturation)

    def seeding_reach(self) -> float:
        """Share of the market that today's seeding content reaches."""
        b, r = self.spec.budget, self.spec.response
        return saturating(b.seeding, r.seeding_reach_max, r.seeding_saturation)

    def touch_share(self) -> float:
        """Share of the private pool this channel's operations touch today."""
        b, r = self.spec.budget, self.spec.response
        return saturating(b.private_ops, r.touch_max, r.ops_saturation)

    def join_probability(self) -> float:
        """Chance a buyer elsewhere is moved into the private pool by this channel's operations."""
        b, r = self.spec.budget, self.spec.response
        lift = saturating(b.private_ops, 1.0, r.ops_saturation)
        return r.join_base + (r.join_max - r.join_base) * lift

    def unit_price(self, guide_price: float) -> float:
        """Today's list price per unit (before promotions)."""
        return guide_price * self.spec.price_index

    def service_score(self) -> float:
        """Service points: higher is better (fewer reply minutes, faster delivery)."""
        s = self.spec.service
        return -(s.reply_minutes / 10.0 + s.delivery_days / 2.0 + s.resolution_hours / 24.0)

    def daily_spend(self) -> tuple[float, float, float]:
        b = self.spec.budget
        return b.paid, b.seeding, b.private_ops
