"""Replenishment: the scenario's policies compiled to arrays, the review and the orders it places.

:class:`Policies` turns the rule of every (SKU, location) into arrays of parameters, so a review
of all SKUs at a location is a handful of vector operations whatever the mix of policy types.
:class:`Replenisher` runs the morning review: every (SKU, location) due looks at its inventory
position and orders from the supplier, or from its source location (a channel sub-stock
replenished from the central warehouse). An order placed on ``d`` with lead time ``L`` arrives at
the start of ``d + L`` (:meth:`sim.inventory.stock.Stock.receive`).
"""

from __future__ import annotations

import numpy as np

from sim.inventory.forecast import DemandHistory
from sim.inventory.records import DayRecords, F
from sim.inventory.schema import InventorySpec, topo_order
from sim.inventory.specs import PolicySpec
from sim.inventory.stock import Stock

__all__ = ["Policies", "Replenisher"]

_NONE, _SS, _SQ, _BASE, _FC = range(5)
_TYPE_CODE = {"none": _NONE, "sS": _SS, "sQ": _SQ, "base_stock": _BASE, "forecast": _FC}
# "No limit" for the capacity caps: far above any stock, and safe to subtract from.
_BIG = np.int64(1) << 50


class Policies:
    """The rule of every (SKU, location) as arrays (SKUs x locations) of its parameters.

    ``exo_means`` (exogenous mode: each SKU's mean daily demand at location ``exo_loc``) is the
    forecasts' prior where a forecast policy gives no ``initial_forecast``.
    """

    def __init__(
        self,
        spec: InventorySpec,
        location_ids: list[str],
        unit_costs: np.ndarray,
        exo_means: list[float | None] | None = None,
        exo_loc: int = 0,
    ) -> None:
        self.location_ids = location_ids
        self.rules = [[spec.policy_for(s, loc.id) for loc in spec.locations] for s in spec.skus]
        self._allocate(len(spec.skus), len(spec.locations))
        for k, row in enumerate(self.rules):
            for l_, p in enumerate(row):
                if p is not None:
                    prior = p.initial_forecast
                    if prior is None and exo_means is not None and l_ == exo_loc:
                        prior = exo_means[k]
                    self._compile(k, l_, p, prior)
        self._summarise(unit_costs)
        self.location_order = self._location_order(spec)

    def _allocate(self, k_n: int, l_n: int) -> None:
        """Parameter arrays, filled with what a location without a rule uses."""
        z = np.zeros((k_n, l_n))
        self.kind = np.zeros((k_n, l_n), dtype=np.int8)
        self.s, self.S, self.Q, self.level = (np.zeros((k_n, l_n), np.int64) for _ in "1234")
        self.k, self.prior, self.order_cost, self.transfer_cost, self.lead_mean = (
            z.copy() for _ in "12345"
        )
        self.window, self.period = (np.ones((k_n, l_n), np.int64) for _ in "12")
        self.offset = np.zeros((k_n, l_n), np.int64)
        self.sigma = np.zeros((k_n, l_n), bool)
        self.max_order, self.max_stock = np.full((k_n, l_n), _BIG), np.full((k_n, l_n), _BIG)
        self.source = np.full((k_n, l_n), -1, np.int64)

    def _compile(self, k: int, l_: int, p: PolicySpec, prior: float | None) -> None:
        self.kind[k, l_] = _TYPE_CODE[p.type]
        for name, arr in (("s", self.s), ("S", self.S), ("Q", self.Q), ("level", self.level)):
            if getattr(p, name) is not None:
                arr[k, l_] = getattr(p, name)
        if p.k is not None:
            self.k[k, l_] = p.k
        self.prior[k, l_] = prior or 0.0
        self.window[k, l_], self.sigma[k, l_] = p.window, p.safety_basis == "sigma"
        self.period[k, l_], self.offset[k, l_] = p.review_period, p.review_offset
        self.order_cost[k, l_], self.transfer_cost[k, l_] = p.order_cost, p.transfer_cost
        self.lead_mean[k, l_] = p.lead.mean_days()
        if p.max_order is not None:
            self.max_order[k, l_] = p.max_order
        if p.max_stock is not None:
            self.max_stock[k, l_] = p.max_stock
        if p.source != "supplier":
            self.source[k, l_] = self.location_ids.index(p.source)

    def _summarise(self, unit_costs: np.ndarray) -> None:
        """Flags and per-location facts that let a review skip work nobody needs."""
        self.has_forecast = bool((self.kind == _FC).any())
        self.active = self.kind != _NONE
        self.types_at = [set(np.unique(col).tolist()) for col in self.kind.T]
        self.has_caps = bool((self.max_order < _BIG).any() or (self.max_stock < _BIG).any())
        self.internal_at = (self.source >= 0).any(0)
        # Purchases from the supplier cost the unit cost; internal orders cost the transfer.
        self.purchase_price = np.where(self.source < 0, unit_costs[:, None], 0.0)
        self.internal_cost = np.where(self.source >= 0, self.transfer_cost, 0.0)
        self.all_daily = bool(((self.period == 1) | (self.kind == _NONE)).all())

    def _location_order(self, spec: InventorySpec) -> list[int]:
        """Location indices, those drawing on a source before the source: the source then
        reviews its position after its dependants took their orders from its stock, and
        reorders for them the same day."""
        srcs: dict[str, set[str]] = {}
        for p in spec.policies:
            if p.source != "supplier":
                srcs.setdefault(p.location, set()).add(p.source)
        order = topo_order(srcs)
        rest = [i for i in range(len(self.location_ids)) if self.location_ids[i] not in order]
        return [self.location_ids.index(x) for x in order] + rest

    def order_up_to(self, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
        """The level each policy orders up to (for sS / sQ the level after a typical order)."""
        horizon = self.lead_mean + self.period
        safety = np.where(self.sigma, self.k * np.sqrt(var * horizon), self.k * mu * horizon)
        fc = np.ceil(mu * horizon + safety - 1e-9).astype(np.int64)
        return np.select(
            [self.kind == _SS, self.kind == _SQ, self.kind == _BASE, self.kind == _FC],
            [self.S, self.s + self.Q, self.level, fc],
            0,
        )

    def initial_stock(self, spec: InventorySpec) -> np.ndarray:
        """Units on hand at the start: the location's ``initial``, or the order-up-to level."""
        target = self.order_up_to(self.prior, self.prior)
        out = np.zeros(target.shape, np.int64)
        for l_, loc in enumerate(spec.locations):
            for k, sku in enumerate(spec.skus):
                init = loc.initial
                if isinstance(init, dict):
                    init = init.get(sku.id, "target")
                out[k, l_] = target[k, l_] if init == "target" else init
        return out

    def order_qty(
        self, l_: int, ip: np.ndarray, due: np.ndarray, target: np.ndarray | None
    ) -> np.ndarray:
        """Units each SKU orders at location ``l_`` given its inventory position ``ip``
        (``target``: forecast policies' order-up-to levels)."""
        t, s, types = self.kind[:, l_], self.s[:, l_], self.types_at[l_]
        q = np.zeros_like(ip)
        if _SS in types:
            q += np.where((ip <= s) & (t == _SS), self.S[:, l_] - ip, 0)
        if _SQ in types:
            n = (s - ip) // np.maximum(self.Q[:, l_], 1) + 1
            q += np.where((ip <= s) & (t == _SQ), n * self.Q[:, l_], 0)
        if _BASE in types:
            q += np.where(t == _BASE, self.level[:, l_] - ip, 0)
        if _FC in types:
            q += np.where(t == _FC, target[:, l_] - ip, 0)
        if self.has_caps:
            q = np.minimum(np.minimum(q, self.max_order[:, l_]), self.max_stock[:, l_] - ip)
        if not self.all_daily:
            q = np.where(due, q, 0)
        return np.maximum(q, 0)


class Replenisher:
    """The morning review: who is due, how much they order, and the orders placed.

    ``lead_times`` (days x SKUs x locations) are drawn up front for the whole horizon
    (:func:`sim.inventory.draws.draw_lead_times`).
    """

    def __init__(
        self,
        policies: Policies,
        lead_times: np.ndarray,
        stock: Stock,
        records: DayRecords,
        history: DemandHistory,
    ) -> None:
        self.policies, self._lead = policies, lead_times
        self._stock, self._records, self._history = stock, records, history

    def review(self, day: int) -> None:
        """Every (SKU, location) whose review falls on ``day`` orders what its policy says."""
        p = self.policies
        due = p.active
        if not p.all_daily:
            due = due & ((day - p.offset) % p.period == 0)
        if not due.any():
            return
        target = None
        if p.has_forecast:
            target = p.order_up_to(*self._history.forecast(day, p.window, p.prior))
        for l_ in p.location_order:
            if due[:, l_].any():
                ip = self._stock.position(l_)
                self._place(day, l_, p.order_qty(l_, ip, due[:, l_], target))
        row = self._records.row
        q = row[F["ordered_units"]]
        if q.any():  # one order at most per (SKU, location) and review
            placed = q > 0
            row[F["orders_placed"]] = placed
            row[F["ordering_cost"]] = placed * p.order_cost
            row[F["purchase_cost"]] = q * p.purchase_price
            row[F["transfer_cost"]] += q * p.internal_cost

    def _place(self, day: int, l_: int, q: np.ndarray) -> None:
        """Send location ``l_``'s orders ``q`` (per SKU): internal ones take what their source
        has now (they are its demand, whatever it can ship), then all go into the pipeline."""
        stock, row, src = self._stock, self._records.row, self.policies.source[:, l_]
        if self.policies.internal_at[l_]:
            ks = np.flatnonzero((src >= 0) & (q > 0))
            self._history.signal[ks, src[ks]] += q[ks]  # downstream requests
            q[ks] = np.minimum(q[ks], stock.on_hand[ks, src[ks]])
            stock.on_hand[ks, src[ks]] -= q[ks]
            row[F["transfer_out"], ks, src[ks]] += q[ks]
        ks = np.flatnonzero(q)
        if len(ks):
            stock.pipe[day + self._lead[day, ks, l_], ks, l_] += q[ks]
            stock.on_order[:, l_] += q
            row[F["ordered_units"], :, l_] = q
