"""The gamma-gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").

The literature's benchmark for *how much* customers spend, beside the BG/NBD for *how often*:
a customer's transaction values zᵢ are Gamma(p, ν) around their own mean p/ν, and the scale ν
is Gamma(q, γ) across customers. It is fitted on the customers with at least one repeat
transaction, on the number x and the mean value m_x of their repeat transactions (the first
is left out: first orders often differ), by maximum likelihood of

    f(m_x | x) = Γ(px + q) / (Γ(px) Γ(q)) · γ^q · m_x^(px−1) · x^(px) / (γ + x m_x)^(px+q)

(Fader & Hardie, "The Gamma-Gamma Model of Monetary Value", 2013, eq. 3), and gives each
customer's expected value of a future transaction, a weighted mean of the population's mean
pγ/(q − 1) and their own m_x:

    E[M | m_x, x] = p (γ + x m_x) / (p x + q − 1).

The model assumes that value and frequency are independent across customers; the correlation of
x and m_x is reported so that a user can see when that fails.

    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> x = rng.integers(1, 8, 3000)
    >>> m = sample_mean_values(x, p=6.25, q=3.74, gamma=15.44, rng=rng)
    >>> fit = fit_gamma_gamma(x, m)
    >>> 4.5 < fit.p < 8.5 and 2.5 < fit.q < 5.5
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from sim.calibration.information import observed

# Bounds of the log-parameter search: e^±9 keeps every term finite; a fit at a bound says so
# (``at_bound``) instead of reporting a value the data do not determine.
LOG_BOUNDS = [(-9.0, 9.0)] * 3
NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGamma:
    """A fitted gamma-gamma model; values in the order amounts' currency."""

    p: float
    q: float
    gamma: float
    loglik: float = float("nan")
    n: int = 0  # customers with a repeat transaction (those it is fitted on)
    se: dict[str, float] = field(default_factory=dict)  # standard errors of p, q, gamma
    at_bound: tuple[str, ...] = ()
    correlation: float = float("nan")  # Pearson correlation of x and m_x over the n customers

    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def mean(self) -> float:
        """E[Z]: the population's mean transaction value p γ / (q − 1) (infinite if q ≤ 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf

    def conditional_mean(self, x, m) -> np.ndarray:
        """E[M | m_x, x] per customer: ``x`` repeat transactions of mean value ``m``; with
        x = 0 (m ignored) the population's mean."""
        x = np.asarray(x, dtype=float)
        m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
        return self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)

    def summary(self) -> dict[str, object]:
        """Plain data for JSON: parameters, standard errors, fit and caveats."""
        return {
            **self.params(),
            "standard_errors": self.se,
            "mean_transaction_value": self.mean,
            "loglik": self.loglik,
            "customers": self.n,
            "at_bound": list(self.at_bound),
            "correlation_x_value": self.correlation,
            "method": "maximum likelihood (Fader & Hardie 2013, eq. 3) on repeat "
            "transactions' count and mean value, L-BFGS-B on log parameters",
        }


def gamma_gamma_loglik(params, x, m) -> np.ndarray:
    """Per-customer log-likelihood of mean repeat value ``m`` over ``x`` ≥ 1 transactions."""
    p, q, g = params
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(g + x * m)
    )


def _nll_and_gradient(theta: np.ndarray, x: np.ndarray, m: np.ndarray):
    """−Σ log-likelihood and its gradient in the log-parameters (analytic)."""
    p, q, g = np.exp(theta)
    px = p * x
    ll = gamma_gamma_loglik((p, q, g), x, m)
    dig_pq = special.digamma(px + q)
    log_gxm = np.log(g + x * m)
    d_p = np.sum(x * (dig_pq - special.digamma(px) + np.log(m) + np.log(x) - log_gxm))
    d_q = np.sum(dig_pq - special.digamma(q) + np.log(g) - log_gxm)
    d_g = np.sum(q / g - (px + q) / (g + x * m))
    return -float(np.sum(ll)), -np.array([d_p * p, d_q * q, d_g * g])


def fit_gamma_gamma(x, m) -> GammaGamma:
    """Maximum-likelihood gamma-gamma fit on customers' repeat-transaction counts ``x`` and
    mean values ``m``; customers with x = 0 or m ≤ 0 are left out (they carry no value)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if len(x) < 3:
        raise ValueError(
            f"gamma-gamma: needs at least 3 customers with a repeat transaction of positive "
            f"value, got {len(x)}"
        )
    theta = _search(x, m)
    info = observed(lambda t: _nll_and_gradient(t, x, m)[0], theta)
    p, q, g = np.exp(theta)
    lo, hi = zip(*LOG_BOUNDS, strict=True)
    edge = tuple(
        n for n, t, a, b in zip(NAMES, theta, lo, hi, strict=True) if t <= a + 1e-3 or t >= b - 1e-3
    )
    # SE of exp(θ) by the delta method: value × SE of θ (NaN where the data leave it open)
    se = {n: float(v * info.se(i)) for i, (n, v) in enumerate(zip(NAMES, (p, q, g), strict=True))}
    corr = float(np.corrcoef(x, m)[0, 1]) if np.ptp(x) > 0 and np.ptp(m) > 0 else float("nan")
    nll = _nll_and_gradient(theta, x, m)[0]
    return GammaGamma(float(p), float(q), float(g), -nll, len(x), se, edge, corr)


def _search(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The best of a few starts: the method-of-moments-like start and two around it."""
    mean = float(np.mean(m))
    best = None
    for p0, q0 in ((1.0, 2.0), (5.0, 4.0), (0.5, 1.5)):
        g0 = mean * (q0 - 1) / p0
        start = np.log([p0, q0, max(g0, 1e-3)])
        res = optimize.minimize(
            _nll_and_gradient, start, args=(x, m), jac=True, method="L-BFGS-B", bounds=LOG_BOUNDS
        )
        if best is None or res.fun < best.fun:
            best = res
    return np.asarray(best.x, dtype=float)


def sample_mean_values(x, *, p: float, q: float, gamma: float, rng: np.random.Generator):
    """Draw each customer's mean value over ``x`` ≥ 1 transactions from the gamma-gamma model:
    ν ~ Gamma(q, rate γ), then the sum of x values ~ Gamma(p x, rate ν)."""
    x = np.asarray(x)
    nu = rng.gamma(q, 1.0 / gamma, size=len(x))
    return rng.gamma(p * x, 1.0 / nu) / x
