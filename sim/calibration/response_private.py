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


def _nll(params: np.ndarray, days: np.ndarray, m: np.ndarray, saw: np.ndarray, ops: np.ndarray):
    jb, jm, p = special.expit(params[[0, 1, 3]])
    jm = jb + (1 - jb) * jm  # join_max ≥ join_base
    sat = np.exp(params[2])
    j_day = jb + (jm - jb) * -np.expm1(-ops / sat)
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
    channels' names in ``orders``."""
    days, m, saw = _sequences(orders, private, pd.Timestamp(start))
    keep = m > 0
    days, m, saw = days[keep], m[keep], saw[keep]
    spend_mean = float(max(ops[ops > 0].mean(), 1.0))
    x0 = np.array([special.logit(0.05), 0.0, np.log(spend_mean), 0.0])
    bounds = [(-9, 5), (-9, 9), (np.log(spend_mean) - 6, np.log(spend_mean) + 6), (-9, 9)]
    res = optimize.minimize(_nll, x0, args=(days, m, saw, ops), method="L-BFGS-B", bounds=bounds)
    cov = log_covariance(lambda x: _nll(x, days, m, saw, ops), res.x)
    rng = np.random.default_rng([seed, 4])
    w, v = np.linalg.eigh((cov + cov.T) / 2)
    z = res.x + (rng.standard_normal((draws, 4)) * np.sqrt(np.maximum(w, 0))) @ v.T
    z = np.clip(z, [b[0] for b in bounds], [b[1] for b in bounds])
    table = pd.DataFrame([_natural(x) for x in z])
    est = _natural(res.x)
    interval = {
        k: (float(table[k].quantile(0.025)), float(table[k].quantile(0.975))) for k in table
    }
    curve = JoinCurve(est["join_base"], est["join_max"], est["ops_saturation"], est["p_private"])
    return JoinFit(curve, interval, int(len(m)), table.drop(columns="p_private"))


def _natural(x: np.ndarray) -> dict[str, float]:
    jb, jm, p = special.expit(x[[0, 1, 3]])
    return {
        "join_base": float(jb),
        "join_max": float(jb + (1 - jb) * jm),
        "ops_saturation": float(np.exp(x[2])),
        "p_private": float(p),
    }
