"""Customers who differ: the simulator's heterogeneous repeat process and its closed-form fits.

A segment with ``cycle_distribution: exponential`` and ``rate_shape`` r gives each customer a
rate multiplier ν ~ Gamma(r, r) (mean 1) and Poisson needs at ν ÷ ``purchase_cycle_days``. A
need becomes a purchase with probability π = c / (c + (1 − c)·lapse) (c: daily conversion of a
shopper, lapse: ``interest_lapse``; a need that lapses comes back one own cycle later), so the
customer *buys* at rate λ = π·ν ÷ cycle per day: across customers λ ~ Gamma(r, α) with
α = r·cycle ÷ π. Customers leave by one of three rules, each a model of the literature:

* ``rate``: a constant daily hazard μ (``market.churn``) — Pareto/NBD with every μ equal;
* ``rate+lifetime``: μ ~ Gamma(s, β) per customer (``churn`` = s/β, ``churn_shape`` = s) —
  the Pareto/NBD (Schmittlein, Morrison & Colombo 1987);
* ``rate+dropout``: after each repeat purchase, leave with p ~ Beta(a, b) (``dropout_a``,
  ``dropout_b``, ``churn`` 0) — the BG/NBD (Fader, Hardie & Lee 2005);
* ``latent``: K latent classes, each a BG/NBD with its own (r, α, a, b) and a share
  (:mod:`sim.calibration.latent`; K = 2 or 3, the lower BIC), simulated as one segment per
  class.

So each variant's likelihood of a customer's (x, t_x, T) is the closed form of its model, in
days; "none" is today's homogeneous renewal process (:mod:`sim.calibration.renewal`, exact
day-level likelihood). :func:`select_variant` fits them all on the calibration data and, among
those within :data:`BIC_BAND` (6) BIC points of the lowest, keeps the one that best forecasts
the calibration period's own last third when fitted on its first two thirds
(:mod:`sim.calibration.inner_forecast`; ``select_by="forecast"``: among all, near-ties to the
lower BIC; ``"bic"``: the lowest BIC); AIC and BIC are always reported, the holdout never
looked at. The
log-likelihoods are comparable: the continuous ones are densities per day, the renewal's are
probabilities per day, and at rates far below one purchase a day the two coincide.

The Pareto/NBD likelihood is computed as Γ(r+x)α^r/Γ(r) · [S(T)(α+T)^−(r+x) + ∫_{t_x}^{T}
f(τ)(α+τ)^−(r+x) dτ] (S, f: survival and density of the lifetime, mixed over μ), the integral
by Gauss–Legendre quadrature in log(α + τ) on 4 panels of 8 nodes (32 × 16 nodes agree to
1e-10), checked against direct numerical integration over λ and μ in the tests.

    >>> import numpy as np
    >>> fit = ParetoNBD(r=0.5, alpha=50.0, s=1.0, beta=300.0)
    >>> fit.p_alive([0, 3], [0.0, 5.0], [10.0, 60.0]).round(3)  # x, t_x, T in days
    array([0.966, 0.583])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from sim.calibration.latent import (
    class_segments,
    class_standard_errors,
    fit_latent_bgnbd,
)

VARIANTS = ("none", "rate", "rate+lifetime", "rate+dropout", "latent")
LATENT_CLASSES = (2, 3)  # the K tried for ``latent``; its BIC row is the best K's
# Kass & Raftery (1995): a BIC difference above 6 is strong evidence against a model; within
# it the calibration data do not tell the variants apart, and their forecasts decide.
BIC_BAND = 6.0
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(8)
_PANELS = 4


@dataclass(frozen=True)
class ParetoNBD:
    """Gamma(r, α) purchase rates per day; lifetimes exponential with μ ~ Gamma(s, β), or one
    μ for everybody when ``s`` is None (then ``beta`` holds μ)."""

    r: float
    alpha: float
    s: float | None
    beta: float
    loglik: float = float("nan")
    n: int = 0

    @property
    def churn(self) -> float:
        """Mean daily hazard."""
        return self.beta if self.s is None else self.s / self.beta

    def params(self) -> dict[str, float]:
        out = {"r": self.r, "alpha_days": self.alpha}
        if self.s is None:
            return out | {"mu_per_day": self.beta}
        return out | {"s": self.s, "beta_days": self.beta}

    def _terms(self, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
        """log of the 'alive at T' and 'died in (t_x, T]' parts of the likelihood (without the
        Γ(r+x)α^r/Γ(r) factor)."""
        return _pareto_terms(self.r, self.alpha, self.s, self.beta, *_arrays(x, t_x, T))

    def p_alive(self, x, t_x, T) -> np.ndarray:
        alive, died = self._terms(x, t_x, T)
        return np.exp(alive - np.logaddexp(alive, died))

    def conditional_expected(self, t: float, x, t_x, T) -> np.ndarray:
        """E[purchases in (T, T + t] | x, t_x, T] (t in days)."""
        x, t_x, T = _arrays(x, t_x, T)
        rate = (self.r + x) / (self.alpha + T)
        if self.s is None:
            per = -math.expm1(-self.beta * t) / self.beta if self.beta > 0 else t
        else:
            s, b = self.s, self.beta
            if abs(s - 1) < 1e-9:
                per = (b + T) * np.log1p(t / (b + T))
            else:
                per = (b + T) / (s - 1) * (1 - ((b + T) / (b + T + t)) ** (s - 1))
        return rate * per * self.p_alive(x, t_x, T)


def _arrays(x, t_x, T):
    """x, t_x, T as float arrays of one shape (scalars become length-1 arrays)."""
    return np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, t_x, T)))


def _pareto_terms(r, alpha, s, beta, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    p = r + x
    if s is None:  # one hazard μ = beta for everybody
        log_surv = lambda tau: -beta * tau  # noqa: E731
        log_dens = lambda tau: math.log(max(beta, 1e-300)) - beta * tau  # noqa: E731
    else:
        log_surv = lambda tau: s * (math.log(beta) - np.log(beta + tau))  # noqa: E731
        log_dens = lambda tau: (  # noqa: E731
            math.log(s) + s * math.log(beta) - (s + 1) * np.log(beta + tau)
        )
    alive = log_surv(T) - p * np.log(alpha + T)
    # ∫_{t_x}^{T} f(τ)(α+τ)^−p dτ with v = log(α + τ): panels × Gauss–Legendre nodes
    lo, hi = np.log(alpha + t_x), np.log(alpha + T)
    width = (hi - lo) / _PANELS
    edges = lo[:, None] + width[:, None] * np.arange(_PANELS)[None, :]
    v = (edges[:, :, None] + width[:, None, None] * (_NODES + 1) / 2).reshape(len(x), -1)
    logw = np.log(np.maximum(width, 1e-300))[:, None] + np.tile(np.log(_WEIGHTS / 2), _PANELS)
    tau = np.exp(v) - alpha
    inner = log_dens(tau) - p[:, None] * v + v + logw  # dτ = e^v dv
    top = inner.max(axis=1)
    died = np.where(hi > lo, top + np.log(np.exp(inner - top[:, None]).sum(axis=1)), -np.inf)
    return alive, died


def pareto_loglik(r, alpha, s, beta, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood of (x, t_x, T) in days under the (Pareto/)NBD."""
    x, t_x, T = _arrays(x, t_x, T)
    alive, died = _pareto_terms(r, alpha, s, beta, x, t_x, T)
    head = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    return head + np.logaddexp(alive, died)


