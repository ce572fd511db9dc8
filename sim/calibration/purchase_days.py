"""The BG/NBD counted in purchase days: the ``rate+dropout/day`` heterogeneity variant.

``calibrate`` counts purchase days (two orders on one day are one purchase) and the simulator
sells at most once a day to a customer, but the BG/NBD is a continuous-time model: gaps shorter
than a day, which the data cannot show, are part of its likelihood. On 300 000 customers drawn
from CDNOW's BG/NBD that misfit read α 7 % high and was worth 131 BIC points to three latent
classes that forecast the holdout worse (docs/calibration.md, "Found at a large cohort").

This model is the BG/NBD's day-level twin. Each day after the first purchase a customer alive
buys with probability q ~ Beta(α_q, β_q) (across customers), and after each repeat purchase
day leaves with probability p ~ Beta(a, b), the BG/NBD's dropout. For a customer with x repeat
purchase days, the last t_x days after the first, observed T days after the first (all whole
days), the likelihood is closed form, Beta functions where the BG/NBD has gamma terms::

    L = B(a, b+x)/B(a, b) · B(α_q+x, β_q+T−x)/B(α_q, β_q)                       (alive at T)
        + [x > 0] · B(a+1, b+x−1)/B(a, b) · B(α_q+x, β_q+t_x−x)/B(α_q, β_q)    (left at t_x)

Given the history and alive, q ~ Beta(α_q+x, β_q+T−x) and p ~ Beta(a, b+x), independent; each
further day bought on and survived updates them the same way, so the expected purchases of the
next t days follow exactly from a recursion over (day, purchases since T) with Beta-Bernoulli
predictive chances (:meth:`PurchaseDayBGNBD.cumulative_expected`), no quadrature.

The simulator's fields are ``rate_shape`` = α_q, ``rate_beta`` = β_q and
``purchase_cycle_days`` = π·(α_q+β_q)/α_q with ``dropout_a``/``dropout_b`` = a, b: each
customer's rate multiplier is Beta(α_q, β_q)·(α_q+β_q)/α_q, so their daily purchase chance is the
Beta itself. Gamma(α_q, α_q + β_q), its limit for small q (same shape, same mean), has
(α_q+β_q+1)/β_q times its variance: simulated from it, fits of the simulator's histories read α_q
2 % low and CDNOW's replay ran 0.6 % under the model (docs/calibration.md, "Purchase days").

    >>> import numpy as np
    >>> fit = PurchaseDayBGNBD(aq=0.5, bq=40.0, a=0.8, b=2.5)
    >>> fit.p_alive([0, 3], [0, 20], [60, 60]).round(3)
    array([1.   , 0.474])
    >>> float(fit.expected(1).round(6)) == round(0.5 / 40.5, 6)  # tomorrow: the mean of q
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma

from sim.calibration.bgnbd import best_of, warn_at_bound
from sim.calibration.histories import distinct_histories
from sim.calibration.information import Information

VARIANT = "rate+dropout/day"
# Bounds of the log-parameter search (α_q, β_q, a, b), as the BG/NBD's: they keep the closed
# forms finite when the data push towards a limit (no dropout: a → 0 or b → ∞).
LOG_BOUNDS = [(-7.0, 7.0), (-5.0, 14.0), (-7.0, 7.0), (-7.0, 9.0)]
# What a fit stopped at each bound means (q ~ Beta(α_q, β_q), p ~ Beta(a, b)), for the warning.
LIMITS = {
    ("alpha_q", "upper"): "no spread of the daily purchase chance q across customers "
    "(everybody buys with one chance)",
    ("alpha_q", "lower"): "q piled at 0: nearly every customer almost never buys, a few buy "
    "nearly every day",
    ("beta_q", "upper"): "daily purchase chances near 0 (with alpha_q large too: one chance "
    "for everybody)",
    ("beta_q", "lower"): "q piled at 1: customers buying on nearly every day alive",
    ("a", "lower"): "no dropout after purchases (p near 0 for nearly everybody)",
    ("a", "upper"): "dropout after nearly every repeat purchase day (p near 1; with b large "
    "too: one dropout chance for everybody)",
    ("b", "upper"): "no dropout after purchases (p near 0)",
    ("b", "lower"): "p piled at 1: customers leaving after their first repeat purchase day",
}


class DailyChances:
    """What the purchase-day models share: Beta(α_q, β_q) daily purchase chances read as the
    Gamma(α_q, α_q + β_q) daily rates they approach for small q (same shape, same mean), as
    the simulator's ``rate_shape`` and cycle need them."""

    aq: float
    bq: float

    @property
    def r(self) -> float:
        """The gamma shape of the daily purchase rate (α_q)."""
        return self.aq

    @property
    def alpha(self) -> float:
        """The gamma rate of the daily purchase rate, in days: α_q + β_q (the same mean)."""
        return self.aq + self.bq

    def log_cycle_gradient(self) -> np.ndarray:
        """d log(cycle) / d (log α_q, log β_q): the cycle is π·(α_q + β_q)/α_q."""
        share = self.aq / (self.aq + self.bq)
        return np.array([share - 1.0, 1.0 - share])

    def rate_errors(self, info: Information, pi: float) -> dict[str, float]:
        """Standard errors (delta method) of ``rate_shape`` (α_q) and ``purchase_cycle_days``
        from the information about (log α_q, log β_q, …) (NaN where a ridge leaves one open:
        with α_q and β_q growing together the cycle is determined, the rate shape not)."""
        var = info.variance(self.log_cycle_gradient())
        return {
            "rate_shape": float(self.aq * info.se(0)),
            "purchase_cycle_days": float(pi * self.alpha / self.aq * math.sqrt(var)),
        }


