"""The parts of the scenario's ``inventory:`` section, each validated on its own.

SKUs, supplier lead times, replenishment policies, stock locations, rebalancing transfers,
clearance rules, cost rates, what customers do on a stockout, and exogenous demand. Checks that
need more than one part (unknown ids, shares summing to one, source cycles) live with the whole
section in :mod:`sim.inventory.schema`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import stats

from sim.inventory.draws import table_ppf

__all__ = [
    "ClearanceSpec",
    "CostSpec",
    "DemandSpec",
    "LeadTimeSpec",
    "LocationSpec",
    "PolicySpec",
    "SkuDemandSpec",
    "SkuSpec",
    "StockoutSpec",
    "TransferSpec",
]

Klass = Literal["hot", "regular", "slow"]
LocationKind = Literal["central", "channel", "regional"]
PolicyType = Literal["sS", "sQ", "base_stock", "forecast", "none"]
NonNegInt = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]

#: Slack for fractions that must sum to one (YAML decimals are not exact in binary).
TOL = 1e-6


class StrictModel(BaseModel):
    """Base of every inventory spec: unknown keys are errors and specs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def non_default(model: BaseModel, names: set[str]) -> list[str]:
    """The fields among ``names`` set to something other than their default (sorted)."""
    fields = type(model).model_fields
    return sorted(
        n
        for n in names & model.model_fields_set
        if getattr(model, n) != fields[n].get_default(call_default_factory=True)
    )


class SkuSpec(StrictModel):
    """A stock-keeping unit: prices, class, demand share and which channels list it."""

    id: str = Field(min_length=1)
    price: float = Field(gt=0, description="guide price per unit")
    unit_cost: float = Field(ge=0, description="purchase cost per unit (COGS)")
    klass: Klass = Field("regular", validation_alias=AliasChoices("klass", "class"))
    demand_share: Fraction | dict[str, Fraction] | None = Field(
        None, description="share of customer demand, or per segment; None on every SKU = equal"
    )
    channels: list[str] | None = Field(None, description="assortment; None = every channel")
    volume: float = Field(1.0, gt=0, description="multiplies the holding cost")

    def share(self, segment: str | None) -> float:
        if self.demand_share is None or isinstance(self.demand_share, float):
            return float(self.demand_share or 0.0)
        return float(self.demand_share.get(segment, 0.0)) if segment else float("nan")


