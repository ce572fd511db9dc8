"""Customers who differ: the simulator's heterogeneous repeat process and its closed-form fits.

A segment with ``cycle_distribution: exponential`` and ``rate_shape`` r gives each customer a
rate multiplier ν ~ Gamma(r, r) (mean 1) and Poisson needs at ν ÷ ``purchase_cycle_days``. A
need becomes a purchase with probability π = c / (c + (1 − c)·lapse) (c: daily conversion of a
shopper, lapse: ``interest_lapse``; a need that lapses comes back one own cycle later), so the
customer *buys* at rate λ = π·ν ÷ cycle per day: across customers λ ~ Gamma(r, α) with
α = r·cycle ÷ π. Customers leave by one of these rules, each a model of the literature:

* ``rate``: a constant daily hazard μ (``market.churn``) — Pareto/NBD with every μ equal;
* ``rate+lifetime``: μ ~ Gamma(s, β) per customer (``churn`` = s/β, ``churn_shape`` = s) —
  the Pareto/NBD (Schmittlein, Morrison & Colombo 1987);
* ``rate+dropout``: after each repeat purchase, leave with p ~ Beta(a, b) (``dropout_a``,
  ``dropout_b``, ``churn`` 0) — the BG/NBD (Fader, Hardie & Lee 2005);
* ``latent``: K latent classes, each a BG/NBD with its own (r, α, a, b) and a share
  (:mod:`sim.calibration.latent`; K = 2 or 3, the lower BIC), simulated as one segment per
  class.

The structure chosen is then fitted again in purchase days — a daily purchase chance
q ~ Beta(α_q, β_q) while alive, what the data count and the simulator does — and simulated
from that estimate (:mod:`sim.calibration.day_variants`; :attr:`Choice.structure` keeps what
the criterion chose): a BG/NBD as one class (``rate+dropout/day``) or 2–3 latent classes
(``latent/day``), the lower BIC there; the Pareto/NBD with a daily death chance
(``rate+lifetime/day``, ``rate/day``).

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

The Pareto/NBD and its one-hazard case are in :mod:`sim.calibration.pareto_nbd`, the
purchase-day BG/NBD in :mod:`sim.calibration.purchase_days`.

    >>> from sim.calibration.bgnbd import BGNBD
    >>> fit = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW's published fit, in weeks
    >>> choice = Choice("rate+dropout", {}, {"rate+dropout": fit})
    >>> spread_fields(choice, pi=1.0)["purchase_cycle_days"]  # 7 × α / r days
    127.152
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibration.day_variants import (
    DAY_VARIANTS,
    STRUCTURES,
    day_winner,
    estimate_in_days,
    warn_mixture_at_bound,
)
from sim.calibration.day_variants import LATENT as LATENT_DAY
from sim.calibration.information import hessian, observed
from sim.calibration.latent import (
    class_segments,
    class_standard_errors,
    fit_latent_bgnbd,
)
from sim.calibration.lifetime_days import LIFETIME as LIFETIME_DAY
from sim.calibration.lifetime_days import RATE as RATE_DAY
from sim.calibration.lifetime_days import lifetime_day_nll
from sim.calibration.lifetime_days import log_field_errors as lifetime_field_errors
from sim.calibration.pareto_nbd import ParetoNBD, fit_pareto_nbd, pareto_loglik, pareto_nll
from sim.calibration.purchase_days import VARIANT as DAY_VARIANT
from sim.calibration.purchase_days import log_field_errors, purchase_day_nll

__all__ = ["ParetoNBD", "fit_pareto_nbd", "pareto_loglik", "pareto_nll"]  # moved, still here

VARIANTS = ("none", "rate", "rate+lifetime", "rate+dropout", "latent")  # compared, in days
# The structure chosen among them is estimated again in purchase days, what the data count and
# the simulator does (for a BG/NBD with the number of classes chosen again there):
# sim.calibration.day_variants.
FORCEABLE = (*VARIANTS, *DAY_VARIANTS)
LATENT_FITS = ("latent", "latent/day")  # the winners simulated as one segment per class
LATENT_CLASSES = (2, 3)  # the K tried for ``latent``; its BIC row is the best K's
# Kass & Raftery (1995): a BIC difference above 6 is strong evidence against a model; within
# it the calibration data do not tell the variants apart, and their forecasts decide.
BIC_BAND = 6.0


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
    structure: str = ""  # the variant the criterion chose, when the winner is its day twin

    def summary(self) -> dict:
        criterion = _CRITERIA[self.selected_by]
        if self.structure:
            criterion += (
                f"; the chosen {self.structure} structure is then estimated in purchase days, "
                f"as the data count them and the simulator sells: {self.winner} (a BG/NBD "
                "as one class or latent classes, by the lower BIC there)"
            )
        out = {
            "chosen": self.winner,
            "selected_by": self.selected_by,
            "criterion": criterion,
            "variants": self.table,
        }
        if self.structure:
            out["structure"] = self.structure
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
    low = min(table[v]["bic"] for v in VARIANTS)
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
    structure = winner if by != "forced" and winner in STRUCTURES else ""
    if structure or winner in DAY_VARIANTS:
        rows, day_fits = estimate_in_days(hist, structure or winner, fits, classes=classes)
        table, fits = table | rows, fits | day_fits
        if structure:
            winner = day_winner(rows)
    if winner == LATENT_DAY:  # only the mixture simulated says where it stopped at a bound
        warn_mixture_at_bound(fits[winner])
    return Choice(
        winner=winner,
        table=table,
        fits=fits,
        selected_by=by,
        forecast=forecast,
        structure=structure,
    )


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
    """Pseudo-inverse of the observed information (central-difference Hessian of ``nll`` at its
    minimum ``theta``): the covariance of the log-parameters. The standard errors below use
    :func:`sim.calibration.information.observed`, which also says what a ridge leaves open."""
    return np.linalg.pinv(hessian(nll, theta, step))


def standard_errors(choice: Choice, hist: pd.DataFrame, pi: float) -> dict[str, float]:
    """Standard errors (delta method on the log-parameters) of the chosen variant's scenario
    fields: ``rate_shape``, ``purchase_cycle_days`` (= π·α/r), ``churn`` / ``churn_shape`` or
    ``dropout_a`` / ``dropout_b``. Empty for ``none``."""
    v = choice.winner
    if v == "none":
        return {}
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    fit = choice.fits[v]
    if v in LATENT_FITS:
        u = fit.unit_days
        return class_standard_errors(fit, x, t_x / u, T / u, pi)
    if v == DAY_VARIANT:
        theta = np.log([fit.aq, fit.bq, fit.a, fit.b])
        return log_field_errors(fit, observed(purchase_day_nll(x, t_x, T), theta), pi)
    if v in (RATE_DAY, LIFETIME_DAY):
        theta = np.log(day_lifetime_params(fit))
        nll = lifetime_day_nll(x, t_x, T, spread_lifetime=v == LIFETIME_DAY)
        return lifetime_field_errors(fit, observed(nll, theta), pi)
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
    info = observed(nll, theta)
    value = np.exp(theta)
    se = {n: float(value[i] * info.se(i)) for i, n in enumerate(names)}
    # cycle = π·α/r: log cycle = log π + log α − log r
    cycle = pi * value[1] / value[0] * (fit.unit_days if v == "rate+dropout" else 1.0)
    se["purchase_cycle_days"] = float(cycle * math.sqrt(info.variance([-1.0, 1.0])))
    if v == "rate+lifetime":  # churn = s/β
        se["churn"] = float(value[2] / value[3] * math.sqrt(info.variance([1.0, -1.0], at=2)))
    return {k: se[k] for k in se if k not in ("alpha", "beta")}


def day_lifetime_params(fit) -> list[float]:
    """A purchase-day Pareto/NBD's parameters in its likelihood's order: (α_q, β_q, g, d), or
    (α_q, β_q, θ) with one daily death chance."""
    return [fit.aq, fit.bq, fit.d] if fit.g is None else [fit.aq, fit.bq, fit.g, fit.d]


def spread_fields(choice: Choice, pi: float) -> dict[str, float | str]:
    """The segment's fields for the chosen variant (π: chance a need ends in a purchase)."""
    v = choice.winner
    if v == "none":
        return {}
    fit = choice.fits[v]
    if v == "rate+dropout":
        r, alpha = fit.r, fit.alpha * fit.unit_days
    elif v in (DAY_VARIANT, RATE_DAY, LIFETIME_DAY):  # Beta(α_q, β_q) daily chances ≈
        r, alpha = fit.aq, fit.aq + fit.bq  # mean α_q/(α_q+β_q); Beta: rate_beta below
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
    if v == LIFETIME_DAY:  # Beta(g, d) daily death chances ≈ Gamma(g, g + d): shape g
        out["churn_shape"] = float(f"{fit.g:.6g}")
    if v in (DAY_VARIANT, RATE_DAY, LIFETIME_DAY):  # the daily chances themselves: Beta
        out["rate_beta"] = float(f"{fit.bq:.6g}")
    if v in ("rate+dropout", DAY_VARIANT):
        out["dropout_a"] = float(f"{fit.a:.6g}")
        out["dropout_b"] = float(f"{fit.b:.6g}")
    return out


