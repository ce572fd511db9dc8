"""95 % intervals of the heterogeneity fits' scenario fields, honest where ± 1.96 SE is not.

The standard errors of :func:`sim.calibration.heterogeneity.standard_errors` come from the
observed information (delta method): right when the log-likelihood is close to quadratic in the
field, misleading when it is skewed or nearly flat — a latent class's dropout a and b, which a
year of orders barely tells apart one by one (their sum and their ratio trade off): estimate ±
1.96 SE then reaches below 0 and its upper end says nothing of how large they may be. So each
field also gets an interval built for it (coverage measured on histories with known truth:
``benchmarks/se_coverage.py``, docs/calibration.md):

* ``profile`` (the shape parameters of lifetimes and dropout: churn shape, dropout a and b,
  when their log-scale SE exceeds :data:`QUADRATIC`; below it the log-Wald interval): the
  values of the field at which the log-likelihood, maximised over every other parameter, is
  χ²₁(0.95)/2 = 1.92 below its maximum — invariant to the parametrisation and asymmetric where
  the likelihood is; an end that reaches the bound of the search is open (0 or ∞);
* ``log-wald`` (the other positive fields: rate shape, cycle, churn): exp(log v ± 1.96 SE/v);
  the rate shape's ``profile`` instead where a ridge leaves it without a standard error;
* ``logit-wald`` (shares and probabilities: a class's share, its mean dropout a/(a+b) and its
  polarisation 1/(a+b+1)): the same on the logit scale; where a ridge leaves the mean dropout
  or the polarisation without a standard error (:mod:`sim.calibration.information`), their
  ``profile`` interval instead, over logit(a/(a+b)) and log(a+b).

A field is flagged ``weakly_identified`` when its interval spans more than a factor
:data:`WEAK_RATIO` or is open: the data pin down a combination of it with others, not the
field itself (a latent class's mean dropout and polarisation are reported next to its a and b
for that reason).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special, stats
from scipy.special import expit

from sim.calibration.bgnbd import LOG_BOUNDS
from sim.calibration.heterogeneity import (
    LATENT_FITS,
    day_lifetime_params,
    pareto_nll,
    spread_fields,
    spread_segments,
)
from sim.calibration.latent import LOGIT_BOUND, mixture_nll
from sim.calibration.lifetime_days import LIFETIME as LIFETIME_DAY
from sim.calibration.lifetime_days import LOG_BOUNDS_LIFETIME as LIFETIME_BOUNDS
from sim.calibration.lifetime_days import RATE as RATE_DAY
from sim.calibration.lifetime_days import lifetime_day_nll
from sim.calibration.purchase_days import LOG_BOUNDS as DAY_BOUNDS
from sim.calibration.purchase_days import VARIANT as DAY_VARIANT
from sim.calibration.purchase_days import purchase_day_nll

LEVEL = 0.95
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))
DROP = float(stats.chi2.ppf(LEVEL, 1) / 2)  # 1.92: the profile log-likelihood's drop
WEAK_RATIO = 10.0  # an interval wider than a factor 10 does not determine the field
QUADRATIC = 0.2  # log-scale SE up to which a shape parameter's log-Wald interval is kept
OPEN_RATIO = 100.0  # a profile end searched no further than a factor 100 from the estimate


def wald(value: float, se: float, scale: str) -> tuple[float, float]:
    """value ± Z·SE on the ``log`` or ``logit`` scale (delta method), back-transformed."""
    if not (math.isfinite(se) and se > 0 and 0 < value):
        return (float("nan"), float("nan"))
    if scale == "log":
        half = Z * se / value
        return (value * math.exp(-half), value * math.exp(half))
    if value >= 1:
        return (float("nan"), float("nan"))
    half = Z * se / (value * (1 - value))
    logit = math.log(value / (1 - value))
    return (float(expit(logit - half)), float(expit(logit + half)))


def profile(
    nll, theta: np.ndarray, index: int, bounds, *, step: float = 0.5
) -> tuple[float, float]:
    """Profile-likelihood interval of exp(θ[index]) (θ: log-parameters at the minimum of
    ``nll``, which returns (value, gradient)); an end beyond the bound of the search, or more
    than a factor :data:`OPEN_RATIO` from the estimate, is open: 0 or ∞."""
    theta = np.asarray(theta, dtype=float)
    best = nll(theta)[0]
    others = [j for j in range(len(theta)) if j != index]
    inner = [bounds[j] for j in others]

    def drop(v: float, warm: np.ndarray) -> tuple[float, np.ndarray]:
        full = warm.copy()
        full[index] = v

        def sub(u):
            full[others] = u
            val, grad = nll(full)
            return val, grad[others]

        res = optimize.minimize(sub, warm[others], jac=True, method="L-BFGS-B", bounds=inner)
        full[others] = res.x
        return res.fun - best - DROP, full.copy()

    ends = []
    cap = math.log(OPEN_RATIO)
    for side, limit in (
        (-1, max(bounds[index][0], theta[index] - cap)),
        (1, min(bounds[index][1], theta[index] + cap)),
    ):
        v, warm, width = theta[index], theta.copy(), max(step, 0.05)
        end = None
        while end is None:
            nxt = min(v + width, limit) if side > 0 else max(v - width, limit)
            gap, full = drop(nxt, warm)
            if gap >= 0:
                lo, hi = sorted((v, nxt))
                end = optimize.brentq(lambda u: drop(u, warm)[0], lo, hi, xtol=0.005)  # noqa: B023
            elif nxt == limit:
                end = -np.inf if side < 0 else np.inf
            v, warm, width = nxt, full, width * 2
        ends.append(math.exp(end) if math.isfinite(end) else (0.0 if side < 0 else math.inf))
    return ends[0], ends[1]


def entry(value: float, interval: tuple[float, float], method: str) -> dict:
    """One field's interval as ``calibration.json`` carries it."""
    lo, hi = interval
    weak = not (math.isfinite(lo) and math.isfinite(hi) and lo > 0) or hi / lo > WEAK_RATIO
    return {
        "value": float(value),
        "low": float(lo),
        "high": float(hi),
        "method": method,
        # an open end (JSON null): the data do not bound the field on that side
        "open": [side for side, end in (("low", lo), ("high", hi)) if end in (0.0, math.inf)],
        "weakly_identified": bool(weak),
    }


