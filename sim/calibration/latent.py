"""Latent classes of customers: a finite mixture of BG/NBD classes, fitted by maximum likelihood.

A share w_k of the customers belongs to class k, and within it purchase rates are Gamma(r_k, α_k)
and the dropout after each repeat purchase Beta(a_k, b_k): each class is a BG/NBD (Fader, Hardie
& Lee 2005) and the likelihood of a history is Σ_k w_k L_k(x, t_x, T), every L_k in closed form.
One class is the plain BG/NBD, so the mixture nests it and the BIC can compare them. Why BG/NBD
classes: each maps exactly onto one scenario segment (``cycle_distribution: exponential``,
``rate_shape``, ``dropout_a``/``dropout_b``, the class weight as ``share``) with the market-wide
churn at 0, so the simulator runs the very mixture that was fitted. A mixture of Pareto/NBD
classes would need a churn hazard per segment, which the scenario's market-wide ``churn``
cannot carry.

The fit maximises the mixture log-likelihood directly (L-BFGS-B on log-parameters and the
weights' logits, identical histories aggregated), from a few starts built around the one-class
fit; classes are ordered by mean purchase rate (slowest first), which removes label switching.

    >>> import numpy as np
    >>> from sim.calibration.bgnbd import BGNBD
    >>> mix = LatentBGNBD(weights=(0.7, 0.3), classes=(BGNBD(1.0, 40.0, 2.0, 2.0),
    ...                                              BGNBD(2.0, 8.0, 1.0, 9.0)))
    >>> mix.responsibilities([0, 6], [0.0, 20.0], [30.0, 30.0]).round(2)  # P(class | history)
    array([[0.97, 0.03],
           [0.02, 0.98]])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from sim.calibration.bgnbd import BGNBD, LOG_BOUNDS, bgnbd_loglik
from sim.calibration.histories import distinct_histories
from sim.calibration.information import observed
from sim.calibration.purchase_days import LOG_BOUNDS as DAY_BOUNDS
from sim.calibration.purchase_days import (
    PurchaseDayBGNBD,
    loglik_and_gradient,
    purchase_day_loglik,
)

LOGIT_BOUND = (-8.0, 8.0)


@dataclass(frozen=True)
class _Family:
    """What a mixture needs of its classes' model: the class from its four parameters, the
    per-history log-likelihood with and without the gradient, and the search bounds."""

    make: object  # (p1, p2, a, b, unit_days) → a class
    loglik: object
    loglik_and_gradient: object
    bounds: list


def four(c) -> tuple[float, float, float, float]:
    """A class's four parameters in the optimiser's order: (r, α, a, b) of a BG/NBD,
    (α_q, β_q, a, b) of a purchase-day BG/NBD."""
    if isinstance(c, PurchaseDayBGNBD):
        return (c.aq, c.bq, c.a, c.b)
    return (c.r, c.alpha, c.a, c.b)


def _cycle_gradient(c) -> np.ndarray:
    """d log(cycle) / d (log p1, log p2) of one class: the cycle is α/r (BG/NBD) or
    (α_q + β_q)/α_q (purchase days), times π and the unit."""
    if isinstance(c, PurchaseDayBGNBD):
        return c.log_cycle_gradient()
    return np.array([-1.0, 1.0])


@dataclass(frozen=True)
class LatentBGNBD:
    """K BG/NBD classes with weights; time in ``unit_days``-day units (weeks by default)."""

    weights: tuple[float, ...]
    classes: tuple[BGNBD, ...]
    loglik: float = float("nan")
    n: int = 0
    unit_days: float = 7.0
    family: str = "bgnbd"  # or "days": purchase-day BG/NBD classes, time in days

    @property
    def k(self) -> int:
        return len(self.classes)

    @property
    def parameters(self) -> int:
        """Free parameters: four per class and K − 1 weights."""
        return 5 * self.k - 1

    def params(self) -> dict:
        return {
            "classes": self.k,
            "weights": [float(w) for w in self.weights],
            "class_params": [c.params() for c in self.classes],
        }

    def theta(self) -> np.ndarray:
        """The fit as the optimiser's θ: log (r, α, a, b) per class, then log w_k − log w_1."""
        logs = [np.log(four(c)) for c in self.classes]
        logw = np.log(self.weights)
        return np.concatenate([*logs, logw[1:] - logw[0]])

    def _class_loglik(self, x, t_x, T) -> np.ndarray:
        """(n, K): log w_k + log L_k of each history."""
        x, t_x, T = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, t_x, T))
        return np.column_stack(
            [
                math.log(w) + FAMILIES[self.family].loglik(four(c), x, t_x, T)
                for w, c in zip(self.weights, self.classes, strict=True)
            ]
        )

    def responsibilities(self, x, t_x, T) -> np.ndarray:
        """P(class k | history): an (n, K) array whose rows sum to one."""
        ll = self._class_loglik(x, t_x, T)
        return np.exp(ll - special.logsumexp(ll, axis=1, keepdims=True))

    def p_alive(self, x, t_x, T) -> np.ndarray:
        resp = self.responsibilities(x, t_x, T)
        return sum(resp[:, j] * c.p_alive(x, t_x, T) for j, c in enumerate(self.classes))

    def conditional_expected(self, t: float, x, t_x, T) -> np.ndarray:
        """E[Y(t) | x, t_x, T] = Σ_k P(k | history) E_k[Y(t) | history]."""
        resp = self.responsibilities(x, t_x, T)
        return sum(
            resp[:, j] * c.conditional_expected(t, x, t_x, T) for j, c in enumerate(self.classes)
        )

    def expected(self, t) -> np.ndarray:
        """E[X(t)] of a freshly acquired customer: Σ_k w_k E_k[X(t)]."""
        return sum(w * c.expected(t) for w, c in zip(self.weights, self.classes, strict=True))


