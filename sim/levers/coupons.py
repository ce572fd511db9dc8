"""Coupons: new-customer gift, repurchase coupon, referral coupon (both sides).

A customer holds at most one coupon (a better one replaces a worse or expired one). A coupon
acts through behaviour only: while valid it lowers the unit price its holder sees at the
channels where it is redeemable (value ÷ the segment's mean basket, in choice and conversion),
and it may bring its holder back early (``pull``: a daily hazard). When the holder buys there
with a basket of at least ``min_spend``, they redeem it with probability ``redeem``. Revenue is
recorded before the coupon; the redeemed value is the daily ``coupon_cost`` (a cost in
``profit``). Issued and redeemed coupons are counted (``coupons_issued``, ``coupons_redeemed``).

    >>> from sim.levers.coupons import Coupon
    >>> Coupon(id="gift", kind="new_customer", value=20, validity_days=30).redeem
    0.8
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

NO_COUPON = -1


class Coupon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    kind: Literal["new_customer", "repurchase", "referral", "reminder"] = Field(
        description="new_customer: on joining the pool; repurchase: after a private order; "
        "referral: both sides of a referral; reminder: sent with a reminder"
    )
    value: float = Field(ge=0, description="CNY off the basket")
    min_spend: float = Field(default=0, ge=0, description="basket value needed to redeem")
    validity_days: int = Field(default=30, ge=1, le=3660)
    redeem: float = Field(
        default=0.8, ge=0, le=1, description="chance a holder who buys at a valid channel uses it"
    )
    pull: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="daily chance a holder with a need within 7 days comes now",
    )
    channels: list[str] | None = Field(
        default=None, description="where it is redeemable; None = private"
    )
    tiers: list[str] | None = Field(
        default=None, description="issue only to pool members in these tiers"
    )


class CouponBook:
    """Who holds which coupon until when; one slot per customer (9 bytes)."""

    def __init__(self, coupons: list[Coupon], *, n: int, channels: list[str], private: list[int]):
        self.coupons = coupons
        self.held = np.full(n, NO_COUPON, dtype=np.int8)
        self.expiry = np.zeros(n, dtype=np.int32)
        self.value = np.array([c.value for c in coupons] + [0.0])  # [-1] → 0
        self.min_spend = np.array([c.min_spend for c in coupons] + [0.0])
        self.redeem_p = np.array([c.redeem for c in coupons] + [0.0])
        self.pull_p = np.array([c.pull for c in coupons] + [0.0])
        idx = {c: i for i, c in enumerate(channels)}
        self.valid_at = np.zeros((len(coupons) + 1, len(channels)), dtype=bool)
        for k, c in enumerate(coupons):
            cols = [idx[x] for x in c.channels] if c.channels else private
            self.valid_at[k, cols] = True

    def of_kind(self, kind: str) -> list[int]:
        return [k for k, c in enumerate(self.coupons) if c.kind == kind]

    def issue(
        self, who: np.ndarray, k: int, day: int, tier: np.ndarray | None, tier_ids: list[str]
    ) -> np.ndarray:
        """Give coupon ``k`` to ``who`` (if better than what they hold); returns the receivers."""
        c = self.coupons[k]
        if c.tiers is not None and tier is not None:
            wanted = [tier_ids.index(t) for t in c.tiers if t in tier_ids]
            who = who[np.isin(tier[who], wanted)]
        current = np.where(self.expiry[who] >= day, self.value[self.held[who]], 0.0)
        who = who[current < c.value]
        self.held[who] = k
        self.expiry[who] = day + c.validity_days
        return who

    def active(self, who: np.ndarray, day: int) -> np.ndarray:
        """Coupon index each customer holds today, −1 if none or expired."""
        k = self.held[who]
        return np.where(self.expiry[who] >= day, k, NO_COUPON)

    def price_cut(
        self, who: np.ndarray, channel: np.ndarray, day: int, mean_units: np.ndarray
    ) -> np.ndarray:
        """Per-unit price cut the holder sees at ``channel`` (shape broadcast with channel)."""
        k = self.active(who, day)
        k2 = k if channel.ndim == 1 else k[:, None]
        ok = self.valid_at[k2, channel]
        mu = mean_units if channel.ndim == 1 else mean_units[:, None]
        return np.where(ok, self.value[k2] / mu, 0.0)