def spread_intervals(choice, hist, pi: float, se: dict[str, float]) -> dict[str, dict]:
    """Every reported field of the chosen variant with its 95 % interval (see the module);
    ``se``: :func:`~sim.calibration.heterogeneity.standard_errors`. Empty for ``none``."""
    v = choice.winner
    if v == "none":
        return {}
    fit = choice.fits[v]
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    if v in ("rate+dropout", *LATENT_FITS):
        u, latent = fit.unit_days, v in LATENT_FITS
        k = fit.k if latent else 1
        family = fit.family if latent else "bgnbd"
        nll = mixture_nll(x, t_x / u, T / u, k, gradient=True, family=family)
        theta = fit.theta() if latent else np.log([fit.r, fit.alpha, fit.a, fit.b])
        bounds = (DAY_BOUNDS if family == "days" else LOG_BOUNDS) * k + [LOGIT_BOUND] * (k - 1)
        classes = fit.classes if latent else (fit,)
        values = spread_segments(choice, pi)
        out = {}
        for j, (c, seg) in enumerate(zip(classes, values, strict=True)):
            pre = f"class{j + 1}." if latent else ""
            out[pre + "rate_shape"] = _rate_shape(
                nll, theta, 4 * j, bounds, seg, se[pre + "rate_shape"]
            )
            cycle = seg["purchase_cycle_days"]
            ci = wald(cycle, se[pre + "purchase_cycle_days"], "log")
            out[pre + "purchase_cycle_days"] = entry(cycle, ci, "log-wald")
            for key, i in (("dropout_a", 4 * j + 2), ("dropout_b", 4 * j + 3)):
                out[pre + key] = _shape(nll, theta, i, bounds, seg[key], se[pre + key])
            if latent:
                share = seg["share"]
                out[pre + "share"] = entry(
                    share, wald(share, se[pre + "share"], "logit"), "logit-wald"
                )
                out |= _dropout_spread(nll, theta, 4 * j + 2, bounds, c, pre, se)
        return out
    if v == DAY_VARIANT:
        return _day_intervals(choice, x, t_x, T, pi, se)
    if v in (RATE_DAY, LIFETIME_DAY):
        return _lifetime_day_intervals(choice, x, t_x, T, pi, se)
    nll = _with_gradient(pareto_nll(x, t_x, T, spread_lifetime=v == "rate+lifetime"))
    theta = np.log(
        [fit.r, fit.alpha, fit.beta] if fit.s is None else [fit.r, fit.alpha, fit.s, fit.beta]
    )
    bounds = [(-20.0, 20.0)] * len(theta)
    seg = spread_fields(choice, pi)
    out = {}
    for key in ("rate_shape", "purchase_cycle_days", "churn"):
        val = {"rate_shape": fit.r, "churn": fit.churn}.get(key, seg.get(key))
        out[key] = entry(val, wald(val, se[key], "log"), "log-wald")
    if fit.s is not None:
        out["churn_shape"] = _shape(nll, theta, 2, bounds, fit.s, se["churn_shape"])
    return out