def spread_segments(choice: Choice, pi: float) -> list[dict[str, float | str]]:
    """The scenario segments' spread fields: one per latent class (with ``id`` and ``share``),
    else the one segment's :func:`spread_fields`."""
    if choice.winner in LATENT_FITS:
        return class_segments(choice.fits[choice.winner], pi)
    return [spread_fields(choice, pi)]


def _unit(choice: Choice) -> float:
    """Days per time unit of the chosen fit (continuous BG/NBD-type fits are in weeks, the
    rest in days)."""
    return getattr(choice.fits[choice.winner], "unit_days", 1.0)


def variant_churn(choice: Choice) -> float | None:
    """The market's daily churn for the chosen variant (None: the renewal fit's, as before)."""
    v = choice.winner
    if v == "none":
        return None
    if v in ("rate+dropout", *LATENT_FITS, DAY_VARIANT):  # dropout after purchases only
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
    return fresh_equivalent(choice.fits[choice.winner], customers, horizon_days, _unit(choice))


def fresh_equivalent(fit, customers: pd.DataFrame, horizon_days: float, unit: float) -> float:
    """Σᵢ E[Y(h) | xᵢ, t_xᵢ, Tᵢ] ÷ E[X(h)] under ``fit`` (time in ``unit``-day units; the
    customers' histories in days); Σ P(alive) when a fresh customer is expected to buy nothing."""
    x, t_x, T = (customers[c].to_numpy(float) for c in ("x", "t_x", "T"))
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