def pareto_nll(x, t_x, T, *, spread_lifetime: bool):
    """The negative log-likelihood on log-parameters (log r, log α, [log s,] log β or log μ),
    identical histories aggregated."""
    hist = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="w")
    hx, ht, hT, w = (hist[c].to_numpy(float) for c in ("x", "t_x", "T", "w"))

    def nll(theta):
        p = np.exp(np.clip(theta, -20, 20))
        s = p[2] if spread_lifetime else None
        val = -(w * pareto_loglik(p[0], p[1], s, p[-1], hx, ht, hT)).sum()
        return val if np.isfinite(val) else 1e300

    return nll


def fit_pareto_nbd(
    x, t_x, T, *, spread_lifetime: bool, start: tuple[float, float], hazard: float | None = None
) -> ParetoNBD:
    """MLE of the Pareto/NBD (``spread_lifetime``) or of NBD rates with one daily hazard, on
    histories in days; ``start`` = (r, α) to start from (e.g. the BG/NBD's, in days). Given
    ``hazard`` (the one-hazard fit's μ), the Pareto/NBD starts from there only (s = 1, β = 1/μ):
    half the work, the same optimum on CDNOW."""
    nll = pareto_nll(x, t_x, T, spread_lifetime=spread_lifetime)
    r0, a0 = start
    mean_T = float(np.mean(T))
    if spread_lifetime and hazard:
        inits = [[r0, a0, 1.0, 1.0 / hazard]]
    elif spread_lifetime:
        inits = [[r0, a0, 1.0, mean_T], [r0, a0, 0.5, 4 * mean_T]]
    else:
        inits = [[r0, a0, 1 / mean_T], [r0, a0, 0.2 / mean_T]]
    best = None
    for init in inits:
        res = optimize.minimize(
            nll, np.log(init), method="L-BFGS-B", options={"ftol": 1e-13, "gtol": 1e-7}
        )
        if best is None or res.fun < best.fun:
            best = res
    p = np.exp(best.x)
    return ParetoNBD(
        r=float(p[0]),
        alpha=float(p[1]),
        s=float(p[2]) if spread_lifetime else None,
        beta=float(p[-1]),
        loglik=-float(best.fun),
        n=len(np.asarray(x)),
    )


