"""The purchase-day Pareto/NBD (``sim.calibration.lifetime_days``) against computations that do
not use its closed forms or its summation: the likelihood by numerical integration over q and θ
and by summing to one over every day pattern, its reverse cumulative sum against a direct sum
where a forward one would fail, P(alive) and the conditional expectation by a Monte Carlo of the
model written here (not ``sample_lifetime_days``), the sampler by the frequencies of the day
patterns, the fit by recovery of known parameters, and the fields' standard errors by a numeric
delta method.

The model: a customer buys on day 0; on each day 1, 2, … while alive they buy with their own
q ~ Beta(α_q, β_q); at the end of each day 0, 1, … they die with their own θ ~ Beta(g, d), or
with one θ for everybody (``g`` None, ``d`` = θ).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, special

from sim.calibration import lifetime_days
from sim.calibration.heterogeneity import log_covariance
from sim.calibration.information import Information
from sim.calibration.lifetime_days import (
    LifetimeDayNBD,
    fit_lifetime_day_nbd,
    lifetime_day_loglik,
    lifetime_day_nll,
    log_field_errors,
    sample_lifetime_days,
)
from tests.conftest import history_groups

# (α_q, β_q, g, d): both Beta densities singular at 0 (α_q, g < 1), both regular, one θ.
SINGULAR = (0.5, 40.0, 0.8, 150.0)
REGULAR = (2.0, 15.0, 1.5, 40.0)
ONE_THETA = (0.7, 20.0, None, 0.01)


def _beta_mean(f, s, t, eps=1e-11):
    """E[f(u)] for u ~ Beta(s, t) by adaptive quadrature; the density's endpoint singularities
    are handled exactly by QUADPACK's algebraic weight (∫ f(u) u^(s−1) (1−u)^(t−1) du), and the
    normalising constant comes from the same quadrature of f = 1, not from a Beta function."""

    def alg(g):
        val, _ = integrate.quad(
            g, 0.0, 1.0, weight="alg", wvar=(s - 1.0, t - 1.0), epsabs=0.0, epsrel=eps, limit=400
        )
        return val

    return alg(f) / alg(lambda _: 1.0)


def _pattern_probability_by_quadrature(params, x, t_x, T):
    """P(one exact day pattern with x purchase days, the last on t_x, observed to day T):
    E[q^x (1−q)^(T−x) (1−θ)^T] + Σ_{j=t_x}^{T−1} E[q^x (1−q)^(j−x) (1−θ)^j θ]. q and θ are
    independent in the model, so each expectation over (q, θ) is the product of one integral
    over q and one over θ (θ fixed: plain powers)."""
    aq, bq, g, d = params

    def over_q(m):
        return _beta_mean(lambda q: q**x * (1.0 - q) ** m, aq, bq)

    def over_theta(f):
        return f(d) if g is None else _beta_mean(f, g, d)

    total = over_q(T - x) * over_theta(lambda th: (1.0 - th) ** T)
    for j in range(t_x, T):
        total += over_q(j - x) * over_theta(lambda th, j=j: (1.0 - th) ** j * th)
    return total


HISTORIES = [(0, 0, 60), (1, 12, 60), (3, 60, 60), (2, 5, 9), (25, 150, 160), (0, 0, 0)]


@pytest.mark.parametrize("params", [SINGULAR, REGULAR, ONE_THETA], ids=["sing", "reg", "one"])
def test_likelihood_equals_the_integral_over_q_and_theta(params):
    """The closed form is the integral of the day pattern's probability over the mixing
    densities, to 1e-10 relative (they agree to 3e-13), for a batch whose histories
    share the reverse sums of their x (T = 9 and t_x = 5 read off sums built up to day 160): a
    wrong Beta argument (g for g+1, d+j+1 for d+j), a death term of day T included or of day
    t_x left out, or the sums of one x read for another, move it by far more."""
    x, t_x, T = (np.array(c, dtype=float) for c in zip(*HISTORIES, strict=True))
    got = np.exp(lifetime_day_loglik(params, x, t_x, T))
    want = [_pattern_probability_by_quadrature(params, *h) for h in HISTORIES]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)


@pytest.mark.parametrize("T", [1, 4, 7])
@pytest.mark.parametrize("params", [SINGULAR, REGULAR, ONE_THETA, (0.3, 0.7, 0.4, 0.6)])
def test_likelihood_sums_to_one_over_every_day_pattern(params, T):
    """Every one of the 2^T buy/no-buy patterns of days 1 … T is one observable history; their
    probabilities (the closed form of that pattern's (x, t_x)) sum to 1 (1e-12): the model is a
    proper distribution, nothing double-counted or missing."""
    pats = np.array(list(itertools.product([0, 1], repeat=T)), dtype=float)
    x = pats.sum(axis=1)
    t_x = (pats * np.arange(1, T + 1)).max(axis=1)
    total = np.exp(lifetime_day_loglik(params, x, t_x, np.full(len(x), T))).sum()
    assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("params", [(1.0, 3.0, 5.0, 20.0), (1.0, 3.0, None, 0.2)])
def test_reverse_sums_keep_late_histories_exact(params):
    """Steeply decreasing death terms (θ ≈ 0.2 a day, q ≈ 0.25) and late last purchases: the
    part of the sum a history needs is ~1e-30 of the sum from day 0, so a forward cumulative
    sum differenced would return noise or −∞; the reverse sums agree with each history's own
    direct log-sum-exp of its terms to 1e-11 relative (log-likelihood to 1e-11 absolute)."""
    aq, bq, g, d = params
    rng = np.random.default_rng(1)
    T = rng.integers(150, 274, 300)
    t_x = np.maximum(T - rng.integers(1, 6, 300), 1)
    x = np.minimum(rng.integers(1, 60, 300), t_x)
    got = lifetime_day_loglik(params, x, t_x, T)
    want = []
    for xi, ti, Ti in zip(x, t_x, T, strict=True):
        q = lambda m, xi=xi: special.betaln(aq + xi, bq + m) - special.betaln(aq, bq)  # noqa: E731
        j = np.arange(ti, Ti, dtype=float)
        if g is None:
            alive, death = Ti * math.log1p(-d), j * math.log1p(-d) + math.log(d)
        else:
            alive = special.betaln(g, d + Ti) - special.betaln(g, d)
            death = special.betaln(g + 1, d + j) - special.betaln(g, d)
        want.append(special.logsumexp(np.append(q(j - xi) + death, q(Ti - xi) + alive)))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


# Monte Carlo of the model, written independently of ``sample_lifetime_days``.
MC_SPREAD = {"aq": 0.6, "bq": 12.0, "g": 1.0, "d": 60.0}
MC_ONE = {"aq": 0.6, "bq": 12.0, "g": None, "d": 0.016}
MC_N, MC_T0, MC_T = 200_000, 40, 30
CHECK_DAYS = (1, 10, 30)


@pytest.fixture(scope="module", params=[MC_SPREAD, MC_ONE], ids=["spread", "one"])
def monte_carlo(request):
    """The model's parameters, and x, t_x and alive on day T0 and the purchase days in
    T0+1 … T0+k (k in CHECK_DAYS) of MC_N simulated customers, day by day."""
    par = request.param
    rng = np.random.default_rng(20261203)
    q = rng.beta(par["aq"], par["bq"], MC_N)
    theta = np.full(MC_N, par["d"]) if par["g"] is None else rng.beta(par["g"], par["d"], MC_N)
    alive = np.ones(MC_N, dtype=bool)
    x, t_x, future = np.zeros(MC_N), np.zeros(MC_N), np.zeros(MC_N)
    alive_at_t0, by_day = None, {}
    for day in range(1, MC_T0 + MC_T + 1):
        alive &= rng.random(MC_N) >= theta  # the death at the end of the day before
        bought = alive & (rng.random(MC_N) < q)
        if day <= MC_T0:
            x += bought
            t_x[bought] = day
        else:
            future += bought
        if day == MC_T0:
            alive_at_t0 = alive.astype(float)
        if day - MC_T0 in CHECK_DAYS:
            by_day[day - MC_T0] = future.copy()
    return LifetimeDayNBD(**par), x, t_x, alive_at_t0, by_day


def test_p_alive_and_conditional_expected_match_a_monte_carlo(monte_carlo):
    """Per group of histories, mean(simulated − predicted) is within 4 Monte Carlo standard
    errors of 0, for alive on day T0 and for purchase days in the next 30 days. The groups hold
    5 000–100 000 customers: the SEs are 0.0015–0.0065 for P(alive) (group means 0.25–0.88)
    and 0.0015–0.02 purchase days (means 0.11–2.6), so a bias of 2–4 % in a group fails.
    Checked by mutation: θ's posterior not updated by the T days survived (Beta(g, d) for
    Beta(g, d+T)) fails the spread case, q's mean taken from the prior both, and (only just)
    no death at the end of day T (+1.6 % ahead) the one-θ case."""
    model, x, t_x, alive, by_day = monte_carlo
    T = np.full_like(x, MC_T0)
    pa = model.p_alive(x, t_x, T)
    ce = model.conditional_expected(MC_T, x, t_x, T)
    for name, sel in history_groups(x, t_x, MC_T0):
        assert sel.sum() > 4000, name
        for what, sim, pred in (("alive", alive, pa), ("future", by_day[MC_T], ce)):
            diff = sim[sel] - pred[sel]
            se = diff.std(ddof=1) / math.sqrt(sel.sum())
            assert abs(diff.mean()) <= 4 * se, (name, what, diff.mean(), se)


def test_cohort_cumulative_is_the_sum_of_the_forecasts(monte_carlo):
    """The cohort path at day k is Σᵢ E[Y(k) | historyᵢ] (1e-10 relative: summation order),
    its last value the sum of ``conditional_expected`` over the horizon; it rises every day;
    and the simulated cohort's purchase days by day 1, 10 and 30 are within 4 SE of it (SE of
    the mean per customer 0.0003–0.003)."""
    model, x, t_x, _, by_day = monte_carlo
    T = np.full_like(x, MC_T0)
    path = model.cohort_cumulative(MC_T, x, t_x, T)
    assert path.shape == (MC_T,)
    assert (np.diff(path) > 0).all()
    for k in CHECK_DAYS:
        pred = model.conditional_expected(k, x, t_x, T)
        assert path[k - 1] == pytest.approx(pred.sum(), rel=1e-10)
        diff = by_day[k] - pred
        assert abs(diff.mean()) <= 4 * diff.std(ddof=1) / math.sqrt(MC_N), k
    # mixed observation ends: the rows per distinct T map back to the right customers
    TT = T + (np.arange(MC_N) % 7)
    mixed = model.cohort_cumulative(MC_T, x, t_x, TT)
    assert mixed[-1] == pytest.approx(model.conditional_expected(MC_T, x, t_x, TT).sum(), rel=1e-10)


@pytest.mark.parametrize("params", [(1.0, 3.0, 1.0, 4.0), (1.0, 3.0, None, 0.2)])
def test_sampler_draws_the_likelihood(params):
    """``sample_lifetime_days`` (which reads the days backwards, no day loop) against the
    likelihood: 200 000 histories observed 6 days; each (x, t_x) cell's count is within 4
    binomial SEs of n × (patterns in the cell) × L. The cells hold 0.3–60 % of the customers
    (SE 0.01–0.1 % of n); a lifetime one day too long (Geometric(θ) for Geometric(θ) − 1)
    fails both variants (checked by mutation)."""
    aq, bq, g, d = params
    n, T = 200_000, 6
    h = sample_lifetime_days(n, aq=aq, bq=bq, g=g, d=d, T=T, rng=np.random.default_rng(8))
    seen = h.value_counts(["x", "t_x"])
    cells = [(0, 0)] + [(k, t) for t in range(1, T + 1) for k in range(1, t + 1)]
    for k, t in cells:
        patterns = math.comb(t - 1, k - 1) if k else 1
        p = patterns * math.exp(lifetime_day_loglik(params, k, t, T)[0])
        got = seen.get((k, t), 0)
        assert abs(got - n * p) <= 4 * math.sqrt(n * p * (1 - p)), (k, t, got, n * p)


TRUTH = {
    "lifetime": {"aq": 0.5, "bq": 40.0, "g": 0.8, "d": 150.0},
    "one": {"aq": 0.5, "bq": 40.0, "g": None, "d": 0.005},
}


@pytest.mark.parametrize("variant", ["lifetime", "one"])
def test_fit_recovers_known_parameters(variant):
    """4 000 customers observed 100–300 days (one fixed seed): each true log-parameter is within
    3 standard errors (inverse observed information) of the estimate; the fit is a maximum (no
    step of 0.001 in one log-parameter improves it, no worse than the truth) and its
    log-likelihood is the sum of the per-customer ones (the aggregation loses none)."""
    truth = TRUTH[variant]
    spread = truth["g"] is not None
    rng = np.random.default_rng(11)
    T = rng.integers(100, 301, 4000)
    h = sample_lifetime_days(4000, T=T, rng=rng, **truth)
    x, t_x, TT = (h[c].to_numpy(float) for c in ("x", "t_x", "T"))
    fit = fit_lifetime_day_nbd(x, t_x, TT, spread_lifetime=spread)
    assert (fit.g is not None) == spread
    est = np.array([fit.aq, fit.bq, fit.g, fit.d] if spread else [fit.aq, fit.bq, fit.d])
    true = np.array([v for v in truth.values() if v is not None])
    nll = lifetime_day_nll(x, t_x, TT, spread_lifetime=spread)
    for e in np.eye(len(est)) * 1e-3:
        assert min(nll(np.log(est) + e), nll(np.log(est) - e)) >= -fit.loglik - 1e-6
    se = np.sqrt(np.diag(log_covariance(nll, np.log(est))))
    z = (np.log(est) - np.log(true)) / se
    assert np.all(np.abs(z) <= 3), z.round(2)
    assert fit.n == 4000
    params = (fit.aq, fit.bq, fit.g, fit.d)
    assert fit.loglik == pytest.approx(lifetime_day_loglik(params, x, t_x, TT).sum(), abs=1e-6)
    assert fit.loglik >= lifetime_day_loglik(tuple(truth.values()), x, t_x, TT).sum() - 1e-6


@pytest.mark.parametrize("spread", [True, False])
def test_the_given_start_and_the_default_are_both_searched(spread, monkeypatch):
    """``start`` is searched as given (in logs) next to the default start, within the
    variant's bounds. (The search itself is robust here: starts as far off as buying every
    other day and dying within days reach the same maximum on 1 500 drawn customers, so this
    checks the wiring, which a dropped or mis-ordered start would break.)"""
    seen = {}
    real = lifetime_days.best_of

    def spy(nll, starts, bounds):
        seen["starts"], seen["bounds"] = [np.exp(s) for s in starts], bounds
        return real(nll, starts, bounds)

    monkeypatch.setattr(lifetime_days, "best_of", spy)
    rng = np.random.default_rng(12)
    truth = TRUTH["lifetime" if spread else "one"]
    h = sample_lifetime_days(500, T=rng.integers(100, 301, 500), rng=rng, **truth)
    start = (0.3, 20.0, 2.0, 300.0) if spread else (0.3, 20.0, 0.002)
    fit = fit_lifetime_day_nbd(h["x"], h["t_x"], h["T"], spread_lifetime=spread, start=start)
    assert len(seen["starts"]) == 2 and len(seen["bounds"]) == len(start)
    np.testing.assert_allclose(seen["starts"][1], start, rtol=1e-12)
    assert (fit.g is not None) == spread and fit.n == 500


@pytest.mark.parametrize("spread", [True, False])
def test_field_errors_are_the_delta_method(spread):
    """The fields' SEs equal sqrt(J Σ Jᵀ), J the central-difference Jacobian of the fields
    (rate_shape = α_q, purchase_cycle_days = π(α_q+β_q)/α_q, churn = g/(g+d) or θ, churn_shape
    = g) in the log-parameters, for a correlated Σ, to 1e-6 relative."""
    fit = (
        LifetimeDayNBD(0.7, 30.0, 0.9, 250.0) if spread else LifetimeDayNBD(0.7, 30.0, None, 0.004)
    )
    pi, k = 0.8, 4 if spread else 3
    rng = np.random.default_rng(5)
    m = rng.normal(size=(k, k)) * 0.1
    cov = m @ m.T + np.diag([0.02, 0.05, 0.03, 0.04][:k])

    def fields(theta):
        p = np.exp(theta)
        out = [p[0], pi * (p[0] + p[1]) / p[0]]
        return np.array(out + ([p[2] / (p[2] + p[3]), p[2]] if spread else [p[2]]))

    theta = np.log([fit.aq, fit.bq, fit.g, fit.d] if spread else [fit.aq, fit.bq, fit.d])
    h = 1e-6
    jac = np.column_stack(
        [(fields(theta + h * e) - fields(theta - h * e)) / (2 * h) for e in np.eye(k)]
    )
    want = np.sqrt(np.diag(jac @ cov @ jac.T))
    got = log_field_errors(fit, Information.from_hessian(np.linalg.inv(cov)), pi)
    names = ["rate_shape", "purchase_cycle_days", "churn"] + (["churn_shape"] if spread else [])
    assert set(got) == set(names)
    np.testing.assert_allclose([got[n] for n in names], want, rtol=1e-6)


def test_edges():
    """A fit needs two customers; impossible histories are refused; no days ahead means no
    purchases expected; the mean churn and the gamma rate of the mapping."""
    for n in (0, 1):
        for spread in (True, False):
            with pytest.raises(ValueError):
                fit_lifetime_day_nbd(
                    np.zeros(n), np.zeros(n), np.full(n, 30.0), spread_lifetime=spread
                )
    model = LifetimeDayNBD(*SINGULAR)
    with pytest.raises(ValueError):
        model.p_alive([2], [1], [30])  # two purchase days by day 1
    out = model.conditional_expected(0, [0, 2, 5], [0, 10, 29], [30, 30, 30])
    np.testing.assert_array_equal(out, np.zeros(3))
    assert model.churn == pytest.approx(0.8 / 150.8)
    assert LifetimeDayNBD(*ONE_THETA).churn == 0.01
    assert (model.r, model.alpha) == (0.5, 40.5)
