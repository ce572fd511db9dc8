"""The engine's daily records and what they cost: one row of fields per (day, SKU, location).

Every part of the engine adds what it did today to :attr:`DayRecords.row` (units served, ordered,
shipped, ...). The costs that are linear in recorded fields (holding, backorder penalty, lost
margin, inventory value, COGS) are filled in later, in bulk, by :meth:`DayRecords.derive`; the
costs charged when something happens (ordering, purchase, transfer) are recorded at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.inventory.schema import InventorySpec

__all__ = ["FIELDS", "DayRecords"]

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
#: Index of each field in a record row.
F = {f: i for i, f in enumerate(FIELDS)}
#: The end-of-day state fields, in the order :meth:`DayRecords.close` takes them.
STATE = (F["on_hand"], F["on_order"], F["backorders"])

_COSTS = (
    "holding_cost",
    "ordering_cost",
    "transfer_cost",
    "backorder_cost",
    "lost_margin",
    "purchase_cost",
)


class DayRecords:
    """Daily rows (``record=True``) or only running totals over days >= ``warmup``.

    :meth:`open` starts a day's :attr:`row` (fields x SKUs x locations), which the engine's
    parts add to; :meth:`close` writes the end-of-day state into it and adds it to the totals.
    """

    def __init__(
        self, spec: InventorySpec, location_ids: list[str], days: int, record: bool, warmup: int
    ) -> None:
        skus, c = spec.skus, spec.costs
        self.sku_ids, self.location_ids = [s.id for s in skus], location_ids
        self.record, self.warmup = record, warmup
        self.unit_costs = np.array([s.unit_cost for s in skus])
        prices = np.array([s.price for s in skus])
        self._h = c.holding * np.array([s.volume for s in skus])[:, None]
        margin = (
            prices - self.unit_costs if c.lost_sale is None else np.full(len(skus), c.lost_sale)
        )
        self._margin = margin[:, None]
        self._backorder_rate = c.backorder
        shape = (len(FIELDS), len(skus), len(location_ids))
        self._rec = np.zeros((days if record else 1, *shape))
        self._tot = np.zeros(shape)
        self.row = self._rec[0]

    def open(self, day: int) -> None:
        """Start ``day``'s row (without daily records, one row is reused and cleared)."""
        self.row = self._rec[day if self.record else 0]
        if not self.record:
            self.row[:] = 0

    def close(self, day: int, on_hand: np.ndarray, on_order: np.ndarray, back: np.ndarray) -> None:
        """Record the end-of-day state and add the day to the totals (from ``warmup`` on)."""
        self.row[list(STATE)] = on_hand, on_order, back
        if day >= self.warmup:
            self._tot += self.row

    def window(self, fields: Sequence[str], lo: int, hi: int) -> np.ndarray:
        """(fields x SKUs) sums over every location of the recorded days ``[lo, hi)``."""
        if not self.record:
            raise ValueError("records: this run kept no daily records (record=False)")
        rows = [F[f] for f in fields]
        return self._rec[lo:hi][:, rows].sum(axis=(0, 3))

    def derive(self, arr: np.ndarray) -> np.ndarray:
        """Fill the fields that are linear in recorded ones (``arr``: ... x fields x K x L):
        end-of-day holding and backorder costs, lost margin, inventory value and COGS. Done in
        bulk for all days at once rather than every day (the same numbers, far fewer calls)."""
        uc = self.unit_costs[:, None]
        arr[..., F["holding_cost"], :, :] = arr[..., F["on_hand"], :, :] * self._h
        arr[..., F["backorder_cost"], :, :] = arr[..., F["backorders"], :, :] * self._backorder_rate
        arr[..., F["lost_margin"], :, :] = arr[..., F["lost"], :, :] * self._margin
        arr[..., F["inventory_value"], :, :] = arr[..., F["on_hand"], :, :] * uc
        arr[..., F["cogs"], :, :] = arr[..., F["shipped"], :, :] * uc
        return arr

    def frame(self, n_days: int) -> pd.DataFrame:
        """Tidy daily table: one row per (day, SKU, location) for the first ``n_days`` days."""
        if not self.record:
            raise ValueError("records: this run kept no daily records (record=False)")
        data = self.derive(self._rec[:n_days]).transpose(0, 2, 3, 1).reshape(-1, len(FIELDS))
        k_n, l_n = len(self.sku_ids), len(self.location_ids)
        frame = pd.DataFrame(data, columns=list(FIELDS))
        locations = np.array(self.location_ids, dtype=object)
        frame.insert(0, "location", np.tile(locations, n_days * k_n))
        frame.insert(
            0, "sku", np.tile(np.repeat(np.array(self.sku_ids, dtype=object), l_n), n_days)
        )
        frame.insert(0, "day", np.repeat(np.arange(n_days), k_n * l_n))
        return frame

    def totals(self, n_days: int) -> pd.DataFrame:
        """Sums of the daily fields per (SKU, location) over days >= warmup, plus ``days`` (of
        the ``n_days`` simulated)."""
        k_n, l_n = len(self.sku_ids), len(self.location_ids)
        tot = self.derive(self._tot.copy())
        frame = pd.DataFrame(tot.transpose(1, 2, 0).reshape(-1, len(FIELDS)), columns=list(FIELDS))
        frame.insert(0, "location", self.location_ids * k_n)
        frame.insert(0, "sku", np.repeat(np.array(self.sku_ids, dtype=object), l_n))
        frame["days"] = max(n_days - self.warmup, 0)
        return frame

    def costs(self) -> dict[str, float]:
        """Total inventory costs over days >= warmup; ``total`` excludes purchases (COGS)."""
        tot = self.derive(self._tot.copy())
        out = {n.removesuffix("_cost"): float(tot[F[n]].sum()) for n in _COSTS}
        out["total"] = sum(v for n, v in out.items() if n != "purchase")
        return out