def mixture_nll(x, t_x, T, classes: int, *, gradient: bool = False, family: str = "bgnbd"):
    """The negative log-likelihood on θ = (log r, log α, log a, log b) per class (``family``
    "days": log α_q, log β_q, log a, log b), then K − 1 logits of the weights (class 1's logit
    0); identical histories aggregated. With
    ``gradient`` it returns (value, ∂/∂θ) (analytic: a numerical gradient over 5K − 1
    parameters made the 3-class fit on CDNOW's 21 213 customers take minutes)."""
    hx, ht, hT, w = distinct_histories(x, t_x, T)
    _loglik_and_gradient = FAMILIES[family].loglik_and_gradient

    def both(theta):
        p = np.exp(np.clip(theta[: 4 * classes], -15, 15)).reshape(classes, 4)
        logits = np.concatenate([[0.0], theta[4 * classes :]])
        logw = logits - special.logsumexp(logits)
        parts = [_loglik_and_gradient(p[j], hx, ht, hT) for j in range(classes)]
        ll = np.column_stack([logw[j] + parts[j][0] for j in range(classes)])
        total = special.logsumexp(ll, axis=1)
        val = -(w * total).sum()
        if not np.isfinite(val):
            return 1e300, np.zeros_like(theta)
        resp = np.exp(ll - total[:, None]) * w[:, None]  # weighted responsibilities
        grad = [-(resp[:, j, None] * parts[j][1]).sum(axis=0) for j in range(classes)]
        d_logits = -(resp.sum(axis=0) - resp.sum() * np.exp(logw))[1:]
        return val, np.concatenate([*grad, d_logits])

    return both if gradient else (lambda theta: both(theta)[0])


