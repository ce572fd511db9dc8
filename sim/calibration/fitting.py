"""Calibration: from an order history to the ``market`` section of a baseline scenario.

What is fitted, and how (every fit is maximum likelihood unless stated):

* **BG/NBD** (Fader, Hardie & Lee 2005) on each customer's (x, t_x, T) in weeks: purchase rate
  λ ~ Gamma(r, α) while alive, dropout after each repeat purchase with p ~ Beta(a, b). Used for
  the holdout conditional-expectation check and reported for comparison with the literature.
* **The simulator's own repeat process** ("renewal fit"): after a purchase a customer needs the
  product again after a lognormal gap (mean ``purchase_cycle_days``, spread ``cycle_cv``), then
  shops until they buy (daily conversion c) or give up (``interest_lapse``, which costs one more
  cycle), and churns with a constant daily hazard. The exact discrete-day likelihood of every
  observed gap and of the silence after the last order gives ``purchase_cycle_days``,
  ``cycle_cv`` and the daily churn hazard directly in the simulator's own terms.
* **Arrivals**: daily first orders ~ Poisson(M·(e^{−kd} − e^{−k(d+1)})), the adoption curve of
  a market of M customers with hazard k → market size and ``organic_interest``.
* **Basket value** by segment: lognormal (μ, σ of log amount); ``basket_units`` = mean amount ÷
  the unit price (the most common order amount of the busiest channel, or ``guide_price``).
* **Channels**: order shares, first-order shares, the switching matrix P(next channel | last
  channel), the share of customers active in each family; family affinities from first-order
  shares through the choice model's logit; private-pool joining and the private affinity by a
  two-state (member or not) hidden-Markov likelihood of when customers first buy privately.

    >>> from sim.calibration.orders import read_orders
    >>> orders = read_orders("scenarios/data/sample_orders.csv",
    ...                      columns={"customer": "customer_id", "date": "order_date",
    ...                               "amount": "amount", "channel": "channel",
    ...                               "order_id": "order_id"})
    >>> cal = calibrate(orders.table, end="2025-12-30")
    >>> round(cal.renewal.cycle_days)
    30
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from sim.scenario import FAMILIES, Scenario, build_scenario, set_path

# What an order export cannot tell: behaviour constants held at these values. They are the
# generator's own (scenarios/data/sample_scenario.yaml); ``overrides`` change them, and the
# mapping below then accounts for the changed values (e.g. a lower conversion → shorter cycle).
TEMPLATE: dict[str, Any] = {
    "market": {
        "guide_price": 100.0,
        "unit_cost": 0.0,
        "organic_interest": 0.001,
        "word_of_mouth": 0.0,
        "interest_lapse": 0.35,
        "churn": 0.002,
        "dissatisfied_churn": 0.0,
        "private_retention": 1.0,
        "loyalty": 0.8,
        "private_bonus": 0.4,
        "price_weight": 3.0,
        "journey_sample": 50,
    },
    "segment": {"price_sensitivity": 1.5, "reservation_price": 1.25, "reservation_spread": 0.2},
    "channel": {"base_conversion": 0.5, "service": {"reply_minutes": 0}},
}
FAMILY_HINTS: dict[str, tuple[str, ...]] = {  # checked in this order, on the lower-cased name
    "public": (
        "tmall",
        "taobao",
        "jd",
        "douyin",
        "pdd",
        "pinduoduo",
        "kuaishou",
        "vip",
        "marketplace",
        "amazon",
        "suning",
        "天猫",
        "淘宝",
        "京东",
        "抖音",
        "拼多多",
        "快手",
    ),
    "private": (
        "wecom",
        "wechat",
        "weixin",
        "miniprogram",
        "miniapp",
        "applet",
        "website",
        "member",
        "private",
        "crm",
        "youzan",
        "企业微信",
        "微信",
        "小程序",
        "官网",
        "私域",
    ),
    "social": ("xiaohongshu", "xhs", "redbook", "weibo", "bilibili", "social", "小红书", "微博"),
    "offline": (
        "store",
        "offline",
        "retail",
        "distributor",
        "counter",
        "shoppingmall",
        "门店",
        "线下",
        "经销",
    ),
}
MAX_GAP_DAYS = 1500


# =============================================================================================
# BG/NBD
# =============================================================================================
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
    customer, both since their first purchase, in ``unit_days``-day units.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < 2:
        raise ValueError("BG/NBD needs at least two customers")
    # Aggregate identical histories: same likelihood, far fewer terms.
    hist = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="w")
    hx, ht, hT, w = (hist[c].to_numpy(float) for c in ("x", "t_x", "T", "w"))

    def nll(theta):
        p = np.exp(np.clip(theta, -15, 15))
        val = -(w * bgnbd_loglik(p, hx, ht, hT)).sum()
        return val if np.isfinite(val) else 1e300

    start = np.log([1.0, max(float(np.mean(T)), 1e-3), 1.0, 1.0])
    # Bounds keep the closed forms finite when the data push towards a limit (regular buyers:
    # r, α → ∞ with r/α fixed; no dropout: a → 0 or b → ∞); see docs/calibration.md.
    bounds = [(-7, 7), (-7, 12), (-7, 7), (-7, 9)]
    best = None
    for init in (start, np.log([0.5, max(float(np.mean(T)) / 2, 1e-3), 0.5, 2.0])):
        res = optimize.minimize(nll, init, method="L-BFGS-B", bounds=bounds)
        res = optimize.minimize(
            nll,
            res.x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000},
        )
        if best is None or res.fun < best.fun:
            best = res
    r, al, a, b = np.exp(best.x)
    at_bound = [
        name
        for name, v, (lo, hi) in zip("r alpha a b".split(), best.x, bounds, strict=True)
        if min(v - lo, hi - v) < 1e-3
    ]
    if at_bound:
        warnings.warn(
            f"BG/NBD: {', '.join(at_bound)} at the bound of the search: the data "
            "are at a limit of the model (e.g. purchases more regular than Poisson, "
            "or no dropout after purchases)",
            BGNBDLimitWarning,
            stacklevel=2,
        )
    return BGNBD(
        r=float(r),
        alpha=float(al),
        a=float(a),
        b=float(b),
        loglik=-float(best.fun),
        n=len(x),
        unit_days=unit_days,
    )


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
    """An order export drawn from the BG/NBD (rates per week): first orders uniform over
    ``acquisition_days``, then the BG/NBD's repeats, observed for ``days`` days; amounts are
    geometric units × ``unit_price``; channels drawn with the given shares. Columns as
    :func:`sim.calibration.orders.orders_from_ledger` writes them (the reverse check of the docs)."""
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


# =============================================================================================
# The simulator's repeat process: need gap + shopping, daily churn hazard
# =============================================================================================
def gap_pmf(cycle: float, cv: float, conversion: float, lapse: float, n: int) -> np.ndarray:
    """P(days between two purchases = g), g = 0..n−1, under the simulator's rules.

    need gap = max(1, round(cycle × lognormal(mean 1, cv))); then each shopping day the
    customer buys with ``conversion``, else gives up with ``lapse`` and needs again
    ``int(cycle)`` days later (see sim/core/phases/purchase.py, churn.py).
    """
    g = np.arange(n, dtype=float)
    if cv > 1e-6:
        sig = math.sqrt(math.log1p(cv * cv))
        mu = math.log(cycle) - sig * sig / 2
        cdf = stats.norm.cdf((np.log(np.maximum(g + 0.5, 1e-12)) - mu) / sig)
        need = np.diff(np.concatenate([[0.0], cdf]))
        need[1] += need[0]  # rounded gaps below 1 become 1
        need[0] = 0.0
    else:
        need = np.zeros(n)
        need[min(max(1, round(cycle)), n - 1)] = 1.0
    c, q = conversion, (1 - conversion) * (1 - lapse)
    base = c * q**g  # buy after k further shopping days
    lapse_kernel = np.zeros(n)
    step = max(1, int(cycle))
    k = np.arange(max(0, n - step))
    lapse_kernel[step:] = (1 - c) * lapse * q**k  # give up after k days, need again later
    wait, term = base.copy(), base
    for _ in range(n // step + 1):
        term = np.convolve(term, lapse_kernel)[:n]
        wait += term
        if term.sum() < 1e-12:
            break
    return np.convolve(need, wait)[:n]


@dataclass(frozen=True)
class RenewalFit:
    """The simulator's repeat process fitted to gaps and silences (days)."""

    cycle_days: float
    cycle_cv: float
    hazard: float  # daily churn hazard
    conversion: float
    lapse: float
    loglik: float
    customers: int
    gaps: int

    def mean_gap(self) -> float:
        pmf = gap_pmf(self.cycle_days, self.cycle_cv, self.conversion, self.lapse, MAX_GAP_DAYS)
        return float((np.arange(len(pmf)) * pmf).sum() / pmf.sum())

    def p_alive(self, silence_days) -> np.ndarray:
        """P(still a customer | no purchase for ``silence_days`` since the last one)."""
        alive, total = _silence_terms(self, np.asarray(silence_days, dtype=int))
        return np.exp(alive - total)


