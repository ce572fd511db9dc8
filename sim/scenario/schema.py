"""The scenario schema: the market, the channels with their levers, stock and targets of one
plan, as frozen pydantic models. :mod:`sim.scenario.loading` turns YAML into a validated
:class:`Scenario`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.inventory.schema import InventorySpec
from sim.levers.pricing import PriceBand, Trial, band_breaches
from sim.levers.promotions import Promotions, promotion_problems, promotion_warnings
from sim.levers.tiers import TIER_IDS, Membership, Tiers
from sim.scenario.paths import resolve_path

Family = Literal["public", "private", "social", "offline"]
FAMILIES: tuple[str, ...] = ("public", "private", "social", "offline")
ONLINE_FAMILIES: tuple[str, ...] = ("public", "private", "social")
SOURCES: tuple[str, ...] = ("paid", "organic", "seeding", "private", "referral")

Probability = float  # documented alias; bounds are enforced with Field(ge=0, le=1)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# Market and customers
# --------------------------------------------------------------------------------------------
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
    cycle_cv: float = Field(default=0.3, ge=0, le=3, description="spread of the cycle")
    affinity: dict[Family, float] = Field(
        default_factory=dict, description="utility offset per channel family"
    )
    content_response: float = Field(default=1.0, ge=0, description="× effect of ads/seeding")
    referral_response: float = Field(default=1.0, ge=0, description="× referral propensity")


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
    customers: int = Field(gt=0, description="customers simulated")
    scale: float = Field(default=1.0, gt=0, description="real customers per simulated one")
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


# --------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------
class Budget(_Frozen):
    """Daily spend by lever (currency per day)."""

    paid: float = Field(default=0, ge=0, description="paid traffic (public channels)")
    seeding: float = Field(default=0, ge=0, description="content seeding (social channels)")
    private_ops: float = Field(default=0, ge=0, description="private-pool operations")


class Response(_Frozen):
    """How spend turns into reach: reach = max × (1 − exp(−spend / saturation))."""

    paid_reach_max: float = Field(default=0.02, ge=0, le=1, description="daily share reached")
    paid_saturation: float = Field(default=5000, gt=0, description="currency/day")
    paid_impact: float = Field(default=0.02, ge=0, description="interest hazard per exposure")
    click_through: float = Field(default=0.1, ge=0, le=1, description="exposed who visit")
    seeding_reach_max: float = Field(default=0.05, ge=0, le=1)
    seeding_saturation: float = Field(default=3000, gt=0)
    seeding_impact: float = Field(default=0.01, ge=0)
    touch_max: float = Field(default=0.3, ge=0, le=1, description="daily share of pool touched")
    ops_saturation: float = Field(default=2000, gt=0, description="currency/day")
    join_base: float = Field(
        default=0.02, ge=0, le=1, description="chance a non-private buyer joins unaided"
    )
    join_max: float = Field(default=0.3, ge=0, le=1, description="join chance at saturation")
    referral_rate: float = Field(
        default=0.0, ge=0, le=1, description="chance a satisfied member refers a friend"
    )


class ServiceLevel(_Frozen):
    reply_minutes: float = Field(default=5, ge=0, description="customer-service first reply")
    delivery_days: float = Field(default=3, ge=0)
    resolution_hours: float = Field(default=24, ge=0, description="after-sales resolution")
    cost_per_day: float = Field(default=0, ge=0, description="cost of this service level")


class Channel(_Frozen):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    family: Family
    name: str = ""
    core: bool = Field(default=False, description="a core channel (traffic concentration)")
    sells: bool = Field(default=True, description="False for pure content channels")
    links_to: str | None = Field(
        default=None, description="for social channels: where seeded customers land"
    )
    price_index: float = Field(default=1.0, gt=0, description="price × guide price")
    commission: float = Field(default=0.0, ge=0, le=1, description="platform fee on revenue")
    base_conversion: float = Field(default=0.3, ge=0, le=1)
    budget: Budget = Budget()
    response: Response = Response()
    service: ServiceLevel = ServiceLevel()
    trial: Trial | None = Field(
        default=None, description="sample at a trial price (sim.levers.pricing)"
    )


class Horizon(_Frozen):
    start: dt.date
    days: int = Field(gt=0, le=3660)


class Target(_Frozen):
    """A threshold on a KPI, optionally over a window and relative to the baseline."""

    kpi: str
    window: tuple[int, int] | None = Field(
        default=None, description="[start, end) in days from the start; dates are converted"
    )
    relative_to: Literal["baseline"] | None = None
    at_least: float | None = None
    at_most: float | None = None
    label: str = ""

    @model_validator(mode="after")
    def _one_bound(self) -> Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a target needs exactly one of at_least / at_most")
        if self.window is not None and not (0 <= self.window[0] < self.window[1]):
            raise ValueError(f"window must be [start, end) with 0 ≤ start < end, got {self.window}")
        return self


class Decision(_Frozen):
    """A decision variable for ``channelsim optimize search``: a dotted path and its range.

    Either ``low``/``high`` (``integer: true`` for integers, ``log: true`` for a log scale) or
    ``choices``; ``path`` is any ``--set`` path, e.g. ``channels.tmall.budget.paid``.
    """

    path: str = Field(min_length=1)
    low: float | None = None
    high: float | None = None
    integer: bool = False
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> Decision:
        if (self.choices is None) == (self.low is None or self.high is None):
            raise ValueError(f"decision {self.path}: give either low and high, or choices")
        if self.choices is not None and not self.choices:
            raise ValueError(f"decision {self.path}: choices must not be empty")
        if self.low is not None and self.high is not None:
            if self.low >= self.high:
                raise ValueError(
                    f"decision {self.path}: low {self.low:g} must be < high {self.high:g}"
                )
            if self.log and self.low <= 0:
                raise ValueError(f"decision {self.path}: a log range needs low > 0")
        return self


class Scenario(_Frozen):
    name: str = Field(min_length=1)
    description: str = ""
    extends: str | None = Field(default=None, description="resolved path of the base scenario")
    seed: int = Field(default=0, ge=0)
    horizon: Horizon
    market: Market
    channels: list[Channel] = Field(min_length=1)
    inventory: InventorySpec | None = None
    targets: list[Target] = Field(default_factory=list)
    promotions: Promotions = Field(
        default_factory=Promotions,
        description="promotion calendar, coupons, subscription, reminders (sim.levers.promotions)",
    )
    tiers: Tiers | None = Field(default=None, description="private tiers (sim.levers.tiers)")
    membership: Membership | None = Field(default=None, description="levels (sim.levers.tiers)")
    price_band: PriceBand | None = Field(default=None, description="± band around guide price")
    decisions: list[Decision] = Field(
        default_factory=list, description="decision variables for optimize search"
    )

    @model_validator(mode="after")
    def _decision_paths(self) -> Scenario:
        data = self.model_dump(mode="json", exclude={"decisions"})
        problems = []
        for i, d in enumerate(self.decisions):
            try:
                resolve_path(data, d.path)
            except KeyError as exc:
                problems.append(f"decisions[{i}].path: {exc.args[0]}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="before")
    @classmethod
    def _date_windows(cls, data: Any) -> Any:
        """Target windows given as dates become days from ``horizon.start`` (same [start, end))."""
        try:
            start = dt.date.fromisoformat(str(data["horizon"]["start"]))
            targets = data["targets"]
        except (KeyError, TypeError, ValueError):
            return data
        if not isinstance(targets, list):
            return data
        fixed = []
        for t in targets:
            w = t.get("window") if isinstance(t, dict) else None
            if isinstance(w, list | tuple) and any(_is_date(x) for x in w):
                t = {
                    **t,
                    "window": [
                        (dt.date.fromisoformat(str(x)) - start).days if _is_date(x) else x
                        for x in w
                    ],
                }
            fixed.append(t)
        return {**data, "targets": fixed}

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = [c.id for c in self.channels]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"channel ids must be unique, repeated: {dupes}")
        if self.inventory is not None:  # stock names channels: catch typos at load, not mid-run
            bad = self.inventory.check_channels(ids)
            if bad:
                raise ValueError("; ".join(f"inventory.{p}" for p in bad))
        for c in self.channels:
            if c.links_to is not None and c.links_to not in ids:
                raise ValueError(f"channel {c.id}: links_to '{c.links_to}' is not a channel id")
        if not any(c.sells for c in self.channels):
            raise ValueError("at least one channel must sell")
        for i, t in enumerate(self.targets):
            if t.window is not None and t.window[1] > self.horizon.days:
                raise ValueError(
                    f"targets[{i}] ({t.kpi}): window end {t.window[1]} is past the horizon "
                    f"({self.horizon.days} days)"
                )
        return self

    # ---- derived views --------------------------------------------------------------------
    def channel_ids(self) -> list[str]:
        return [c.id for c in self.channels]

    def lever_problems(self) -> list[str]:
        """Levers that name unknown channels/coupons, overlap, or fall outside the horizon."""
        families = {c.id: c.family for c in self.channels}
        problems = promotion_problems(
            self.promotions, channels=families, selling=[c.id for c in self.channels if c.sells]
        )
        coupons = {c.id for c in self.promotions.coupons}
        for i, c in enumerate(self.promotions.coupons):
            bad = sorted(set(c.tiers or []) - set(TIER_IDS))
            if bad:
                problems.append(
                    f"promotions.coupons[{i}]({c.id}).tiers: unknown tier(s) {bad} "
                    f"(tiers: {list(TIER_IDS)})"
                )
        for tid, perk in self.tiers.perks.items() if self.tiers else []:
            if perk.coupon is not None and perk.coupon not in coupons:
                problems.append(
                    f"tiers.perks.{tid}.coupon: unknown coupon '{perk.coupon}' "
                    f"(known: {sorted(coupons)})"
                )
        for name, chans in (
            ("membership", self.membership and self.membership.channels),
            ("price_band", self.price_band and self.price_band.channels),
        ):
            for cid in chans or []:
                if cid not in families:
                    problems.append(
                        f"{name}.channels: unknown channel '{cid}' (known: {sorted(families)})"
                    )
        return problems

    def warnings(self) -> list[str]:
        """Legal but suspicious settings: channels whose list price breaks the price band,
        dated promotions the horizon cuts."""
        out = promotion_warnings(self.promotions, start=self.horizon.start, days=self.horizon.days)
        if self.price_band is None:
            return out
        index = {c.id: c.price_index for c in self.channels if c.sells}
        tol = self.price_band.tolerance
        return out + [
            f"channels.{cid}.price_index: {index[cid]:g} × guide price is outside the "
            f"±{tol:.0%} price band (outside declared promotions)"
            for cid in band_breaches(self.price_band, index)
        ]

    def content_hash(self) -> str:
        """SHA-256 of the fully resolved scenario (where it came from does not count)."""
        data = self.model_dump(mode="json", exclude={"extends"})
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def _is_date(x: Any) -> bool:
    if isinstance(x, dt.date):
        return True
    try:
        dt.date.fromisoformat(x) if isinstance(x, str) else None
    except ValueError:
        return False
    return isinstance(x, str)
