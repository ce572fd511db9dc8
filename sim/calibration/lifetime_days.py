"""The Pareto/NBD counted in purchase days: the ``rate/day`` and ``rate+lifetime/day`` variants.

``calibrate`` counts purchase days (two orders on one day are one purchase) and the simulator
sells at most once a day to a customer, but the Pareto/NBD (:mod:`sim.calibration.pareto_nbd`)
is a continuous-time model: gaps shorter than a day, which the data cannot show, are part of its
likelihood. :mod:`sim.calibration.purchase_days` removes that misfit for the BG/NBD (dropout
after purchases); this module is the same day-level twin of the Pareto/NBD (dropout in time,
whether or not the customer buys): the BG/BB of Fader, Hardie & Shang (2010), whose death
"at the start of each opportunity" is the death at the end of the day before here, so the
likelihood below is theirs with n = T opportunities.

Time is in whole days; a customer's first purchase is on day 0. Each day d = 1, 2, … a customer
alive buys with their own probability q ~ Beta(α_q, β_q) (across customers), and at the end of
each day d = 0, 1, … an alive customer dies with their own probability θ ~ Beta(g, d)
(``rate+lifetime/day``), or with one θ for everybody (``rate/day``: ``g`` is None and the field
``d`` holds θ). Alive on day j therefore means surviving the ends of days 0 … j−1. For x repeat
purchase days among days 1 … T, the last on day t_x (0 if x = 0), the probability of the exact
day pattern is::

    L = E[q^x (1−q)^(T−x)] · E[(1−θ)^T]                                  (alive on day T)
        + Σ_{j=t_x}^{T−1} E[q^x (1−q)^(j−x)] · E[(1−θ)^j θ]              (died at the end of j)

with E[q^x (1−q)^m] = B(α_q+x, β_q+m)/B(α_q, β_q), E[(1−θ)^j] = B(g, d+j)/B(g, d) and
E[(1−θ)^j θ] = B(g+1, d+j)/B(g, d) (plain powers for one θ). The sum is computed for all
histories at once from reverse cumulative log-sums per distinct x (see :func:`_terms`).

Alive on day T, q's posterior is Beta(α_q+x, β_q+T−x) and θ's is Beta(g, d+T), independent,
and buying does not change survival, so E[Y(t) | x, t_x, T] = P(alive) · (α_q+x)/(α_q+β_q+T) ·
Σ_{k=1}^{t} B(g, d+T+k)/B(g, d+T) (one θ: (1−θ)^k) in closed form.

The simulator's fields: ``rate_shape`` = α_q and ``purchase_cycle_days`` = π·(α_q+β_q)/α_q (for
small q, Beta(α_q, β_q) is Gamma(α_q, α_q+β_q) in days), as for the purchase-day BG/NBD; the
market ``churn`` is the mean daily death chance g/(g+d) (or θ), and ``churn_shape`` = g: the
simulator draws each customer's daily churn chance as churn × Gamma(g, 1/g), which is Beta(g, d)
for small chances.

    >>> import numpy as np
    >>> fit = LifetimeDayNBD(aq=0.5, bq=40.0, g=0.8, d=150.0)
    >>> fit.p_alive([0, 3, 3], [0, 20, 58], [60, 60, 60]).round(3)
    array([0.72 , 0.654, 0.992])
    >>> float(fit.expected(1).round(9)) == round(0.5 / 40.5 * (1 - 0.8 / 150.8), 9)  # E[q](1−E[θ])
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import betaln

from sim.calibration.bgnbd import best_of, warn_at_bound
from sim.calibration.histories import distinct_histories
from sim.calibration.information import Information
from sim.calibration.purchase_days import LIMITS as DAY_LIMITS
from sim.calibration.purchase_days import DailyChances

RATE, LIFETIME = "rate/day", "rate+lifetime/day"
# Bounds of the log-parameter search: (α_q, β_q) as the purchase-day BG/NBD's; log d reaches 16
# because no churn is d → ∞ (and one θ for everybody is g, d → ∞ with g/(g+d) fixed: g = e^7
# at a churn of 1/300 a day needs log d ≈ 12.7); θ stays below 0.99 (log θ ≤ −0.01).
LOG_BOUNDS_LIFETIME = [(-7.0, 7.0), (-5.0, 14.0), (-7.0, 7.0), (-7.0, 16.0)]
LOG_BOUNDS_RATE = [(-7.0, 7.0), (-5.0, 14.0), (-16.0, -0.01)]
# What a fit stopped at each bound means (θ ~ Beta(g, d) the daily death chance), for the
# warning; (α_q, β_q) as the purchase-day BG/NBD's.
LIMITS = {key: words for key, words in DAY_LIMITS.items() if key[0] in ("alpha_q", "beta_q")} | {
    ("g", "upper"): "no spread of the daily death chance across customers (with d large too: "
    "one chance for everybody, the rate/day variant; with d not: death at the end of day 0)",
    ("g", "lower"): "death chances piled at 0: nearly every customer never churns, a few die "
    "at once",
    ("d", "upper"): "no churn (daily death chance near 0)",
    ("d", "lower"): "death chances piled at 1: customers dying at the end of their first day",
    ("theta_per_day", "lower"): "no churn (daily death chance near 0)",
    ("theta_per_day", "upper"): "a daily death chance near 1: customers dying at the end of "
    "their first day",
}


@dataclass(frozen=True)
class LifetimeDayNBD(DailyChances):
    """A fitted purchase-day Pareto/NBD; time in days, histories in whole days. ``g`` None: one
    daily death chance ``d`` for everybody (``rate/day``)."""

    aq: float
    bq: float
    g: float | None
    d: float
    loglik: float = float("nan")
    n: int = 0
    unit_days: float = 1.0

    def params(self) -> dict[str, float]:
        out = {"alpha_q": self.aq, "beta_q": self.bq}
        if self.g is None:
            return out | {"theta_per_day": self.d}
        return out | {"g": self.g, "d": self.d}

    @property
    def churn(self) -> float:
        """The mean daily death chance."""
        return self.d if self.g is None else self.g / (self.g + self.d)

    def _tuple(self) -> tuple[float, float, float | None, float]:
        return (self.aq, self.bq, self.g, self.d)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(alive on day T | x, t_x, T)."""
        alive, died = _terms(self._tuple(), _days(x, t_x, T))
        return np.exp(alive - np.logaddexp(alive, died))

    def conditional_expected(self, t: float, x, t_x, T) -> np.ndarray:
        """E[purchase days in T+1 … T+t | x, t_x, T] (t in whole days, rounded)."""
        days = int(round(float(t)))
        h = _days(x, t_x, T)
        if days <= 0:
            return np.zeros(len(h.x))
        cum, where = self._survival(days, h.T)
        return self._rate_alive(h) * cum[where, -1]

    def expected(self, t: float) -> np.ndarray:
        """E[X(t)]: expected repeat purchase days in the t days after a first purchase."""
        return self.conditional_expected(t, 0, 0, 0)[0]

    def cohort_cumulative(self, days: int, x, t_x, T) -> np.ndarray:
        """The cohort's expected purchase days by the end of each of the next ``days`` days,
        summed over the customers: shape (days,). Each customer's path is P(alive) · E[q | …]
        times the cumulative survival, which depends on T only, so the customers are summed
        per distinct T (no customers × days array)."""
        h = _days(x, t_x, T)
        if days <= 0:
            return np.zeros(0)
        cum, where = self._survival(int(days), h.T)
        weight = np.bincount(where, weights=self._rate_alive(h), minlength=len(cum))
        return weight @ cum

    def _rate_alive(self, h: _Days) -> np.ndarray:
        """P(alive on day T) times the posterior mean of q (the chance to buy on a day alive)."""
        alive, died = _terms(self._tuple(), h)
        p_alive = np.exp(alive - np.logaddexp(alive, died))
        return p_alive * (self.aq + h.x) / (self.aq + self.bq + h.T)

    def _survival(self, days: int, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Σ_{k ≤ K} P(alive on day T+k | alive on day T) for K = 1 … days, per distinct T
        (distinct × days), θ's posterior being Beta(g, d+T); and each customer's row."""
        uT, where = np.unique(T, return_inverse=True)
        k = np.arange(1, days + 1, dtype=float)[None, :]
        if self.g is None:
            surv = np.broadcast_to(np.exp(k * math.log1p(-self.d)), (len(uT), days))
        else:
            base = self.d + uT[:, None].astype(float)
            surv = np.exp(betaln(self.g, base + k) - betaln(self.g, base))
        return np.cumsum(surv, axis=1), where.reshape(-1)


class _Days(NamedTuple):
    """Histories in whole days, ready for :func:`_terms`."""

    x: np.ndarray  # repeat purchase days (float, for the Beta functions)
    t_x: np.ndarray  # day of the last purchase (int)
    T: np.ndarray  # last day observed (int)
    ux: np.ndarray  # the distinct x (float)
    row: np.ndarray  # each history's row in ux


def _days(x, t_x, T) -> _Days:
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, t_x, T)))
    xi, ti, Ti = (np.rint(v).astype(np.int64) for v in arrays)
    if np.any((xi < 0) | (ti < xi) | (Ti < ti)):
        raise ValueError("histories need 0 ≤ x ≤ t_x ≤ T (whole days)")
    ux, row = np.unique(xi, return_inverse=True)
    return _Days(xi.astype(float), ti, Ti, ux.astype(float), row.reshape(-1))


def _log_q(aq: float, bq: float, x, m):
    """log E[q^x (1−q)^m], q ~ Beta(α_q, β_q)."""
    return betaln(aq + x, bq + m) - betaln(aq, bq)


def _log_surv(g: float | None, d: float, j):
    """log E[(1−θ)^j]: alive on day j (θ ~ Beta(g, d), or θ = d when g is None)."""
    return j * math.log1p(-d) if g is None else betaln(g, d + j) - betaln(g, d)


def _log_death(g: float | None, d: float, j):
    """log E[(1−θ)^j θ]: alive on day j, died at its end."""
    if g is None:
        return j * math.log1p(-d) + math.log(d)
    return betaln(g + 1.0, d + j) - betaln(g, d)


def _terms(params, h: _Days) -> tuple[np.ndarray, np.ndarray]:
    """log of the likelihood's 'alive on day T' and 'died at the end of a day t_x … T−1' parts.

    The death term of day j depends on (x, j) only, so for each distinct x the terms of every
    j = 0 … max T − 1 are built once (−∞ for j < x, where no history needs them) and summed from
    the right: R[j] = log Σ_{i ≥ j} term(i), R[max T] = −∞. A history's sum is then
    R[t_x] ⊖ R[T] = R[t_x] + log(1 − e^(R[T] − R[t_x])). The terms decrease in j (both
    expectations of factors ≤ 1 raised to j), so each one beyond T is at most each one in
    t_x … T−1, and the tail exceeds the wanted part at most (max T − T)/(T − t_x) < max T
    times: the difference loses at most log10(max T) ≈ 2.5 digits (relative error ~1e-12 at
    max T = 273), where a forward cumulative sum, whose head can dwarf the part wanted, loses
    them all when t_x is late."""
    aq, bq, g, d = params
    alive = _log_q(aq, bq, h.x, h.T - h.x) + _log_surv(g, d, h.T)
    top = int(h.T.max(initial=0))
    j = np.arange(top, dtype=float)[None, :]
    ux = h.ux[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = np.where(
            j >= ux, _log_q(aq, bq, ux, np.maximum(j - ux, 0.0)) + _log_death(g, d, j), -np.inf
        )
        tail = np.full((len(h.ux), top + 1), -np.inf)
        tail[:, :top] = np.logaddexp.accumulate(grid[:, ::-1], axis=1)[:, ::-1]
        hi, lo = tail[h.row, h.t_x], tail[h.row, h.T]
        died = np.where(h.t_x < h.T, hi + np.log(-np.expm1(lo - hi)), -np.inf)
    return alive, died


def lifetime_day_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood (probability of the observed purchase days); ``params`` =
    (α_q, β_q, g, d), or (α_q, β_q, None, θ) for one daily death chance."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.logaddexp(*_terms(tuple(params), _days(x, t_x, T)))


def lifetime_day_nll(x, t_x, T, *, spread_lifetime: bool):
    """The negative log-likelihood on log-parameters (log α_q, log β_q, log g, log d), or
    (log α_q, log β_q, log θ) without ``spread_lifetime``, over identical histories aggregated."""
    *distinct, w = distinct_histories(x, t_x, T)
    h = _days(*distinct)

    def nll(theta):
        p = np.exp(np.clip(theta, -20, 20))
        params = tuple(p) if spread_lifetime else (p[0], p[1], None, p[2])
        if not spread_lifetime and p[2] >= 1.0:
            return 1e300
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            val = -(w * np.logaddexp(*_terms(params, h))).sum()
        return float(val) if np.isfinite(val) else 1e300

    return nll


def fit_lifetime_day_nbd(
    x, t_x, T, *, spread_lifetime: bool, start: tuple[float, ...] | None = None
) -> LifetimeDayNBD:
    """Maximum-likelihood fit on histories in whole days (x repeat purchase days, the last t_x
    days and the end T days after the first). ``start``: (α_q, β_q, g, d), or (α_q, β_q, θ)
    without ``spread_lifetime``, e.g. from the continuous Pareto/NBD (r, α, s, β); a default
    start (α_q, β_q) = (1, 30) with a mean lifetime of the mean T is always tried too.
    Warns :class:`~sim.calibration.bgnbd.BGNBDLimitWarning` when a parameter ends at a bound
    of the search (``LIMITS`` says what each means).

    >>> import numpy as np
    >>> h = sample_lifetime_days(3000, aq=0.5, bq=40.0, g=None, d=0.005, T=200,
    ...                          rng=np.random.default_rng(3))
    >>> fit = fit_lifetime_day_nbd(h["x"], h["t_x"], h["T"], spread_lifetime=False)
    >>> 0.3 < fit.aq < 0.8 and 0.003 < fit.churn < 0.008
    True
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < 2:
        raise ValueError("the purchase-day Pareto/NBD needs at least two customers")
    nll = lifetime_day_nll(x, t_x, T, spread_lifetime=spread_lifetime)
    life = float(np.mean(T)) + 1.0
    default = (1.0, 30.0, 1.0, life) if spread_lifetime else (1.0, 30.0, 1.0 / life)
    starts = [default] + ([tuple(start)] if start is not None else [])
    bounds = LOG_BOUNDS_LIFETIME if spread_lifetime else LOG_BOUNDS_RATE
    best = best_of(nll, [np.log(s) for s in starts], bounds)
    names = ("alpha_q", "beta_q", *(("g", "d") if spread_lifetime else ("theta_per_day",)))
    model = f"purchase-day Pareto/NBD ({LIFETIME if spread_lifetime else RATE})"
    warn_at_bound(best.x, bounds, names, model=model, limits=LIMITS)
    p = np.exp(best.x)
    return LifetimeDayNBD(
        aq=float(p[0]),
        bq=float(p[1]),
        g=float(p[2]) if spread_lifetime else None,
        d=float(p[-1]),
        loglik=-float(best.fun),
        n=len(x),
    )


def sample_lifetime_days(
    n: int, *, aq: float, bq: float, g: float | None, d: float, T, rng: np.random.Generator
) -> pd.DataFrame:
    """Histories drawn exactly from the model (for tests and checks): x, t_x, T in days.

    Each customer lives on days 1 … J, J + 1 ~ Geometric(θ) (θ ~ Beta(g, d), or θ = d), and buys
    on each of the days 1 … m = min(J, T) with their own q ~ Beta(α_q, β_q). The days are
    independent given q, so they are read backwards from day m: the no-buy days at the end are
    Geometric(q) − 1 (x = 0 if they cover all m), and before the last purchase day t_x the
    other x − 1 are Binomial(t_x − 1, q). Exact, and no loop over days."""
    T = np.broadcast_to(np.asarray(T, dtype=np.int64), (n,))
    q = rng.beta(aq, bq, n)
    theta = np.full(n, float(d)) if g is None else rng.beta(g, d, n)
    # Beta draws can underflow to 0: a chance of 1e-15 has the same days within any horizon here
    life = rng.geometric(np.maximum(theta, 1e-15)) - 1
    m = np.minimum(life, T)
    trailing = rng.geometric(np.maximum(q, 1e-15)) - 1
    bought = trailing < m
    t_x = np.where(bought, m - trailing, 0)
    x = np.where(bought, 1 + rng.binomial(np.maximum(t_x - 1, 0), q), 0)
    return pd.DataFrame({"x": x.astype(int), "t_x": t_x.astype(int), "T": T.astype(int)})


def log_field_errors(fit: LifetimeDayNBD, info: Information, pi: float) -> dict[str, float]:
    """Standard errors (delta method) of the scenario fields from the observed information
    about the log-parameters: ``rate_shape`` (α_q), ``purchase_cycle_days`` (π·(α_q+β_q)/α_q),
    ``churn`` (g/(g+d), or θ) and, with a spread lifetime, ``churn_shape`` (g)."""
    se = fit.rate_errors(info, pi)
    if fit.g is None:
        se["churn"] = float(fit.d * info.se(2))
        return se
    se["churn_shape"] = float(fit.g * info.se(2))
    # log churn = log g − log(g + d): derivatives d/(g+d) and −d/(g+d) in (log g, log d)
    lean = fit.d / (fit.g + fit.d)
    se["churn"] = float(fit.churn * math.sqrt(info.variance([lean, -lean], at=2)))
    return se