@dataclass(frozen=True)
class PurchaseDayBGNBD(DailyChances):
    """A fitted purchase-day BG/NBD; time in days, histories in whole days."""

    aq: float
    bq: float
    a: float
    b: float
    loglik: float = float("nan")
    n: int = 0
    unit_days: float = 1.0

    def params(self) -> dict[str, float]:
        return {"alpha_q": self.aq, "beta_q": self.bq, "a": self.a, "b": self.b}

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(alive at T | x, t_x, T)."""
        alive, gone = _terms((self.aq, self.bq, self.a, self.b), *_arrays(x, t_x, T))
        return np.exp(alive - np.logaddexp(alive, gone))

    def conditional_expected(self, t: float, x, t_x, T) -> np.ndarray:
        """E[purchase days in T+1 … T+t | x, t_x, T] (t in whole days, rounded)."""
        days = int(round(float(t)))
        x, t_x, T = _arrays(x, t_x, T)
        if days <= 0:
            return np.zeros_like(x)
        paths, where = self._paths(days, x, T)
        return paths[where, -1] * self.p_alive(x, t_x, T)

    def expected(self, t: float) -> np.ndarray:
        """E[X(t)]: expected repeat purchase days in the t days after a first purchase."""
        return self.conditional_expected(t, 0, 0, 0)[0]

    def cumulative_expected(self, days: int, x, t_x, T) -> np.ndarray:
        """Expected purchase days by the end of each of the next ``days`` days: an array
        (customers, days). Exact: alive after k more days with j more purchases (all survived),
        a customer buys on the next day with chance (α_q+x+j)/(α_q+β_q+T+k) and survives it
        with (b+x+j)/(a+b+x+j); the recursion runs over the distinct (x, T) and is weighted by
        P(alive)."""
        x, t_x, T = _arrays(x, t_x, T)
        paths, where = self._paths(days, x, T)
        return paths[where] * self.p_alive(x, t_x, T)[:, None]

    def cohort_cumulative(self, days: int, x, t_x, T) -> np.ndarray:
        """The cohort's expected purchase days by the end of each of the next ``days`` days
        (:meth:`cumulative_expected` summed over the customers, without the customers × days
        array: 300 000 customers × 273 days would be 650 MB)."""
        x, t_x, T = _arrays(x, t_x, T)
        paths, where = self._paths(days, x, T)
        weight = np.bincount(where, weights=self.p_alive(x, t_x, T), minlength=len(paths))
        return weight @ paths

    def _paths(self, days: int, x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The recursion of :meth:`cumulative_expected` for an alive customer, per distinct
        (x, T): (distinct × days cumulative expectations, the row of each customer)."""
        keys = pd.DataFrame({"x": x, "T": T})
        uniq = keys.drop_duplicates().reset_index(drop=True)
        where = keys.merge(uniq.reset_index(), on=["x", "T"], how="left")["index"].to_numpy()
        ux, uT = uniq["x"].to_numpy(float), uniq["T"].to_numpy(float)
        j = np.arange(days + 1, dtype=float)[None, :]
        buy_top = self.aq + ux[:, None] + j  # numerators of the chances, for every j at once
        stay = (self.b + ux[:, None] + j) / (self.a + self.b + ux[:, None] + j)
        out = np.empty((len(uniq), days))
        state = np.zeros((len(uniq), days + 1))  # P(alive, j purchases so far)
        state[:, 0] = 1.0
        for k in range(days):
            bought = state[:, : k + 1] * buy_top[:, : k + 1]
            bought /= (self.aq + self.bq + uT + k)[:, None]
            out[:, k] = bought.sum(axis=1)
            state[:, : k + 1] -= bought
            state[:, 1 : k + 2] += bought * stay[:, : k + 1]
        return np.cumsum(out, axis=1), where


