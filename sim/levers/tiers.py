"""Customer tiers (the six-schemes plan, private pool) and membership levels (the uplift plan).

Private tiers classify pool members every day from their own history:

* ``high_value`` — yearly spend ≥ ``high_value_spend`` and repurchases ≥ ``high_value_repurchases``
  (yearly spend = lifetime spend × 365 ÷ max(365, days since first order));
* ``new`` — at most ``new_max_orders`` orders;
* ``potential`` — everyone else in the pool.

Each tier may carry perks that act on behaviour: an exclusive ``discount`` on private channels,
an extra choice ``touch_bonus`` for private channels, and a ``coupon`` issued on entering the tier.

Membership levels are upgraded by lifetime spend (never downgraded); a level multiplies the price
the member pays on the level channels (``price``: silver 0.95, gold 0.90, diamond 0.85) and adds
``loyalty`` utility to those channels in the channel choice.

    >>> from sim.levers.tiers import Membership
    >>> [lv.id for lv in Membership.seed_002().levels]
    ['ordinary', 'silver', 'gold', 'diamond']
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

TIER_IDS: tuple[str, ...] = ("new", "potential", "high_value")
NO_TIER = -1


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierPerks(_Frozen):
    discount: float = Field(default=0.0, ge=0, le=1, description="share off at private channels")
    touch_bonus: float = Field(default=0.0, description="extra private-channel utility")
    coupon: str | None = Field(default=None, description="coupon id issued on entering the tier")


class Tiers(_Frozen):
    new_max_orders: int = Field(default=1, ge=1)
    high_value_spend: float = Field(default=5000, ge=0, description="CNY per year")
    high_value_repurchases: int = Field(default=3, ge=0)
    perks: dict[str, TierPerks] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_tiers(self) -> Tiers:
        bad = sorted(set(self.perks) - set(TIER_IDS))
        if bad:
            raise ValueError(f"unknown tier(s) {bad} in perks (tiers: {list(TIER_IDS)})")
        return self


class Level(_Frozen):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    min_spend: float = Field(ge=0, description="lifetime spend (CNY) to reach this level")
    price: float = Field(default=1.0, gt=0, le=1, description="× price on level channels")
    loyalty: float = Field(default=0.0, description="utility bonus on level channels")


class Membership(_Frozen):
    levels: list[Level] = Field(min_length=1)
    channels: list[str] | None = Field(default=None, description="None = private channels")

    @model_validator(mode="after")
    def _increasing(self) -> Membership:
        spends = [lv.min_spend for lv in self.levels]
        if spends != sorted(set(spends)) or spends[0] != 0:
            raise ValueError(
                f"levels need strictly increasing min_spend starting at 0, got {spends}"
            )
        return self

    @classmethod
    def seed_002(cls) -> Membership:
        """The uplift action plan's ladder: ordinary / silver 95 % / gold 90 % / diamond 85 %."""
        return cls(
            levels=[
                Level(id="ordinary", min_spend=0),
                Level(id="silver", min_spend=1000, price=0.95, loyalty=0.2),
                Level(id="gold", min_spend=3000, price=0.90, loyalty=0.4),
                Level(id="diamond", min_spend=8000, price=0.85, loyalty=0.6),
            ]
        )


def classify(
    tiers: Tiers,
    *,
    in_private: np.ndarray,
    n_orders: np.ndarray,
    spend: np.ndarray,
    first_day: np.ndarray,
    day: int,
) -> np.ndarray:
    """Tier index per customer (−1 outside the pool), vectorised."""
    age = np.maximum(365.0, day - first_day.astype(np.float64))
    yearly = spend * 365.0 / age
    high = (yearly >= tiers.high_value_spend) & (n_orders - 1 >= tiers.high_value_repurchases)
    tier = np.where(high, 2, np.where(n_orders <= tiers.new_max_orders, 0, 1))
    return np.where(in_private, tier, NO_TIER).astype(np.int8)


def level_of(membership: Membership, spend: np.ndarray) -> np.ndarray:
    """Membership level index reached by lifetime spend."""
    bounds = np.array([lv.min_spend for lv in membership.levels])
    return (np.searchsorted(bounds, spend, side="right") - 1).astype(np.int8)
