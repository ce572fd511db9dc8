"""Subscription (auto-ship every N days at a discount) and repurchase reminders (private pool).

Subscription: after an order at the subscription channel, a buyer subscribes with ``uptake``.
A subscriber's need is then set to the next ship day: on it they are in market, locked to the
subscription channel, pay the discounted price and buy with probability ``ship_success``. At
each shipment they cancel with hazard ``cancel × (1 + cancel_dissatisfied × (1 − satisfaction))``
(an unhappy subscriber leaves sooner); a cancelled subscriber is back on their own cycle.

Reminders: ``days_before`` days before a pool member's expected need, the private channel sends a
reminder; with probability ``response`` the member comes now, touched and landing on the private
channel (so they buy there rather than drift back to a marketplace). An optional coupon goes with
it; each message costs ``cost_per_message`` (private-operations spend).

    >>> from sim.levers.subscription import Subscription
    >>> Subscription(channel="wecom", every_days=30, discount=0.1).uptake
    0.1
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(description="the channel that ships (usually private)")
    every_days: int = Field(default=30, ge=1, le=365)
    discount: float = Field(default=0.1, ge=0, le=1, description="share off each shipment")
    uptake: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="chance a buyer at the channel subscribes after an order",
    )
    ship_success: float = Field(
        default=1.0, ge=0, le=1, description="chance a shipment goes through (not skipped)"
    )
    cancel: float = Field(default=0.05, ge=0, le=1, description="cancel hazard per shipment")
    cancel_dissatisfied: float = Field(
        default=4.0, ge=0, description="hazard × (1 + this × (1 − satisfaction))"
    )


class Reminders(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(description="private channel sending the reminders")
    days_before: int = Field(default=3, ge=1, le=60)
    response: float = Field(default=0.0, ge=0, le=1, description="chance a reminded member comes")
    coupon: str | None = Field(default=None, description="coupon id sent with the reminder")
    cost_per_message: float = Field(default=0.0, ge=0, description="CNY per reminder sent")
