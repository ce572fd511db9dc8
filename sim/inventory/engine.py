"""Inventory and fulfilment: SKUs, stock locations, replenishment policies, stockouts, costs.

The scenario's ``inventory:`` section is validated by :class:`InventorySpec`; the day loop drives an
:class:`Inventory` engine whose state is arrays over SKUs x locations (no Python object per order).

Timing convention (the standard periodic-review textbook one, identical to the exact formulas in
:mod:`sim.inventory.theory`, so simulated long-run costs can be compared with published results).
Each day ``d``:

1. ``begin_day(d)``: replenishment orders and transfers due on ``d`` arrive; arrivals fill the
   location's backorders first. Then the review: every (SKU, location) whose review period falls
   on ``d`` looks at its inventory position ``IP = on_hand - backorders + on_order`` and orders
   (an order placed on ``d`` with lead time ``L`` arrives at the start of ``d + L``; ``L = 0``
   arrives at once, before demand). Stock reservations for core channels are set.
2. ``fulfil(...)`` (customer mode, any number of calls) or the exogenous demand: served from
   on-hand stock; what cannot be served is lost, switched or backordered.
3. ``end_day(d)``: rebalancing transfers are shipped, then costs are charged on the end-of-day
   state: holding per unit on hand (x volume), backorder penalty per unit backordered, lost margin
   per lost unit; ordering / purchase / transfer costs were charged when the order was placed.

Continuous review is daily review (``review_period: 1``): within a day the engine cannot react
faster than the next morning, which is the discrete-time version of continuous review.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from scipy import special, stats

__all__ = [
    "BACKORDER",
    "LOST",
    "OUTCOMES",
    "SERVED",
    "SWITCH",
    "ClearanceSpec",
    "CostSpec",
    "DemandSpec",
    "FulfilResult",
    "Inventory",
    "InventorySpec",
    "LeadTimeSpec",
    "LocationSpec",
    "PolicySpec",
    "SkuDemandSpec",
    "SkuSpec",
    "StockoutSpec",
    "TransferSpec",
    "backorders",
    "days_of_supply",
    "delivery_days",
    "fill_rate",
    "holding_cost",
    "inventory_kpis",
    "inventory_turnover",
    "lost_sales",
    "run_exogenous",
    "simulate_exogenous",
    "stockout_rate",
]

Klass = Literal["hot", "regular", "slow"]
LocationKind = Literal["central", "channel", "regional"]
PolicyType = Literal["sS", "sQ", "base_stock", "forecast", "none"]
NonNegInt = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]

#: Outcome codes returned by :meth:`Inventory.fulfil` (index into :data:`OUTCOMES`).
SERVED, LOST, SWITCH, BACKORDER = 0, 1, 2, 3
OUTCOMES = ("served", "lost", "switch", "backorder")
EXOGENOUS_CHANNEL = "exogenous"
_TOL = 1e-6


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _non_default(model: BaseModel, names: set[str]) -> list[str]:
    """The fields among ``names`` set to something other than their default (sorted)."""
    fields = type(model).model_fields
    return sorted(
        n
        for n in names & model.model_fields_set
        if getattr(model, n) != fields[n].get_default(call_default_factory=True)
    )


class SkuSpec(_Model):
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


class LeadTimeSpec(_Model):
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
        return _table_ppf(stats.poisson(self.mean), u)


_PARAMS = {
    "sS": {"s", "S"},
    "sQ": {"s", "Q"},
    "base_stock": {"level"},
    "forecast": {"k"},
    "none": set(),
}
_FORECAST_ONLY = {"window", "safety_basis", "initial_forecast"}


class PolicySpec(_Model):
    """A replenishment rule for the SKUs / locations it selects (None selects all).

    The most specific matching rule wins (sku > klass > location; later rules win ties).
    ``sS``: order ``S - IP`` when ``IP <= s``. ``sQ``: order the smallest multiple of ``Q`` that
    lifts ``IP`` above ``s``. ``base_stock``: order up to ``level`` at every review.
    ``forecast``: order up to ``mu (L + R) + safety`` where ``mu`` is the moving-average daily
    demand over ``window`` days and ``safety = k mu (L + R)`` (``safety_basis: forecast``, the
    seed's "1.5 x sales" is ``k: 1.5``) or ``k sigma sqrt(L + R)`` (``safety_basis: sigma``).
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
        if self.type != "forecast" and (bad := _non_default(self, _FORECAST_ONLY)):
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


class LocationSpec(_Model):
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
        if sum(v.values()) > 1 + _TOL:
            raise ValueError(f"fractions must sum to at most 1, got {sum(v.values()):.4g}")
        return v


class TransferSpec(_Model):
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


class ClearanceSpec(_Model):
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


class CostSpec(_Model):
    """Inventory cost rates (one currency unit)."""

    holding: float = Field(0.0, ge=0, description="per unit-day, times the SKU's volume")
    backorder: float = Field(0.0, ge=0, description="penalty per backordered unit-day")
    lost_sale: float | None = Field(None, ge=0, description="per lost unit; None = margin")


class StockoutSpec(_Model):
    """What a customer does when the order cannot be served from stock."""

    lose: Fraction = 0.0
    switch: Fraction = 0.0
    backorder: Fraction = 0.0

    @model_validator(mode="after")
    def _sums_to_one(self) -> StockoutSpec:
        total = self.lose + self.switch + self.backorder
        if abs(total - 1) > _TOL:
            raise ValueError(f"lose + switch + backorder must sum to 1, got {total:.4g}")
        return self


class SkuDemandSpec(_Model):
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
        if self.mode == "customers" and (bad := _non_default(self, exo_only)):
            raise ValueError(f"{bad[0]}: only used with mode: exogenous")
        return self

    def resolve(self, sku: str) -> SkuDemandSpec:
        over = self.skus.get(sku, SkuDemandSpec())
        merged = {
            f: getattr(over, f) if getattr(over, f) is not None else getattr(self, f)
            for f in ("distribution", "mean", "dispersion", "sd")
        }
        return SkuDemandSpec(**merged)


def _default_locations() -> list[LocationSpec]:
    return [LocationSpec(id="central")]


def _data(info: ValidationInfo, key: str) -> Any:
    """A previously validated sibling field (absent when that field itself failed)."""
    return info.data.get(key)


class InventorySpec(_Model):
    """The scenario's ``inventory:`` section."""

    skus: list[SkuSpec] = Field(min_length=1)
    locations: list[LocationSpec] = Field(default_factory=_default_locations, min_length=1)
    policies: list[PolicySpec] = Field(default_factory=list)
    transfers: list[TransferSpec] = Field(default_factory=list)
    clearance: list[ClearanceSpec] = Field(default_factory=list)
    costs: CostSpec = Field(default_factory=CostSpec)
    stockout: dict[str, StockoutSpec] = Field(default_factory=dict, description="per channel")
    default_stockout: StockoutSpec = Field(default_factory=lambda: StockoutSpec(lose=1.0))
    demand: DemandSpec = Field(default_factory=DemandSpec)

    @field_validator("skus")
    @classmethod
    def _skus_ok(cls, skus: list[SkuSpec]) -> list[SkuSpec]:
        _unique([s.id for s in skus], "skus")
        _check_shares(skus)
        return skus

    @field_validator("locations")
    @classmethod
    def _locations_ok(cls, locs: list[LocationSpec], info: ValidationInfo) -> list[LocationSpec]:
        _unique([loc.id for loc in locs], "locations")
        sku_ids = {s.id for s in _data(info, "skus") or []}
        for i, loc in enumerate(locs):
            if loc.id in sku_ids:
                raise ValueError(
                    f"[{i}].id: '{loc.id}' is also a SKU id; KPI names need distinct ids"
                )
            if isinstance(loc.initial, dict):
                _known(loc.initial, sku_ids, f"[{i}].initial", "SKU")
        return locs

    @field_validator("policies")
    @classmethod
    def _policies_ok(cls, pols: list[PolicySpec], info: ValidationInfo) -> list[PolicySpec]:
        sku_ids = {s.id for s in _data(info, "skus") or []}
        loc_ids = {loc.id for loc in _data(info, "locations") or []}
        for i, p in enumerate(pols):
            if sku_ids and p.sku is not None:
                _known([p.sku], sku_ids, f"[{i}].sku", "SKU")
            if loc_ids and p.location is not None:
                _known([p.location], loc_ids, f"[{i}].location", "location")
            if p.source != "supplier":
                if loc_ids:
                    _known([p.source], loc_ids | {"supplier"}, f"[{i}].source", "location")
                if p.location is None or p.location == p.source:
                    raise ValueError(
                        f"[{i}].source: a rule sourcing from '{p.source}' must "
                        "name another location in `location`"
                    )
        _acyclic(pols)
        return pols

    @field_validator("transfers")
    @classmethod
    def _transfers_ok(cls, trs: list[TransferSpec], info: ValidationInfo) -> list[TransferSpec]:
        sku_ids = {s.id for s in _data(info, "skus") or []}
        loc_ids = {loc.id for loc in _data(info, "locations") or []}
        for i, t in enumerate(trs):
            _known([t.source], loc_ids, f"[{i}].source", "location")
            _known([t.target], loc_ids, f"[{i}].target", "location")
            _known(t.skus or [], sku_ids, f"[{i}].skus", "SKU")
        return trs

    @field_validator("clearance")
    @classmethod
    def _clearance_ok(cls, rules: list[ClearanceSpec], info: ValidationInfo) -> list[ClearanceSpec]:
        sku_ids = {s.id for s in _data(info, "skus") or []}
        for i, r in enumerate(rules):
            _known(r.skus or [], sku_ids, f"[{i}].skus", "SKU")
            _known([r.bundle_with] if r.bundle_with else [], sku_ids, f"[{i}].bundle_with", "SKU")
        return rules

    @field_validator("demand")
    @classmethod
    def _demand_ok(cls, dem: DemandSpec, info: ValidationInfo) -> DemandSpec:
        skus = _data(info, "skus") or []
        loc_ids = {loc.id for loc in _data(info, "locations") or []}
        if dem.location is not None:
            _known([dem.location], loc_ids, "location", "location")
        _known(dem.skus, {s.id for s in skus}, "skus", "SKU")
        if dem.mode == "exogenous":
            for s in skus:
                _check_exogenous(dem.resolve(s.id), s.id)
        return dem

    # ---- cross-section helpers -------------------------------------------------------------
    def referenced_channels(self) -> list[str]:
        """Every channel id the section names (to cross-check with the scenario's channels)."""
        names: set[str] = set(self.stockout)
        for s in self.skus:
            names.update(s.channels or [])
        for loc in self.locations:
            names.update(loc.serves or [])
            names.update(loc.reserve)
        for r in self.clearance:
            names.update(r.channels or [])
        return sorted(names)

    def check_channels(self, channel_ids: Sequence[str]) -> list[str]:
        """Problems (by path inside the section) with the channel ids this section names."""
        known, out = set(channel_ids), []

        def check(names: Sequence[str] | None, path: str) -> None:
            out.extend(
                f"{path}: unknown channel '{n}' (known: {', '.join(channel_ids)})"
                for n in names or []
                if n not in known
            )

        for i, s in enumerate(self.skus):
            check(s.channels, f"skus[{i}].channels")
        for i, loc in enumerate(self.locations):
            check(loc.serves, f"locations[{i}].serves")
            check(list(loc.reserve), f"locations[{i}].reserve")
        for i, r in enumerate(self.clearance):
            check(r.channels, f"clearance[{i}].channels")
        check(list(self.stockout), "stockout")
        served = {
            c for loc in self.locations for c in (channel_ids if loc.serves is None else loc.serves)
        }
        out.extend(
            f"locations: no location serves channel '{c}'" for c in channel_ids if c not in served
        )
        return out

    def policy_for(self, sku: SkuSpec, location: str) -> PolicySpec | None:
        """The rule that applies to (sku, location): most specific, later wins ties."""
        best, score = None, -1
        for p in self.policies:
            sc = p.specificity(sku, location)
            if sc >= score and sc >= 0:
                best, score = p, sc
        return best


def _unique(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            raise ValueError(f"[{i}].id: duplicate {what[:-1]} id '{x}'")
        seen.add(x)


def _known(names: Any, known: set[str], path: str, what: str) -> None:
    for n in names:
        if n not in known:
            raise ValueError(f"{path}: unknown {what} '{n}' (known: {', '.join(sorted(known))})")


def _check_shares(skus: list[SkuSpec]) -> None:
    given = [s.demand_share is not None for s in skus]
    if not any(given):
        return
    if not all(given):
        i = given.index(False)
        raise ValueError(
            f"[{i}].demand_share: give demand_share for every SKU or for none (none = equal shares)"
        )
    segments = sorted({g for s in skus if isinstance(s.demand_share, dict) for g in s.demand_share})
    for seg in segments or [None]:
        total = sum(
            s.share(seg) if isinstance(s.demand_share, dict) else s.share(None) for s in skus
        )
        if abs(total - 1) > _TOL:
            where = f" for segment '{seg}'" if seg else ""
            raise ValueError(
                f"demand_share: shares must sum to 1 across SKUs{where}, got {total:.4g}"
            )


def _check_exogenous(d: SkuDemandSpec, sku: str) -> None:
    need = {"poisson": ["mean"], "negbin": ["mean", "dispersion"], "normal": ["mean", "sd"]}[
        d.distribution or "poisson"
    ]
    for f in need:
        if getattr(d, f) is None:
            raise ValueError(
                f"{f}: required for {d.distribution} demand of SKU '{sku}' "
                "(give it at demand level or under demand.skus)"
            )


def _acyclic(pols: list[PolicySpec]) -> None:
    edges = {(p.location, p.source) for p in pols if p.source != "supplier"}
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    _topo_order(graph)


def _topo_order(graph: dict[str, set[str]]) -> list[str]:
    """Nodes, sinks (those that draw from others) before their sources; raises on cycles."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise ValueError("replenishment sources form a cycle: " + " -> ".join(path + [n]))
        state[n] = 1
        for m in sorted(graph.get(n, ())):
            visit(m, path + [n])
        state[n] = 2
        order.append(n)

    for n in sorted(graph):
        visit(n, [])
    return order[::-1]


# --------------------------------------------------------------------------------------------
# Random helpers
# --------------------------------------------------------------------------------------------
def _table_ppf(dist: Any, u: np.ndarray) -> np.ndarray:
    """Exact inverse CDF of a discrete distribution by table look-up (fast, no scipy ppf)."""
    top = int(dist.ppf(1 - 1e-13)) + 1
    cdf = dist.cdf(np.arange(top + 1))
    return np.minimum(np.searchsorted(cdf, u, side="right"), top).astype(np.int64)


def _demand_ppf(d: SkuDemandSpec, u: np.ndarray) -> np.ndarray:
    if d.mean == 0:
        return np.zeros(u.shape, dtype=np.int64)
    if d.distribution == "normal":
        x = d.mean + d.sd * special.ndtri(np.clip(u, 1e-300, 1 - 1e-16))
        return np.maximum(np.rint(x), 0).astype(np.int64)
    if d.distribution == "negbin":
        r = d.dispersion
        return _table_ppf(stats.nbinom(r, r / (r + d.mean)), u)
    return _table_ppf(stats.poisson(d.mean), u)


def _streams(rng: np.random.Generator) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent child streams (lead times, exogenous demand) so one never shifts the other."""
    try:
        a, b = rng.spawn(2)
    except (TypeError, ValueError, AttributeError):  # a generator without a seed sequence
        a = b = rng
    return a, b


def _group_cumsum(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Inclusive running sum of ``values`` within each key, in the original order."""
    if not len(values):
        return np.zeros(0, dtype=values.dtype)
    order = np.argsort(keys, kind="stable")
    v, k = values[order], keys[order]
    cs = np.cumsum(v)
    start = np.r_[True, k[1:] != k[:-1]]
    base = (cs - v)[start][np.cumsum(start) - 1]
    out = np.empty_like(cs)
    out[order] = cs - base
    return out


# --------------------------------------------------------------------------------------------
# Engine
# --------------------------------------------------------------------------------------------
class FulfilResult(NamedTuple):
    """Per-order answer of :meth:`Inventory.fulfil`, aligned with the orders given."""

    served: np.ndarray  # bool: served in full from stock at once
    location: np.ndarray  # int: serving location index, -1 if not served
    delivery_days: np.ndarray  # float: the serving location's delivery days, NaN if not served
    outcome: np.ndarray  # int8 codes: SERVED, LOST, SWITCH, BACKORDER


#: Daily record fields, per (day, SKU, location). Order matters (array layout).
#: ``demand`` counts orders where served (or, unserved, at the channel's first location);
#: ``requested`` is what forecasts see: orders at the channel's first location plus replenishment
#: requests from the locations this one supplies.
FIELDS = (
    "on_hand",
    "on_order",
    "backorders",
    "demand",
    "requested",
    "served",
    "lost",
    "switched",
    "backordered",
    "shipped",
    "received",
    "orders_placed",
    "ordered_units",
    "transfer_out",
    "demand_orders",
    "served_orders",
    "delivery_days_sum",
    "holding_cost",
    "ordering_cost",
    "transfer_cost",
    "backorder_cost",
    "lost_margin",
    "purchase_cost",
    "inventory_value",
    "cogs",
    "clearance",
)
_F = {f: i for i, f in enumerate(FIELDS)}
_STATE = (_F["on_hand"], _F["on_order"], _F["backorders"])
_NONE, _SS, _SQ, _BASE, _FC = range(5)
_TYPE_CODE = {"none": _NONE, "sS": _SS, "sQ": _SQ, "base_stock": _BASE, "forecast": _FC}
_KIND_RANK = {"channel": 0, "regional": 1, "central": 2}
_BIG = np.int64(1) << 50


class Inventory:
    """Stock of every SKU at every location, replenished by policies, day by day.

    ``Inventory(spec, channel_ids, days, rng)``; then per day ``begin_day(d)``, any number of
    ``fulfil(...)`` calls, ``end_day(d)``. Randomness comes only from ``rng`` (two child streams:
    lead times and exogenous demand), drawn as one fixed-size block per day, whatever the policy
    does, so a plan and its baseline run with the same seed see the same luck.

    ``record=False`` keeps only running totals (long verification runs); ``warmup`` excludes
    the first days from :meth:`totals` / :meth:`costs`. ``crn_columns`` (advanced, used by the
    optimiser) makes SKU ``k`` draw its lead times and demand from column ``crn_columns[k]``,
    so copies of one SKU under different policies see exactly the same luck.
    """

    def __init__(
        self,
        spec: InventorySpec,
        channel_ids: Sequence[str],
        days: int,
        rng: np.random.Generator,
        *,
        record: bool = True,
        warmup: int = 0,
        crn_columns: np.ndarray | None = None,
    ) -> None:
        if days < 1:
            raise ValueError(f"days: must be >= 1, got {days}")
        if problems := spec.check_channels(list(channel_ids)):
            raise ValueError("inventory: " + "; ".join(problems))
        self.spec, self.days, self.warmup, self.record = spec, days, warmup, record
        self.sku_ids = [s.id for s in spec.skus]
        self.location_ids = [loc.id for loc in spec.locations]
        self.channel_ids = list(channel_ids)
        self.n_skus, self.n_locations = len(self.sku_ids), len(self.location_ids)
        self.n_channels = len(self.channel_ids)
        cols = np.arange(self.n_skus) if crn_columns is None else np.asarray(crn_columns)
        if cols.shape != (self.n_skus,):
            raise ValueError("crn_columns: need one column per SKU")
        self._crn = cols
        self._lt_rng, self._dem_rng = _streams(rng)
        self._compile_skus()
        self._compile_locations()
        self._compile_policies()
        self._compile_channels()
        self._compile_clearance()
        self._init_state()

    # ---- compilation ------------------------------------------------------------------------
    def _compile_skus(self) -> None:
        skus, c = self.spec.skus, self.spec.costs
        self.prices = np.array([s.price for s in skus])
        self.unit_costs = np.array([s.unit_cost for s in skus])
        self._h = c.holding * np.array([s.volume for s in skus])[:, None]
        margin = (
            self.prices - self.unit_costs
            if c.lost_sale is None
            else np.full(self.n_skus, c.lost_sale)
        )
        self._margin = margin[:, None]
        self._klass = np.array([s.klass for s in skus])
        dem = self.spec.demand
        self.exogenous = dem.mode == "exogenous"
        loc_ids = self.location_ids
        central = [i for i, loc in enumerate(self.spec.locations) if loc.kind == "central"]
        self._exo_loc = loc_ids.index(dem.location) if dem.location else (central or [0])[0]
        self._exo = [dem.resolve(s.id) for s in skus] if self.exogenous else None
        self._exo_idx = [
            _F[x]
            for x in (
                "demand",
                "demand_orders",
                "served",
                "shipped",
                "served_orders",
                "delivery_days_sum",
                "backordered" if dem.backorders else "lost",
            )
        ]

    def _compile_locations(self) -> None:
        locs = self.spec.locations
        self._dd = np.array([loc.delivery_days for loc in locs])
        kl = np.arange(self.n_skus)[:, None], np.arange(self.n_locations)[None, :]
        self._kk, self._ll = np.broadcast_arrays(*kl)
        srcs: dict[str, set[str]] = {}
        for p in self.spec.policies:
            if p.source != "supplier":
                srcs.setdefault(p.location, set()).add(p.source)
        order = _topo_order(srcs)
        rest = [i for i in range(self.n_locations) if self.location_ids[i] not in order]
        self._loc_order = [self.location_ids.index(x) for x in order] + rest

    def _compile_policies(self) -> None:
        k_n, l_n = self.n_skus, self.n_locations
        self._pol = [
            [self.spec.policy_for(s, loc.id) for loc in self.spec.locations] for s in self.spec.skus
        ]
        z = np.zeros((k_n, l_n))
        self._ptype = np.zeros((k_n, l_n), dtype=np.int8)
        self._s, self._S, self._Q, self._level = (np.zeros((k_n, l_n), np.int64) for _ in "1234")
        self._kf, self._prior, self._K, self._trc, self._ltm = (z.copy() for _ in "12345")
        self._win, self._R, self._off = (np.ones((k_n, l_n), np.int64) for _ in "123")
        self._off[:] = 0
        self._sigma = np.zeros((k_n, l_n), bool)
        self._maxo, self._maxs = np.full((k_n, l_n), _BIG), np.full((k_n, l_n), _BIG)
        self._src = np.full((k_n, l_n), -1, np.int64)
        for k in range(k_n):
            for l_ in range(l_n):
                self._compile_policy(k, l_, self._pol[k][l_])
        self._has_fc = bool((self._ptype == _FC).any())
        self._active = self._ptype != _NONE
        self._types_at = [set(np.unique(self._ptype[:, l_]).tolist()) for l_ in range(l_n)]
        self._has_caps = bool((self._maxo < _BIG).any() or (self._maxs < _BIG).any())
        self._internal_at = (self._src >= 0).any(0)
        self._uc_supplier = np.where(self._src < 0, self.unit_costs[:, None], 0.0)
        self._trc_internal = np.where(self._src >= 0, self._trc, 0.0)
        self._all_daily = bool(((self._R == 1) | (self._ptype == _NONE)).all())

    def _compile_policy(self, k: int, l_: int, p: PolicySpec | None) -> None:
        if p is None:
            return
        self._ptype[k, l_] = _TYPE_CODE[p.type]
        for name, arr in (
            ("s", self._s),
            ("S", self._S),
            ("Q", self._Q),
            ("level", self._level),
            ("k", self._kf),
        ):
            if getattr(p, name) is not None:
                arr[k, l_] = getattr(p, name)
        prior = p.initial_forecast
        if prior is None and self.exogenous and l_ == self._exo_loc:
            prior = self._exo[k].mean
        self._prior[k, l_] = prior or 0.0
        self._win[k, l_], self._sigma[k, l_] = p.window, p.safety_basis == "sigma"
        self._R[k, l_], self._off[k, l_] = p.review_period, p.review_offset
        self._K[k, l_], self._trc[k, l_] = p.order_cost, p.transfer_cost
        self._ltm[k, l_] = p.lead.mean_days()
        if p.max_order is not None:
            self._maxo[k, l_] = p.max_order
        if p.max_stock is not None:
            self._maxs[k, l_] = p.max_stock
        if p.source != "supplier":
            self._src[k, l_] = self.location_ids.index(p.source)

    def _compile_channels(self) -> None:
        spec, c_n = self.spec, self.n_channels
        routes = []
        for c in self.channel_ids:
            ls = [
                i for i, loc in enumerate(spec.locations) if loc.serves is None or c in loc.serves
            ]
            routes.append(sorted(ls, key=lambda i: (_KIND_RANK[spec.locations[i].kind], i)))
        width = max(len(r) for r in routes)
        self._route = np.full((c_n, width), -1, np.int64)
        for c, r in enumerate(routes):
            self._route[c, : len(r)] = r
        self.assortment = np.array(
            [[s.channels is None or c in s.channels for s in spec.skus] for c in self.channel_ids],
            dtype=bool,
        )
        so = [spec.stockout.get(c, spec.default_stockout) for c in self.channel_ids]
        self._so_cum = np.array([[x.lose, x.lose + x.switch] for x in so])
        self._res_frac = np.array(
            [[loc.reserve.get(c, 0.0) for c in self.channel_ids] for loc in spec.locations]
        )
        self._res_mask = np.array(
            [[s.klass in loc.reserve_classes for loc in spec.locations] for s in spec.skus],
            dtype=bool,
        )
        self._has_res = bool((self._res_frac > 0).any() and self._res_mask.any())

    def _compile_clearance(self) -> None:
        rules = self.spec.clearance
        self._clr_sku = np.array(
            [
                [(s.id in r.skus) if r.skus else s.klass in r.classes for s in self.spec.skus]
                for r in rules
            ],
            bool,
        ).reshape(len(rules), self.n_skus)
        self._clr_ch = np.array(
            [[r.channels is None or c in r.channels for c in self.channel_ids] for r in rules], bool
        ).reshape(len(rules), self.n_channels)
        self._clr_count = np.zeros((len(rules), self.n_skus), np.int64)
        self._clr_active = np.zeros((len(rules), self.n_skus), bool)
        self._mult_next = np.ones((self.n_channels, self.n_skus))

    def _init_state(self) -> None:
        k_n, l_n, days = self.n_skus, self.n_locations, self.days
        self._draw_lead_times()
        tr_lt = max((t.lead_time for t in self.spec.transfers), default=0)
        self._pipe = np.zeros((days + max(int(self._lt.max()), tr_lt) + 2, k_n, l_n), np.int64)
        self._on_hand = self._initial_stock()
        self._back = np.zeros((k_n, l_n), np.int64)
        self._on_order = np.zeros((k_n, l_n), np.int64)
        self._resv = np.zeros((k_n, l_n, self.n_channels), np.int64)
        self._resv_tot = np.zeros((k_n, l_n), np.int64)
        self._rec = np.zeros((days if self.record else 1, len(FIELDS), k_n, l_n))
        self._tot = np.zeros((len(FIELDS), k_n, l_n))
        self._mult_hist = np.ones((days, self.n_channels, self.n_skus))
        needs_hist = self._has_fc or self.spec.transfers or self.spec.clearance
        self._cum = np.zeros((days + 1, 2, k_n, l_n)) if needs_hist else None
        self._signal = np.zeros((k_n, l_n))  # demand seen by forecasts, see _record_orders
        self._next_day, self._open = 0, False

    def _draw_lead_times(self) -> None:
        # One (SKU column x location) block of uniforms per day, used or not (CRN).
        cols = int(self._crn.max()) + 1
        u = self._lt_rng.random((self.days, cols, self.n_locations))[:, self._crn, :]
        self._lt = np.zeros(u.shape, np.int64)
        for k in range(self.n_skus):
            for l_ in range(self.n_locations):
                if (p := self._pol[k][l_]) is not None and p.type != "none":
                    self._lt[:, k, l_] = p.lead.ppf(u[:, k, l_])

    def _initial_stock(self) -> np.ndarray:
        target = self._order_up_to(self._prior, self._prior)
        out = np.zeros((self.n_skus, self.n_locations), np.int64)
        for l_, loc in enumerate(self.spec.locations):
            for k, sku in enumerate(self.spec.skus):
                init = loc.initial
                if isinstance(init, dict):
                    init = init.get(sku.id, "target")
                out[k, l_] = target[k, l_] if init == "target" else init
        return out

    def _order_up_to(self, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
        """The level each policy orders up to (for sS / sQ the level after a typical order)."""
        horizon = self._ltm + self._R
        safety = np.where(self._sigma, self._kf * np.sqrt(var * horizon), self._kf * mu * horizon)
        fc = np.ceil(mu * horizon + safety - 1e-9).astype(np.int64)
        return np.select(
            [self._ptype == _SS, self._ptype == _SQ, self._ptype == _BASE, self._ptype == _FC],
            [self._S, self._s + self._Q, self._level, fc],
            0,
        )

    # ---- the day ----------------------------------------------------------------------------
    def begin_day(self, day: int) -> None:
        """Receive today's arrivals, review and order (textbook timing), set reservations."""
        if self._open or day != self._next_day:
            raise RuntimeError(
                f"begin_day({day}): expected begin_day({self._next_day})"
                + (" after end_day" if self._open else "")
            )
        self._open, self._day = True, day
        self._row = self._rec[day if self.record else 0]
        if not self.record:
            self._row[:] = 0
        self._signal[:] = 0
        if self._internal_at.any():  # sub-stocks draw on their source's fresh arrivals
            self._receive(day)
        self._review(day)
        self._receive(day)  # arrivals (zero lead time included) before demand; IP is unchanged
        if self._has_res:
            self._set_reservations()
        self._mult_hist[day] = self._mult_next
        self._row[_F["clearance"]] = self._clr_active.any(0)[:, None]

    def end_day(self, day: int) -> None:
        """Ship rebalancing transfers, record the end-of-day state (costs on it: see _derive)."""
        if not self._open or day != self._day:
            raise RuntimeError(f"end_day({day}): day {day} was not begun")
        row, f = self._row, _F
        row[f["requested"]] = self._signal
        if self._cum is not None:
            x = self._signal
            self._cum[day + 1] = self._cum[day] + np.stack((x, x * x))
        for t in self.spec.transfers:
            if day % t.review_period == 0:
                self._rebalance(day, t)
        row[list(_STATE)] = self._on_hand, self._on_order, self._back
        if self.spec.clearance:
            self._update_clearance(day)
        if day >= self.warmup:
            self._tot += row
        self._next_day, self._open = day + 1, False

    def _receive(self, day: int) -> None:
        arr = self._pipe[day]
        if not arr.any():
            return
        self._on_hand += arr
        self._on_order -= arr
        self._row[_F["received"]] += arr
        arr[:] = 0
        fill = np.minimum(self._on_hand, self._back)
        if fill.any():
            self._on_hand -= fill
            self._back -= fill
            self._row[_F["shipped"]] += fill

    def _review(self, day: int) -> None:
        due = self._active
        if not self._all_daily:
            due = due & ((day - self._off) % self._R == 0)
        if not due.any():
            return
        target = None
        if self._has_fc:
            target = self._order_up_to(*self._forecast(day, self._win, self._prior))
        for l_ in self._loc_order:
            if due[:, l_].any():
                self._place(day, l_, self._order_qty(l_, due[:, l_], target))
        q = self._row[_F["ordered_units"]]
        if q.any():  # one order at most per (SKU, location) and review
            placed = q > 0
            self._row[_F["orders_placed"]] = placed
            self._row[_F["ordering_cost"]] = placed * self._K
            self._row[_F["purchase_cost"]] = q * self._uc_supplier
            self._row[_F["transfer_cost"]] += q * self._trc_internal

    def _order_qty(self, l_: int, due: np.ndarray, target: np.ndarray | None) -> np.ndarray:
        ip = self._on_hand[:, l_] - self._back[:, l_] + self._on_order[:, l_]
        t, s, types = self._ptype[:, l_], self._s[:, l_], self._types_at[l_]
        q = np.zeros_like(ip)
        if _SS in types:
            q += np.where((ip <= s) & (t == _SS), self._S[:, l_] - ip, 0)
        if _SQ in types:
            n = (s - ip) // np.maximum(self._Q[:, l_], 1) + 1
            q += np.where((ip <= s) & (t == _SQ), n * self._Q[:, l_], 0)
        if _BASE in types:
            q += np.where(t == _BASE, self._level[:, l_] - ip, 0)
        if _FC in types:
            q += np.where(t == _FC, target[:, l_] - ip, 0)
        if self._has_caps:
            q = np.minimum(np.minimum(q, self._maxo[:, l_]), self._maxs[:, l_] - ip)
        if not self._all_daily:
            q = np.where(due, q, 0)
        return np.maximum(q, 0)

    def _place(self, day: int, l_: int, q: np.ndarray) -> None:
        src = self._src[:, l_]
        if self._internal_at[l_]:
            ks = np.flatnonzero((src >= 0) & (q > 0))
            self._signal[ks, src[ks]] += q[ks]  # downstream requests
            q[ks] = np.minimum(q[ks], self._on_hand[ks, src[ks]])
            self._on_hand[ks, src[ks]] -= q[ks]
            self._row[_F["transfer_out"], ks, src[ks]] += q[ks]
        ks = np.flatnonzero(q)
        if len(ks):
            self._pipe[day + self._lt[day, ks, l_], ks, l_] += q[ks]
            self._on_order[:, l_] += q
            self._row[_F["ordered_units"], :, l_] = q

    def _forecast(
        self, day: int, window: np.ndarray, prior: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Moving-average daily demand (and variance) per (SKU, location) over ``window`` days.

        Missing history (the first days) is filled with ``prior`` as pseudo-observations
        (Poisson-like: variance = mean), or, without a prior, averaged over the days seen.
        """
        n = np.minimum(day, window)
        s1, s2 = self._cum[day] - self._cum[day - n, :, self._kk, self._ll].transpose(2, 0, 1)
        if prior is None:
            mu = s1 / np.maximum(n, 1)
            return mu, np.maximum(s2 / np.maximum(n, 1) - mu**2, 0)
        gap = window - n
        mu = (s1 + prior * gap) / window
        var = np.maximum((s2 + (prior + prior**2) * gap) / window - mu**2, 0)
        return mu, var

    def _set_reservations(self) -> None:
        self._resv = (
            np.floor(self._on_hand[:, :, None] * self._res_frac[None, :, :]).astype(np.int64)
            * self._res_mask[:, :, None]
        )
        self._resv_tot = self._resv.sum(2)

    def _rebalance(self, day: int, t: TransferSpec) -> None:
        a, b = self.location_ids.index(t.source), self.location_ids.index(t.target)
        win = np.full((self.n_skus, self.n_locations), t.window)
        mu, _ = self._forecast(day + 1, win)
        ip_b = self._on_hand[:, b] - self._back[:, b] + self._on_order[:, b]
        ok = np.array([t.skus is None or s in t.skus for s in self.sku_ids])
        need = ok & (mu[:, b] > 0) & (ip_b < t.min_cover_days * mu[:, b])
        want = np.ceil(t.target_cover_days * mu[:, b] - ip_b).astype(np.int64)
        spare = self._on_hand[:, a] - np.ceil(t.keep_cover_days * mu[:, a]).astype(np.int64)
        qty = np.where(need, np.clip(np.minimum(want, spare), 0, None), 0)
        if not qty.any():
            return
        self._on_hand[:, a] -= qty
        self._pipe[day + t.lead_time, :, b] += qty
        self._on_order[:, b] += qty
        self._row[_F["transfer_out"], :, a] += qty
        self._row[_F["transfer_cost"], :, b] += qty * t.cost_per_unit + (qty > 0) * t.fixed_cost

    def _update_clearance(self, day: int) -> None:
        stock = self._on_hand.sum(1)
        for r, rule in enumerate(self.spec.clearance):
            win = np.full((self.n_skus, self.n_locations), rule.window)
            mu = self._forecast(day + 1, win)[0].sum(1)
            cover = np.where(
                mu > 0, stock / np.where(mu > 0, mu, 1), np.where(stock > 0, np.inf, 0.0)
            )
            over = self._clr_sku[r] & (cover > rule.cover_limit_days)
            self._clr_count[r] = np.where(over, self._clr_count[r] + 1, 0)
            self._clr_active[r] = self._clr_count[r] >= rule.after_days
        mult = np.ones((self.n_channels, self.n_skus))
        for r, rule in enumerate(self.spec.clearance):
            mult[np.ix_(self._clr_ch[r], self._clr_active[r])] *= 1 - rule.discount
        self._mult_next = mult

    # ---- fulfilment -------------------------------------------------------------------------
    def fulfil(
        self, channel: np.ndarray, sku: np.ndarray, units: np.ndarray, u: np.ndarray
    ) -> FulfilResult:
        """Serve orders in the given (already random) order, each in full from one location.

        An order goes to the first location serving its channel (channel sub-stock, then
        regional, then central) that can cover it: its free stock plus the channel's own
        reservation. It is never split across locations and stock never goes negative. An
        unserved order is lost / switched / backordered by ``u`` against the channel's stockout
        probabilities; a backordered order takes what its first location can give now and
        waits for the rest (its units count as not served at once).
        """
        if not self._open:
            raise RuntimeError("fulfil: call begin_day first")
        ch, sk, q, u = self._check_orders(channel, sku, units, u)
        n = len(q)
        unserved = np.where(
            u < self._so_cum[ch, 0], LOST, np.where(u < self._so_cum[ch, 1], SWITCH, BACKORDER)
        ).astype(np.int8)
        served = np.zeros(n, bool)
        loc = np.full(n, -1, np.int64)
        committed = np.zeros(n, np.int64)
        i = 0
        while i < n:
            i = self._fulfil_pass(i, ch, sk, q, unserved, served, loc, committed)
        self._record_orders(ch, sk, q, unserved, served, loc, committed)
        outcome = np.where(served, SERVED, unserved).astype(np.int8)
        dd = np.where(served, self._dd[np.maximum(loc, 0)], np.nan)
        return FulfilResult(served, loc, dd, outcome)

    def _check_orders(self, channel: Any, sku: Any, units: Any, u: Any) -> tuple[np.ndarray, ...]:
        ch, sk = np.asarray(channel, np.int64), np.asarray(sku, np.int64)
        q, u = np.asarray(units, np.int64), np.asarray(u, float)
        if not (ch.shape == sk.shape == q.shape == u.shape) or ch.ndim != 1:
            raise ValueError("fulfil: channel, sku, units and u must be 1-d arrays of one length")
        if len(q) and (
            q.min() < 1
            or ch.min() < 0
            or ch.max() >= self.n_channels
            or sk.min() < 0
            or sk.max() >= self.n_skus
        ):
            raise ValueError("fulfil: units must be >= 1 and channel / sku valid indices")
        if len(q) and not (ok := self.assortment[ch, sk]).all():
            i = int(np.argmin(ok))
            raise ValueError(
                f"fulfil: channel '{self.channel_ids[ch[i]]}' does not list SKU "
                f"'{self.sku_ids[sk[i]]}'"
            )
        return ch, sk, q, u

    def _avail(self, ch: np.ndarray, sk: np.ndarray) -> np.ndarray:
        """Units each order's channel may take at each of its route's locations (-1 = none)."""
        r = self._route[ch]
        rl = np.maximum(r, 0)
        av = self._on_hand[sk[:, None], rl]
        if self._has_res:
            av = av - self._resv_tot[sk[:, None], rl] + self._resv[sk[:, None], rl, ch[:, None]]
        return np.where(r >= 0, av, -1)

    def _fulfil_pass(
        self,
        i0: int,
        ch: np.ndarray,
        sk: np.ndarray,
        q: np.ndarray,
        unserved: np.ndarray,
        served: np.ndarray,
        loc: np.ndarray,
        committed: np.ndarray,
    ) -> int:
        """Resolve the pending orders ``i0..`` up to the first one whose fate depends on stock
        taken earlier in this pass; return where the next pass starts.

        Stock available to a channel only falls during a day, so an order that fits nowhere now
        fits nowhere later (rejected at once), and orders that fit are committed in sequence
        until the first conflict. Each pass settles at least one order.
        """
        c, k, qq = ch[i0:], sk[i0:], q[i0:]
        av = self._avail(c, k)
        fits = av >= qq[:, None]
        has = fits.any(1)
        tl = self._route[c, fits.argmax(1)]
        blocking = ~has & (unserved[i0:] == BACKORDER) & (av[:, 0] > 0)
        t_block = int(np.argmax(blocking)) if blocking.any() else len(qq)
        pos = np.flatnonzero(has)
        j = self._first_conflict(c[pos], k[pos], qq[pos], tl[pos])
        stop = min(t_block, int(pos[j]) if j < len(pos) else len(qq))
        if stop == 0 and t_block != 0:  # cannot happen: the first fitting order always fits
            raise RuntimeError("fulfil: allocation made no progress (internal error)")
        ok = pos[pos < stop]
        self._take(c[ok], k[ok], tl[ok], qq[ok])
        served[i0 + ok], loc[i0 + ok] = True, tl[ok]
        if stop == t_block and stop < len(qq):  # a backorder takes what its location has left
            one = slice(stop, stop + 1)
            give = np.maximum(self._avail(c[one], k[one])[:, 0], 0)
            self._take(c[one], k[one], self._route[c[one], 0], give)
            committed[i0 + stop] = give[0]
            return i0 + stop + 1
        return i0 + stop

    def _own_take(self, c: np.ndarray, k: np.ndarray, l_: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Units each order takes from its channel's own reservation (taken first)."""
        own = self._resv[k, l_, c]
        a = _group_cumsum(q, (k * self.n_locations + l_) * self.n_channels + c)
        return np.minimum(a, own) - np.minimum(a - q, own)

    def _first_conflict(self, c: np.ndarray, k: np.ndarray, q: np.ndarray, l_: np.ndarray) -> int:
        key = k * self.n_locations + l_
        free = self._on_hand[k, l_]
        draw = q
        if self._has_res:
            draw = q - self._own_take(c, k, l_, q)  # what spills into the shared pool
            free = free - self._resv_tot[k, l_]
        bad = _group_cumsum(draw, key) > free
        return int(np.argmax(bad)) if bad.any() else len(q)

    def _take(self, c: np.ndarray, k: np.ndarray, l_: np.ndarray, q: np.ndarray) -> None:
        if not len(q):
            return
        size = self.n_skus * self.n_locations
        used = np.bincount(k * self.n_locations + l_, weights=q, minlength=size)
        if self._has_res:
            own = self._own_take(c, k, l_, q)
            key = (k * self.n_locations + l_) * self.n_channels + c
            took = np.bincount(key, weights=own, minlength=size * self.n_channels)
            self._resv -= took.reshape(self._resv.shape).astype(np.int64)
            self._resv_tot = self._resv.sum(2)
        self._on_hand -= used.reshape(self._on_hand.shape).astype(np.int64)

    def _record_orders(
        self,
        ch: np.ndarray,
        sk: np.ndarray,
        q: np.ndarray,
        unserved: np.ndarray,
        served: np.ndarray,
        loc: np.ndarray,
        committed: np.ndarray,
    ) -> None:
        """Aggregate per (SKU, location): served demand counts where served, the rest at the
        channel's first location (where it is lost, switched or backordered)."""
        size, shape = self.n_skus * self.n_locations, self._on_hand.shape
        at = np.where(served, loc, self._route[ch, 0])
        key = sk * self.n_locations + at

        def add(field: str, mask: np.ndarray | None, w: np.ndarray | None) -> None:
            kk = key if mask is None else key[mask]
            ww = w if mask is None or w is None else w[mask]
            self._row[_F[field]] += np.bincount(kk, weights=ww, minlength=size).reshape(shape)

        add("demand", None, q)
        # Forecasts (replenishment, rebalancing, clearance) see each order at the channel's
        # first location, where stock should have been, whoever served it in the end.
        first = sk * self.n_locations + self._route[ch, 0]
        self._signal += np.bincount(first, weights=q, minlength=size).reshape(shape)
        add("demand_orders", None, None)
        add("served", served, q)
        add("served_orders", served, None)
        add("delivery_days_sum", served, self._dd[np.maximum(loc, 0)])
        add("shipped", None, np.where(served, q, committed))
        for code, field in ((LOST, "lost"), (SWITCH, "switched")):
            add(field, ~served & (unserved == code), q)
        bo = ~served & (unserved == BACKORDER)
        if bo.any():
            add("backordered", bo, q - committed)
            short = np.bincount(key[bo], weights=(q - committed)[bo], minlength=size)
            self._back += short.reshape(shape).astype(np.int64)

    def fulfil_units(self, demand: np.ndarray) -> None:
        """Exogenous mode: today's demand per SKU at the demand location, served unit by unit;
        the shortfall is backordered (``demand.backorders``) or lost."""
        if not self._open:
            raise RuntimeError("fulfil_units: call begin_day first")
        q = np.asarray(demand, np.int64)
        l_, row = self._exo_loc, self._row
        got = np.minimum(q, self._on_hand[:, l_])
        short = q - got
        self._on_hand[:, l_] -= got
        self._signal[:, l_] += q
        # each unit is an order here: orders = units, delivery from the demand location
        row[self._exo_idx, :, l_] += (q, q, got, got, got, got * self._dd[l_], short)
        if self.spec.demand.backorders:
            self._back[:, l_] += short

    def draw_exogenous_demand(self) -> np.ndarray:
        """Daily demand (days x SKUs) of the exogenous mode: one block of uniforms per day from
        the demand stream, turned into demand by each SKU's inverse CDF."""
        if not self.exogenous:
            raise ValueError("draw_exogenous_demand: inventory.demand.mode is not exogenous")
        cols = int(self._crn.max()) + 1
        u = self._dem_rng.random((self.days, cols))[:, self._crn]
        return np.stack([_demand_ppf(self._exo[k], u[:, k]) for k in range(self.n_skus)], 1)

    # ---- what the customer model reads ------------------------------------------------------
    def price_multiplier(self, day: int) -> np.ndarray:
        """(channels x SKUs) price multiplier from clearance (1 = no discount) for ``day``.

        Known from the end of the previous day, so it may be read before ``begin_day(day)``.
        """
        if day == self._next_day and not self._open:
            return self._mult_next.copy()
        if not 0 <= day < self._next_day + self._open:
            raise ValueError(f"price_multiplier({day}): only days up to {self._next_day}")
        return self._mult_hist[day].copy()

    def active_bundles(self) -> list[tuple[int, int, float]]:
        """(slow SKU, hot SKU, discount) of bundle clearances active now."""
        out = []
        for r, rule in enumerate(self.spec.clearance):
            if rule.mode == "bundle":
                hot = self.sku_ids.index(rule.bundle_with)
                out += [(int(k), hot, rule.discount) for k in np.flatnonzero(self._clr_active[r])]
        return out

    def demand_shares(self, segment: str | None = None) -> np.ndarray:
        """Share of customer demand per SKU (equal when the scenario gives none)."""
        skus = self.spec.skus
        if all(s.demand_share is None for s in skus):
            return np.full(self.n_skus, 1 / self.n_skus)
        return np.array(
            [s.share(segment if isinstance(s.demand_share, dict) else None) for s in skus]
        )

    @property
    def on_hand(self) -> np.ndarray:
        """(SKUs x locations) units on hand now (a copy)."""
        return self._on_hand.copy()

    @property
    def backorders(self) -> np.ndarray:
        return self._back.copy()

    @property
    def on_order(self) -> np.ndarray:
        return self._on_order.copy()

    @property
    def reserved(self) -> np.ndarray:
        """(SKUs x locations x channels) units still reserved for each core channel today."""
        return self._resv.copy()

    # ---- outputs ----------------------------------------------------------------------------
    def _derive(self, arr: np.ndarray) -> np.ndarray:
        """Fill the fields that are linear in recorded ones (``arr``: ... x fields x K x L):
        end-of-day holding and backorder costs, lost margin, inventory value and COGS. Done in
        bulk for all days at once rather than every day (the same numbers, far fewer calls)."""
        f, uc = _F, self.unit_costs[:, None]
        arr[..., f["holding_cost"], :, :] = arr[..., f["on_hand"], :, :] * self._h
        arr[..., f["backorder_cost"], :, :] = (
            arr[..., f["backorders"], :, :] * self.spec.costs.backorder
        )
        arr[..., f["lost_margin"], :, :] = arr[..., f["lost"], :, :] * self._margin
        arr[..., f["inventory_value"], :, :] = arr[..., f["on_hand"], :, :] * uc
        arr[..., f["cogs"], :, :] = arr[..., f["shipped"], :, :] * uc
        return arr

    def records(self) -> pd.DataFrame:
        """Tidy daily table: one row per (day, SKU, location) for the days simulated so far."""
        if not self.record:
            raise ValueError("records: this run kept no daily records (record=False)")
        d_n = self._next_day
        data = self._derive(self._rec[:d_n]).transpose(0, 2, 3, 1).reshape(-1, len(FIELDS))
        k_n, l_n = self.n_skus, self.n_locations
        frame = pd.DataFrame(data, columns=list(FIELDS))
        frame.insert(0, "location", np.tile(np.array(self.location_ids, dtype=object), d_n * k_n))
        frame.insert(0, "sku", np.tile(np.repeat(np.array(self.sku_ids, dtype=object), l_n), d_n))
        frame.insert(0, "day", np.repeat(np.arange(d_n), k_n * l_n))
        return frame

    def totals(self) -> pd.DataFrame:
        """Sums of the daily fields per (SKU, location) over days >= warmup, plus ``days``."""
        k_n, l_n = self.n_skus, self.n_locations
        tot = self._derive(self._tot.copy())
        frame = pd.DataFrame(tot.transpose(1, 2, 0).reshape(-1, len(FIELDS)), columns=list(FIELDS))
        frame.insert(0, "location", self.location_ids * k_n)
        frame.insert(0, "sku", np.repeat(np.array(self.sku_ids, dtype=object), l_n))
        frame["days"] = max(self._next_day - self.warmup, 0)
        return frame

    def costs(self) -> dict[str, float]:
        """Total inventory costs over days >= warmup; ``total`` excludes purchases (COGS)."""
        names = (
            "holding_cost",
            "ordering_cost",
            "transfer_cost",
            "backorder_cost",
            "lost_margin",
            "purchase_cost",
        )
        tot = self._derive(self._tot.copy())
        out = {n.removesuffix("_cost"): float(tot[_F[n]].sum()) for n in names}
        out["total"] = sum(v for n, v in out.items() if n != "purchase")
        return out


# --------------------------------------------------------------------------------------------
# Verification mode
# --------------------------------------------------------------------------------------------
def run_exogenous(
    spec: InventorySpec,
    days: int,
    seed: int | np.random.Generator,
    *,
    demand: np.ndarray | None = None,
    record: bool = True,
    warmup: int = 0,
    crn_columns: np.ndarray | None = None,
) -> Inventory:
    """Run the engine alone on exogenous i.i.d. demand; returns the finished engine.

    ``demand`` (days x SKUs) replaces the draws (e.g. to share demand across runs).
    """
    if spec.demand.mode != "exogenous":
        raise ValueError("run_exogenous: inventory.demand.mode must be 'exogenous'")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    channels = spec.referenced_channels() or [EXOGENOUS_CHANNEL]
    inv = Inventory(
        spec, channels, days, rng, record=record, warmup=warmup, crn_columns=crn_columns
    )
    dem = inv.draw_exogenous_demand() if demand is None else np.asarray(demand, np.int64)
    if dem.shape != (days, inv.n_skus):
        raise ValueError(f"demand: expected shape {(days, inv.n_skus)}, got {dem.shape}")
    for d in range(days):
        inv.begin_day(d)
        inv.fulfil_units(dem[d])
        inv.end_day(d)
    return inv


def simulate_exogenous(spec: InventorySpec, days: int, seed: int) -> pd.DataFrame:
    """Daily records of the exogenous-demand verification mode (see :func:`run_exogenous`)."""
    return run_exogenous(spec, days, seed).records()


# --------------------------------------------------------------------------------------------
# KPIs: pure functions of the daily records
# --------------------------------------------------------------------------------------------
_KPI_NAMES = (
    "stockout_rate",
    "fill_rate",
    "lost_sales",
    "backorders",
    "backorder_days",
    "inventory_turnover",
    "days_of_supply",
    "holding_cost",
    "ordering_cost",
    "transfer_cost",
    "backorder_cost",
    "lost_margin",
    "inventory_cost",
    "delivery_days",
)


def _ratio(a: float, b: float) -> float:
    if b == 0:
        return float("nan") if a == 0 else float("inf")
    return float(a / b)


def _kpis_of(sums: pd.Series, n_days: int) -> dict[str, float]:
    inv_value = sums["inventory_value"] / max(n_days, 1)
    fill = _ratio(sums["served"], sums["demand"])
    costs = ("holding_cost", "ordering_cost", "transfer_cost", "backorder_cost", "lost_margin")
    # inventory_cost is the cash cost (what profit subtracts); lost margin is revenue that never
    # came, already missing from profit, so it is reported on its own, not in the sum.
    cash = costs[:-1]
    out = {
        "stockout_rate": 1 - fill,
        "fill_rate": fill,
        "lost_sales": float(sums["lost"]),
        "backorders": float(sums["backordered"]),
        # Little's law: backordered unit-days / units backordered = mean wait in days.
        "backorder_days": _ratio(sums["backorders"], sums["backordered"]),
        "inventory_turnover": _ratio(sums["cogs"] * 365 / max(n_days, 1), inv_value),
        "days_of_supply": _ratio(inv_value, sums["cogs"] / max(n_days, 1)),
        "inventory_cost": float(sum(sums[c] for c in cash)),
        "delivery_days": _ratio(sums["delivery_days_sum"], sums["served_orders"]),
    }
    out.update({c: float(sums[c]) for c in costs})
    return {name: out[name] for name in _KPI_NAMES}


def _window(records: pd.DataFrame, d0: int | None, d1: int | None) -> pd.DataFrame:
    day = records["day"]
    mask = (day >= (d0 if d0 is not None else day.min())) & (
        day < (d1 if d1 is not None else day.max() + 1)
    )
    return records[mask]


def inventory_kpis(
    records: pd.DataFrame, d0: int | None = None, d1: int | None = None
) -> dict[str, float]:
    """All inventory KPIs over days ``[d0, d1)`` as a flat dict: ``name`` for the total,
    ``name.<sku id>`` per SKU and ``name.<location id>`` per location."""
    win = _window(records, d0, d1)
    n_days = int(win["day"].nunique())
    fields = list(FIELDS)
    out = _kpis_of(win[fields].sum(), n_days)
    for col in ("sku", "location"):
        for key, sums in win.groupby(col, sort=False)[fields].sum().iterrows():
            out.update({f"{n}.{key}": v for n, v in _kpis_of(sums, n_days).items()})
    return out


def _one(
    name: str,
    records: pd.DataFrame,
    d0: int | None,
    d1: int | None,
    sku: str | None,
    location: str | None,
) -> float:
    win = _window(records, d0, d1)
    n_days = int(win["day"].nunique())
    if sku is not None:
        win = win[win["sku"] == sku]
    if location is not None:
        win = win[win["location"] == location]
    return _kpis_of(win[list(FIELDS)].sum(), n_days)[name]


def stockout_rate(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units not served from stock at once / units demanded."""
    return _one("stockout_rate", records, d0, d1, sku, location)


def fill_rate(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units served from stock at once / units demanded (= 1 - stockout_rate)."""
    return _one("fill_rate", records, d0, d1, sku, location)


def lost_sales(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units lost to stockouts (switched orders are not lost: the customer went elsewhere)."""
    return _one("lost_sales", records, d0, d1, sku, location)


def backorders(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Units backordered (new backorders in the window)."""
    return _one("backorders", records, d0, d1, sku, location)


def inventory_turnover(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """COGS / average inventory value, annualised (x 365 / days in the window)."""
    return _one("inventory_turnover", records, d0, d1, sku, location)


def days_of_supply(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Average inventory value / average daily COGS."""
    return _one("days_of_supply", records, d0, d1, sku, location)


def holding_cost(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Holding cost charged on end-of-day stock."""
    return _one("holding_cost", records, d0, d1, sku, location)


def delivery_days(
    records: pd.DataFrame,
    d0: int | None = None,
    d1: int | None = None,
    *,
    sku: str | None = None,
    location: str | None = None,
) -> float:
    """Mean delivery days of the orders served from stock (by serving location)."""
    return _one("delivery_days", records, d0, d1, sku, location)