class LeadTimeSpec(StrictModel):
    """Supplier (or transfer) lead time in days: fixed, Poisson or integer-uniform."""

    dist: Literal["fixed", "poisson", "uniform"] = "fixed"
    value: NonNegInt | None = None
    mean: float | None = Field(None, ge=0)
    low: NonNegInt | None = None
    high: NonNegInt | None = None

    @model_validator(mode="after")
    def _params_match_dist(self) -> LeadTimeSpec:
        need = {"fixed": {"value"}, "poisson": {"mean"}, "uniform": {"low", "high"}}[self.dist]
        given = {f for f in ("value", "mean", "low", "high") if getattr(self, f) is not None}
        if missing := need - given:
            raise ValueError(f"{sorted(missing)[0]}: required for a {self.dist} lead time")
        if extra := given - need:
            raise ValueError(f"{sorted(extra)[0]}: not a parameter of a {self.dist} lead time")
        if self.dist == "uniform" and self.low > self.high:
            raise ValueError(f"low: must be <= high, got low={self.low}, high={self.high}")
        return self

    def mean_days(self) -> float:
        return {
            "fixed": lambda: self.value,
            "poisson": lambda: self.mean,
            "uniform": lambda: (self.low + self.high) / 2,
        }[self.dist]()

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Lead times from uniforms (inverse CDF), so the same uniforms give the same luck."""
        if self.dist == "fixed":
            return np.full(u.shape, self.value, dtype=np.int64)
        if self.dist == "uniform":
            return self.low + np.minimum(
                (u * (self.high - self.low + 1)).astype(np.int64), self.high - self.low
            )
        return table_ppf(stats.poisson(self.mean), u)


_PARAMS = {
    "sS": {"s", "S"},
    "sQ": {"s", "Q"},
    "base_stock": {"level"},
    "forecast": {"k"},
    "none": set(),
}
_FORECAST_ONLY = {"window", "safety_basis", "initial_forecast"}


class PolicySpec(StrictModel):
    """A replenishment rule for the SKUs / locations it selects (None selects all).

    The most specific matching rule wins (sku > klass > location; later rules win ties).
    ``sS``: order ``S - IP`` when ``IP <= s``. ``sQ``: order the smallest multiple of ``Q`` that
    lifts ``IP`` above ``s``. ``base_stock``: order up to ``level`` at every review.
    ``forecast``: order up to ``mu (L + R) + safety`` where ``mu`` is the moving-average daily
    demand over ``window`` days and ``safety = k mu (L + R)`` (``safety_basis: forecast``, the
    uplift action plan's "1.5 x sales" is ``k: 1.5``) or ``k sigma sqrt(L + R)``
    (``safety_basis: sigma``).
    """

    sku: str | None = None
    klass: Klass | None = Field(None, validation_alias=AliasChoices("klass", "class"))
    location: str | None = None
    type: PolicyType
    s: int | None = None
    S: int | None = None
    Q: int | None = Field(None, ge=1)
    level: NonNegInt | None = None
    k: float | None = Field(None, ge=0)
    window: int = Field(28, ge=1)
    safety_basis: Literal["forecast", "sigma"] = "forecast"
    initial_forecast: float | None = Field(None, ge=0)
    review_period: int = Field(1, ge=1)
    review_offset: NonNegInt = 0
    lead_time: NonNegInt | LeadTimeSpec = 0
    order_cost: float = Field(0.0, ge=0, description="fixed cost per order")
    max_order: int | None = Field(None, ge=1, description="capacity: units per order")
    max_stock: NonNegInt | None = Field(None, description="capacity: inventory position cap")
    source: str = Field("supplier", description="'supplier' or the id of a stock location")
    transfer_cost: float = Field(0.0, ge=0, description="per unit, when source is a location")

    @model_validator(mode="after")
    def _params_match_type(self) -> PolicySpec:
        need = _PARAMS[self.type]
        given = {p for p in ("s", "S", "Q", "level", "k") if getattr(self, p) is not None}
        if missing := need - given:
            raise ValueError(f"{sorted(missing)[0]}: required for a {self.type} policy")
        if extra := given - need:
            uses = ", ".join(sorted(need)) or "no parameters"
            raise ValueError(
                f"{sorted(extra)[0]}: not a parameter of a {self.type} policy "
                f"({self.type} uses {uses})"
            )
        # Reject only values that differ from the default: a model_dump() -> model_validate()
        # round trip (sim.scenario.apply_overrides) writes every field back, defaults included.
        if self.type != "forecast" and (bad := non_default(self, _FORECAST_ONLY)):
            raise ValueError(f"{bad[0]}: only used by forecast policies")
        if self.type == "sS" and self.s >= self.S:
            raise ValueError(f"s: must be < S, got s={self.s}, S={self.S}")
        if self.review_offset >= self.review_period:
            raise ValueError("review_offset: must be < review_period")
        return self

    @property
    def lead(self) -> LeadTimeSpec:
        lt = self.lead_time
        return lt if isinstance(lt, LeadTimeSpec) else LeadTimeSpec(value=lt)

    def specificity(self, sku: SkuSpec, location: str) -> int:
        """-1 when the rule does not apply, else a score: higher = more specific."""
        if (
            self.sku not in (None, sku.id)
            or self.klass not in (None, sku.klass)
            or self.location not in (None, location)
        ):
            return -1
        return (
            4 * (self.sku is not None) + 2 * (self.klass is not None) + (self.location is not None)
        )


class LocationSpec(StrictModel):
    """A stock location: central warehouse, channel sub-stock or regional warehouse."""

    id: str = Field(min_length=1)
    kind: LocationKind = "central"
    serves: list[str] | None = Field(None, description="channel ids; None = every channel")
    delivery_days: float = Field(2.0, ge=0)
    reserve: dict[str, Fraction] = Field(
        default_factory=dict, description="channel -> fraction of stock reserved for it"
    )
    reserve_classes: list[Klass] = Field(default_factory=lambda: ["hot"])
    initial: NonNegInt | dict[str, NonNegInt] | Literal["target"] = Field(
        "target", description="units per SKU; 'target' = the policy's order-up-to level"
    )

    @field_validator("reserve")
    @classmethod
    def _reserve_at_most_one(cls, v: dict[str, float]) -> dict[str, float]:
        if sum(v.values()) > 1 + TOL:
            raise ValueError(f"fractions must sum to at most 1, got {sum(v.values()):.4g}")
        return v


class TransferSpec(StrictModel):
    """A rebalancing route, checked at the end of each review day.

    When the target's inventory position covers fewer than ``min_cover_days`` of its forecast
    demand, ship up to ``target_cover_days`` of cover from the source's stock above
    ``keep_cover_days`` of its own demand.
    """

    source: str
    target: str
    skus: list[str] | None = None
    lead_time: int = Field(1, ge=1)
    cost_per_unit: float = Field(0.0, ge=0)
    fixed_cost: float = Field(0.0, ge=0)
    min_cover_days: float = Field(gt=0)
    target_cover_days: float = Field(gt=0)
    keep_cover_days: float = Field(0.0, ge=0)
    window: int = Field(28, ge=1)
    review_period: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _sane(self) -> TransferSpec:
        if self.source == self.target:
            raise ValueError("target: must differ from source")
        if self.target_cover_days < self.min_cover_days:
            raise ValueError("target_cover_days: must be >= min_cover_days")
        return self


class ClearanceSpec(StrictModel):
    """Clear slow movers: after ``after_days`` consecutive days with more than
    ``cover_limit_days`` of cover (all locations' stock / forecast daily demand), the SKU gets a
    discount (or a bundle with a hot SKU) on ``channels`` until cover falls back under the limit.
    """

    classes: list[Klass] = Field(default_factory=lambda: ["slow"])
    skus: list[str] | None = Field(None, description="overrides classes")
    cover_limit_days: float = Field(gt=0)
    after_days: int = Field(ge=1)
    discount: float = Field(gt=0, lt=1, description="fraction off the price")
    channels: list[str] | None = Field(None, description="None = every channel")
    mode: Literal["discount", "bundle"] = "discount"
    bundle_with: str | None = None
    window: int = Field(28, ge=1)

    @model_validator(mode="after")
    def _bundle_partner(self) -> ClearanceSpec:
        if (self.mode == "bundle") != (self.bundle_with is not None):
            raise ValueError("bundle_with: required with mode bundle, and only then")
        return self


class CostSpec(StrictModel):
    """Inventory cost rates (one currency unit)."""

    holding: float = Field(0.0, ge=0, description="per unit-day, times the SKU's volume")
    backorder: float = Field(0.0, ge=0, description="penalty per backordered unit-day")
    lost_sale: float | None = Field(None, ge=0, description="per lost unit; None = margin")


class StockoutSpec(StrictModel):
    """What a customer does when the order cannot be served from stock."""

    lose: Fraction = 0.0
    switch: Fraction = 0.0
    backorder: Fraction = 0.0

    @model_validator(mode="after")
    def _sums_to_one(self) -> StockoutSpec:
        total = self.lose + self.switch + self.backorder
        if abs(total - 1) > TOL:
            raise ValueError(f"lose + switch + backorder must sum to 1, got {total:.4g}")
        return self


class SkuDemandSpec(StrictModel):
    """Exogenous i.i.d. daily demand of one SKU (verification mode)."""

    distribution: Literal["poisson", "negbin", "normal"] | None = None
    mean: float | None = Field(None, ge=0)
    dispersion: float | None = Field(None, gt=0, description="negbin size r: var = m + m^2/r")
    sd: float | None = Field(None, ge=0, description="normal: rounded, floored at 0")


class DemandSpec(SkuDemandSpec):
    """Where demand comes from: the customer model, or exogenous i.i.d. draws per SKU."""

    mode: Literal["customers", "exogenous"] = "customers"
    distribution: Literal["poisson", "negbin", "normal"] | None = "poisson"
    backorders: bool = Field(True, description="exogenous: backorder unmet demand, else lose")
    location: str | None = Field(None, description="where exogenous demand hits")
    skus: dict[str, SkuDemandSpec] = Field(default_factory=dict, description="per-SKU overrides")

    @model_validator(mode="after")
    def _mode_fields(self) -> DemandSpec:
        exo_only = {"mean", "dispersion", "sd", "backorders", "location", "skus"}
        if self.mode == "customers" and (bad := non_default(self, exo_only)):
            raise ValueError(f"{bad[0]}: only used with mode: exogenous")
        return self

    def resolve(self, sku: str) -> SkuDemandSpec:
        over = self.skus.get(sku, SkuDemandSpec())
        merged = {
            f: getattr(over, f) if getattr(over, f) is not None else getattr(self, f)
            for f in ("distribution", "mean", "dispersion", "sd")
        }
        return SkuDemandSpec(**merged)
