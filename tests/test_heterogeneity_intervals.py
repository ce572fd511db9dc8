"""Do the heterogeneity fits' reported uncertainties hold the truth? Coverage on histories
drawn exactly from known BG/NBD processes (``sample_bgnbd``, independent of the fits), and the
profile-likelihood intervals checked against an independent optimiser.

Coverage thresholds are binomial: a correct 95 % interval misses with probability 0.05, so over
m intervals the misses are Binomial(m, 0.05) (treated as independent, an approximation within a
history); each threshold below is exceeded with probability ≈ 1 % by correct intervals, and a
coverage of 80 % (what the purchase-day bias gave the cycle, docs/calibration.md) exceeds it
with the probability stated next to it. Seeds are fixed: the tests are deterministic.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from sim.calibration.bgnbd import LOG_BOUNDS, bgnbd_loglik, fit_bgnbd, sample_bgnbd
from sim.calibration.heterogeneity import Choice, standard_errors
from sim.calibration.intervals import DROP, _sum_and_mean, profile, spread_intervals, wald
from sim.calibration.latent import class_standard_errors, fit_latent_bgnbd, mixture_nll

WEEK = 7.0
# rate shape 1, 40 days per purchase (α = 40/7 weeks), dropout Beta(1, 4): the recovery test's
TRUTH = {"r": 1.0, "alpha": 40.0 / WEEK, "a": 1.0, "b": 4.0}


def _bgnbd_history(seed: int, n: int = 2000) -> pd.DataFrame:
    """(x, t_x, T) in days of ``n`` customers drawn from the BG/NBD, ages 26-52 weeks."""
    rng = np.random.default_rng(seed)
    h = sample_bgnbd(n, T=rng.uniform(26, 52, n), rng=rng, **TRUTH)
    days = {c: h[c].to_numpy(float) * WEEK for c in ("t_x", "T")}
    return pd.DataFrame({"x": h["x"].to_numpy(float)} | days)


def _bgnbd_fit(hist: pd.DataFrame):
    return fit_bgnbd(hist["x"], hist["t_x"] / WEEK, hist["T"] / WEEK, unit_days=WEEK)


def test_bgnbd_standard_errors_cover_the_truth():
    """8 histories of 1 500 customers × 4 fields = 32 intervals estimate ± 1.96 SE (as
    ``calibrate`` reports them; π = 1, so the cycle is α/r): at most 4 miss (correct:
    P(≥ 5) = 2.0 %; at 80 % coverage the test fails with probability 0.80), and each field's
    mean z-score is within 3/√8 of 0 (a biased estimate, like the purchase-day cycle's mean
    z +1.8 in docs/calibration.md, fails)."""
    truth = {
        "rate_shape": TRUTH["r"],
        "purchase_cycle_days": TRUTH["alpha"] * WEEK / TRUTH["r"],
        "dropout_a": TRUTH["a"],
        "dropout_b": TRUTH["b"],
    }
    z = {k: [] for k in truth}
    for seed in range(8):
        hist = _bgnbd_history(seed, n=1500)
        fit = _bgnbd_fit(hist)
        se = standard_errors(Choice("rate+dropout", {}, {"rate+dropout": fit}), hist, pi=1.0)
        got = {
            "rate_shape": fit.r,
            "purchase_cycle_days": fit.alpha * WEEK / fit.r,
            "dropout_a": fit.a,
            "dropout_b": fit.b,
        }
        for k in truth:
            z[k].append((got[k] - truth[k]) / se[k])
    misses = sum(abs(v) > 1.96 for vals in z.values() for v in vals)
    assert misses <= 4, z
    for k, vals in z.items():
        assert abs(np.mean(vals)) < 3 / math.sqrt(len(vals)), (k, vals)


# Two classes (weeks): 70 % slow buyers (120 days per purchase) who leave after a purchase with
# p ~ Beta(1, 3), 30 % fast ones (15 days) with Beta(1, 9); rate shape 3 each.
CLASSES = [
    (0.7, {"r": 3.0, "alpha": 360.0 / WEEK, "a": 1.0, "b": 3.0}),
    (0.3, {"r": 3.0, "alpha": 45.0 / WEEK, "a": 1.0, "b": 9.0}),
]


def test_latent_classes_identified_quantities_cover_the_truth():
    """4 histories of 1 500 customers from the 2-class mixture × 2 classes × 4 quantities that
    a year of orders determines (share, cycle, mean dropout a/(a+b), polarisation 1/(a+b+1),
    as reported: logit/log scale) = 32 intervals: at most 4 miss (correct: P(≥ 5) = 2.0 %;
    at 80 % coverage the test fails with probability 0.80)."""
    misses, seen = 0, 0
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        parts = []
        for w, p in CLASSES:
            m = round(w * 1500)
            parts.append(sample_bgnbd(m, T=rng.uniform(26, 52, m), rng=rng, **p))
        h = pd.concat(parts)
        x, t_x, T = (h[c].to_numpy(float) for c in ("x", "t_x", "T"))
        fit = fit_latent_bgnbd(x, t_x, T, classes=2, start=fit_bgnbd(x, t_x, T))
        se = class_standard_errors(fit, x, t_x, T, 1.0)
        for j, (w, p) in enumerate(CLASSES):
            c, name = fit.classes[j], f"class{j + 1}"
            pairs = {  # (estimate, truth, scale)
                "share": (fit.weights[j], w, "logit"),
                "purchase_cycle_days": (c.alpha / c.r * WEEK, p["alpha"] / p["r"] * WEEK, "log"),
                "dropout_mean": (c.a / (c.a + c.b), p["a"] / (p["a"] + p["b"]), "logit"),
                "dropout_polarisation": (
                    1 / (c.a + c.b + 1),
                    1 / (p["a"] + p["b"] + 1),
                    "logit",
                ),
            }
            for key, (value, want, scale) in pairs.items():
                lo, hi = wald(value, se[f"{name}.{key}"], scale)
                misses += not lo <= want <= hi
                seen += 1
    assert seen == 32
    assert misses <= 4, misses


def test_profile_interval_ends_drop_the_likelihood_by_the_chi2_quantile():
    """At each end of the dropout a's and b's profile intervals (BG/NBD, 1 500 customers), the
    log-likelihood maximised over the other parameters by an independent optimiser
    (Nelder–Mead from the fit, on ``bgnbd_loglik``) is 1.92 = χ²₁(0.95)/2 below the maximum;
    the intervals hold the estimate."""
    hist = _bgnbd_history(42, n=1500)
    fit = _bgnbd_fit(hist)
    x, t_x, T = (hist[c].to_numpy(float) / d for c, d in (("x", 1), ("t_x", WEEK), ("T", WEEK)))
    best = bgnbd_loglik((fit.r, fit.alpha, fit.a, fit.b), x, t_x, T).sum()
    polish = optimize.minimize(  # an independent optimiser finds no higher likelihood
        lambda t: -bgnbd_loglik(np.exp(t), x, t_x, T).sum(),
        np.log([fit.r, fit.alpha, fit.a, fit.b]),
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-9},
    )
    assert -polish.fun < best + 1e-3
    nll = mixture_nll(x, t_x, T, 1, gradient=True)
    theta = np.log([fit.r, fit.alpha, fit.a, fit.b])
    for index in (2, 3):
        lo, hi = profile(nll, theta, index, LOG_BOUNDS, step=0.3)
        assert lo < math.exp(theta[index]) < hi
        for end in (lo, hi):
            free = [i for i in range(4) if i != index]
            start = np.log([fit.r, fit.alpha, fit.a, fit.b])[free]

            def neg(u, end=end, free=free, index=index):
                p = np.empty(4)
                p[free], p[index] = np.exp(u), end
                return -bgnbd_loglik(p, x, t_x, T).sum()

            res = optimize.minimize(
                neg, start, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9}
            )
            assert best + res.fun == pytest.approx(DROP, abs=0.05), (index, end, best + res.fun)
    assert DROP == stats.chi2.ppf(0.95, 1) / 2


def test_sum_and_mean_profile_ends_drop_the_likelihood_by_the_chi2_quantile():
    """The profile interval of a + b and of a/(a+b) (what a latent class's polarisation and
    mean dropout fall back on when a ridge leaves their SE undetermined), BG/NBD, 1 500
    customers: at each end the log-likelihood maximised over the rest by Nelder–Mead on
    ``bgnbd_loglik`` with a = s·m, b = s·(1 − m) is 1.92 below the maximum; the
    reparametrised gradient matches central differences of the plain log-likelihood."""
    hist = _bgnbd_history(43, n=1500)
    fit = _bgnbd_fit(hist)
    x, t_x, T = (hist[c].to_numpy(float) / d for c, d in (("x", 1), ("t_x", WEEK), ("T", WEEK)))
    theta = np.log([fit.r, fit.alpha, fit.a, fit.b])
    both, start, box = _sum_and_mean(mixture_nll(x, t_x, T, 1, gradient=True), theta, 2, LOG_BOUNDS)

    def plain(u):  # u = (log r, log α, log s, logit m), written out independently
        s, m = math.exp(u[2]), 1 / (1 + math.exp(-u[3]))
        return -bgnbd_loglik((math.exp(u[0]), math.exp(u[1]), s * m, s * (1 - m)), x, t_x, T).sum()

    assert both(start)[0] == pytest.approx(plain(start), rel=1e-12)
    numeric = [(plain(start + 1e-5 * e) - plain(start - 1e-5 * e)) / 2e-5 for e in np.eye(4)]
    np.testing.assert_allclose(
        both(start + 0.1)[1],
        [(plain(start + 0.1 + 1e-5 * e) - plain(start + 0.1 - 1e-5 * e)) / 2e-5 for e in np.eye(4)],
        rtol=1e-4,
        atol=1e-3,
    )
    assert max(abs(g) for g in numeric) < 0.05  # the fit is the maximum here too
    best = plain(start)
    for index in (2, 3):
        lo, hi = profile(both, start, index, box, step=0.3)
        assert lo < math.exp(start[index]) < hi
        for end in (lo, hi):
            free = [i for i in range(4) if i != index]

            def neg(u, end=end, free=free, index=index):
                full = np.empty(4)
                full[free], full[index] = u, math.log(end)
                return plain(full)

            res = optimize.minimize(
                neg, start[free], method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9}
            )
            assert res.fun - best == pytest.approx(DROP, abs=0.05), (index, end, res.fun - best)


def test_a_rate_shape_without_standard_error_gets_its_profile_interval():
    """Where a ridge leaves the rate shape without a standard error (NaN), its interval is the
    profile likelihood's; on a purchase-day BG/NBD whose SE is in fact well determined, that
    profile interval agrees with the log-Wald one from the SE within 5 % at each end."""
    from sim.calibration.purchase_days import (
        VARIANT,
        fit_purchase_day_bgnbd,
        sample_purchase_days,
    )

    rng = np.random.default_rng(5)
    T = rng.integers(100, 301, 3000)
    h = sample_purchase_days(3000, T=T, rng=rng, aq=0.6, bq=40.0, a=0.8, b=2.5)
    x, t_x, TT = (h[c].to_numpy(float) for c in ("x", "t_x", "T"))
    fit = fit_purchase_day_bgnbd(x, t_x, TT)
    choice = Choice(VARIANT, {}, {VARIANT: fit})
    hist = pd.DataFrame({"x": x, "t_x": t_x, "T": TT})
    se = standard_errors(choice, hist, 1.0)
    wald_entry = spread_intervals(choice, hist, 1.0, se)["rate_shape"]
    got = spread_intervals(choice, hist, 1.0, se | {"rate_shape": float("nan")})["rate_shape"]
    assert (wald_entry["method"], got["method"]) == ("log-wald", "profile")
    assert got["low"] < fit.aq < got["high"]
    assert got["low"] == pytest.approx(wald_entry["low"], rel=0.05)
    assert got["high"] == pytest.approx(wald_entry["high"], rel=0.05)