def _arrays(x, t_x, T):
    """x, t_x, T as float arrays of one shape (scalars become length-1 arrays)."""
    return np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, t_x, T)))


def _terms(params, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """log of the likelihood's 'alive at T' and 'left after the last purchase' parts."""
    aq, bq, a, b = params
    head = betaln(aq + x, bq + T - x) - betaln(aq, bq)
    alive = betaln(a, b + x) - betaln(a, b) + head
    with np.errstate(invalid="ignore", divide="ignore"):
        gone = np.where(
            x > 0,
            betaln(a + 1, np.maximum(b + x - 1, 1e-12))
            - betaln(a, b)
            + betaln(aq + x, bq + np.maximum(t_x - x, 0))
            - betaln(aq, bq),
            -np.inf,
        )
    return alive, gone


def purchase_day_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood (probability of the observed purchase days)."""
    alive, gone = _terms(params, *_arrays(x, t_x, T))
    return np.logaddexp(alive, gone)


def loglik_and_gradient(params, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """Each history's log-likelihood and its derivatives in (log α_q, log β_q, log a, log b)
    (n × 4), from ψ (digamma) terms: ∂ log B(u, v)/∂u = ψ(u) − ψ(u + v). For the latent
    classes' analytic gradient (:mod:`sim.calibration.latent`)."""
    aq, bq, a, b = params
    x, t_x, T = _arrays(x, t_x, T)
    alive, gone = _terms(params, x, t_x, T)
    ll = np.logaddexp(alive, gone)
    s_alive, s_gone = np.exp(alive - ll), np.exp(gone - ll)  # the two parts' shares
    psi = digamma
    rep = x > 0
    t_gone = np.maximum(t_x - x, 0)
    common_q = psi(aq + x) - psi(aq) + psi(aq + bq)
    d_aq = common_q - s_alive * psi(aq + bq + T) - s_gone * psi(aq + bq + x + t_gone)
    d_bq = (
        s_alive * (psi(bq + T - x) - psi(aq + bq + T))
        + s_gone * (psi(bq + t_gone) - psi(aq + bq + x + t_gone))
        - psi(bq)
        + psi(aq + bq)
    )
    ab, abx = psi(a + b), psi(a + b + x)
    d_a = s_alive * (ab - abx) + s_gone * (psi(a + 1) - psi(a) + ab - abx)
    b_gone = np.where(rep, psi(np.maximum(b + x - 1, 1e-12)) - psi(b), 0.0)
    d_b = s_alive * (psi(b + x) - psi(b)) + s_gone * b_gone + ab - abx
    return ll, np.column_stack([d_aq * aq, d_bq * bq, d_a * a, d_b * b])


def purchase_day_nll(x, t_x, T):
    """The negative log-likelihood on log-parameters (log α_q, log β_q, log a, log b), over
    identical histories aggregated."""
    hx, ht, hT, w = distinct_histories(x, t_x, T)

    def nll(theta):
        p = np.exp(np.clip(theta, -15, 15))
        val = -(w * purchase_day_loglik(p, hx, ht, hT)).sum()
        return float(val) if np.isfinite(val) else 1e300

    return nll


def fit_purchase_day_bgnbd(
    x, t_x, T, *, start: tuple[float, float, float, float] | None = None
) -> PurchaseDayBGNBD:
    """Maximum-likelihood fit on histories in whole days (x repeat purchase days, the last
    t_x days and the end T days after the first). ``start``: (α_q, β_q, a, b) to start from,
    e.g. the BG/NBD's (r, α in days, a, b); a second start at (1, 30, 1, 3) is always tried.
    Warns :class:`~sim.calibration.bgnbd.BGNBDLimitWarning` when a parameter ends at a bound
    of the search (``LIMITS`` says what each means).

    >>> import numpy as np
    >>> h = sample_purchase_days(3000, aq=0.5, bq=40.0, a=0.8, b=2.5, T=200,
    ...                          rng=np.random.default_rng(3))
    >>> fit = fit_purchase_day_bgnbd(h["x"], h["t_x"], h["T"])
    >>> 0.3 < fit.aq < 0.8 and 25 < fit.bq < 65
    True
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < 2:
        raise ValueError("the purchase-day BG/NBD needs at least two customers")
    nll = purchase_day_nll(x, t_x, T)
    starts = [(1.0, 30.0, 1.0, 3.0)] + ([tuple(start)] if start is not None else [])
    best = best_of(nll, [np.log(s) for s in starts], LOG_BOUNDS)
    names = ("alpha_q", "beta_q", "a", "b")
    warn_at_bound(best.x, LOG_BOUNDS, names, model="purchase-day BG/NBD", limits=LIMITS)
    aq, bq, a, b = np.exp(best.x)
    return PurchaseDayBGNBD(
        aq=float(aq), bq=float(bq), a=float(a), b=float(b), loglik=-float(best.fun), n=len(x)
    )


def sample_purchase_days(
    n: int, *, aq: float, bq: float, a: float, b: float, T, rng: np.random.Generator
) -> pd.DataFrame:
    """Histories drawn exactly from the model (for tests and checks): x, t_x, T in days.

    Each customer buys on day 0, then on each day 1 … T with their own q ~ Beta(α_q, β_q)
    while alive, and leaves after a repeat purchase day with their own p ~ Beta(a, b)."""
    T = np.broadcast_to(np.asarray(T, dtype=int), (n,))
    q, p = rng.beta(aq, bq, n), rng.beta(a, b, n)
    x, t_x = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    for day in range(1, int(T.max(initial=0)) + 1):
        buys = alive & (day <= T) & (rng.random(n) < q)
        x[buys] += 1
        t_x[buys] = day
        alive &= ~(buys & (rng.random(n) < p))
    return pd.DataFrame({"x": x, "t_x": t_x, "T": T.astype(int)})


def log_field_errors(fit: PurchaseDayBGNBD, info: Information, pi: float) -> dict[str, float]:
    """Standard errors (delta method) of the scenario fields from the observed information
    about the log-parameters: ``rate_shape`` (α_q), ``purchase_cycle_days`` (π·(α_q+β_q)/α_q),
    ``dropout_a``, ``dropout_b``."""
    se = fit.rate_errors(info, pi)
    for i, name, value in ((2, "dropout_a", fit.a), (3, "dropout_b", fit.b)):
        se[name] = float(value * info.se(i))
    return se
