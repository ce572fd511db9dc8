"""The structures chosen with continuous-time likelihoods, estimated again in purchase days.

:func:`~sim.calibration.heterogeneity.select_variant` compares its variants with continuous-time
likelihoods, which are comparable among themselves. The structure it chooses is then fitted
again with the likelihood of what the data count and the simulator does, purchase days, and
that estimate is what the scenario runs:

* a BG/NBD structure (one class, ``rate+dropout``, or latent classes, ``latent``): one
  purchase-day BG/NBD (``rate+dropout/day``, :mod:`sim.calibration.purchase_days`) and mixtures
  of 2, then 3 of them (``latent/day``, each K tried only if K − 1 improved the BIC); the
  lowest BIC among these decides how many classes are simulated;
* the Pareto/NBD (``rate+lifetime``) or its one-hazard case (``rate``): its purchase-day twin,
  a daily death chance instead of an exponential lifetime (``rate+lifetime/day``, ``rate/day``,
  :mod:`sim.calibration.lifetime_days`).

Why again, and why the number of classes there. A continuous-time likelihood models gaps
shorter than a day that purchase days cannot show, and its forecast counts transactions, two
of which on one day are one purchase day. Latent classes absorb that misfit by giving heavy
buyers a class of their own: on 300 000 customers drawn from CDNOW's BG/NBD (one class) it was
worth 131 BIC points to 3 continuous classes, which then forecast the 39 holdout weeks +4.6 %
off; in purchase days one class has the lower BIC (2 classes +27) and the simulator's
holdout is −0.4 % off (docs/calibration.md, "Purchase days"). The purchase-day fits are not
put into the continuous comparison: against continuous likelihoods they win by the same
sub-day misfit, whatever the structure (one purchase-day class beat the true structure of
2-class and Pareto/NBD histories by hundreds of BIC points).
"""

from __future__ import annotations

import math

import pandas as pd

from sim.calibration.bgnbd import warn_at_bound
from sim.calibration.latent import fit_latent_bgnbd
from sim.calibration.lifetime_days import LIFETIME, RATE, fit_lifetime_day_nbd
from sim.calibration.purchase_days import LIMITS, fit_purchase_day_bgnbd
from sim.calibration.purchase_days import LOG_BOUNDS as DAY_BOUNDS
from sim.calibration.purchase_days import VARIANT as ONE_CLASS

LATENT = "latent/day"
BGNBD_FAMILY = (ONE_CLASS, LATENT)  # one class or latent classes: the BIC decides again
DAY_VARIANTS = (*BGNBD_FAMILY, RATE, LIFETIME)
# the chosen (continuous) structure → its purchase-day candidates
TWINS = {
    "rate+dropout": BGNBD_FAMILY,
    "latent": BGNBD_FAMILY,
    "rate": (RATE,),
    "rate+lifetime": (LIFETIME,),
}
STRUCTURES = tuple(TWINS)
SCALE = "purchase days: a chosen structure's estimate, not compared with the others"


def estimate_in_days(
    hist: pd.DataFrame, variant: str, fits: dict[str, object], *, classes=(2, 3)
) -> tuple[dict[str, dict], dict[str, object]]:
    """The purchase-day candidates of ``variant`` (a chosen continuous structure, or a forced
    purchase-day variant): their criteria rows and fits, started from the continuous fits."""
    if variant in BGNBD_FAMILY or TWINS.get(variant) == BGNBD_FAMILY:
        return fit_day_variants(hist, fits["rate+dropout"], classes=classes)
    twin = variant if variant in (RATE, LIFETIME) else TWINS[variant][0]
    return fit_lifetime_twin(hist, fits["rate+lifetime" if twin == LIFETIME else "rate"], twin)


def fit_lifetime_twin(hist: pd.DataFrame, pareto, twin: str):
    """The purchase-day Pareto/NBD (``rate+lifetime/day``) or its one-hazard case
    (``rate/day``), started from the continuous fit ``pareto`` (r, α, s, β in days: Gamma(s, β)
    hazards ↔ Beta(s, β − s) daily chances, the same mean and shape)."""
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    lifetime = twin == LIFETIME
    bq = max(pareto.alpha - pareto.r, 1e-3)
    if lifetime:
        start = (pareto.r, bq, pareto.s, max(pareto.beta - pareto.s, 1e-3))
    else:
        start = (pareto.r, bq, min(pareto.beta, 0.5))
    fit = fit_lifetime_day_nbd(x, t_x, T, spread_lifetime=lifetime, start=start)
    row = _row(fit.loglik, 4 if lifetime else 3, len(x)) | {"scale": SCALE}
    return {twin: row}, {twin: fit}


def fit_day_variants(
    hist: pd.DataFrame, bgnbd, *, classes=(2, 3)
) -> tuple[dict[str, dict], dict[str, object]]:
    """The purchase-day BG/NBD and its best latent mixture on the cohort's (x, t_x, T) in
    days: their criteria rows (as :func:`~sim.calibration.heterogeneity.fit_variants`'s, with
    ``scale``) and fits. ``bgnbd``: the continuous fit, a start for the one-class fit."""
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    n = len(x)
    unit = bgnbd.unit_days
    one = fit_purchase_day_bgnbd(x, t_x, T, start=(bgnbd.r, bgnbd.alpha * unit, bgnbd.a, bgnbd.b))
    tried, mixtures = {1: _bic(one.loglik, 4, n)}, []
    for k in classes:  # forward, as the continuous classes: K + 1 only if K improved the BIC
        fit = fit_latent_bgnbd(x, t_x, T, classes=k, start=one, unit_days=1.0, family="days")
        mixtures.append(fit)
        tried[k] = _bic(fit.loglik, fit.parameters, n)
        if tried[k] >= min(v for c, v in tried.items() if c < k):
            break
    best = min(mixtures, key=lambda f: tried[f.k])
    rows = {
        ONE_CLASS: _row(one.loglik, 4, n),
        LATENT: _row(best.loglik, best.parameters, n)
        | {"classes": best.k, "bic_by_classes": {str(c): b for c, b in tried.items() if c > 1}},
    }
    for row in rows.values():
        row["scale"] = SCALE
    return rows, {ONE_CLASS: one, LATENT: best}


def warn_mixture_at_bound(mixture) -> None:
    """The purchase-day BG/NBD's bound warning for each class of a mixture that is simulated
    (the notes then say, e.g., that a class's b ran off: no dropout after purchases)."""
    k = mixture.k
    names = [f"class{j + 1} {n}" for j in range(k) for n in ("alpha_q", "beta_q", "a", "b")]
    limits = {
        (f"class{j + 1} {n}", side): text for j in range(k) for (n, side), text in LIMITS.items()
    }
    warn_at_bound(
        mixture.theta()[: 4 * k],
        DAY_BOUNDS * k,
        names,
        model=f"purchase-day latent classes ({k})",
        limits=limits,
        stacklevel=3,
    )


def day_winner(rows: dict[str, dict]) -> str:
    """Among a structure's purchase-day candidates (one class or the latent classes for a
    BG/NBD; the one twin otherwise): the lowest BIC."""
    return min((v for v in DAY_VARIANTS if v in rows), key=lambda v: rows[v]["bic"])


def _bic(loglik: float, k: int, n: int) -> float:
    return k * math.log(n) - 2 * loglik


def _row(loglik: float, k: int, n: int) -> dict[str, float]:
    return {
        "loglik": float(loglik),
        "parameters": k,
        "aic": 2 * k - 2 * float(loglik),
        "bic": _bic(loglik, k, n),
    }