def _day_intervals(choice, x, t_x, T, pi: float, se: dict[str, float]) -> dict[str, dict]:
    """The purchase-day BG/NBD's fields: rate shape and cycle log-Wald, dropout a and b as
    :func:`_shape` (profile where the log-likelihood is far from quadratic)."""
    fit = choice.fits[DAY_VARIANT]
    nll = _with_gradient(purchase_day_nll(x, t_x, T))
    theta = np.log([fit.aq, fit.bq, fit.a, fit.b])
    seg = spread_fields(choice, pi)
    cycle = seg["purchase_cycle_days"]
    out = {
        "rate_shape": _rate_shape(nll, theta, 0, DAY_BOUNDS, seg, se["rate_shape"]),
        "purchase_cycle_days": entry(
            cycle, wald(cycle, se["purchase_cycle_days"], "log"), "log-wald"
        ),
    }
    for key, i in (("dropout_a", 2), ("dropout_b", 3)):
        out[key] = _shape(nll, theta, i, DAY_BOUNDS, seg[key], se[key])
    return out


def _rate_shape(nll, theta, index: int, bounds, seg: dict, se: float) -> dict:
    """The rate shape (θ[index] its log) log-Wald; where a ridge leaves it without a standard
    error (no spread of the purchase rate within the class: it runs off with the rate's scale),
    its profile-likelihood interval instead."""
    value = seg["rate_shape"]
    if math.isfinite(se):
        return entry(value, wald(value, se, "log"), "log-wald")
    return entry(value, profile(nll, theta, index, bounds), "profile")


def _lifetime_day_intervals(choice, x, t_x, T, pi: float, se: dict[str, float]) -> dict:
    """The purchase-day Pareto/NBD's fields: rate shape, cycle and churn log-Wald, the churn
    shape as :func:`_shape`."""
    v = choice.winner
    fit = choice.fits[v]
    seg = spread_fields(choice, pi)
    out = {
        key: entry(val, wald(val, se[key], "log"), "log-wald")
        for key, val in (
            ("rate_shape", seg["rate_shape"]),
            ("purchase_cycle_days", seg["purchase_cycle_days"]),
            ("churn", fit.churn),
        )
    }
    if fit.g is not None:
        nll = _with_gradient(lifetime_day_nll(x, t_x, T, spread_lifetime=True))
        theta = np.log(day_lifetime_params(fit))
        out["churn_shape"] = _shape(nll, theta, 2, LIFETIME_BOUNDS, fit.g, se["churn_shape"])
    return out


