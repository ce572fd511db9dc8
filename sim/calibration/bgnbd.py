"""The BG/NBD reference model (Fader, Hardie & Lee 2005): likelihood, fit, closed forms, draws.

Each customer's (x, t_x, T) is in ``unit_days``-day units (weeks by default): purchase rate
λ ~ Gamma(r, α) while alive, dropout after each repeat purchase with p ~ Beta(a, b). The
calibration uses it for the holdout conditional-expectation check and reports it for comparison
with the literature; it is not mapped into the scenario (see docs/calibration.md).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> h = sample_bgnbd(2000, r=0.243, alpha=4.414, a=0.793, b=2.426, T=39, rng=rng)
    >>> fit = fit_bgnbd(h["x"], h["t_x"], h["T"])
    >>> 0.1 < fit.r < 0.5
    True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.calibration.histories import distinct_histories

# Bounds of the log-parameter search. They keep the closed forms finite when the data push
# towards a limit (regular buyers: r, α → ∞ with r/α fixed; no dropout: a → 0 or b → ∞); see
# docs/calibration.md.
LOG_BOUNDS = [(-7, 7), (-7, 12), (-7, 7), (-7, 9)]


class BGNBDLimitWarning(UserWarning):
    """The BG/NBD fit stopped at a bound of its parameter space."""


@dataclass(frozen=True)
class BGNBD:
    """A fitted BG/NBD model; time in ``unit_days``-day units (weeks by default)."""

    r: float
    alpha: float
    a: float
    b: float
    loglik: float = float("nan")
    n: int = 0
    unit_days: float = 7.0

    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def expected(self, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in (0, t] of a customer who just made a first."""
        r, al, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, dtype=float)
        z = t / (al + t)
        hyp = special.hyp2f1(r, b, a + b - 1, z)
        return (a + b - 1) / (a - 1) * (1 - (al / (al + t)) ** r * hyp)

    def conditional_expected(self, t: float, x, t_x, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] given the history (FHL eq. 10)."""
        r, al, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (al + T + t))
        num = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp)
        return num / (
            1 + (x > 0) * a / np.maximum(b + x - 1, 1e-12) * ((al + T) / (al + t_x)) ** (r + x)
        )

    def p_alive(self, x, t_x, T) -> np.ndarray:
        r, al, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        odds = (x > 0) * a / np.maximum(b + x - 1, 1e-12) * ((al + T) / (al + t_x)) ** (r + x)
        return 1.0 / (1.0 + odds)


def bgnbd_loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood of the BG/NBD (FHL 2005, eq. 6), in log space."""
    r, al, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    base = special.gammaln(r + x) - special.gammaln(r) + r * math.log(al)
    a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(al + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        a3 = np.where(
            x > 0,
            special.betaln(a + 1, np.maximum(b + x - 1, 1e-12))
            - special.betaln(a, b)
            - (r + x) * np.log(al + t_x),
            -np.inf,
        )
    return base + np.logaddexp(a2, a3)


def fit_bgnbd(x, t_x, T, *, unit_days: float = 7.0) -> BGNBD:
    """Maximum-likelihood BG/NBD fit (log-parameters, L-BFGS-B, then Nelder–Mead polish).

    ``x`` repeat purchases, ``t_x`` time of the last purchase and ``T`` the age of each
    customer, both since their first purchase, in ``unit_days``-day units. Warns with
    :class:`BGNBDLimitWarning` when a parameter ends at a bound of the search.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < 2:
        raise ValueError("BG/NBD needs at least two customers")
    best = _search(_negative_loglik(x, t_x, T), mean_T=float(np.mean(T)))
    _warn_at_bound(best.x)
    r, al, a, b = np.exp(best.x)
    return BGNBD(
        r=float(r),
        alpha=float(al),
        a=float(a),
        b=float(b),
        loglik=-float(best.fun),
        n=len(x),
        unit_days=unit_days,
    )


def _negative_loglik(x, t_x, T):
    """The objective on log-parameters, over identical histories aggregated (same likelihood,
    far fewer terms)."""
    hx, ht, hT, w = distinct_histories(x, t_x, T)

    def nll(theta):
        p = np.exp(np.clip(theta, -15, 15))
        val = -(w * bgnbd_loglik(p, hx, ht, hT)).sum()
        return val if np.isfinite(val) else 1e300

    return nll


def _search(nll, *, mean_T: float) -> optimize.OptimizeResult:
    """The best of two starts around the customers' mean age."""
    starts = (
        np.log([1.0, max(mean_T, 1e-3), 1.0, 1.0]),
        np.log([0.5, max(mean_T / 2, 1e-3), 0.5, 2.0]),
    )
    return best_of(nll, starts, LOG_BOUNDS)


def best_of(nll, starts, bounds) -> optimize.OptimizeResult:
    """The best of the ``starts`` (log-parameters, clipped into ``bounds``), each L-BFGS-B then
    a Nelder–Mead polish within the bounds (L-BFGS-B alone stops early on the flat ridges
    of these likelihoods)."""
    lo, hi = np.array(bounds, dtype=float).T
    best = None
    for init in starts:
        res = optimize.minimize(nll, np.clip(init, lo, hi), method="L-BFGS-B", bounds=bounds)
        res = optimize.minimize(
            nll,
            res.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000},
        )
        if best is None or res.fun < best.fun:
            best = res
    return best


