"""Per-channel pricing and the price band.

The price a customer sees at a channel on a day is a composition (all multiplicative, then the
coupon as an amount per unit):

    guide price × channel price_index               (public: platform guide price;
                                                     private: member price)
      × (1 − promotion discount of the day)         (the calendar, :mod:`sim.levers.promotions`)
      × membership level price × (1 − tier discount) (private exclusive discount,
                                                     :mod:`sim.levers.tiers`)
      × (1 − subscription discount)                 (on a subscriber's ship day)
      − coupon value ÷ mean basket units            (choice and conversion only)

then, at checkout, a full-reduction offer cuts the basket (its amount is spread over the units).

A scenario may declare a price band (the multi-channel plan §价格管控: every channel within ±5 %
of the guide price outside declared promotions). ``Scenario.warnings()`` lists channels whose
list price breaks it (``channelsim validate`` prints them) and the daily ``band_violation`` flag
counts days a channel's price is outside the band while no promotion is declared on it (KPI
``price_band_violations``).

    >>> from sim.levers.pricing import PriceBand, band_breaches
    >>> band_breaches(PriceBand(tolerance=0.05), {"jd": 1.0, "dy": 0.9})
    ['dy']
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class PriceBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tolerance: float = Field(default=0.05, ge=0, le=1, description="± share of the guide price")
    channels: list[str] | None = Field(default=None, description="None = every selling channel")


class Trial(BaseModel):
    """Trial price on samples (the six-schemes plan §(四): social seeding sells low-price samples,
    then guides to the full size). A customer who never bought the product buys one sample at
    ``price`` (with ``conversion`` instead of the channel's, if given); with ``to_full`` they
    need the full size ``after_days`` later, otherwise they are back on their own cycle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price: float = Field(gt=0, description="CNY per sample")
    conversion: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="chance a first-time shopper at the channel takes a sample (a low price "
        "lowers the barrier to try); None = the channel's usual conversion",
    )
    unit_cost: float = Field(default=0, ge=0, description="CNY cost of a sample")
    to_full: float = Field(default=0.3, ge=0, le=1, description="samplers who want the full size")
    after_days: int = Field(default=14, ge=1, le=365, description="when the full-size need comes")


def band_breaches(band: PriceBand, price_index: dict[str, float]) -> list[str]:
    """Channels (of ``band.channels``) whose list price is outside the band."""
    scope = band.channels if band.channels is not None else list(price_index)
    return [
        c for c in scope if c in price_index and abs(price_index[c] - 1.0) > band.tolerance + 1e-12
    ]


def band_violation(
    price: np.ndarray, guide: float, band: PriceBand | None, promo: np.ndarray, in_scope: np.ndarray
) -> np.ndarray:
    """1.0 for each channel whose price today is outside the band without a declared promotion."""
    if band is None:
        return np.zeros_like(price)
    outside = np.abs(price / guide - 1.0) > band.tolerance + 1e-12
    return (outside & ~promo & in_scope).astype(float)


def keep_share(discount: np.ndarray) -> np.ndarray:
    """Multiplier 1 − discount; exactly 1.0 where there is no discount (keeps ledgers identical)."""
    return np.where(discount > 0, 1.0 - discount, 1.0)