@dataclass(frozen=True)
class Choice:
    """The nested variants fitted on the calibration data, and the one chosen: by the inner
    forecast of the calibration period's last third among the variants the BIC cannot rule out
    (``selected_by`` "bic+forecast") or among all ("forecast"), by the BIC ("bic": asked for,
    or no inner forecast possible) or by the user ("forced")."""

    winner: str
    table: dict[str, dict[str, float]]  # variant → loglik, k, aic, bic (+ its parameters)
    fits: dict[str, object] = field(repr=False, default_factory=dict)
    selected_by: str = "bic"
    forecast: object = None  # InnerForecast or None

    def summary(self) -> dict:
        out = {
            "chosen": self.winner,
            "selected_by": self.selected_by,
            "criterion": _CRITERIA[self.selected_by],
            "variants": self.table,
        }
        if self.forecast is not None:
            out["inner_forecast"] = self.forecast.summary()
        return out


_CRITERIA = {
    "forecast": "best forecast of the calibration period's last third by each variant fitted on "
    "its first two thirds (scores within the standard error of the inner actual total tie, and "
    "the lowest BIC among them wins; the holdout is not used); BIC and AIC reported",
    "bic+forecast": f"among the variants within {BIC_BAND:g} BIC points of the lowest (no "
    "strong evidence against them), the best forecast of the calibration period's last third "
    "by each fitted on its first two thirds (the holdout is not used); BIC and AIC reported",
    "bic": "BIC on the calibration cohort (AIC reported; the holdout is not used)",
    "forced": "forced by --heterogeneity (BIC and AIC reported)",
}


@dataclass(frozen=True)
class NoForecast:
    """Why no inner forecast was computed: read like an
    :class:`~sim.calibration.inner_forecast.InnerForecast` without scores (that module imports
    this one, so it is not built here)."""

    reason: str
    scores: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"used": False, "why": self.reason}


def bic_band(table: dict[str, dict[str, float]], width: float = BIC_BAND) -> list[str]:
    """The variants within ``width`` BIC points of the lowest, in :data:`VARIANTS` order."""
    low = min(row["bic"] for row in table.values())
    return [v for v in VARIANTS if table[v]["bic"] <= low + width]


def select_variant(
    hist: pd.DataFrame,
    renewal,
    bgnbd,
    *,
    only: str = "auto",
    classes=LATENT_CLASSES,
    forecast=None,
    select_by: str = "bic+forecast",
) -> Choice:
    """Fit every variant on the cohort's (x, t_x, T) in days and pick one (n = customers).

    ``renewal`` is the fitted homogeneous process ("none", its exact day-level likelihood);
    ``bgnbd`` the BG/NBD fit (in its own unit: its likelihood is moved to days here).
    ``only`` forces a variant (still reporting every criterion). ``classes``: the numbers of
    latent classes tried in order, each only while the previous one improved the BIC (the best
    is the ``latent`` row; each tried K's BIC is reported). ``forecast``: an
    :class:`~sim.calibration.inner_forecast.InnerForecast` of the calibration period's own
    last third, or a function that computes it (called only when needed). ``select_by``:
    ``forecast`` — the best inner score (near-ties to the lower BIC); ``bic+forecast`` — the
    best inner score among the variants within :data:`BIC_BAND` of the lowest BIC (one there:
    no forecast needed); ``bic`` — the lowest BIC, as when the inner forecast has no scores.
    """
    table, fits = fit_variants(hist, renewal, bgnbd, classes=classes)
    band = bic_band(table)
    if only != "auto":
        winner, by = only, "forced"
    elif select_by == "bic+forecast" and len(band) == 1:
        winner, by = band[0], select_by
        forecast = NoForecast(
            f"only {band[0]} within {BIC_BAND:g} BIC points of the lowest: "
            "nothing for the forecast to decide"
        )
    else:
        if callable(forecast) and select_by != "bic":
            forecast = forecast()
        if select_by != "bic" and forecast is not None and forecast.scores:
            pick = forecast.pick if select_by == "forecast" else forecast.pick_in_band
            winner, by = pick(table), select_by
        else:
            winner, by = min(VARIANTS, key=lambda v: table[v]["bic"]), "bic"
    forecast = None if callable(forecast) else forecast
    return Choice(winner=winner, table=table, fits=fits, selected_by=by, forecast=forecast)


