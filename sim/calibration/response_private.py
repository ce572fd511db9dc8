"""The private pool's join response to private-operations spend, fitted from the orders.

The simulator moves a buyer who is not yet in the private pool into it after an order with
chance ``j(day) = join_base + (join_max − join_base) × (1 − exp(−ops(day) / ops_saturation))``
(ops: the day's private-operations spend); a member then picks a private channel on an order
with chance P. The pool is not observed, the orders are: each customer's non-private orders
until the first private one (or all of them). This is the order fit's hidden-state likelihood
(:func:`sim.calibration.channels.fit_private_joining`) with a join chance per order that
follows the spend of the order's day, maximised over (join_base, join_max, ops_saturation, P)
by scipy; the Laplace covariance comes from a finite-difference Hessian of the negative
log-likelihood in the transformed (logit, log) space.

Several private channels act on one pool: a buyer stays out only if every channel's operations
fail, ``1 − j = Π_c (1 − j_c)``; :func:`fit_join_responses` fits every channel's curve jointly
(each its own ops_saturation and response, one P); the orders tell the pool's base (the join
chance with no spend anywhere), not how it splits between the channels: it is split equally.

Why a separate fit and not the simulator: joining changes which channel repeat orders land on,
not how many people buy; the orders carry it directly, and the likelihood is exact for the
simulator's rule (up to the days between orders, which the hidden state does not need).

    >>> import numpy as np
    >>> curve = JoinCurve(0.05, 0.15, 2000.0, 0.6)
    >>> round(float(curve.join(np.array([0.0, 1e9]))[1]), 3)
    0.15
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.calibration.heterogeneity import log_covariance

IDENTIFIED_RATIO = 25.0  # as for the acquisition parameters (response_fit)


@dataclass
class JoinCurve:
    join_base: float
    join_max: float
    ops_saturation: float
    p_private: float

    def join(self, ops: np.ndarray) -> np.ndarray:
        return self.join_base + (self.join_max - self.join_base) * -np.expm1(
            -ops / self.ops_saturation
        )


@dataclass
class JoinFit:
    curve: JoinCurve
    interval: dict[str, tuple[float, float]]  # 95 % (Laplace, transformed space)
    customers: int
    draws: pd.DataFrame  # join_base, join_max, ops_saturation per draw

    def identified(self, name: str) -> bool:
        lo, hi = self.interval[name]
        return lo > 0 and hi / lo <= IDENTIFIED_RATIO


def _sequences(orders: pd.DataFrame, private: set[str], start: pd.Timestamp):
    """Per customer: the days of the non-private orders before the first private one (padded
    with −1), their count m, and whether a private order followed."""
    t = orders.sort_values(["customer", "date"], kind="stable")
    is_priv = t["channel"].isin(private).to_numpy()
    cust = t["customer"].to_numpy()
    day = (t["date"] - start).dt.days.to_numpy()
    cum = pd.Series(is_priv.astype(int)).groupby(cust).cumsum().to_numpy()
    before = cum == 0  # the non-private orders before the first private one
    first_priv = is_priv & (cum == 1)
    codes, uniq = pd.factorize(cust)
    n = len(uniq)
    m = np.bincount(codes[before], minlength=n)
    saw = np.zeros(n, bool)
    saw[codes[first_priv]] = True
    mmax = max(int(m.max()), 1)
    days = np.full((n, mmax), -1, dtype=np.int64)
    pos = (
        pd.Series(np.ones(before.sum())).groupby(codes[before]).cumsum().to_numpy().astype(int) - 1
    )
    days[codes[before], pos] = day[before]
    return days, m, saw


def pool_join(params: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """The pool's join chance per day, ``(days,)``, from ``ops`` ``(days, n)``: params =
    [logit b, (logit m_c, log ops_saturation_c) per channel, logit P]. Channel c moves a buyer
    with ``j_c = jb_c + (1 − jb_c)·m_c·(1 − exp(−ops_c / sat_c))`` and a buyer stays out only
    if every channel fails (the simulator's rule), so ``1 − j = (1 − b)·Π(1 − m_c·lift_c)``
    with ``1 − b = Π(1 − jb_c)``: the orders tell the combined base b, not its split."""
    n = ops.shape[1]
    b = special.expit(params[0])
    m = special.expit(params[1 : 1 + 2 * n : 2])
    sat = np.exp(params[2 : 2 + 2 * n : 2])
    stay = (1 - b) * np.prod(1 - m * -np.expm1(-ops / sat), axis=1)
    return 1 - stay


def _nll(params: np.ndarray, days: np.ndarray, m: np.ndarray, saw: np.ndarray, ops: np.ndarray):
    p = special.expit(params[-1])
    j_day = pool_join(params, ops)
    a = np.ones(len(m))
    b = np.zeros(len(m))
    ll = np.zeros(len(m))
    for k in range(days.shape[1]):
        active = k < m
        j = np.where(active, j_day[np.clip(days[:, k], 0, len(ops) - 1)], 0.0)
        b, a = b + a * j, a * (1 - j)
        last = m == k + 1
        ll[last & saw] = np.log(np.maximum(b[last & saw] * p, 1e-300))
        ll[last & ~saw] = np.log(np.maximum(a[last & ~saw] + b[last & ~saw], 1e-300))
        b = np.where(active, b * (1 - p), b)
    return -ll[m > 0].sum()


def fit_join_response(
    orders: pd.DataFrame,
    private: set[str],
    ops: np.ndarray,
    start: pd.Timestamp,
    *,
    draws: int = 200,
    seed: int = 0,
) -> JoinFit:
    """``orders`` (customer, date, channel) of the customers first seen in the window, the
    window's daily private-operations spend ``ops`` from ``start``; ``private`` the private
    channels' names in ``orders``. One channel's operations act on the pool: see
    :func:`fit_join_responses` for several."""
    return next(
        iter(
            fit_join_responses(
                orders, private, ops[:, None], start, draws=draws, seed=seed
            ).values()
        )
    )


def fit_join_responses(
    orders: pd.DataFrame,
    private: set[str],
    ops: np.ndarray,
    start: pd.Timestamp,
    *,
    names: list[str] | None = None,
    base_channels: int | None = None,
    draws: int = 200,
    seed: int = 0,
) -> dict[str, JoinFit]:
    """Every private channel's join response at once: ``ops`` ``(days, n)`` the daily
    private-operations spend of ``n`` channels (``names``, default ``0 … n−1``), each with its
    own ``ops_saturation`` and response m (share of those still out that its saturated
    operations move), jointly by maximum likelihood, one Laplace covariance and one set of
    draws. The orders only tell the pool's combined base ``b`` (no spend anywhere): each
    channel gets ``join_base = 1 − (1 − b)^(1/N)``, N = ``base_channels`` (default n: private
    channels without spend share the base too) (so the pool's join chance is the fitted one
    at every spend) and ``join_max = join_base + (1 − join_base)·m``."""
    n = ops.shape[1]
    names = names or [str(c) for c in range(n)]
    split = base_channels or n
    days, m, saw = _sequences(orders, private, pd.Timestamp(start))
    keep = m > 0
    days, m, saw = days[keep], m[keep], saw[keep]
    x0, bounds = [special.logit(0.05)], [(-9.0, 5.0)]
    for c in range(n):
        mean = float(max(ops[:, c][ops[:, c] > 0].mean(), 1.0)) if (ops[:, c] > 0).any() else 1.0
        x0 += [0.0, np.log(mean)]
        bounds += [(-9.0, 9.0), (np.log(mean) - 6, np.log(mean) + 6)]
    x0, bounds = np.array([*x0, 0.0]), [*bounds, (-9.0, 9.0)]
    if n > 1:  # the join level trades against P along a ridge: start from its floor's fit
        x0[1 : 1 + 2 * n : 2] = special.logit(0.1)
        free = [0, len(x0) - 1]

        def floor(y):
            return _nll(np.r_[y[0], x0[1:-1], y[1]], days, m, saw, ops)

        x0[free] = optimize.minimize(floor, x0[free], method="Nelder-Mead").x
    res = optimize.minimize(_nll, x0, args=(days, m, saw, ops), method="L-BFGS-B", bounds=bounds)
    cov = log_covariance(lambda x: _nll(x, days, m, saw, ops), res.x)
    rng = np.random.default_rng([seed, 4])
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    z = res.x + (rng.standard_normal((draws, len(x0))) * np.sqrt(np.maximum(w, 0))) @ v.T
    z = np.clip(z, [b[0] for b in bounds], [b[1] for b in bounds])
    out = {}
    for c, name in enumerate(names):
        table = pd.DataFrame([_natural(x, c, split) for x in z])
        est = _natural(res.x, c, split)
        interval = {
            k: (float(table[k].quantile(0.025)), float(table[k].quantile(0.975))) for k in table
        }
        curve = JoinCurve(
            est["join_base"], est["join_max"], est["ops_saturation"], est["p_private"]
        )
        out[name] = JoinFit(
            curve, interval, int(len(m)), table[["join_base", "join_max", "ops_saturation"]]
        )
    return out


def _natural(x: np.ndarray, c: int = 0, n: int = 1) -> dict[str, float]:
    """Channel ``c``, the base split ``n`` ways: its share of the base, its curve, the
    response m, the pool's base b and P (the last two shared)."""
    b, m, p = special.expit(x[[0, 1 + 2 * c, -1]])
    jb = 1 - (1 - b) ** (1 / n)
    return {
        "join_base": float(jb),
        "join_max": float(jb + (1 - jb) * m),
        "ops_saturation": float(np.exp(x[2 + 2 * c])),
        "p_private": float(p),
        "ops_response": float(m),
        "pool_base": float(b),
    }
