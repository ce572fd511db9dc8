"""The market of a scenario: its customer segments, how service acts on them, and its size.

The size is stated once, in real people (``real_customers``); ``customers`` is how many agents
simulate them, a resolution setting (:class:`Market`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Family = Literal["public", "private", "social", "offline"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Real customers per agent above which the stock's view of demand gets visibly lumpy: the
#: shipped scenarios' resolution (README, "Resolution and precision").
STOCK_SCALE = 100.0


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


class Segment(_Frozen):
    """A customer segment. Prices are relative to the market's guide price."""

    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    share: float = Field(ge=0, le=1, description="share of the simulated customers")
    price_sensitivity: float = Field(
        ge=0, description="logit weight on relative price (choice) and on price above reservation"
    )
    reservation_price: float = Field(
        default=1.2, gt=0, description="median reservation price per unit, × guide price"
    )
    reservation_spread: float = Field(default=0.2, ge=0, description="lognormal sigma")
    basket_units: float = Field(default=1.5, ge=1, description="mean units per order")
    purchase_cycle_days: float = Field(default=30, gt=0, description="mean days between needs")
    cycle_cv: float = Field(default=0.3, ge=0, le=10, description="spread of the cycle")
    affinity: dict[Family, float] = Field(
        default_factory=dict, description="utility offset per channel family"
    )
    content_response: float = Field(default=1.0, ge=0, description="× effect of ads/seeding")
    referral_response: float = Field(default=1.0, ge=0, description="× referral propensity")
    # Heterogeneity within the segment (docs/calibration.md): real customers differ far more
    # than one cycle and one hazard allow. Each is off (None) by default: then no per-customer
    # array is allocated and the run is exactly the homogeneous one.
    cycle_distribution: Literal["lognormal", "exponential"] = Field(
        default="lognormal",
        description="need gaps: lognormal with cycle_cv, or exponential (Poisson needs, "
        "as in NBD models; cycle_cv unused)",
    )
    rate_shape: float | None = Field(
        default=None,
        gt=0,
        le=1e4,
        description="gamma shape of each customer's purchase-rate multiplier (mean 1); "
        "cycle of a customer = purchase_cycle_days ÷ multiplier",
    )
    rate_beta: float | None = Field(
        default=None,
        gt=0,
        le=1e8,
        description="with rate_shape: the multiplier is Beta(rate_shape, rate_beta) × "
        "(rate_shape + rate_beta) / rate_shape (mean 1) instead of a gamma: the daily "
        "purchase chances of the purchase-day models, which a gamma of the same shape and "
        "mean over-spreads by (rate_shape + rate_beta + 1) / rate_beta in variance",
    )
    churn_shape: float | None = Field(
        default=None,
        gt=0,
        le=1e4,
        description="gamma shape of each customer's churn-hazard multiplier (mean 1): "
        "Pareto/NBD lifetimes",
    )
    dropout_a: float | None = Field(
        default=None, gt=0, le=1e4, description="beta a of each customer's dropout chance"
    )
    dropout_b: float | None = Field(
        default=None,
        gt=0,
        le=1e6,
        description="beta b: after each repeat purchase the customer leaves with probability "
        "p ~ Beta(a, b) (BG/NBD)",
    )

    basket_shape: float | None = Field(
        default=None,
        gt=0,
        le=1e4,
        description="gamma shape of each customer's basket multiplier m (mean 1): their "
        "mean units per order = 1 + (basket_units − 1) × m (customers' order values differ "
        "for good, as in the gamma-gamma model)",
    )

    first_basket_units: float | None = Field(
        default=None,
        ge=1,
        le=1e6,
        description="mean units of a customer's first order, when it differs from later "
        "ones (default: basket_units); with basket_shape the customer's multiplier scales it "
        "likewise",
    )

    @model_validator(mode="after")
    def _dropout_pair(self) -> Segment:
        if (self.dropout_a is None) != (self.dropout_b is None):
            raise ValueError("dropout_a and dropout_b: give both or neither")
        if self.rate_beta is not None and self.rate_shape is None:
            raise ValueError("rate_beta needs rate_shape (the beta's a)")
        return self

    @property
    def has_spread(self) -> bool:
        """Whether customers of this segment carry their own rate, lifetime or dropout."""
        return any(v is not None for v in (self.rate_shape, self.churn_shape, self.dropout_a))


class Service(_Frozen):
    """How service levels act on customers (market-wide sensitivities)."""

    reply_tolerance_minutes: float = Field(
        default=10, gt=0, description="conversion × 1/(1 + reply/tolerance)"
    )
    base_satisfaction: float = Field(default=0.95, ge=0, le=1)
    delivery_penalty: float = Field(default=0.04, ge=0, description="per delivery day")
    resolution_penalty: float = Field(default=0.05, ge=0, description="per 24 h of after-sales")
    reply_penalty: float = Field(default=0.1, ge=0, description="per hour of reply time")