def fit_variants(
    hist: pd.DataFrame, renewal, bgnbd, *, classes=LATENT_CLASSES
) -> tuple[dict[str, dict[str, float]], dict[str, object]]:
    """Every variant fitted on (x, t_x, T) in days: the criteria table and the fits."""
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    n = len(x)
    unit = bgnbd.unit_days
    start = (bgnbd.r, bgnbd.alpha * unit)
    rate = fit_pareto_nbd(x, t_x, T, spread_lifetime=False, start=start)
    lifetime = fit_pareto_nbd(
        x, t_x, T, spread_lifetime=True, start=(rate.r, rate.alpha), hazard=rate.beta
    )
    per_day = float(x.sum()) * math.log(unit)  # weekly densities → densities per day
    tried, latent = {1: 4 * math.log(n) - 2 * (bgnbd.loglik - per_day)}, []
    for c in classes:  # forward: K + 1 classes only if K improved the BIC over K − 1
        f = fit_latent_bgnbd(x, t_x / unit, T / unit, classes=c, start=bgnbd, unit_days=unit)
        latent.append(f)
        tried[c] = f.parameters * math.log(n) - 2 * (f.loglik - per_day)
        if tried[c] >= min(v for k, v in tried.items() if k < c):
            break
    del tried[1]  # the one-class mixture is rate+dropout's row
    best = min(latent, key=lambda f: tried[f.k])
    fits: dict[str, object] = {
        "none": renewal,
        "rate": rate,
        "rate+lifetime": lifetime,
        "rate+dropout": bgnbd,
        "latent": best,
    }
    ll = {
        "none": renewal.loglik,
        "rate": fits["rate"].loglik,
        "rate+lifetime": fits["rate+lifetime"].loglik,
        "rate+dropout": bgnbd.loglik - per_day,
        "latent": best.loglik - per_day,
    }
    k = {"none": 3, "rate": 3, "rate+lifetime": 4, "rate+dropout": 4, "latent": best.parameters}
    table = {
        v: {
            "loglik": ll[v],
            "parameters": k[v],
            "aic": 2 * k[v] - 2 * ll[v],
            "bic": k[v] * math.log(n) - 2 * ll[v],
        }
        for v in VARIANTS
    }
    table["latent"] |= {"classes": best.k, "bic_by_classes": {str(c): b for c, b in tried.items()}}
    return table, fits


