"""Allocation: which location serves each order, core-channel reservations, and what happens to
an order no location can serve.

Orders are served in the order given (already random), each in full from one location: the
first on its channel's route (channel sub-stock, then regional, then central warehouse) with
enough stock for it. Stock never goes negative. Rather than loop over orders in Python, the
allocator settles runs of orders at once with cumulative sums (:meth:`Allocator._pass`), since
stock available to a channel only falls during a day.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from sim.inventory.forecast import DemandHistory
from sim.inventory.records import DayRecords, F
from sim.inventory.schema import InventorySpec
from sim.inventory.stock import Stock

__all__ = ["BACKORDER", "LOST", "OUTCOMES", "SERVED", "SWITCH", "Allocator", "FulfilResult"]

#: Outcome codes returned by :meth:`sim.inventory.Inventory.fulfil` (index into :data:`OUTCOMES`).
SERVED, LOST, SWITCH, BACKORDER = 0, 1, 2, 3
OUTCOMES = ("served", "lost", "switch", "backorder")
# Route order: the closest, most specific stock first.
_KIND_RANK = {"channel": 0, "regional": 1, "central": 2}


class FulfilResult(NamedTuple):
    """Per-order answer of :meth:`sim.inventory.Inventory.fulfil`, aligned with the orders."""

    served: np.ndarray  # bool: served in full from stock at once
    location: np.ndarray  # int: serving location index, -1 if not served
    delivery_days: np.ndarray  # float: the serving location's delivery days, NaN if not served
    outcome: np.ndarray  # int8 codes: SERVED, LOST, SWITCH, BACKORDER


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


class Allocator:
    """Serves orders from :class:`~sim.inventory.stock.Stock` and records what happened.

    ``exo_loc``: the location exogenous demand hits (:meth:`fulfil_units`).
    """

    def __init__(
        self,
        spec: InventorySpec,
        channel_ids: list[str],
        stock: Stock,
        records: DayRecords,
        history: DemandHistory,
        exo_loc: int,
    ) -> None:
        self.sku_ids, self.channel_ids = [s.id for s in spec.skus], channel_ids
        self._stock, self._records, self._history = stock, records, history
        self._n_locations, self._n_channels = len(spec.locations), len(channel_ids)
        self.delivery_days = np.array([loc.delivery_days for loc in spec.locations])
        self._compile_routes(spec)
        self._compile_reservations(spec)
        self._exo_loc, self._exo_backorders = exo_loc, spec.demand.backorders
        self._exo_fields = [
            F[x]
            for x in (
                "demand",
                "demand_orders",
                "served",
                "shipped",
                "served_orders",
                "delivery_days_sum",
                "backordered" if spec.demand.backorders else "lost",
            )
        ]

    def _compile_routes(self, spec: InventorySpec) -> None:
        """Each channel's locations in serving order, its assortment and stockout behaviour."""
        routes = []
        for c in self.channel_ids:
            ls = [
                i for i, loc in enumerate(spec.locations) if loc.serves is None or c in loc.serves
            ]
            routes.append(sorted(ls, key=lambda i: (_KIND_RANK[spec.locations[i].kind], i)))
        width = max(len(r) for r in routes)
        self.route = np.full((self._n_channels, width), -1, np.int64)
        for c, r in enumerate(routes):
            self.route[c, : len(r)] = r
        self.assortment = np.array(
            [[s.channels is None or c in s.channels for s in spec.skus] for c in self.channel_ids],
            dtype=bool,
        )
        so = [spec.stockout.get(c, spec.default_stockout) for c in self.channel_ids]
        self._so_cum = np.array([[x.lose, x.lose + x.switch] for x in so])

    def _compile_reservations(self, spec: InventorySpec) -> None:
        self._res_frac = np.array(
            [[loc.reserve.get(c, 0.0) for c in self.channel_ids] for loc in spec.locations]
        )
        self._res_mask = np.array(
            [[s.klass in loc.reserve_classes for loc in spec.locations] for s in spec.skus],
            dtype=bool,
        )
        self.has_reservations = bool((self._res_frac > 0).any() and self._res_mask.any())
        shape = (len(spec.skus), self._n_locations)
        self.reserved = np.zeros((*shape, self._n_channels), np.int64)
        self._reserved_total = np.zeros(shape, np.int64)

    def reserve(self) -> None:
        """Set today's reservations: each core channel's fraction of the morning stock."""
        self.reserved = (
            np.floor(self._stock.on_hand[:, :, None] * self._res_frac[None, :, :]).astype(np.int64)
            * self._res_mask[:, :, None]
        )
        self._reserved_total = self.reserved.sum(2)

    # ---- customer orders --------------------------------------------------------------------
    def fulfil(
        self, channel: np.ndarray, sku: np.ndarray, units: np.ndarray, u: np.ndarray
    ) -> FulfilResult:
        """Serve orders in the given order (see :meth:`sim.inventory.Inventory.fulfil`)."""
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
            i = self._pass(i, ch, sk, q, unserved, served, loc, committed)
        self._record_orders(ch, sk, q, unserved, served, loc, committed)
        outcome = np.where(served, SERVED, unserved).astype(np.int8)
        dd = np.where(served, self.delivery_days[np.maximum(loc, 0)], np.nan)
        return FulfilResult(served, loc, dd, outcome)

    def _check_orders(self, channel: Any, sku: Any, units: Any, u: Any) -> tuple[np.ndarray, ...]:
        ch, sk = np.asarray(channel, np.int64), np.asarray(sku, np.int64)
        q, u = np.asarray(units, np.int64), np.asarray(u, float)
        if not (ch.shape == sk.shape == q.shape == u.shape) or ch.ndim != 1:
            raise ValueError("fulfil: channel, sku, units and u must be 1-d arrays of one length")
        if len(q) and (
            q.min() < 1
            or ch.min() < 0
            or ch.max() >= self._n_channels
            or sk.min() < 0
            or sk.max() >= len(self.sku_ids)
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
        r = self.route[ch]
        rl = np.maximum(r, 0)
        av = self._stock.on_hand[sk[:, None], rl]
        if self.has_reservations:
            av = (
                av
                - self._reserved_total[sk[:, None], rl]
                + self.reserved[sk[:, None], rl, ch[:, None]]
            )
        return np.where(r >= 0, av, -1)

    def _pass(
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
        tl = self.route[c, fits.argmax(1)]
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
            self._take(c[one], k[one], self.route[c[one], 0], give)
            committed[i0 + stop] = give[0]
            return i0 + stop + 1
        return i0 + stop

    def _own_take(self, c: np.ndarray, k: np.ndarray, l_: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Units each order takes from its channel's own reservation (taken first)."""
        own = self.reserved[k, l_, c]
        a = _group_cumsum(q, (k * self._n_locations + l_) * self._n_channels + c)
        return np.minimum(a, own) - np.minimum(a - q, own)

    def _first_conflict(self, c: np.ndarray, k: np.ndarray, q: np.ndarray, l_: np.ndarray) -> int:
        """Index of the first order that no longer fits once the orders before it are taken."""
        key = k * self._n_locations + l_
        free = self._stock.on_hand[k, l_]
        draw = q
        if self.has_reservations:
            draw = q - self._own_take(c, k, l_, q)  # what spills into the shared pool
            free = free - self._reserved_total[k, l_]
        bad = _group_cumsum(draw, key) > free
        return int(np.argmax(bad)) if bad.any() else len(q)

    def _take(self, c: np.ndarray, k: np.ndarray, l_: np.ndarray, q: np.ndarray) -> None:
        if not len(q):
            return
        on_hand = self._stock.on_hand
        size = on_hand.size
        used = np.bincount(k * self._n_locations + l_, weights=q, minlength=size)
        if self.has_reservations:
            own = self._own_take(c, k, l_, q)
            key = (k * self._n_locations + l_) * self._n_channels + c
            took = np.bincount(key, weights=own, minlength=size * self._n_channels)
            self.reserved -= took.reshape(self.reserved.shape).astype(np.int64)
            self._reserved_total = self.reserved.sum(2)
        on_hand -= used.reshape(on_hand.shape).astype(np.int64)

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
        shape = self._stock.on_hand.shape
        size, row = shape[0] * shape[1], self._records.row
        at = np.where(served, loc, self.route[ch, 0])
        key = sk * self._n_locations + at

        def add(field: str, mask: np.ndarray | None, w: np.ndarray | None) -> None:
            kk = key if mask is None else key[mask]
            ww = w if mask is None or w is None else w[mask]
            row[F[field]] += np.bincount(kk, weights=ww, minlength=size).reshape(shape)

        add("demand", None, q)
        # Forecasts (replenishment, rebalancing, clearance) see each order at the channel's
        # first location, where stock should have been, whoever served it in the end.
        first = sk * self._n_locations + self.route[ch, 0]
        self._history.signal += np.bincount(first, weights=q, minlength=size).reshape(shape)
        add("demand_orders", None, None)
        add("served", served, q)
        add("served_orders", served, None)
        add("delivery_days_sum", served, self.delivery_days[np.maximum(loc, 0)])
        add("shipped", None, np.where(served, q, committed))
        for code, field in ((LOST, "lost"), (SWITCH, "switched")):
            add(field, ~served & (unserved == code), q)
        bo = ~served & (unserved == BACKORDER)
        if bo.any():
            add("backordered", bo, q - committed)
            short = np.bincount(key[bo], weights=(q - committed)[bo], minlength=size)
            self._stock.back += short.reshape(shape).astype(np.int64)

    # ---- exogenous demand -------------------------------------------------------------------
    def fulfil_units(self, demand: np.ndarray) -> None:
        """Today's demand per SKU at the demand location, served unit by unit; the shortfall
        is backordered (``demand.backorders``) or lost."""
        stock, l_ = self._stock, self._exo_loc
        q = np.asarray(demand, np.int64)
        got = np.minimum(q, stock.on_hand[:, l_])
        short = q - got
        stock.on_hand[:, l_] -= got
        self._history.signal[:, l_] += q
        # each unit is an order here: orders = units, delivery from the demand location
        dd = self.delivery_days[l_]
        self._records.row[self._exo_fields, :, l_] += (q, q, got, got, got, got * dd, short)
        if self._exo_backorders:
            stock.back[:, l_] += short
