"""Rebalancing transfers: move stock between locations along the scenario's ``transfers:`` routes.

Checked at the end of each route's review day, after the day's demand, on the forecast of the
days ahead: a target short of cover gets stock from a source with cover to spare. Transfers
travel through the same pipeline as orders and arrive at the start of a later day.
"""

from __future__ import annotations

import numpy as np

from sim.inventory.forecast import DemandHistory
from sim.inventory.records import DayRecords, F
from sim.inventory.specs import TransferSpec
from sim.inventory.stock import Stock

__all__ = ["Rebalancer"]


class Rebalancer:
    """Ships the transfers of every route due on a day (:meth:`run`)."""

    def __init__(
        self,
        routes: list[TransferSpec],
        sku_ids: list[str],
        location_ids: list[str],
        stock: Stock,
        records: DayRecords,
        history: DemandHistory,
    ) -> None:
        self.routes, self.sku_ids, self.location_ids = routes, sku_ids, location_ids
        self._stock, self._records, self._history = stock, records, history

    def run(self, day: int) -> None:
        """Ship along every route whose review falls on ``day`` (in the scenario's order)."""
        for t in self.routes:
            if day % t.review_period == 0:
                self._ship(day, t)

    def _ship(self, day: int, t: TransferSpec) -> None:
        """Lift the target's position to ``target_cover_days`` of forecast demand when it is
        under ``min_cover_days``, from the source's stock above ``keep_cover_days``."""
        stock, row = self._stock, self._records.row
        a, b = self.location_ids.index(t.source), self.location_ids.index(t.target)
        win = np.full(stock.on_hand.shape, t.window)
        mu, _ = self._history.forecast(day + 1, win)  # today's demand included
        ip_b = stock.position(b)
        ok = np.array([t.skus is None or s in t.skus for s in self.sku_ids])
        need = ok & (mu[:, b] > 0) & (ip_b < t.min_cover_days * mu[:, b])
        want = np.ceil(t.target_cover_days * mu[:, b] - ip_b).astype(np.int64)
        spare = stock.on_hand[:, a] - np.ceil(t.keep_cover_days * mu[:, a]).astype(np.int64)
        qty = np.where(need, np.clip(np.minimum(want, spare), 0, None), 0)
        if not qty.any():
            return
        stock.on_hand[:, a] -= qty
        stock.pipe[day + t.lead_time, :, b] += qty
        stock.on_order[:, b] += qty
        row[F["transfer_out"], :, a] += qty
        row[F["transfer_cost"], :, b] += qty * t.cost_per_unit + (qty > 0) * t.fixed_cost
