"""The purchase-day BG/NBD (``sim.calibration.purchase_days``) against computations that do not
use its closed forms: the likelihood by two-dimensional quadrature over (q, p) and by summing to
one over every day pattern, P(alive) and the conditional expectation by a Monte Carlo of the
model written here (not ``sample_purchase_days``) and by quadrature over the posterior, the fit
by recovery of known parameters, and the fields' standard errors by a numeric delta method.

The model: a customer buys on day 0; on each day 1 … T while alive they buy with their own
q ~ Beta(α_q, β_q), and after each repeat purchase day leave with their own p ~ Beta(a, b).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate

from sim.calibration.heterogeneity import log_covariance
from sim.calibration.information import Information
from sim.calibration.purchase_days import (
    PurchaseDayBGNBD,
    fit_purchase_day_bgnbd,
    log_field_errors,
    purchase_day_loglik,
    purchase_day_nll,
    sample_purchase_days,
)
from tests.conftest import history_groups

# (α_q, β_q, a, b): both Beta densities singular at 0 (α_q, a < 1), and both regular.
SINGULAR = (0.5, 40.0, 0.8, 2.5)
REGULAR = (2.0, 15.0, 1.5, 4.0)


def _beta_expectation(f, params, eps=1e-11):
    """E[f(q, p)] for q ~ Beta(α_q, β_q), p ~ Beta(a, b) independent, by nested adaptive
    quadrature. The densities' endpoint singularities are handled exactly by QUADPACK's
    algebraic weight (``weight='alg'``: ∫ g(u) u^(α−1) (1−u)^(β−1) du); the normalising
    constants come from the same quadrature of g = 1, not from a Beta function."""
    aq, bq, a, b = params

    def alg(g, s, t):
        val, _ = integrate.quad(
            g, 0.0, 1.0, weight="alg", wvar=(s - 1.0, t - 1.0), epsabs=0.0, epsrel=eps, limit=400
        )
        return val

    def inner(p):
        return alg(lambda q: f(q, p), aq, bq)

    return alg(inner, a, b) / (alg(lambda _: 1.0, aq, bq) * alg(lambda _: 1.0, a, b))


def _pattern_probability(x, t_x, T):
    """P(one exact day pattern with x purchase days, the last on t_x, observed to T | q, p):
    alive after every purchase, or left after the last one (no binomial coefficient)."""

    def f(q, p):
        alive = q**x * (1.0 - q) ** (T - x) * (1.0 - p) ** x
        gone = q**x * (1.0 - q) ** (t_x - x) * p * (1.0 - p) ** (x - 1) if x > 0 else 0.0
        return alive + gone

    return f


HISTORIES = [(0, 0, 60), (1, 12, 60), (3, 60, 60), (2, 5, 9), (40, 180, 200)]


@pytest.mark.parametrize("params", [SINGULAR, REGULAR], ids=["singular", "regular"])
def test_likelihood_equals_the_integral_over_q_and_p(params):
    """The closed form is the two-dimensional integral of the day pattern's probability over
    the Beta mixing densities, to 1e-7 relative (the quadrature is good to ~1e-10): a wrong
    Beta argument (e.g. β_q+T−x where the gone term needs β_q+t_x−x, or b+x for b+x−1) moves
    it by far more."""
    x, t_x, T = (np.array(c, dtype=float) for c in zip(*HISTORIES, strict=True))
    got = np.exp(purchase_day_loglik(params, x, t_x, T))
    want = [_beta_expectation(_pattern_probability(*h), params) for h in HISTORIES]
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=0)


@pytest.mark.parametrize("T", [1, 4, 7])
@pytest.mark.parametrize("params", [SINGULAR, REGULAR, (0.3, 0.7, 0.4, 0.6)])
def test_likelihood_sums_to_one_over_every_day_pattern(params, T):
    """Every one of the 2^T buy/no-buy patterns of days 1 … T is one observable history; their
    probabilities (the closed form of that pattern's (x, t_x)) must sum to 1: the model is a
    proper distribution, nothing double-counted or missing (1e-12)."""
    pats = np.array(list(itertools.product([0, 1], repeat=T)), dtype=float)
    x = pats.sum(axis=1)
    days = np.arange(1, T + 1)
    t_x = (pats * days).max(axis=1)
    total = np.exp(purchase_day_loglik(params, x, t_x, np.full(len(x), T))).sum()
    assert total == pytest.approx(1.0, abs=1e-12)


# Monte Carlo of the model, written independently of ``sample_purchase_days``.
MC = {"aq": 0.6, "bq": 12.0, "a": 0.7, "b": 2.0}
MC_N, MC_T0, MC_T = 200_000, 40, 30


@pytest.fixture(scope="module")
def monte_carlo():
    """x, t_x and alive at T0 and the purchase days in T0+1 … T0+t of MC_N simulated customers."""
    rng = np.random.default_rng(20261202)
    q = rng.beta(MC["aq"], MC["bq"], MC_N)
    p = rng.beta(MC["a"], MC["b"], MC_N)
    alive = np.ones(MC_N, dtype=bool)
    x = np.zeros(MC_N)
    t_x = np.zeros(MC_N)
    future = np.zeros(MC_N)
    alive_at_t0 = None
    for day in range(1, MC_T0 + MC_T + 1):
        bought = alive & (rng.random(MC_N) < q)
        if day <= MC_T0:
            x += bought
            t_x[bought] = day
        else:
            future += bought
        alive &= ~(bought & (rng.random(MC_N) < p))
        if day == MC_T0:
            alive_at_t0 = alive.copy()
    return x, t_x, alive_at_t0.astype(float), future


def test_p_alive_and_conditional_expected_match_a_monte_carlo(monte_carlo):
    """Per group of histories, mean(simulated − predicted) is within 4 Monte Carlo standard
    errors of 0, for alive at T0 and for purchase days in the next 30 days. The groups hold
    5 000–200 000 customers: the SEs are 0.001–0.006 for P(alive) (group means 0.26–1) and
    0.002–0.017 purchase days (means 0.3–2.1), so a bias of 3–10 % in a group (the smallest
    groups the least sensitive) fails, e.g. the survival chance (b+x+j)/(a+b+x+j) read one
    purchase on, or the forecast not weighted by P(alive)."""
    x, t_x, alive, future = monte_carlo
    T = np.full_like(x, MC_T0)
    model = PurchaseDayBGNBD(**MC)
    pa = model.p_alive(x, t_x, T)
    ce = model.conditional_expected(MC_T, x, t_x, T)
    for name, sel in history_groups(x, t_x, MC_T0):
        assert sel.sum() > 3000, name
        for what, sim, pred in (("alive", alive, pa), ("future", future, ce)):
            d = sim[sel] - pred[sel]
            se = d.std(ddof=1) / math.sqrt(sel.sum())
            assert abs(d.mean()) <= 4 * se + 1e-12, (name, what, d.mean(), se)
    # the cumulative path ends at the conditional expectation and never decreases
    cum = model.cumulative_expected(MC_T, x[:5000], t_x[:5000], T[:5000])
    assert cum.shape == (5000, MC_T)
    np.testing.assert_allclose(cum[:, -1], ce[:5000], rtol=1e-12)
    assert (np.diff(cum, axis=1) >= -1e-15).all()
    assert (cum[:, 0] >= 0).all()


def _conditional_by_quadrature(params, x, t_x, T, t):
    """E[purchase days in T+1 … T+t | history] = E[1{alive} · q Σ_{k<t} (1−qp)^k | history]
    (alive at T: buys with q each day, survives a buy with 1−p): the prior expectation of that
    times the alive pattern probability, over the prior expectation of the pattern probability
    (both by quadrature)."""
    k = np.arange(t)

    def weighted(q, p):
        alive = q**x * (1.0 - q) ** (T - x) * (1.0 - p) ** x
        return alive * q * np.sum((1.0 - q * p) ** k)

    return _beta_expectation(weighted, params) / _beta_expectation(
        _pattern_probability(x, t_x, T), params
    )


@pytest.mark.parametrize("params", [SINGULAR, REGULAR], ids=["singular", "regular"])
def test_conditional_expected_equals_the_posterior_integral(params):
    """Several histories of different x and T in one call (shuffled, one repeated: the
    recursion runs per distinct (x, T) and is mapped back), each against quadrature over the
    posterior, to 1e-7 relative; ``expected`` is the x = T = 0 case."""
    t = 30
    hist = [(3, 20, 60), (0, 0, 45), (1, 10, 30), (5, 58, 60), (3, 55, 60), (0, 0, 0)]
    order = [4, 1, 5, 0, 3, 2, 1]
    x, t_x, T = (np.array([hist[i][j] for i in order], dtype=float) for j in range(3))
    model = PurchaseDayBGNBD(*params)
    got = model.conditional_expected(t, x, t_x, T)
    want = [_conditional_by_quadrature(params, *hist[i], t) for i in order]
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=0)
    assert float(model.expected(t)) == pytest.approx(want[2], rel=1e-7)


TRUTH = {"aq": 0.5, "bq": 40.0, "a": 0.8, "b": 2.5}


@pytest.mark.parametrize("seed", [11, 12])
def test_fit_recovers_known_parameters(seed):
    """4 000 customers observed 100–300 days: each true log-parameter is within 3 standard
    errors (inverse observed information) of the estimate; the fit is a maximum (no small step
    improves it, no worse than the truth) and its log-likelihood is the sum of the
    per-customer ones at the estimate (the aggregation of identical histories loses none)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(100, 301, 4000)
    h = sample_purchase_days(4000, T=T, rng=rng, **TRUTH)
    x, t_x, TT = (h[c].to_numpy(float) for c in ("x", "t_x", "T"))
    fit = fit_purchase_day_bgnbd(x, t_x, TT)
    est = np.array([fit.aq, fit.bq, fit.a, fit.b])
    nll = purchase_day_nll(x, t_x, TT)
    # converged: no step of 0.001 in one log-parameter improves the fit (a gradient ≥ 1e-3 would)
    for e in np.eye(4) * 1e-3:
        assert min(nll(np.log(est) + e), nll(np.log(est) - e)) >= -fit.loglik - 1e-6
    cov = log_covariance(nll, np.log(est))
    se = np.sqrt(np.diag(cov))
    z = (np.log(est) - np.log(list(TRUTH.values()))) / se
    assert np.all(np.abs(z) <= 3), dict(zip(TRUTH, z.round(2), strict=True))
    assert fit.n == 4000
    assert fit.loglik == pytest.approx(purchase_day_loglik(est, x, t_x, TT).sum(), abs=1e-6)
    truth_ll = purchase_day_loglik(list(TRUTH.values()), x, t_x, TT).sum()
    assert fit.loglik >= truth_ll - 1e-6


def test_field_errors_are_the_delta_method():
    """The fields' SEs equal sqrt(J Σ Jᵀ) with J the central-difference Jacobian of the fields
    (rate_shape = α_q, purchase_cycle_days = π(α_q+β_q)/α_q, dropout_a = a, dropout_b = b) with
    respect to the log-parameters, for a correlated Σ, to 1e-6 relative."""
    fit = PurchaseDayBGNBD(aq=0.7, bq=30.0, a=0.9, b=3.5)
    pi = 0.8
    rng = np.random.default_rng(5)
    m = rng.normal(size=(4, 4)) * 0.1
    cov = m @ m.T + np.diag([0.02, 0.05, 0.03, 0.04])

    def fields(theta):
        aq, bq, a, b = np.exp(theta)
        return np.array([aq, pi * (aq + bq) / aq, a, b])

    theta = np.log([fit.aq, fit.bq, fit.a, fit.b])
    h = 1e-6
    jac = np.column_stack(
        [(fields(theta + h * e) - fields(theta - h * e)) / (2 * h) for e in np.eye(4)]
    )
    want = np.sqrt(np.diag(jac @ cov @ jac.T))
    got = log_field_errors(fit, Information.from_hessian(np.linalg.inv(cov)), pi)
    names = ["rate_shape", "purchase_cycle_days", "dropout_a", "dropout_b"]
    assert set(got) == set(names)
    np.testing.assert_allclose([got[k] for k in names], want, rtol=1e-6)


def test_edges():
    """A fit needs two customers; no days ahead means no purchases expected."""
    for n in (0, 1):
        with pytest.raises(ValueError):
            fit_purchase_day_bgnbd(np.zeros(n), np.zeros(n), np.full(n, 30.0))
    model = PurchaseDayBGNBD(*SINGULAR)
    out = model.conditional_expected(0, [0, 2, 5], [0, 10, 29], [30, 30, 30])
    np.testing.assert_array_equal(out, np.zeros(3))