def _bgnbd_loglik_and_gradient(p, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """The BG/NBD log-likelihood of each history and its derivatives in log r, log α, log a,
    log b (n × 4), from ψ (digamma) terms of FHL's eq. 6."""
    r, al, a, b = p
    ll = bgnbd_loglik(p, x, t_x, T)
    psi = special.digamma
    rep = x > 0
    base_r = psi(r + x) - psi(r) + math.log(al)
    a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(al + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        bx1 = np.maximum(b + x - 1, 1e-12)
        a3 = np.where(
            rep,
            special.betaln(a + 1, bx1) - special.betaln(a, b) - (r + x) * np.log(al + t_x),
            -np.inf,
        )
    top = np.logaddexp(a2, a3)
    s2, s3 = np.exp(a2 - top), np.where(rep, np.exp(a3 - top), 0.0)
    ab = psi(a + b)
    d_r = base_r - s2 * np.log(al + T) - s3 * np.log(al + t_x)
    d_al = r / al - (r + x) * (s2 / (al + T) + s3 / (al + t_x))
    d_a = s2 * (ab - psi(a + b + x)) + s3 * (psi(a + 1) - psi(a) + ab - psi(a + b + x))
    d_b = s2 * (psi(b + x) - psi(b) + ab - psi(a + b + x)) + s3 * np.where(
        rep, psi(bx1) - psi(b) + ab - psi(a + b + x), 0.0
    )
    return ll, np.column_stack([d_r * r, d_al * al, d_a * a, d_b * b])


def _starts(one, classes: int) -> list[np.ndarray]:
    """Starts around the one-class fit: classes spread in purchase rate (α or β_q scaled), and
    in rate and dropout together (fast buyers who stay, slow ones who leave)."""
    base = np.log(four(one))
    spreads = np.linspace(-1.5, 1.5, classes)
    out = []
    for dropout in (0.0, 1.0):
        theta = np.concatenate(
            [base + np.array([0.0, -s, dropout * s * 0.7, -dropout * s * 0.7]) for s in spreads]
        )
        out.append(np.concatenate([theta, np.zeros(classes - 1)]))
    return out


def fit_latent_bgnbd(
    x,
    t_x,
    T,
    *,
    classes: int,
    start,
    unit_days: float = 7.0,
    family: str = "bgnbd",
    also: LatentBGNBD | None = None,
) -> LatentBGNBD:
    """MLE of a ``classes``-class BG/NBD mixture on histories in ``unit_days`` units, from
    starts around the one-class fit ``start``; ``family`` "days": purchase-day BG/NBD classes
    on histories in whole days (``start`` a :class:`PurchaseDayBGNBD`, ``unit_days`` 1).
    ``also``: a mixture of ``classes`` classes to start from as well (e.g. segments' own fits)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    nll = mixture_nll(x, t_x, T, classes, gradient=True, family=family)
    bounds = FAMILIES[family].bounds * classes + [LOGIT_BOUND] * (classes - 1)
    best = None
    starts = _starts(start, classes) + ([also.theta()] if also is not None else [])
    for init in starts:
        init = np.clip(init, [b[0] for b in bounds], [b[1] for b in bounds])
        res = optimize.minimize(
            nll, init, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 3000}
        )
        if best is None or res.fun < best.fun:
            best = res
    theta = _ordered(best.x, classes)
    return _from_theta(
        theta, classes, loglik=-float(best.fun), n=len(x), unit_days=unit_days, family=family
    )


def _ordered(theta: np.ndarray, classes: int) -> np.ndarray:
    """θ with the classes sorted by mean purchase rate r/α (slowest first), logits re-based."""
    p = theta[: 4 * classes].reshape(classes, 4)
    logits = np.concatenate([[0.0], theta[4 * classes :]])
    order = np.argsort(p[:, 0] - p[:, 1], kind="stable")
    logits = logits[order] - logits[order][0]
    return np.concatenate([p[order].ravel(), logits[1:]])


def _from_theta(
    theta, classes: int, *, loglik: float, n: int, unit_days: float, family: str = "bgnbd"
) -> LatentBGNBD:
    p = np.exp(theta[: 4 * classes]).reshape(classes, 4)
    make = FAMILIES[family].make
    logits = np.concatenate([[0.0], theta[4 * classes :]])
    w = np.exp(logits - special.logsumexp(logits))
    return LatentBGNBD(
        weights=tuple(float(v) for v in w),
        classes=tuple(make(*map(float, row), unit_days) for row in p),
        loglik=loglik,
        n=n,
        unit_days=unit_days,
        family=family,
    )


def class_standard_errors(fit: LatentBGNBD, x, t_x, T, pi: float) -> dict[str, float]:
    """Standard errors (delta method on θ) of each class's scenario fields, keyed
    ``class<j>.<field>``: ``share``, ``rate_shape``, ``purchase_cycle_days`` (= π·α·unit/r),
    ``dropout_a``, ``dropout_b``, and the two that a year of orders determines even when a and
    b are not one by one: ``dropout_mean`` a/(a+b) and ``dropout_polarisation`` 1/(a+b+1)
    (:mod:`sim.calibration.intervals` gives each an interval); histories in the fit's unit.
    NaN where the data leave a field open: a parameter that ends at a bound of the search has
    no standard error of its own, and a field that moves along a ridge of the likelihood
    (:mod:`sim.calibration.information`: a and b growing together, no spread of the dropout
    chance, move the polarisation but not the mean dropout) has none either."""
    k = fit.k
    theta = fit.theta()
    info = observed(mixture_nll(x, t_x, T, k, family=fit.family), theta)
    lo, hi = np.array(FAMILIES[fit.family].bounds * k).T
    at_bound = np.minimum(theta[: 4 * k] - lo, hi - theta[: 4 * k]) < 1e-3
    own = [math.nan if at_bound[i] else info.se(i) for i in range(4 * k)]
    out: dict[str, float] = {}
    w = np.asarray(fit.weights)
    # d w_j / d logit_i = w_j (δ_ij − w_i), logits of classes 2..K are θ[4K:]
    jac_w = (np.diag(w) - np.outer(w, w))[:, 1:]
    for j, c in enumerate(fit.classes):
        name = f"class{j + 1}"
        i = 4 * j
        var_w = info.variance(jac_w[j], at=4 * k) if k > 1 else 0.0
        out[f"{name}.share"] = math.sqrt(var_w)
        out[f"{name}.rate_shape"] = float(c.r * own[i])
        out[f"{name}.dropout_a"] = float(c.a * own[i + 2])
        out[f"{name}.dropout_b"] = float(c.b * own[i + 3])
        # what a year of orders does determine: the mean dropout m = a/(a+b) and its spread
        # (polarisation φ = 1/(a+b+1)); gradients in (log a, log b)
        m, phi = c.a / (c.a + c.b), 1 / (c.a + c.b + 1)
        for key, g in (
            ("dropout_mean", [m * (1 - m), -m * (1 - m)]),
            ("dropout_polarisation", [-c.a * phi * phi, -c.b * phi * phi]),
        ):
            out[f"{name}.{key}"] = math.sqrt(info.variance(g, at=i + 2))
        # log cycle = log α − log r + … (BG/NBD)
        var = info.variance(_cycle_gradient(c), at=i)
        cycle = pi * c.alpha * fit.unit_days / c.r
        out[f"{name}.purchase_cycle_days"] = float(cycle * math.sqrt(var))
    return out


def class_segments(fit: LatentBGNBD, pi: float) -> list[dict[str, float | str]]:
    """One scenario segment's spread fields per class (id, share, exponential needs, rate shape,
    cycle π·α/r in days, dropout a and b); π: chance a need ends in a purchase."""
    out = []
    for j, (w, c) in enumerate(zip(fit.weights, fit.classes, strict=True)):
        out.append(
            {
                "id": f"class{j + 1}",
                "share": round(float(w), 6),
                "cycle_distribution": "exponential",
                "cycle_cv": 1.0,
                "rate_shape": float(f"{c.r:.6g}"),
                "purchase_cycle_days": float(f"{pi * c.alpha * fit.unit_days / c.r:.6g}"),
                "dropout_a": float(f"{c.a:.6g}"),
                "dropout_b": float(f"{c.b:.6g}"),
            }
        )
        if isinstance(c, PurchaseDayBGNBD):  # the daily chances themselves: Beta
            out[-1]["rate_beta"] = float(f"{c.bq:.6g}")
    return out


FAMILIES = {
    "bgnbd": _Family(
        make=lambda r, alpha, a, b, unit: BGNBD(r, alpha, a, b, unit_days=unit),
        loglik=bgnbd_loglik,
        loglik_and_gradient=_bgnbd_loglik_and_gradient,
        bounds=LOG_BOUNDS,
    ),
    "days": _Family(
        make=lambda aq, bq, a, b, unit: PurchaseDayBGNBD(aq, bq, a, b),
        loglik=purchase_day_loglik,
        loglik_and_gradient=loglik_and_gradient,
        bounds=DAY_BOUNDS,
    ),
}