def _silence_terms(fit: RenewalFit, silence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = int(max(silence.max(initial=0), 1)) + 2
    pmf = gap_pmf(fit.cycle_days, fit.cycle_cv, fit.conversion, fit.lapse, n)
    surv = np.clip(1.0 - np.cumsum(pmf), 1e-300, 1.0)  # P(G > k)
    h = fit.hazard
    k = np.arange(n)
    dying = np.concatenate([[0.0], np.cumsum(np.exp(-h * k) * surv * -np.expm1(-h))])
    alive = -h * silence + np.log(surv[silence])
    return alive, np.log(np.exp(alive) + dying[silence])


def fit_renewal(
    gaps: np.ndarray,
    silences: np.ndarray,
    *,
    conversion: float,
    lapse: float,
    hazard: float | None = None,
) -> RenewalFit:
    """MLE of (cycle, cv, daily churn hazard) from every gap between two purchases and every
    customer's silence since their last purchase. ``hazard`` given → only cycle and cv."""
    gaps = np.asarray(gaps, dtype=int)
    silences = np.asarray(silences, dtype=int)
    n = int(min(max(gaps.max(initial=1), silences.max(initial=1)) + 2, MAX_GAP_DAYS))
    gaps, silences = np.minimum(gaps, n - 2), np.minimum(silences, n - 2)
    g_count = np.bincount(gaps, minlength=n)
    s_count = np.bincount(silences, minlength=n)
    k = np.arange(n)

    def nll(theta):
        cycle, cv = math.exp(theta[0]), math.exp(theta[1])
        h = hazard if hazard is not None else math.exp(theta[2])
        pmf = np.maximum(gap_pmf(cycle, cv, conversion, lapse, n), 1e-300)
        surv = np.clip(1.0 - np.cumsum(pmf), 1e-300, 1.0)
        ll_gaps = (g_count * (np.log(pmf) - h * k)).sum()
        dying = np.concatenate([[0.0], np.cumsum(np.exp(-h * k) * surv * -np.expm1(-h))])[:n]
        ll_sil = (s_count * np.log(np.exp(-h * k) * surv + dying)).sum()
        return -(ll_gaps + ll_sil)

    mean_gap = float(gaps.mean()) if len(gaps) else float(np.median(silences) + 1)
    init = [math.log(max(mean_gap * 0.8, 1.5)), math.log(0.3)]
    if hazard is None:
        init.append(math.log(1.0 / max(mean_gap * 10, 10)))
    best = None
    for scale in (1.0, 0.6):
        x0 = np.array(init)
        x0[0] = math.log(max(mean_gap * scale, 1.5))
        res = optimize.minimize(
            nll, x0, method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-6, "maxiter": 3000}
        )
        if best is None or res.fun < best.fun:
            best = res
    h = hazard if hazard is not None else math.exp(best.x[2])
    return RenewalFit(
        cycle_days=math.exp(best.x[0]),
        cycle_cv=min(math.exp(best.x[1]), 3.0),
        hazard=h,
        conversion=conversion,
        lapse=lapse,
        loglik=-float(best.fun),
        customers=len(silences),
        gaps=len(gaps),
    )


