"""The scenario's ``inventory:`` section (:class:`InventorySpec`): its parts put together and
checked against one another.

The parts (SKUs, policies, locations, ...) validate themselves in :mod:`sim.inventory.specs`;
here the section checks what needs several of them: ids are unique and known, demand shares sum
to one, replenishment sources form no cycle, exogenous demand has its parameters. Channel ids are
checked against the scenario's channels by :meth:`InventorySpec.check_channels`, since the
section does not know them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from sim.inventory.specs import (
    TOL,
    ClearanceSpec,
    CostSpec,
    DemandSpec,
    LocationSpec,
    PolicySpec,
    SkuDemandSpec,
    SkuSpec,
    StockoutSpec,
    StrictModel,
    TransferSpec,
)

__all__ = ["InventorySpec", "topo_order"]


def _default_locations() -> list[LocationSpec]:
    return [LocationSpec(id="central")]


def _data(info: ValidationInfo, key: str) -> Any:
    """A previously validated sibling field (absent when that field itself failed)."""
    return info.data.get(key)


class InventorySpec(StrictModel):
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
        if abs(total - 1) > TOL:
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
    topo_order(graph)


def topo_order(graph: dict[str, set[str]]) -> list[str]:
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
