"""Segments with ``rate_beta`` draw each customer's rate from the purchase-day models' Beta.

The purchase-day BG/NBD says a customer's daily purchase chance is q ~ Beta(α_q, β_q). A gamma
multiplier of the same shape and mean (the limit for small q) has (α_q + β_q + 1)/β_q times the
Beta's variance: simulated from it, the fit of the simulator's own histories read α_q 2 % low
and a CDNOW replay ran 0.6 % under the model's forecast. With ``rate_beta`` the multiplier is
the Beta itself, scaled to mean 1.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from sim.calibration.heterogeneity import Choice, spread_fields
from sim.calibration.latent import LatentBGNBD, class_segments
from sim.calibration.purchase_days import VARIANT, PurchaseDayBGNBD
from sim.core.population import CustomerPopulation
from sim.errors import ScenarioError
from sim.scenario import build_scenario

SAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "sample_scenario.yaml"


def _raw(n: int = 1000, **segment) -> dict:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["market"].update(customers=n, friends=1)
    seg = {"cycle_distribution": "exponential", "purchase_cycle_days": 40.0, **segment}
    raw["market"]["segments"] = [raw["market"]["segments"][0] | seg]
    return raw


def test_rate_multipliers_are_the_scaled_beta():
    """200 000 multipliers with rate_shape 0.5, rate_beta 20: mean 1 and variance
    b / (a (a + b + 1)) = 1.860 (closed form), each within 4 standard errors (the variance's
    from the Beta's fourth central moment by scipy's numerical integration, ≈ 0.8 %). The
    gamma of the same shape has variance 1/a = 2, 7.5 % more: 10 standard errors away."""
    a, b, n = 0.5, 20.0, 200_000
    pop = CustomerPopulation(
        build_scenario(_raw(n, rate_shape=a, rate_beta=b)), np.random.default_rng(7)
    )
    mult = pop.rate_mult.astype(np.float64)
    k = (a + b) / a
    beta = stats.beta(a, b)
    var = k**2 * beta.var()
    assert var == pytest.approx(b / (a * (a + b + 1)), rel=1e-12)
    mu4 = k**4 * beta.expect(lambda x: (x - beta.mean()) ** 4)
    assert abs(mult.mean() - 1.0) < 4 * math.sqrt(var / n)
    assert abs(mult.var() - var) < 4 * math.sqrt((mu4 - var**2) / n)
    assert abs(1 / a - var) > 9 * math.sqrt((mu4 - var**2) / n)  # the gamma would fail


def test_rate_beta_needs_rate_shape():
    with pytest.raises(ScenarioError, match="rate_beta"):
        build_scenario(_raw(rate_beta=20.0))


def test_purchase_day_fits_map_their_beta():
    """The purchase-day BG/NBD's segment (and each purchase-day latent class) carries
    rate_shape α_q, rate_beta β_q and cycle π(α_q + β_q)/α_q: the simulator's purchase chance
    π × multiplier / cycle is then Beta(α_q, β_q) exactly; the scenario accepts them."""
    fit = PurchaseDayBGNBD(aq=0.7, bq=30.0, a=0.9, b=3.5)
    pi = 0.8
    got = spread_fields(Choice(winner=VARIANT, table={}, fits={VARIANT: fit}), pi)
    assert (got["rate_shape"], got["rate_beta"]) == (0.7, 30.0)
    assert got["purchase_cycle_days"] == pytest.approx(pi * 30.7 / 0.7, rel=1e-6)
    build_scenario(_raw(**got))
    other = PurchaseDayBGNBD(aq=2.0, bq=90.0, a=1.0, b=9.0)
    latent = LatentBGNBD(weights=(0.4, 0.6), classes=(fit, other), unit_days=1.0, family="days")
    assert [s["rate_beta"] for s in class_segments(latent, pi)] == [30.0, 90.0]
