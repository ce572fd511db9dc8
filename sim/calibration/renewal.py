"""The simulator's own repeat process, fitted to gaps and silences in days ("renewal fit").

After a purchase a customer needs the product again after a lognormal gap (mean
``purchase_cycle_days``, spread ``cycle_cv``), then shops until they buy (daily conversion c) or
give up (``interest_lapse``, which costs one more cycle), and churns with a constant daily
hazard. The exact discrete-day likelihood of every observed gap and of the silence after the
last order gives ``purchase_cycle_days``, ``cycle_cv`` and the daily churn hazard directly in
the simulator's own terms (:func:`fit_renewal`); :func:`fit_latent_renewal` fits a finite
mixture of such buyers (latent segments) on whole histories.

    >>> pmf = gap_pmf(30.0, 0.3, conversion=0.5, lapse=0.35, n=400)
    >>> round(float(pmf.sum()), 6)
    1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse, special, stats

MAX_GAP_DAYS = 1500
# The largest cycle_cv the scenario takes (sim/scenario/market.py). The search stays within it, so
# the likelihood reported is the one of the process the scenario simulates (a fit that wandered
# past it and was clipped afterwards simulated 25 % fewer repeats than it had fitted on CDNOW).
MAX_CV = 10.0


def gap_pmf(cycle: float, cv: float, conversion: float, lapse: float, n: int) -> np.ndarray:
    """P(days between two purchases = g), g = 0..n−1, under the simulator's rules.

    need gap = max(1, round(cycle × lognormal(mean 1, cv))); then each shopping day the
    customer buys with ``conversion``, else gives up with ``lapse`` and needs again
    ``int(cycle)`` days later (see sim/core/phases/purchase.py, churn.py).
    """
    return np.convolve(_need_pmf(cycle, cv, n), _wait_pmf(cycle, conversion, lapse, n))[:n]


def _need_pmf(cycle: float, cv: float, n: int) -> np.ndarray:
    """P(need gap = g): the rounded lognormal, gaps below 1 day counted as 1."""
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
    return need


def _wait_pmf(cycle: float, conversion: float, lapse: float, n: int) -> np.ndarray:
    """P(shopping, with any give-ups and renewed needs, takes g days after the need)."""
    g = np.arange(n, dtype=float)
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
    return wait


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
    """log P(alive and silent for s days), log P(silent for s days), for each silence s."""
    n = int(max(silence.max(initial=0), 1)) + 2
    pmf = gap_pmf(fit.cycle_days, fit.cycle_cv, fit.conversion, fit.lapse, n)
    surv = np.clip(1.0 - np.cumsum(pmf), 1e-300, 1.0)  # P(G > k)
    h = fit.hazard
    k = np.arange(n)
    dying = np.concatenate([[0.0], np.cumsum(np.exp(-h * k) * surv * -np.expm1(-h))])
    alive = -h * silence + np.log(surv[silence])
    return alive, np.log(np.exp(alive) + dying[silence])


def _day_logliks(
    cycle: float, cv: float, h: float, conversion: float, lapse: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per day k < n: log-likelihood of a gap of k days (alive through it) and of a silence of
    k days (still alive, or churned silently after the last purchase)."""
    k = np.arange(n)
    pmf = np.maximum(gap_pmf(cycle, cv, conversion, lapse, n), 1e-300)
    surv = np.clip(1.0 - np.cumsum(pmf), 1e-300, 1.0)
    dying = np.concatenate([[0.0], np.cumsum(np.exp(-h * k) * surv * -np.expm1(-h))])[:n]
    return np.log(pmf) - h * k, np.log(np.exp(-h * k) * surv + dying)


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

    def nll(theta):
        cycle, cv = math.exp(theta[0]), min(math.exp(theta[1]), MAX_CV)
        h = hazard if hazard is not None else math.exp(theta[2])
        ll_gap, ll_silence = _day_logliks(cycle, cv, h, conversion, lapse, n)
        return -((g_count * ll_gap).sum() + (s_count * ll_silence).sum())

    mean_gap = float(gaps.mean()) if len(gaps) else float(np.median(silences) + 1)
    best = _renewal_search(nll, mean_gap, fit_hazard=hazard is None)
    return RenewalFit(
        cycle_days=math.exp(best.x[0]),
        cycle_cv=min(math.exp(best.x[1]), MAX_CV),
        hazard=hazard if hazard is not None else math.exp(best.x[2]),
        conversion=conversion,
        lapse=lapse,
        loglik=-float(best.fun),
        customers=len(silences),
        gaps=len(gaps),
    )


