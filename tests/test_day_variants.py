"""The BG/NBD structures re-estimated in purchase days (sim/calibration/day_variants.py): the
mixture's analytic gradient, the choice between one class and latent classes on histories
drawn from a known number of purchase-day classes, and forcing a purchase-day variant."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.calibration.bgnbd import fit_bgnbd
from sim.calibration.day_variants import LATENT, ONE_CLASS, day_winner, fit_day_variants
from sim.calibration.heterogeneity import select_variant
from sim.calibration.latent import mixture_nll
from sim.calibration.purchase_days import purchase_day_loglik, sample_purchase_days
from sim.calibration.renewal import fit_renewal


def _history(classes, n: int, seed: int) -> pd.DataFrame:
    """x, t_x, T in days of ``n`` customers drawn from purchase-day classes
    ``(share, aq, bq, a, b)``, observed 150-300 days."""
    rng = np.random.default_rng(seed)
    parts = []
    for share, aq, bq, a, b in classes:
        m = int(round(share * n))
        parts.append(
            sample_purchase_days(m, aq=aq, bq=bq, a=a, b=b, T=rng.integers(150, 301, m), rng=rng)
        )
    return pd.concat(parts, ignore_index=True)


def test_day_mixture_gradient_is_the_numerical_one():
    """The purchase-day classes' analytic gradient (ψ terms) against central differences of the
    mixture's own negative log-likelihood, at a point away from the optimum."""
    h = _history([(0.6, 0.5, 60.0, 1.0, 3.0), (0.4, 2.0, 20.0, 0.5, 8.0)], 600, seed=3)
    both = mixture_nll(h["x"], h["t_x"], h["T"], 2, gradient=True, family="days")
    theta = np.log([0.7, 50.0, 1.2, 2.5, 1.5, 15.0, 0.6, 6.0] + [1.0])
    theta[-1] = -0.3  # a logit, not a log
    value, grad = both(theta)
    step = 1e-6
    numeric = [
        (both(theta + step * e)[0] - both(theta - step * e)[0]) / (2 * step)
        for e in np.eye(len(theta))
    ]
    w1 = 1 / (1 + math.exp(-0.3))  # class 1's logit is 0, class 2's −0.3
    lik = [
        np.exp(purchase_day_loglik(np.exp(p), h["x"], h["t_x"], h["T"]))
        for p in (theta[:4], theta[4:8])
    ]
    assert value == pytest.approx(-np.log(w1 * lik[0] + (1 - w1) * lik[1]).sum(), rel=1e-10)
    assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def _bgnbd(h: pd.DataFrame):
    return fit_bgnbd(h["x"], h["t_x"] / 7.0, h["T"] / 7.0)


def test_one_purchase_day_class_keeps_one_class():
    """3 000 customers of one purchase-day class: one class has the lower BIC in purchase
    days (a mixture's extra 5 parameters cost 40 BIC points here)."""
    h = _history([(1.0, 0.6, 40.0, 0.8, 2.5)], 3000, seed=5)
    rows, fits = fit_day_variants(h, _bgnbd(h))
    assert day_winner(rows) == ONE_CLASS
    assert rows[LATENT]["bic"] > rows[ONE_CLASS]["bic"]
    assert fits[ONE_CLASS].aq == pytest.approx(0.6, rel=0.3)


def test_two_separated_purchase_day_classes_are_found():
    """3 000 customers of two well separated purchase-day classes (70 % slow buyers who leave
    fast, 30 % regulars who stay): the mixture wins by far, with the shares found within
    0.06 and the classes ordered slow first."""
    truth = [(0.7, 3.0, 300.0, 2.0, 2.0), (0.3, 3.0, 30.0, 0.5, 20.0)]
    h = _history(truth, 3000, seed=7)
    rows, fits = fit_day_variants(h, _bgnbd(h))
    assert day_winner(rows) == LATENT and rows[LATENT]["classes"] == 2
    assert rows[ONE_CLASS]["bic"] - rows[LATENT]["bic"] > 50
    mix = fits[LATENT]
    assert mix.weights[0] == pytest.approx(0.7, abs=0.06)
    slow, fast = mix.classes
    assert slow.aq / (slow.aq + slow.bq) < fast.aq / (fast.aq + fast.bq)


@pytest.mark.parametrize("forced", [ONE_CLASS, LATENT])
def test_a_purchase_day_variant_can_be_forced(forced):
    """``--heterogeneity rate+dropout/day`` or ``latent/day``: that fit is simulated, both
    purchase-day rows are reported next to the five compared variants, no structure."""
    h = _history([(1.0, 0.6, 40.0, 0.8, 2.5)], 800, seed=9)
    gaps = np.diff(np.arange(10))
    renewal = fit_renewal(gaps, np.full(len(h), 30), conversion=0.5, lapse=0.35)
    choice = select_variant(h, renewal, _bgnbd(h), only=forced)
    assert choice.winner == forced and choice.selected_by == "forced" and not choice.structure
    assert {ONE_CLASS, LATENT} <= set(choice.table) and forced in choice.fits
    assert "structure" not in choice.summary()