@dataclass(frozen=True)
class LatentRenewal:
    """A finite mixture of the simulator's repeat process: K classes of buyers with their own
    cycle and cv, one daily churn hazard (the scenario's churn is market-wide)."""

    weights: np.ndarray
    fits: list[RenewalFit]
    loglik: float
    responsibilities: np.ndarray  # customers × K


def fit_latent_renewal(
    gaps_by_customer: list[np.ndarray],
    silences: np.ndarray,
    *,
    classes: int,
    conversion: float,
    lapse: float,
    start: RenewalFit,
) -> LatentRenewal:
    """MLE of a K-class mixture of renewal fits (latent classes, not cut on the outcome):
    each customer's whole history (gaps and final silence) is one mixture term."""
    from scipy import sparse

    silences = np.asarray(silences, dtype=int)
    n = int(
        min(
            max(
                max((g.max(initial=1) for g in gaps_by_customer), default=1),
                silences.max(initial=1),
            )
            + 2,
            MAX_GAP_DAYS,
        )
    )
    rows = np.repeat(np.arange(len(gaps_by_customer)), [len(g) for g in gaps_by_customer])
    cols = np.minimum(np.concatenate([*gaps_by_customer, np.zeros(0, int)]), n - 2)
    counts = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(gaps_by_customer), n))
    silences = np.minimum(silences, n - 2)
    k = np.arange(n)

    def per_class(cycle, cv, h):
        pmf = np.maximum(gap_pmf(cycle, cv, conversion, lapse, n), 1e-300)
        surv = np.clip(1.0 - np.cumsum(pmf), 1e-300, 1.0)
        dying = np.concatenate([[0.0], np.cumsum(np.exp(-h * k) * surv * -np.expm1(-h))])[:n]
        sil = np.log(np.exp(-h * k) * surv + dying)
        return counts @ (np.log(pmf) - h * k) + sil[silences]

    def unpack(theta):
        cyc = np.exp(np.clip(theta[:classes], math.log(2.0), math.log(MAX_GAP_DAYS)))
        cv = np.exp(np.clip(theta[classes : 2 * classes], math.log(0.05), math.log(3.0)))
        logits = np.concatenate([[0.0], theta[2 * classes : 3 * classes - 1]])
        logw = logits - special.logsumexp(logits)
        return cyc, cv, logw, math.exp(theta[-1])

    def table(theta):
        cyc, cv, logw, h = unpack(theta)
        return np.column_stack([logw[j] + per_class(cyc[j], cv[j], h) for j in range(classes)])

    def nll(theta):
        return -float(special.logsumexp(table(theta), axis=1).sum())

    spread = np.exp(np.linspace(-0.7, 1.2, classes))
    theta0 = np.concatenate(
        [
            np.log(start.cycle_days * spread),
            np.full(classes, math.log(max(start.cycle_cv, 0.3))),
            np.zeros(classes - 1),
            [math.log(start.hazard)],
        ]
    )
    res = optimize.minimize(
        nll, theta0, method="Powell", options={"maxiter": 20000, "xtol": 1e-4, "ftol": 1e-7}
    )
    cyc, cv, logw, h = unpack(res.x)
    tab = table(res.x)
    resp = np.exp(tab - special.logsumexp(tab, axis=1, keepdims=True))
    order = np.argsort(-cyc)  # slowest buyers first
    fits = [
        RenewalFit(
            cycle_days=float(cyc[j]),
            cycle_cv=float(cv[j]),
            hazard=h,
            conversion=conversion,
            lapse=lapse,
            loglik=-float(res.fun),
            customers=int(round(resp[:, j].sum())),
            gaps=int(counts.sum()),
        )
        for j in order
    ]
    return LatentRenewal(
        weights=np.exp(logw)[order],
        fits=fits,
        loglik=-float(res.fun),
        responsibilities=resp[:, order],
    )


# =============================================================================================
# Arrivals, baskets, channels
# =============================================================================================
def fit_arrivals(
    first_day: np.ndarray, days: int, *, max_multiple: float = 20.0
) -> tuple[float, float]:
    """(market size M, daily adoption hazard k) from the day index of each first order.

    Poisson MLE of daily first orders M(e^{−kd} − e^{−k(d+1)}); M is profiled out. With no
    visible depletion M is capped at ``max_multiple`` × the customers seen.
    """
    first_day = np.asarray(first_day)
    n = len(first_day)
    sum_d = float(first_day.sum())

    def nll(logk):
        k = math.exp(logk)
        return -(-k * sum_d + n * math.log(-math.expm1(-k)) - n * math.log(-math.expm1(-k * days)))

    res = optimize.minimize_scalar(nll, bounds=(math.log(1e-7), math.log(0.5)), method="bounded")
    k = math.exp(res.x)
    m = n / -math.expm1(-k * days)
    if m > max_multiple * n:  # flat arrivals: the market size is not identified
        m = max_multiple * n
        k = -math.log1p(-n / m) / days
    return float(m), float(k)


