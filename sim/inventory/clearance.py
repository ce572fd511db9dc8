"""Clearance of slow movers: discounts (or bundles) on SKUs that have sat too long in stock.

Decided at the end of each day on that day's cover, so tomorrow's prices are known before
tomorrow begins; the customer model reads them as a price multiplier per (channel, SKU).
"""

from __future__ import annotations

import numpy as np

from sim.inventory.forecast import DemandHistory
from sim.inventory.records import F
from sim.inventory.schema import InventorySpec

__all__ = ["Clearance"]


class Clearance:
    """Which clearance rules are active for which SKUs, and the prices they make."""

    def __init__(
        self, spec: InventorySpec, channel_ids: list[str], days: int, history: DemandHistory
    ) -> None:
        self.rules, self.sku_ids = spec.clearance, [s.id for s in spec.skus]
        self._n_locations, self._history = len(spec.locations), history
        rules, k_n, c_n = self.rules, len(spec.skus), len(channel_ids)
        self._sku = np.array(
            [
                [(s.id in r.skus) if r.skus else s.klass in r.classes for s in spec.skus]
                for r in rules
            ],
            bool,
        ).reshape(len(rules), k_n)
        self._channel = np.array(
            [[r.channels is None or c in r.channels for c in channel_ids] for r in rules], bool
        ).reshape(len(rules), c_n)
        self._count = np.zeros((len(rules), k_n), np.int64)  # consecutive days over the limit
        self.active = np.zeros((len(rules), k_n), bool)
        #: (channels x SKUs) price multipliers decided for the next day, and those of each day.
        self.next = np.ones((c_n, k_n))
        self.history = np.ones((days, c_n, k_n))

    def open(self, day: int, row: np.ndarray) -> None:
        """Fix ``day``'s prices and record which SKUs are on clearance."""
        self.history[day] = self.next
        row[F["clearance"]] = self.active.any(0)[:, None]

    def update(self, day: int, on_hand: np.ndarray) -> None:
        """Count the days each SKU's cover (all locations) exceeds each rule's limit and set the
        next day's prices."""
        stock = on_hand.sum(1)
        for r, rule in enumerate(self.rules):
            win = np.full((len(self.sku_ids), self._n_locations), rule.window)
            mu = self._history.forecast(day + 1, win)[0].sum(1)
            cover = np.where(
                mu > 0, stock / np.where(mu > 0, mu, 1), np.where(stock > 0, np.inf, 0.0)
            )
            over = self._sku[r] & (cover > rule.cover_limit_days)
            self._count[r] = np.where(over, self._count[r] + 1, 0)
            self.active[r] = self._count[r] >= rule.after_days
        mult = np.ones(self.next.shape)
        for r, rule in enumerate(self.rules):
            mult[np.ix_(self._channel[r], self.active[r])] *= 1 - rule.discount
        self.next = mult

    def bundles(self) -> list[tuple[int, int, float]]:
        """(slow SKU, hot SKU, discount) of bundle clearances active now."""
        out = []
        for r, rule in enumerate(self.rules):
            if rule.mode == "bundle":
                hot = self.sku_ids.index(rule.bundle_with)
                out += [(int(k), hot, rule.discount) for k in np.flatnonzero(self.active[r])]
        return out