class Market(_Frozen):
    """The market a plan sells into: ``real_customers`` people, simulated by ``customers`` agents.

    ``customers`` is a resolution, not the market: each agent stands for ``scale =
    real_customers ÷ customers`` real customers, and the ledger and every KPI are in real units.
    Fewer agents give wider intervals (more noise per replication), never a smaller market or
    another ROI. Without ``real_customers`` the market is the file's ``customers`` (one agent per
    person), fixed when the file loads: ``--set market.customers=N`` changes the resolution only.
    """

    real_customers: float = Field(
        gt=0, description="real people in the addressable market (default: customers)"
    )
    customers: int = Field(gt=0, description="simulated agents: the resolution, not the market")
    guide_price: float = Field(gt=0, description="platform guide price per unit (currency)")
    unit_cost: float = Field(default=0, ge=0, description="cost of goods per unit (currency)")
    segments: list[Segment] = Field(min_length=1)
    initial_customers: float = Field(
        default=0.0, ge=0, le=1, description="share who already bought before day 0"
    )
    initial_private: float = Field(
        default=0.0, ge=0, le=1, description="share of initial customers in the private pool"
    )
    organic_interest: float = Field(
        default=0.001, ge=0, le=1, description="daily chance a prospect becomes interested unaided"
    )
    word_of_mouth: float = Field(
        default=0.0, ge=0, description="Bass q: hazard per unit share of adopters"
    )
    interest_decay: float = Field(
        default=0.8, ge=0, le=1, description="daily carry-over of ad/seeding interest (adstock)"
    )
    interest_lapse: float = Field(
        default=0.3, ge=0, le=1, description="daily chance an in-market non-buyer gives up"
    )
    churn: float = Field(default=0.002, ge=0, le=1, description="daily churn hazard of a customer")
    dissatisfied_churn: float = Field(
        default=3.0, ge=0, description="churn × (1 + this × (1 − satisfaction))"
    )
    private_retention: float = Field(
        default=0.5, ge=0, le=1, description="churn × this for private-pool members"
    )
    loyalty: float = Field(default=0.8, description="utility bonus for the last channel used")
    private_bonus: float = Field(
        default=0.5, description="utility bonus of private channels for pool members"
    )
    landing_bonus: float = Field(
        default=1.5, description="utility bonus of the channel an ad or link lands on today"
    )
    touch_bonus: float = Field(default=0.5, description="extra private utility when touched")
    price_weight: float = Field(
        default=3.0, ge=0, description="scales price_sensitivity in the channel choice"
    )
    service_weight: float = Field(default=0.2, ge=0, description="utility per service point")
    service: Service = Service()
    friends: int = Field(default=3, ge=1, le=16, description="friends per customer (referrals)")
    journey_sample: int = Field(default=50, ge=0, description="customers whose journeys are kept")

    @model_validator(mode="before")
    @classmethod
    def _real_from_scale(cls, data: Any) -> Any:
        """The deprecated ``scale`` (real per simulated) becomes ``real_customers``."""
        if not isinstance(data, dict):
            return data
        if "scale" in data and "customers" not in data:
            raise ValueError(
                "market.scale is deprecated and needs market.customers: state the real market "
                "as market.real_customers (people) and the simulated agents as "
                "market.customers (the resolution); scale = real_customers ÷ customers"
            )
        if not is_number(data.get("customers")):
            return data
        if "scale" in data and "real_customers" in data:
            raise ValueError(
                "give market.real_customers (the real market) or the deprecated market.scale, "
                "not both"
            )
        if "real_customers" in data or not is_number(data.get("scale", 1.0)):
            return data
        rest = {k: v for k, v in data.items() if k != "scale"}
        return {**rest, "real_customers": float(data.get("scale", 1.0)) * data["customers"]}

    @property
    def scale(self) -> float:
        """Real customers per simulated agent (``real_customers ÷ customers``)."""
        return self.real_customers / self.customers

    def stock_warnings(self) -> list[str]:
        """With stock, a coarse resolution is not only noisier: the warehouse gets each agent's
        order as one lump of ``basket × scale`` real units, so it sees demand far more variable
        than the real market's and stocks out more often (measured in the README, "Resolution
        and precision")."""
        if self.scale <= STOCK_SCALE:
            return []
        basket = max(s.basket_units for s in self.segments) * self.scale
        return [
            f"market.customers: {self.customers:,} agents for {self.real_customers:,.0f} real "
            f"customers (scale {self.scale:,.4g}): each simulated order reaches the stock as "
            f"one lump of ≈ {basket:,.0f} real units (mean basket × scale), so stock KPIs (fill "
            f"rate, stockouts) and the sales stockouts lose are biased pessimistic at this "
            f"resolution; use ≥ {math.ceil(self.real_customers / STOCK_SCALE):,} agents for "
            "stock questions"
        ]

    @field_validator("segments")
    @classmethod
    def _shares_sum_to_one(cls, segments: list[Segment]) -> list[Segment]:
        total = sum(s.share for s in segments)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1, got {total:g}")
        ids = [s.id for s in segments]
        if len(set(ids)) != len(ids):
            raise ValueError(f"segment ids must be unique, got {ids}")
        return segments


def state_market_size(data: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    """Fix the real market from the file, before any override, so that an override of
    ``market.customers`` changes the resolution only; return deprecation notes.

    A file without ``real_customers`` states its market as ``scale × customers`` (``scale``
    defaults to 1): ``real_customers`` is written into ``data`` and ``scale`` dropped. An
    override of the deprecated ``market.scale`` keeps its old meaning, ``real = scale ×
    customers`` (after every override): the file's market is then dropped for it.
    """
    m = data.get("market")
    if not isinstance(m, dict):
        return []
    notes = []
    if "real_customers" not in m and is_number(m.get("customers")):
        scale = m.get("scale", 1.0)
        if is_number(scale):  # otherwise left for the schema to report
            m["real_customers"] = float(scale) * m["customers"]
            if "scale" in m:
                notes.append(_deprecated(m.pop("scale") * m["customers"], "this file"))
    if "market.scale" in overrides and "market.real_customers" not in overrides:
        m.pop("real_customers", None)
        notes.append(_deprecated(None, "--set market.scale"))
    return notes


def _deprecated(real: float | None, where: str) -> str:
    said = f" = {real:,.0f} real customers" if real is not None else ""
    return (
        f"market.scale ({where}) is deprecated: the market is read as scale × customers{said}; "
        "state it as market.real_customers (real people) and keep market.customers as the "
        "number of simulated agents, which then changes precision only"
    )
