"""What the observed information determines (sim/calibration/information.py): the covariance
on the directions the likelihood curves up in, NaN for what moves along a ridge — never a
standard error of 0 from a flat or slightly negative curvature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.calibration import latent
from sim.calibration.information import Information, observed
from sim.calibration.latent import LatentBGNBD, class_standard_errors
from sim.calibration.purchase_days import PurchaseDayBGNBD


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_without_a_ridge_it_is_the_inverse(seed):
    """A quadratic with a positive-definite Hessian H: every gradient's variance is g'H⁻¹g
    (central differences are exact on a quadratic up to rounding)."""
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(4, 4))
    hess = m @ m.T + np.diag(rng.uniform(0.5, 3.0, 4))
    centre = rng.normal(size=4)

    def nll(t):
        d = t - centre
        return 0.5 * d @ hess @ d

    info = observed(nll, centre)
    assert info.ridge.shape == (4, 0)
    g = rng.normal(size=4)
    want = g @ np.linalg.solve(hess, g)
    assert info.variance(g) == pytest.approx(want, rel=1e-5)
    assert info.se(2) == pytest.approx(math.sqrt(np.linalg.inv(hess)[2, 2]), rel=1e-5)


@pytest.mark.parametrize("curvature", [0.0, -1e-9, 1e-12])
def test_a_ridge_leaves_what_moves_along_it_open(curvature):
    """Curvature 4 across (1, −1, 0), 2 along (0, 0, 1), none (or noise: a hair below or
    above zero) along (1, 1, 0). The difference and the third parameter are determined
    (variances 1/8 × 2 = 1/4 and 1/2); the first parameter alone and the sum are not — NaN,
    where a plain inverse gives a negative or an enormous variance."""
    across = np.array([1.0, -1.0, 0.0]) / math.sqrt(2)
    along = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    hess = 8.0 * np.outer(across, across) + curvature * np.outer(along, along)
    hess[2, 2] = 2.0
    info = Information.from_hessian(hess)
    assert info.ridge.shape == (3, 1)
    assert info.variance([1.0, -1.0, 0.0]) == pytest.approx(0.25, rel=1e-12)
    assert info.se(2) == pytest.approx(math.sqrt(0.5), rel=1e-12)
    assert math.isnan(info.se(0))
    assert math.isnan(info.variance([1.0, 1.0, 0.0]))
    assert math.isnan(info.variance([0.3, 0.0], at=1))  # offsets place the gradient
    plain = np.linalg.pinv(hess)[0, 0]
    assert plain < 0 or plain > 1e6 or curvature == 0.0


def test_latent_fields_follow_the_ridge(monkeypatch):
    """The latent classes' fields read the information at the right parameters: with a ridge
    along the slow class's (log a, log b) — a and b growing together — its mean dropout, share,
    rate shape and cycle keep the delta-method errors sqrt(J Σ Jᵀ) (J: central differences of
    the fields written out here), while its a, b and polarisation are undetermined (NaN)."""
    fit = LatentBGNBD(
        weights=(0.7, 0.3),
        classes=(
            PurchaseDayBGNBD(3.0, 357.0, 900.0, 2700.0),
            PurchaseDayBGNBD(3.0, 42.0, 1.0, 9.0),
        ),
        unit_days=1.0,
        family="days",
    )
    rng = np.random.default_rng(3)
    m = rng.normal(size=(9, 9)) * 0.2
    ridge = np.zeros((9, 1))
    ridge[2:4, 0] = 1 / math.sqrt(2)
    flat = np.eye(9) - ridge @ ridge.T
    cov = flat @ (m @ m.T + np.eye(9) * 0.01) @ flat
    monkeypatch.setattr(latent, "observed", lambda nll, theta: Information(cov, ridge))
    pi = 0.8
    se = class_standard_errors(fit, np.zeros(2), np.zeros(2), np.full(2, 30.0), pi)

    def fields(theta):
        aq, bq, a, b = np.exp(theta[:4])
        share = 1 / (1 + np.exp(theta[8]))
        return np.array([share, aq, pi * (aq + bq) / aq, a / (a + b)])

    theta = fit.theta()
    h = 1e-6
    jac = np.column_stack(
        [(fields(theta + h * e) - fields(theta - h * e)) / (2 * h) for e in np.eye(9)]
    )
    want = np.sqrt(np.diag(jac @ cov @ jac.T))
    names = ["share", "rate_shape", "purchase_cycle_days", "dropout_mean"]
    np.testing.assert_allclose([se[f"class1.{k}"] for k in names], want, rtol=1e-6)
    for key in ("dropout_a", "dropout_b", "dropout_polarisation"):
        assert math.isnan(se[f"class1.{key}"]), key
    assert all(math.isfinite(v) and v > 0 for k, v in se.items() if k.startswith("class2"))