def _dropout_spread(nll, theta, i: int, bounds, c, pre: str, se: dict[str, float]) -> dict:
    """A latent class's mean dropout m = a/(a+b) and polarisation φ = 1/(a+b+1), its
    (log a, log b) at θ[i], θ[i + 1]: logit-Wald where their standard errors are determined;
    where a ridge leaves one open (a and b growing or shrinking together, the SE NaN), the
    profile likelihood of a + b (φ) or of logit m, in the parametrisation (log(a+b), logit m)."""
    m, phi = c.a / (c.a + c.b), 1 / (c.a + c.b + 1)
    out = {}
    for key, val, index in (("dropout_mean", m, i + 1), ("dropout_polarisation", phi, i)):
        if math.isfinite(se[pre + key]):
            out[pre + key] = entry(val, wald(val, se[pre + key], "logit"), "logit-wald")
            continue
        both, start, box = _sum_and_mean(nll, theta, i, bounds)
        lo, hi = profile(both, start, index, box)
        ends = (lo / (1 + lo), hi / (1 + hi) if math.isfinite(hi) else 1.0)  # odds → m
        if key == "dropout_polarisation":  # a + b → φ = 1/(a+b+1), decreasing
            ends = (1 / (1 + hi) if math.isfinite(hi) else 0.0, 1 / (1 + lo))
        out[pre + key] = entry(val, ends, "profile")
    return out


def _sum_and_mean(nll, theta, i: int, bounds) -> tuple:
    """(``nll``, θ, bounds) with (log a, log b) at i, i + 1 replaced by (log(a+b), logit m),
    ``nll`` returning (value, gradient); the bounds those of a and b translated."""
    (lo_a, hi_a), (lo_b, hi_b) = bounds[i], bounds[i + 1]
    new = list(bounds)
    new[i] = (float(np.logaddexp(lo_a, lo_b)), float(np.logaddexp(hi_a, hi_b)))
    new[i + 1] = (lo_a - hi_b, hi_a - lo_b)
    start = np.array(theta, dtype=float)
    start[i], start[i + 1] = np.logaddexp(theta[i], theta[i + 1]), theta[i] - theta[i + 1]

    def both(th):
        full = np.array(th, dtype=float)
        full[i] = th[i] + special.log_expit(th[i + 1])  # log a = log(a+b) + log m
        full[i + 1] = th[i] + special.log_expit(-th[i + 1])  # log b = log(a+b) + log(1 − m)
        val, g = nll(full)
        m = float(special.expit(th[i + 1]))
        grad = np.array(g, dtype=float)
        grad[i], grad[i + 1] = g[i] + g[i + 1], (1 - m) * g[i] - m * g[i + 1]
        return val, grad

    return both, start, new


def _shape(nll, theta, index: int, bounds, value: float, se: float) -> dict:
    """A shape parameter's interval: the profile likelihood's, unless its log-scale standard
    error is at most :data:`QUADRATIC` (the log-likelihood is then close to quadratic over the
    interval and the log-Wald one is the same at a fraction of the cost)."""
    if math.isfinite(se) and 0 < se <= QUADRATIC * value:
        return entry(value, wald(value, se, "log"), "log-wald")
    step = _log_step(value, se)
    return entry(value, profile(nll, theta, index, bounds, step=step), "profile")


def _log_step(value: float, se: float) -> float:
    """The first step of the profile search, in log units: the Wald half-width (so the drop is
    usually bracketed at once), within [0.05, 2]."""
    if not (math.isfinite(se) and se > 0):
        return 0.5
    return min(max(Z * se / value, 0.05), 2.0)


def _with_gradient(nll):
    """(value, central-difference gradient) of a function of log-parameters."""

    def both(theta):
        h = 1e-5
        grad = np.array(
            [(nll(theta + h * e) - nll(theta - h * e)) / (2 * h) for e in np.eye(len(theta))]
        )
        return nll(theta), grad

    return both