def log_covariance(nll, theta: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Inverse of the observed information (central-difference Hessian of ``nll`` at its
    minimum ``theta``): the covariance of the log-parameters."""
    k = len(theta)
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * step, np.eye(k)[j] * step
            hess[i, j] = hess[j, i] = (
                nll(theta + e_i + e_j)
                - nll(theta + e_i - e_j)
                - nll(theta - e_i + e_j)
                + nll(theta - e_i - e_j)
            ) / (4 * step * step)
    return np.linalg.pinv(hess)


def standard_errors(choice: Choice, hist: pd.DataFrame, pi: float) -> dict[str, float]:
    """Standard errors (delta method on the log-parameters) of the chosen variant's scenario
    fields: ``rate_shape``, ``purchase_cycle_days`` (= π·α/r), ``churn`` / ``churn_shape`` or
    ``dropout_a`` / ``dropout_b``. Empty for ``none``."""
    v = choice.winner
    if v == "none":
        return {}
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    fit = choice.fits[v]
    if v == "latent":
        u = fit.unit_days
        return class_standard_errors(fit, x, t_x / u, T / u, pi, log_covariance)
    if v == "rate+dropout":
        from sim.calibration.bgnbd import _negative_loglik

        u = fit.unit_days
        nll = _negative_loglik(x, t_x / u, T / u)
        theta = np.log([fit.r, fit.alpha, fit.a, fit.b])
        names = ["rate_shape", "alpha", "dropout_a", "dropout_b"]
    else:
        nll = pareto_nll(x, t_x, T, spread_lifetime=v == "rate+lifetime")
        extra = [fit.s, fit.beta] if v == "rate+lifetime" else [fit.beta]
        theta = np.log([fit.r, fit.alpha, *extra])
        names = ["rate_shape", "alpha"] + (["churn_shape", "beta"] if fit.s else ["churn"])
    cov = log_covariance(nll, theta)
    value = np.exp(theta)
    se = {n: float(value[i] * math.sqrt(max(cov[i, i], 0))) for i, n in enumerate(names)}
    # cycle = π·α/r: log cycle = log π + log α − log r
    var = cov[1, 1] + cov[0, 0] - 2 * cov[0, 1]
    cycle = pi * value[1] / value[0] * (fit.unit_days if v == "rate+dropout" else 1.0)
    se["purchase_cycle_days"] = float(cycle * math.sqrt(max(var, 0)))
    if v == "rate+lifetime":  # churn = s/β
        var = cov[2, 2] + cov[3, 3] - 2 * cov[2, 3]
        se["churn"] = float(value[2] / value[3] * math.sqrt(max(var, 0)))
    return {k: se[k] for k in se if k not in ("alpha", "beta")}


def spread_fields(choice: Choice, pi: float) -> dict[str, float | str]:
    """The segment's fields for the chosen variant (π: chance a need ends in a purchase)."""
    v = choice.winner
    if v == "none":
        return {}
    fit = choice.fits[v]
    if v == "rate+dropout":
        r, alpha = fit.r, fit.alpha * fit.unit_days
    else:
        r, alpha = fit.r, fit.alpha
    out: dict[str, float | str] = {
        "cycle_distribution": "exponential",
        "cycle_cv": 1.0,
        "rate_shape": float(f"{r:.6g}"),
        "purchase_cycle_days": float(f"{pi * alpha / r:.6g}"),
    }
    if v == "rate+lifetime":
        out["churn_shape"] = float(f"{fit.s:.6g}")
    if v == "rate+dropout":
        out["dropout_a"] = float(f"{fit.a:.6g}")
        out["dropout_b"] = float(f"{fit.b:.6g}")
    return out


def spread_segments(choice: Choice, pi: float) -> list[dict[str, float | str]]:
    """The scenario segments' spread fields: one per latent class (with ``id`` and ``share``),
    else the one segment's :func:`spread_fields`."""
    if choice.winner == "latent":
        return class_segments(choice.fits["latent"], pi)
    return [spread_fields(choice, pi)]


def _unit(choice: Choice) -> float:
    """Days per time unit of the chosen fit (BG/NBD-type fits are in weeks, the rest in days)."""
    return choice.fits[choice.winner].unit_days if choice.winner in _WEEKLY else 1.0


_WEEKLY = ("rate+dropout", "latent")


def variant_churn(choice: Choice) -> float | None:
    """The market's daily churn for the chosen variant (None: the renewal fit's, as before)."""
    v = choice.winner
    if v == "none":
        return None
    if v in _WEEKLY:
        return 0.0
    return choice.fits[v].churn


def effective_alive(choice: Choice, customers: pd.DataFrame, horizon_days: float) -> float:
    """How many freshly drawn customers buy, over ``horizon_days``, what the cohort's alive
    customers are expected to buy given their histories: Σᵢ E[Y(h) | xᵢ, t_xᵢ, Tᵢ] ÷ E[X(h)].

    The simulator's initial customers get rates and dropout from the prior, but those alive at
    the end of the window are not a prior draw: most are silent slow buyers (every customer
    without a repeat purchase is alive under the BG/NBD), a few are proven heavy buyers. On
    CDNOW, Σ P(alive) fresh customers would buy +20 % more than the model expects of the
    cohort over 39 weeks; this count matches the expectation over the baseline's horizon (the
    head count is what gives, and the timing within the horizon is the prior's)."""
    fit = choice.fits[choice.winner]
    x, t_x, T = (customers[c].to_numpy(float) for c in ("x", "t_x", "T"))
    unit = _unit(choice)
    h = horizon_days / unit
    expected = float(fit.conditional_expected(h, x, t_x / unit, T / unit).sum())
    fresh = float(np.sum(fit.conditional_expected(h, 0.0, 0.0, 0.0)))
    return expected / fresh if fresh > 0 else float(customers["p_alive"].sum())


def variant_p_alive(choice: Choice, hist: pd.DataFrame, silences) -> np.ndarray:
    """P(alive at the end of the window) of each cohort customer under the chosen variant."""
    v = choice.winner
    fit = choice.fits[v]
    if v == "none":
        return fit.p_alive(silences)
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    u = _unit(choice)
    return fit.p_alive(x, t_x / u, T / u)