def _warn_at_bound(theta: np.ndarray) -> None:
    warn_at_bound(
        theta,
        LOG_BOUNDS,
        "r alpha a b".split(),
        model="BG/NBD",
        limits="the data are at a limit of the model (e.g. purchases more regular than "
        "Poisson, or no dropout after purchases)",
        stacklevel=3,
    )


def warn_at_bound(
    theta,
    bounds,
    names,
    *,
    model: str,
    limits: str | Mapping[tuple[str, str], str],
    stacklevel: int = 2,
) -> list[tuple[str, str]]:
    """Warn :class:`BGNBDLimitWarning` when a log-parameter of a fit ends within 1e-3 of a bound
    of its search; return the (name, "lower" | "upper") found there.

    A fit stopped at a bound is not an estimate: the data push towards a limit of the model
    that the bound only cuts off, so the callers put the message into the calibration notes.
    ``limits`` says what that limit means: one text for every parameter (the BG/NBD's), or one
    per (name, side), each then named with its side and bound. ``stacklevel`` as for
    :func:`warnings.warn` called where this is called (2: that function's caller).
    """
    hits = [
        (name, "lower" if v - lo < hi - v else "upper", lo if v - lo < hi - v else hi)
        for name, v, (lo, hi) in zip(names, theta, bounds, strict=True)
        if min(v - lo, hi - v) < 1e-3
    ]
    if not hits:
        return []
    if isinstance(limits, str):
        meaning = limits
    else:
        meaning = (
            "the data are at a limit of the model ("
            + "; ".join(
                f"{name} at its {side} bound e^{bound:g}: {limits[name, side]}"
                for name, side, bound in hits
            )
            + ")"
        )
    warnings.warn(
        f"{model}: {', '.join(h[0] for h in hits)} at the bound of the search: {meaning}",
        BGNBDLimitWarning,
        stacklevel=stacklevel + 1,
    )
    return [(name, side) for name, side, _ in hits]


@contextmanager
def limits_noted(notes: list[str], prefix: str = "") -> Iterator[None]:
    """Collect the :class:`BGNBDLimitWarning` of the fits inside into ``notes`` (each after
    ``prefix``): a fit at a limit of its model is part of the calibration's report, not a
    stray warning. Any other warning is passed on as it came.

    >>> notes = []
    >>> with limits_noted(notes, "segment a: "):
    ...     warnings.warn("BG/NBD: b at the bound", BGNBDLimitWarning)
    >>> notes
    ['segment a: BG/NBD: b at the bound']
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BGNBDLimitWarning)
        yield
    for w in caught:
        if issubclass(w.category, BGNBDLimitWarning):
            notes.append(f"{prefix}{w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def sample_bgnbd(
    n: int, *, r: float, alpha: float, a: float, b: float, T, rng: np.random.Generator
) -> pd.DataFrame:
    """Histories drawn exactly from the BG/NBD generative process (for tests and checks).

    Each customer makes a first purchase at 0, buys at Poisson rate λ ~ Gamma(r, α) and, after
    each repeat purchase, drops out with p ~ Beta(a, b). Returns x, t_x, T and the whole
    purchase times (``times``).
    """
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,))
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    rows = []
    for i in range(n):
        t, times = 0.0, []
        while True:
            t += rng.exponential(1.0 / lam[i]) if lam[i] > 0 else np.inf
            if t > T[i]:
                break
            times.append(t)
            if rng.random() < p[i]:
                break
        rows.append((len(times), times[-1] if times else 0.0, T[i], times))
    return pd.DataFrame(rows, columns=["x", "t_x", "T", "times"])


def bgnbd_orders(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    days: int,
    acquisition_days: int = 84,
    start: str = "2025-01-01",
    unit_price: float = 120.0,
    basket_units: float = 1.6,
    channels: dict[str, float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """An order export drawn from the BG/NBD (rates per week).

    First orders uniform over ``acquisition_days``, then the BG/NBD's repeats, observed for
    ``days`` days; amounts are geometric units × ``unit_price``; channels drawn with the given
    shares. Columns as :func:`sim.calibration.orders.orders_from_ledger` writes them (the
    reverse check of the docs).
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, acquisition_days, n)
    hist = sample_bgnbd(n, r=r, alpha=alpha, a=a, b=b, T=(days - first) / 7.0, rng=rng)
    cust = np.repeat(np.arange(n), hist["x"].to_numpy() + 1)
    offsets = np.concatenate([[0.0, *ts] for ts in hist["times"]])
    day = first[cust] + np.floor(offsets * 7).astype(int)
    shares = channels or {"tmall": 0.45, "jd": 0.45, "wecom": 0.10}
    order = np.lexsort((cust, day))
    out = pd.DataFrame(
        {
            "customer_id": [f"C{c:05d}" for c in cust[order]],
            "order_date": (pd.Timestamp(start) + pd.to_timedelta(day[order], "D")).strftime(
                "%Y-%m-%d"
            ),
            "amount": unit_price * rng.geometric(1 / basket_units, len(cust)),
            "channel": rng.choice(list(shares), len(cust), p=list(shares.values())),
        }
    )
    out.insert(0, "order_id", [f"O{i:07d}" for i in range(1, len(out) + 1)])
    return out
