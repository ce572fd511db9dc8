"""The marketing-mix benchmark: the reference a simulator backtest is judged against.

The form MMM tools use (Robyn, Meridian, PyMC-Marketing, without their priors): weekly sales =
intercept + trend + Σ_channels β · (1 − exp(−adstock / κ)), where the adstock carries a share λ
of last week's spend into this week (geometric). Fitted by scipy's least squares from a few
starting points (the objective has local minima in λ and κ); no agents, no repeat purchases, no
word of mouth: what a regression on the same history can do.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, (60, 1))
    >>> truth = MMM(intercept=5.0, trend=0.1, beta=np.array([20.0]), kappa=np.array([4.0]),
    ...             decay=np.array([0.3]))
    >>> fit = fit_mmm(truth.predict(x), x)
    >>> bool(np.allclose(fit.predict(x), truth.predict(x), rtol=1e-3))
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares


@dataclass
class MMM:
    intercept: float
    trend: float  # per week
    beta: np.ndarray  # weekly sales at saturation, per channel
    kappa: np.ndarray  # adstocked spend at which 63 % of beta is reached
    decay: np.ndarray  # geometric adstock carry-over per week

    def predict(self, spend: np.ndarray, start_week: int = 0, carry=None) -> np.ndarray:
        """Weekly sales for ``spend`` ``(weeks, channels)``; ``start_week`` continues the trend
        and ``carry`` the adstock of an earlier stretch (for a holdout)."""
        a = geometric_adstock(spend, self.decay, carry)
        t = np.arange(len(spend)) + start_week
        return self.intercept + self.trend * t + (self.beta * -np.expm1(-a / self.kappa)).sum(1)


def geometric_adstock(spend: np.ndarray, decay: np.ndarray, carry=None) -> np.ndarray:
    out = np.empty_like(spend, dtype=float)
    acc = np.zeros(spend.shape[1]) if carry is None else np.asarray(carry, dtype=float)
    for t in range(len(spend)):
        acc = spend[t] + decay * acc
        out[t] = acc
    return out


def fit_mmm(y: np.ndarray, spend: np.ndarray, *, starts: int = 4, seed: int = 0) -> MMM:
    """Least squares on weekly ``y`` with ``spend`` ``(weeks, channels)``; channels that never
    spent are left at β = 0."""
    k = spend.shape[1]
    active = spend.max(axis=0) > 0
    scale = np.where(active, spend.mean(axis=0), 1.0)
    ymax = max(float(np.abs(y).max()), 1.0)
    x = spend / scale

    def unpack(p):
        beta = np.where(active, np.exp(p[2 : 2 + k]), 0.0) * ymax
        kappa = np.exp(p[2 + k : 2 + 2 * k])
        decay = 1 / (1 + np.exp(-p[2 + 2 * k :]))
        return MMM(p[0] * ymax, p[1] * ymax / len(y), beta, kappa, decay)

    def residuals(p):
        return (unpack(p).predict(x) - y) / ymax

    rng = np.random.default_rng(seed)
    best = None
    for i in range(starts):
        p0 = np.concatenate(
            [
                [0.3, 0.0],
                np.log(np.full(k, 0.5 / max(active.sum(), 1)))
                + (rng.normal(0, 0.5, k) if i else 0),
                np.log(np.full(k, 1.0)) + (rng.normal(0, 0.7, k) if i else 0),
                np.full(k, 0.0) + (rng.normal(0, 1.0, k) if i else 0),
            ]
        )
        res = least_squares(residuals, p0, method="trf")
        if best is None or res.cost < best.cost:
            best = res
    m = unpack(best.x)
    m.kappa = m.kappa * scale  # back to currency
    return m


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Weekly MAPE (%) and the error of the total (%), the backtest's two figures."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    ok = actual > 0
    return {
        "weekly_mape_pct": float(np.mean(np.abs(predicted[ok] / actual[ok] - 1)) * 100),
        "cumulative_error_pct": float((predicted.sum() / actual.sum() - 1) * 100),
    }