def fit_lognormal(amounts: np.ndarray) -> dict[str, float]:
    """MLE of a lognormal on positive amounts: μ, σ of log amount, mean, median, n."""
    pos = np.asarray(amounts, dtype=float)
    pos = pos[pos > 0]
    logs = np.log(pos)
    mu, sigma = float(logs.mean()), float(logs.std(ddof=0))
    return {
        "mu": mu,
        "sigma": sigma,
        "mean": float(math.exp(mu + sigma**2 / 2)),
        "median": float(math.exp(mu)),
        "sample_mean": float(pos.mean()),
        "n": len(pos),
    }


def infer_families(
    channels: list[str], mapping: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Family of each channel: the user's mapping first, then name hints (with a warning)."""
    mapping = dict(mapping or {})
    out, notes = {}, []
    for ch in channels:
        if ch in mapping:
            out[ch] = mapping[ch]
            continue
        key = re.sub(r"[\W_]", "", ch.lower())
        fam = next((f for f, hints in FAMILY_HINTS.items() if any(h in key for h in hints)), None)
        notes.append(
            f"channel {ch!r}: family {fam or 'public'!r} "
            f"{'guessed from its name' if fam else 'assumed (no hint in the name)'}; "
            "set it with --families"
        )
        out[ch] = fam or "public"
    return out, notes


def channel_stats(table: pd.DataFrame, families: dict[str, str]) -> dict[str, Any]:
    """Order shares, first-order shares, switching matrix and family activity."""
    t = table.sort_values(["customer", "date", "line"])
    shares = t["channel"].value_counts(normalize=True)
    first = t.drop_duplicates("customer")["channel"].value_counts(normalize=True)
    nxt = t.groupby("customer")["channel"].shift(-1)
    pairs = pd.DataFrame({"from": t["channel"], "to": nxt}).dropna()
    switching = pd.crosstab(pairs["from"], pairs["to"], normalize="index")
    # who buys where after their first order: first channel → channels of the later orders
    first_ch = t.groupby("customer")["channel"].transform("first")
    later = t.groupby("customer").cumcount() > 0
    after_first = pd.crosstab(first_ch[later], t.loc[later, "channel"], normalize="index")
    after_first.index.name, after_first.columns.name = "first_channel", "later_channel"
    fam = t["channel"].map(families)
    active = (pd.crosstab(t["customer"], fam) > 0).mean()
    return {
        "order_share": shares.to_dict(),
        "first_order_share": first.to_dict(),
        "switching": switching,
        "after_first": after_first,
        "family_active_share": active.to_dict(),
        "transitions": int(len(pairs)),
    }


def fit_private_joining(table: pd.DataFrame, families: dict[str, str]) -> dict[str, float]:
    """MLE of (join probability j per non-private order, P(member picks private)).

    Hidden state: in the private pool or not. Orders before the first private one are
    non-private; after each, a non-member joins with j; a member picks a private channel with
    P. Returns j, P, and each customer's posterior membership after their last order.
    """
    t = table.sort_values(["customer", "date", "line"])
    private = t["channel"].map(families).eq("private").to_numpy()
    cust = t["customer"].to_numpy()
    first_priv = (
        pd.Series(private)
        .groupby(cust)
        .apply(lambda s: int(np.argmax(s.to_numpy())) if s.any() else -1)
    )
    n_orders = pd.Series(cust).value_counts()
    idx = first_priv.index
    m_before = np.where(first_priv.to_numpy() >= 0, first_priv.to_numpy(), n_orders[idx].to_numpy())
    saw = first_priv.to_numpy() >= 0
    if saw.sum() == 0 or (m_before[saw] == 0).all():
        return {"join": 0.0, "p_private": 0.0, "members": pd.Series(saw.astype(float), idx)}
    m_before = np.maximum(m_before, 1)  # a first order in private: treat as joining on order 1
    mmax = int(m_before.max()) + 1

    def masses(j, p):
        a, b = 1.0, 0.0
        first, stay, member = np.zeros(mmax + 1), np.zeros(mmax + 1), np.zeros(mmax + 1)
        for m in range(1, mmax + 1):  # after m non-private orders (each followed by a join try)
            b, a = b + a * j, a * (1 - j)
            first[m] = b * p
            stay[m] = a + b
            member[m] = b / (a + b) if a + b > 0 else 1.0
            b *= 1 - p
        return first, stay, member

    def nll(theta):
        j, p = special.expit(theta)
        first, stay, _ = masses(j, p)
        ll = np.where(
            saw,
            np.log(np.maximum(first[m_before], 1e-300)),
            np.log(np.maximum(stay[m_before], 1e-300)),
        )
        return -ll.sum()

    res = optimize.minimize(nll, [-2.0, 0.0], method="Nelder-Mead")
    j, p = (float(v) for v in special.expit(res.x))
    member = np.where(saw, 1.0, masses(j, p)[2][m_before])
    return {"join": j, "p_private": p, "members": pd.Series(member, idx)}


# =============================================================================================
# Customer histories
# =============================================================================================
def customer_histories(
    table: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per customer of the cohort first seen in [start, end]: first/last day, x, t_x, T (days),
    orders, spend; plus every gap in days between consecutive purchase days."""
    t = table[(table["date"] >= start) & (table["date"] <= end)]
    seen_before = set(table.loc[table["date"] < start, "customer"])
    t = t[~t["customer"].isin(seen_before)]
    day = ((t["date"] - start).dt.days).to_numpy()
    days = pd.DataFrame({"customer": t["customer"].to_numpy(), "day": day})
    uniq = days.drop_duplicates().sort_values(["customer", "day"])
    g = uniq.groupby("customer")["day"]
    horizon = int((end - start).days)
    hist = pd.DataFrame({"first": g.min(), "last": g.max(), "purchase_days": g.size()})
    hist["x"] = hist["purchase_days"] - 1
    hist["t_x"] = hist["last"] - hist["first"]
    hist["T"] = horizon - hist["first"]
    spend = t.groupby("customer")["amount"].agg(["sum", "size"])
    hist["spend"] = spend["sum"]
    hist["orders"] = spend["size"]
    gaps = uniq.groupby("customer")["day"].diff().dropna().to_numpy(int)
    return hist, gaps


# =============================================================================================
# The whole calibration
# =============================================================================================
@dataclass
class Calibration:
    """Everything fitted from one order history, and the scenario it maps to."""

    start: dt.date
    end: dt.date
    customers: pd.DataFrame  # per-customer history (index: customer id)
    bgnbd: BGNBD
    renewal: RenewalFit
    segment_fits: dict[str, RenewalFit]
    baskets: dict[str, dict[str, float]]
    channels: dict[str, Any]
    families: dict[str, str]
    joining: dict[str, Any]
    market_size: float
    adoption_hazard: float
    alive: float  # expected customers still active at the end of the window
    raw: dict[str, Any] = field(repr=False, default_factory=dict)  # scenario dict (baseline)
    max_customers: int = 20000
    notes: list[str] = field(default_factory=list)

    def scenario(self) -> Scenario:
        """The calibrated baseline, starting the day after the window, as a frozen Scenario."""
        return build_scenario(self.raw)

    def scenario_from_start(self, days: int) -> Scenario:
        """The same market simulated from the window's first day with no customers yet:
        what the holdout validation runs (the cohort is acquired inside the window)."""
        raw = copy.deepcopy(self.raw)
        n = self.market_size
        sim_n = int(min(self.max_customers, max(round(n), 1)))
        raw["market"].update(
            customers=sim_n, scale=n / sim_n, initial_customers=0.0, initial_private=0.0
        )
        raw["horizon"] = {"start": self.start.isoformat(), "days": int(days)}
        raw["name"] = f"{raw['name']}_from_start"
        return build_scenario(raw)

    def summary(self) -> dict[str, Any]:
        """Plain data for calibration.json: every fitted quantity and the method behind it."""
        sw = self.channels["switching"]
        return {
            "window": [self.start.isoformat(), self.end.isoformat()],
            "customers": len(self.customers),
            "bgnbd": {
                **self.bgnbd.params(),
                "time_unit_days": self.bgnbd.unit_days,
                "loglik": self.bgnbd.loglik,
                "mean_rate_per_week": self.bgnbd.r / self.bgnbd.alpha * 7 / self.bgnbd.unit_days,
                "mean_dropout_p": self.bgnbd.a / (self.bgnbd.a + self.bgnbd.b),
                # E[p]·E[λ]: what a BG/NBD → daily-hazard mapping would give (not used)
                "implied_daily_hazard": self.bgnbd.a
                / (self.bgnbd.a + self.bgnbd.b)
                * self.bgnbd.r
                / self.bgnbd.alpha
                / self.bgnbd.unit_days,
                "method": "maximum likelihood (Fader, Hardie & Lee 2005), L-BFGS-B + "
                "Nelder-Mead on log parameters",
            },
            "renewal": {
                "purchase_cycle_days": self.renewal.cycle_days,
                "cycle_cv": self.renewal.cycle_cv,
                "churn_hazard_per_day": self.renewal.hazard,
                "mean_gap_days": self.renewal.mean_gap(),
                "conversion_per_shopping_day": self.renewal.conversion,
                "interest_lapse": self.renewal.lapse,
                "loglik": self.renewal.loglik,
                "method": "exact discrete-day likelihood of the simulator's need gap "
                "+ shopping + daily churn (Nelder-Mead)",
            },
            "segments": {
                k: {
                    "purchase_cycle_days": v.cycle_days,
                    "cycle_cv": v.cycle_cv,
                    "share": self.baskets[k]["share"],
                    "customers": v.customers,
                    "loglik": v.loglik,
                }
                for k, v in self.segment_fits.items()
            },
            "baskets": self.baskets,
            "channels": {
                "order_share": self.channels["order_share"],
                "first_order_share": self.channels["first_order_share"],
                "family_active_share": self.channels["family_active_share"],
                "switching": {
                    str(i): {str(j): float(v) for j, v in row.items()} for i, row in sw.iterrows()
                },
                "after_first_order": {
                    str(i): {str(j): float(v) for j, v in row.items()}
                    for i, row in self.channels["after_first"].iterrows()
                },
                "families": self.families,
            },
            "private_joining": {
                "join_per_order": self.joining["join"],
                "member_picks_private": self.joining["p_private"],
            },
            "arrivals": {
                "market_size": self.market_size,
                "adoption_hazard_per_day": self.adoption_hazard,
            },
            "alive_at_end": self.alive,
            "notes": self.notes,
        }


def calibrate(
    table: pd.DataFrame,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    families: dict[str, str] | None = None,
    segments: int = 1,
    segment_by: str = "frequency",
    guide_price: float | None = None,
    max_customers: int = 20000,
    horizon_days: int = 365,
    name: str = "calibrated_baseline",
    overrides: dict[str, Any] | None = None,
) -> Calibration:
    """Fit every component on the orders dated in [start, end] and build the baseline scenario.

    ``table`` is :attr:`sim.calibration.orders.Orders.table`. ``overrides`` are dotted scenario paths
    (``market.interest_lapse``, ``channels.tmall.base_conversion``...) applied to the template
    before the mapping, so that the fitted values stay consistent with them.
    """
    start = pd.Timestamp(start) if start is not None else table["date"].min()
    end = pd.Timestamp(end) if end is not None else table["date"].max()
    window = table[(table["date"] >= start) & (table["date"] <= end)]
    hist, gaps = customer_histories(table, start=start, end=end)
    if len(hist) < 2:
        raise ValueError(f"the window {start.date()}..{end.date()} has fewer than two customers")
    if len(gaps) == 0:
        raise ValueError(
            f"no customer bought twice between {start.date()} and {end.date()}: "
            "the repeat-purchase process cannot be fitted"
        )
    chans = sorted(window["channel"].unique())
    fams, notes = infer_families(chans, families)
    if len(gaps) < 100:
        notes.append(
            f"only {len(gaps)} repeat purchases in the window: the purchase cycle "
            "and churn are poorly determined"
        )
    ids = _channel_ids(chans)
    raw = _template(name, chans, fams, ids, overrides)
    sens = raw["market"]["segments"][0]["price_sensitivity"]
    stats_ = channel_stats(window, fams)

    prices, price_notes = _unit_prices(window, chans, guide_price)
    notes += price_notes
    raw["market"]["guide_price"] = prices["guide"]
    for ch in chans:
        _set_channel(raw, ids[ch], "price_index", prices[ch] / prices["guide"], overrides)
    conv = _conversion(raw, stats_["order_share"], ids)
    lapse = raw["market"]["interest_lapse"]
    silences = (int((end - start).days) - hist["last"]).to_numpy(int)  # days since last order
    renewal = fit_renewal(gaps, silences, conversion=conv, lapse=lapse)
    unit = 7.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BGNBDLimitWarning)
        bg = fit_bgnbd(hist["x"], hist["t_x"] / unit, hist["T"] / unit, unit_days=unit)
    notes += [str(w.message) for w in caught if issubclass(w.category, BGNBDLimitWarning)]
    m_size, k = fit_arrivals(hist["first"].to_numpy(), int((end - start).days) + 1)
    joining = (
        fit_private_joining(window[window["customer"].isin(hist.index)], fams)
        if "private" in fams.values()
        else {"join": 0.0, "p_private": 0.0, "members": pd.Series(0.0, hist.index)}
    )

    mean_unit_price = sum(stats_["order_share"][c] * prices[c] for c in chans)
    p_alive = renewal.p_alive(silences)
    if segment_by == "latent" and segments > 1:
        seg_of, seg_fits, baskets, p_alive = _latent_segments(
            table, hist, silences, start, end, segments, renewal, mean_unit_price
        )
    else:
        seg_of, seg_fits, baskets = _quantile_segments(
            table,
            window,
            hist,
            silences,
            start,
            end,
            segments,
            segment_by,
            renewal,
            mean_unit_price,
        )
    alive = float(p_alive.sum())
    members = joining["members"].reindex(hist.index).fillna(0.0).to_numpy()
    cal = Calibration(
        start=start.date(),
        end=end.date(),
        customers=hist.assign(
            p_alive=p_alive,
            p_alive_bgnbd=bg.p_alive(hist["x"], hist["t_x"] / unit, hist["T"] / unit),
            segment=seg_of,
            member=members,
        ),
        bgnbd=bg,
        renewal=renewal,
        segment_fits=seg_fits,
        baskets=baskets,
        channels=stats_,
        families=fams,
        joining=joining,
        market_size=m_size,
        adoption_hazard=k,
        alive=alive,
        notes=notes,
        max_customers=max_customers,
    )
    _map_market(cal, raw, ids, sens, max_customers, horizon_days, overrides)
    cal.raw = raw
    cal.scenario()  # fail here, not in the user's next command, if the mapping is invalid
    return cal


def _quantile_segments(
    table, window, hist, silences, start, end, segments, by, renewal, unit_price
):
    """Segments cut on quantiles of frequency or spend; cycle per segment with the market-wide
    hazard held (biased by selection: early churners look like slow buyers)."""
    seg_of = _segment_labels(hist, segments, by)
    seg_fits, baskets = {}, {}
    amounts = window.assign(segment=window["customer"].map(seg_of))
    for seg in sorted(seg_of.unique()):
        members = hist.index[seg_of == seg]
        if segments > 1:
            seg_fits[seg] = fit_renewal(
                _gaps_of(table, members, start, end),
                silences[hist.index.isin(members)],
                conversion=renewal.conversion,
                lapse=renewal.lapse,
                hazard=renewal.hazard,
            )
        else:
            seg_fits[seg] = renewal
        baskets[seg] = fit_lognormal(amounts.loc[amounts["segment"] == seg, "amount"])
        baskets[seg]["share"] = float(len(members) / len(hist))
        baskets[seg]["basket_units"] = max(1.0, baskets[seg]["sample_mean"] / unit_price)
    return seg_of, seg_fits, baskets


def _latent_segments(table, hist, silences, start, end, segments, renewal, unit_price):
    """Latent-class segments: a mixture of renewal processes fitted on whole histories."""
    sub = table[
        table["customer"].isin(hist.index) & (table["date"] >= start) & (table["date"] <= end)
    ]
    days = pd.DataFrame({"c": sub["customer"], "d": (sub["date"] - start).dt.days})
    days = days.drop_duplicates().sort_values(["c", "d"])
    gaps = days.groupby("c")["d"].apply(lambda d: np.diff(d.to_numpy())).reindex(hist.index)
    lat = fit_latent_renewal(
        list(gaps),
        silences,
        classes=segments,
        conversion=renewal.conversion,
        lapse=renewal.lapse,
        start=renewal,
    )
    names = ["slow", "fast"] if segments == 2 else [f"class{j + 1}" for j in range(segments)]
    resp = lat.responsibilities
    seg_of = pd.Series(np.asarray(names)[resp.argmax(axis=1)], index=hist.index)
    per_cust = sub.groupby("customer")["amount"].agg(["sum", "size"]).reindex(hist.index)
    seg_fits, baskets = {}, {}
    for j, name in enumerate(names):
        seg_fits[name] = lat.fits[j]
        members = hist.index[seg_of == name]
        amounts = sub.loc[sub["customer"].isin(members), "amount"]
        baskets[name] = fit_lognormal(amounts) if len(amounts) else fit_lognormal(sub["amount"])
        mean_amount = float(
            (resp[:, j] * per_cust["sum"]).sum() / max((resp[:, j] * per_cust["size"]).sum(), 1e-9)
        )
        baskets[name]["responsibility_weighted_mean"] = mean_amount
        baskets[name]["share"] = float(lat.weights[j])
        baskets[name]["basket_units"] = max(1.0, mean_amount / unit_price)
    p_alive = sum(resp[:, j] * lat.fits[j].p_alive(silences) for j in range(segments))
    return seg_of, seg_fits, baskets, p_alive


# ---- mapping to the scenario -----------------------------------------------------------------
def _template(name, chans, fams, ids, overrides) -> dict[str, Any]:
    m = copy.deepcopy(TEMPLATE["market"])
    seg = {
        "id": "all",
        "share": 1.0,
        **TEMPLATE["segment"],
        "basket_units": 1.5,
        "purchase_cycle_days": 30.0,
        "cycle_cv": 0.3,
        "affinity": {},
    }
    m.update(customers=1000, scale=1.0, segments=[seg])
    channels = [
        {
            "id": ids[c],
            "family": fams[c],
            "name": c,
            "price_index": 1.0,
            **copy.deepcopy(TEMPLATE["channel"]),
            "response": {"join_base": 0.0, "join_max": 0.0},
        }
        for c in chans
    ]
    raw = {
        "name": name,
        "description": "",
        "seed": 0,
        "horizon": {"start": "2026-01-01", "days": 365},
        "market": m,
        "channels": channels,
        "targets": [],
    }
    for key, value in (overrides or {}).items():
        set_path(raw, key, value)
    return raw


def _set_channel(raw, cid, key, value, overrides) -> None:
    if f"channels.{cid}.{key}" in (overrides or {}):
        return
    next(c for c in raw["channels"] if c["id"] == cid)[key] = value


def _channel_ids(chans: list[str]) -> dict[str, str]:
    out, used = {}, set()
    for ch in chans:
        base = re.sub(r"[^A-Za-z0-9_]", "_", ch).strip("_") or "channel"
        cid, i = base, 2
        while cid in used:
            cid, i = f"{base}_{i}", i + 1
        used.add(cid)
        out[ch] = cid
    return out


def _unit_prices(window, chans, guide_price) -> tuple[dict[str, float], list[str]]:
    """Unit price per channel: its most common order amount (single-unit orders dominate)."""
    notes, prices = [], {}
    for ch in chans:
        amounts = window.loc[window["channel"] == ch, "amount"].round(2)
        amounts = amounts[amounts > 0]
        counts = amounts.value_counts()
        prices[ch] = float(counts.index[0]) if len(counts) else 1.0
        if len(counts) and counts.iloc[0] < 0.05 * len(amounts):
            notes.append(
                f"channel {ch!r}: no dominant order amount; the unit price "
                f"{prices[ch]:g} is a weak guess (pass --guide-price)"
            )
    # The guide price is the unit price most channels share (a discounter is the exception);
    # ties go to the busiest channel.
    busy = window["channel"].value_counts()
    votes = pd.Series({ch: sum(prices[o] == prices[ch] for o in chans) for ch in chans})
    pick = max(chans, key=lambda ch: (votes[ch], busy.get(ch, 0)))
    prices["guide"] = float(guide_price) if guide_price else prices[pick]
    return prices, notes


def _conversion(raw, order_share, ids) -> float:
    """Order-weighted daily conversion of a shopper, as sim/core/phases/purchase.py computes it."""
    m = raw["market"]
    seg = m["segments"][0]
    tol = 10.0  # Service.reply_tolerance_minutes default
    rng = np.random.default_rng(0)
    reservation = seg["reservation_price"] * np.exp(
        seg["reservation_spread"] * rng.standard_normal(20000)
    )
    total = 0.0
    for ch_name, share in order_share.items():
        ch = next(c for c in raw["channels"] if c["id"] == ids[ch_name])
        reply = ch.get("service", {}).get("reply_minutes", 5)
        base = ch["base_conversion"] / (1 + reply / tol)
        over = np.maximum(ch["price_index"] / reservation - 1, 0)
        total += share * base * float(np.exp(-seg["price_sensitivity"] * over).mean())
    return total


def _segment_labels(hist: pd.DataFrame, segments: int, by: str) -> pd.Series:
    if segments <= 1:
        return pd.Series("all", index=hist.index)
    if by == "spend":
        score = hist["spend"] / np.maximum(hist["T"] + 1, 1)
    else:
        score = hist["x"] / np.maximum(hist["T"] + 1, 1)
    ranks = score.rank(method="first") / len(score)
    q = np.minimum((ranks * segments).apply(math.ceil), segments)
    names = ["low", "high"] if segments == 2 else [f"q{i}" for i in range(1, segments + 1)]
    return pd.Series([f"{names[i - 1]}_{by}" for i in q], index=hist.index)


def _gaps_of(table, members, start, end) -> np.ndarray:
    sub = table[table["customer"].isin(members) & (table["date"] >= start) & (table["date"] <= end)]
    days = pd.DataFrame({"c": sub["customer"], "d": (sub["date"] - start).dt.days})
    return (
        days.drop_duplicates()
        .sort_values(["c", "d"])
        .groupby("c")["d"]
        .diff()
        .dropna()
        .to_numpy(int)
    )


def _map_market(cal, raw, ids, sens, max_customers, horizon_days, overrides) -> None:
    """Fill the scenario's market and channels from the fits (see docs/calibration.md)."""
    m = raw["market"]
    over = overrides or {}
    seen = len(cal.customers)
    total = max(cal.market_size - seen, 0.0) + cal.alive  # prospects left + customers alive
    sim_n = int(min(max_customers, max(round(total), 1)))
    pi_first = _first_buy_chance(cal, raw)
    churn_mult = _churn_multiplier(raw, cal)
    fitted = {
        "customers": sim_n,
        "scale": total / sim_n,
        "initial_customers": min(cal.alive / total, 1.0),
        "initial_private": float(
            (cal.customers["p_alive"] * cal.customers["member"]).sum() / max(cal.alive, 1e-9)
        ),
        "organic_interest": min(cal.adoption_hazard / max(pi_first, 1e-9), 1.0),
        # every segment fit shares one hazard (the scenario's churn is market-wide)
        "churn": min(next(iter(cal.segment_fits.values())).hazard / churn_mult, 1.0),
    }
    for key, value in fitted.items():
        if f"market.{key}" not in over:
            m[key] = float(f"{value:.6g}") if key != "customers" else value
    base_seg = m["segments"][0]
    segs = []
    for seg_id, fit in cal.segment_fits.items():
        b = cal.baskets[seg_id]
        segs.append(
            {
                **base_seg,
                "id": seg_id,
                "share": round(b["share"], 6),
                "basket_units": round(b["basket_units"], 4),
                "purchase_cycle_days": round(fit.cycle_days, 3),
                "cycle_cv": round(min(fit.cycle_cv, 3.0), 4),
                "affinity": _affinities(cal, raw, ids, sens),
            }
        )
    drift = 1.0 - sum(s["share"] for s in segs)
    segs[0]["share"] = round(segs[0]["share"] + drift, 6)
    if "market.segments" not in over:
        m["segments"] = segs
    j = cal.joining["join"]
    priv = [c for c in raw["channels"] if c["family"] == "private"]
    for c in priv:  # several private channels: 1 − Π(1 − j_c) = j
        each = 1 - (1 - j) ** (1 / len(priv))
        each = float(f"{each:.6g}")
        c["response"] = {**c.get("response", {}), "join_base": each, "join_max": each}
    raw["horizon"] = {
        "start": (cal.end + dt.timedelta(days=1)).isoformat(),
        "days": int(horizon_days),
    }
    raw["description"] = (
        f"Calibrated from {seen} customers' orders between {cal.start} and "
        f"{cal.end} (channelsim calibrate; see docs/calibration.md)."
    )
    for key, value in over.items():  # the user's values win over fitted ones
        set_path(raw, key, value)


def _first_buy_chance(cal, raw) -> float:
    """P(an interested prospect buys before giving up) = c / (c + (1 − c)·lapse)."""
    c, lapse = cal.renewal.conversion, raw["market"]["interest_lapse"]
    return c / (c + (1 - c) * lapse)


def _churn_multiplier(raw, cal) -> float:
    """Mean of the simulator's churn multipliers, so that base churn × this = fitted hazard."""
    m = raw["market"]
    sat = 0.95  # Service.base_satisfaction default with zero penalties is the upper bound
    d = m.get("dissatisfied_churn", 0.0)
    ret = m.get("private_retention", 1.0)
    member = float(cal.customers["member"].mean())
    return (1 + d * (1 - sat)) * (1 - member * (1 - ret))


def _affinities(cal, raw, ids, sens) -> dict[str, float]:
    """Family utilities that reproduce first-order shares (non-private) and the members'
    private choice share through the multinomial logit of sim/core/phases/choice.py."""
    m = raw["market"]
    price_w = m["price_weight"]
    v = {}
    for c in raw["channels"]:
        v[c["id"]] = -price_w * sens * (c["price_index"] - 1.0)
    fam_of = {c["id"]: c["family"] for c in raw["channels"]}
    first = {ids[k]: s for k, s in cal.channels["first_order_share"].items()}
    open_fams = sorted({f for f in fam_of.values() if f != "private"})
    aff = {}
    for f in open_fams:
        chans = [c for c in fam_of if fam_of[c] == f]
        share = sum(first.get(c, 0.0) for c in chans)
        aff[f] = math.log(max(share, 1e-4)) - math.log(sum(math.exp(v[c]) for c in chans))
    if open_fams:
        top = max(aff.values())
        aff = {f: round(a - top, 4) for f, a in aff.items()}
    priv = [c for c in fam_of if fam_of[c] == "private"]
    p = cal.joining["p_private"]
    if priv and p > 0:
        util = {c: math.exp(aff[fam_of[c]] + v[c]) for c in fam_of if fam_of[c] != "private"}
        shares = {ids[k]: s for k, s in cal.channels["order_share"].items() if ids[k] in util}
        total = sum(shares.values()) or 1.0
        # the member's last (non-private) channel also carries the loyalty bonus
        others = sum(util.values()) + (math.exp(m["loyalty"]) - 1) * sum(
            shares.get(c, 0.0) / total * u for c, u in util.items()
        )
        p = min(max(p, 1e-4), 1 - 1e-4)
        inside = math.log(p / (1 - p)) + math.log(others)
        aff["private"] = round(
            inside - m["private_bonus"] - math.log(sum(math.exp(v[c]) for c in priv)), 4
        )
    return {f: aff[f] for f in FAMILIES if f in aff}
