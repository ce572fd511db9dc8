"""The stock every part of the engine shares: on hand, backorders, on order, arrivals due.

Arrays over SKUs x locations (no Python object per order or shipment). Orders and transfers in
transit sit in :attr:`Stock.pipe`, indexed by the day they arrive, so receiving a day's arrivals
is one array addition whatever the number of orders.
"""

from __future__ import annotations

import numpy as np

from sim.inventory.records import F

__all__ = ["Stock"]


class Stock:
    """Units per (SKU, location): :attr:`on_hand`, :attr:`back` (backordered, owed to
    customers), :attr:`on_order` (in transit) and :attr:`pipe` (arrivals by day)."""

    def __init__(self, on_hand: np.ndarray, pipe_days: int) -> None:
        shape = on_hand.shape
        self.on_hand = on_hand
        self.back = np.zeros(shape, np.int64)
        self.on_order = np.zeros(shape, np.int64)
        self.pipe = np.zeros((pipe_days, *shape), np.int64)

    def position(self, l_: int) -> np.ndarray:
        """Inventory position per SKU at location ``l_``: on hand - backorders + on order."""
        return self.on_hand[:, l_] - self.back[:, l_] + self.on_order[:, l_]

    def receive(self, day: int, row: np.ndarray) -> None:
        """Take in ``day``'s arrivals; they go to the location's backorders first."""
        arr = self.pipe[day]
        if not arr.any():
            return
        self.on_hand += arr
        self.on_order -= arr
        row[F["received"]] += arr
        arr[:] = 0
        fill = np.minimum(self.on_hand, self.back)
        if fill.any():
            self.on_hand -= fill
            self.back -= fill
            row[F["shipped"]] += fill