def _renewal_search(nll, mean_gap: float, *, fit_hazard: bool) -> optimize.OptimizeResult:
    """Nelder–Mead on log (cycle, cv[, hazard]) from two starting cycles; the better wins."""
    init = [math.log(max(mean_gap * 0.8, 1.5)), math.log(0.3)]
    if fit_hazard:
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
    return best


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
    lik = _LatentLikelihood.of(gaps_by_customer, silences, classes, conversion, lapse)
    res = optimize.minimize(
        lik.nll,
        _latent_start(start, classes),
        method="Powell",
        options={"maxiter": 20000, "xtol": 1e-4, "ftol": 1e-7},
    )
    cyc, cv, logw, h = lik.unpack(res.x)
    tab = lik.table(res.x)
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
            gaps=int(lik.counts.sum()),
        )
        for j in order
    ]
    return LatentRenewal(
        weights=np.exp(logw)[order],
        fits=fits,
        loglik=-float(res.fun),
        responsibilities=resp[:, order],
    )


@dataclass(frozen=True)
class _LatentLikelihood:
    """The mixture's likelihood on a vector θ = (log cycles, log cvs, K − 1 weight logits,
    log hazard)."""

    counts: sparse.csr_matrix  # customers × days: number of gaps of that length
    silences: np.ndarray  # per customer, capped at n − 2
    classes: int
    conversion: float
    lapse: float
    n: int  # days the tables cover

    @classmethod
    def of(cls, gaps_by_customer, silences, classes, conversion, lapse) -> _LatentLikelihood:
        silences = np.asarray(silences, dtype=int)
        longest_gap = max((g.max(initial=1) for g in gaps_by_customer), default=1)
        n = int(min(max(longest_gap, silences.max(initial=1)) + 2, MAX_GAP_DAYS))
        rows = np.repeat(np.arange(len(gaps_by_customer)), [len(g) for g in gaps_by_customer])
        cols = np.minimum(np.concatenate([*gaps_by_customer, np.zeros(0, int)]), n - 2)
        counts = sparse.csr_matrix(
            (np.ones(len(cols)), (rows, cols)), shape=(len(gaps_by_customer), n)
        )
        return cls(counts, np.minimum(silences, n - 2), classes, conversion, lapse, n)

    def unpack(self, theta) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Cycles and cvs (clipped to their ranges), log weights and the hazard."""
        k = self.classes
        cyc = np.exp(np.clip(theta[:k], math.log(2.0), math.log(MAX_GAP_DAYS)))
        cv = np.exp(np.clip(theta[k : 2 * k], math.log(0.05), math.log(MAX_CV)))
        logits = np.concatenate([[0.0], theta[2 * k : 3 * k - 1]])
        logw = logits - special.logsumexp(logits)
        return cyc, cv, logw, math.exp(theta[-1])

    def table(self, theta) -> np.ndarray:
        """log(weight × likelihood of the customer's history), customers × K."""
        cyc, cv, logw, h = self.unpack(theta)
        columns = []
        for j in range(self.classes):
            ll_gap, ll_silence = _day_logliks(cyc[j], cv[j], h, self.conversion, self.lapse, self.n)
            columns.append(logw[j] + (self.counts @ ll_gap + ll_silence[self.silences]))
        return np.column_stack(columns)

    def nll(self, theta) -> float:
        return -float(special.logsumexp(self.table(theta), axis=1).sum())


def _latent_start(start: RenewalFit, classes: int) -> np.ndarray:
    """Starting point: cycles spread around the one-class fit, equal weights, its hazard."""
    spread = np.exp(np.linspace(-0.7, 1.2, classes))
    return np.concatenate(
        [
            np.log(start.cycle_days * spread),
            np.full(classes, math.log(max(start.cycle_cv, 0.3))),
            np.zeros(classes - 1),
            [math.log(start.hazard)],
        ]
    )
