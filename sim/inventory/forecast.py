"""Demand as the engine's forecasts see it, and moving-average forecasts of it.

Forecast policies, rebalancing transfers and clearance all need a recent daily demand per (SKU,
location). The day's signal is what was asked of each location: customer orders at their
channel's first location (where stock should have been, whoever served them in the end) plus
replenishment requests from the locations it supplies. Running sums of the signal and its square
make any moving window's mean and variance two subtractions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DemandHistory"]


class DemandHistory:
    """Today's demand signal (:attr:`signal`, SKUs x locations) and its history.

    ``keep=False`` keeps no history (nothing forecasts): :meth:`forecast` is then unavailable.
    """

    def __init__(self, n_skus: int, n_locations: int, days: int, keep: bool) -> None:
        kl = np.arange(n_skus)[:, None], np.arange(n_locations)[None, :]
        self._kk, self._ll = np.broadcast_arrays(*kl)
        self._cum = np.zeros((days + 1, 2, n_skus, n_locations)) if keep else None
        self.signal = np.zeros((n_skus, n_locations))

    def open(self) -> None:
        """Start a day with no demand seen yet."""
        self.signal[:] = 0

    def close(self, day: int) -> None:
        """Add ``day``'s signal to the running sums."""
        if self._cum is not None:
            x = self.signal
            self._cum[day + 1] = self._cum[day] + np.stack((x, x * x))

    def forecast(
        self, day: int, window: np.ndarray, prior: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Moving-average daily demand (and variance) per (SKU, location) over ``window`` days
        before ``day``.

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
