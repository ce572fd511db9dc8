"""The warning of a fit stopped at a bound of its search (``warn_at_bound`` in
``sim.calibration.bgnbd``), for the purchase-day BG/NBD and the purchase-day Pareto/NBD.

Histories are drawn with the modules' own samplers from a process at a limit of the model (no
dropout, no churn, one purchase chance for everybody): the fit must warn and name the
parameter that says so, with the words of that limit. From an interior truth (the doctests'
parameters, 3 000 customers) it must not warn. The BG/NBD's own message is compared with the
literal text its callers put into the calibration notes.

Why these limit processes, not milder ones: at a limit the maximum-likelihood estimate lands
on the limit only about half the time (the score at the truth has mean zero), so a test on
such histories would depend on its seed. The processes below make the data decisive, which was
measured over seeds (the counts are given at each test): purchases on half the days alive, so
that a dropout or a death would show as a silence no customer has by chance, and one purchase
chance of 0.5 for everybody, whose binomial spread across customers the 3 000 histories of
up to 200 days measure with a standard error of the order of √(2/3000)/200 ≈ 1.3e-4 in the
correlation of one customer's days, against the 1/(2e^7 + 1) ≈ 4.6e-4 that alpha_q's bound e^7
still allows at that mean.
"""

from __future__ import annotations

import itertools
import re
import warnings

import numpy as np
import pytest

from sim.calibration.bgnbd import (
    LOG_BOUNDS,
    BGNBDLimitWarning,
    fit_bgnbd,
    sample_bgnbd,
    warn_at_bound,
)
from sim.calibration.lifetime_days import (
    LIMITS as LIFETIME_LIMITS,
)
from sim.calibration.lifetime_days import (
    LOG_BOUNDS_LIFETIME,
    LOG_BOUNDS_RATE,
    fit_lifetime_day_nbd,
    sample_lifetime_days,
)
from sim.calibration.purchase_days import LIMITS as DAY_LIMITS
from sim.calibration.purchase_days import (
    LOG_BOUNDS as DAY_BOUNDS,
)
from sim.calibration.purchase_days import (
    fit_purchase_day_bgnbd,
    sample_purchase_days,
)

# The BG/NBD's message as it was before the bound check was generalised (the callers put it
# into the calibration notes verbatim).
BGNBD_LIMIT_TEXT = (
    "the data are at a limit of the model (e.g. purchases more regular than Poisson, "
    "or no dropout after purchases)"
)
PURCHASE_DAY = "purchase-day BG/NBD"
RATE_DAY = "purchase-day Pareto/NBD (rate/day)"
LIFETIME_DAY = "purchase-day Pareto/NBD (rate+lifetime/day)"


def _warnings(fit, *args, **kwargs):
    """The fit's result and its BGNBDLimitWarnings (every one recorded, none filtered)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(*args, **kwargs)
    return result, [w for w in caught if issubclass(w.category, BGNBDLimitWarning)]


def _named(message: str, model: str) -> set[str]:
    """The parameters a message names, read from its head 'model: p, q at the bound …'."""
    head = re.match(rf"{re.escape(model)}: (.+?) at the bound of the search: ", message)
    assert head, message
    return set(head.group(1).split(", "))


def _purchase_day_fit(h):
    return _warnings(fit_purchase_day_bgnbd, h["x"], h["t_x"], h["T"])


def _lifetime_fit(h, spread):
    return _warnings(fit_lifetime_day_nbd, h["x"], h["t_x"], h["T"], spread_lifetime=spread)


def test_purchase_day_bgnbd_without_dropout_warns_a_or_b():
    """No dropout (p ~ Beta(0.001, 10 000): 1e-7 on average): the fit ends with a at its
    lower or b at its upper bound (40 of 40 seeds named a or b, 38 both), the message says
    'no dropout', and points at this file (the caller), not into the module."""
    h = sample_purchase_days(
        3000, aq=50.0, bq=50.0, a=1e-3, b=1e4, T=200, rng=np.random.default_rng(0)
    )
    _, caught = _purchase_day_fit(h)
    assert len(caught) == 1
    message = str(caught[0].message)
    named = _named(message, PURCHASE_DAY)
    assert named and named <= {"a", "b"}, message
    assert "no dropout after purchases" in message
    if "a" in named:
        assert "a at its lower bound e^-7" in message
    if "b" in named:
        assert "b at its upper bound e^9" in message
    assert caught[0].filename == __file__


def test_purchase_day_bgnbd_with_one_chance_for_everybody_warns_alpha_q():
    """Every customer buys with q = 0.5 (α_q = β_q = 500 000; dropout interior, Beta(2, 200)):
    α_q ends at its upper bound and nothing else does (40 of 40 seeds), and the message says
    there is no spread of the purchase chance."""
    h = sample_purchase_days(
        3000, aq=5e5, bq=5e5, a=2.0, b=200.0, T=200, rng=np.random.default_rng(0)
    )
    _, caught = _purchase_day_fit(h)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert _named(message, PURCHASE_DAY) == {"alpha_q"}, message
    assert "alpha_q at its upper bound e^7: no spread of the daily purchase chance" in message
    assert caught[0].filename == __file__


def test_rate_day_without_churn_warns_theta():
    """One daily death chance of 1e-12 (no churn): θ ends at its lower bound e^-16 (40 of 40
    seeds) and the message says 'no churn'."""
    h = sample_lifetime_days(
        3000, aq=50.0, bq=50.0, g=None, d=1e-12, T=200, rng=np.random.default_rng(0)
    )
    _, caught = _lifetime_fit(h, spread=False)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert _named(message, RATE_DAY) == {"theta_per_day"}, message
    assert "theta_per_day at its lower bound e^-16: no churn" in message
    assert caught[0].filename == __file__


def test_lifetime_day_without_churn_warns_g_or_d():
    """Death chances θ ~ Beta(1, 1e12) (no churn): g ends at its lower or d at its upper
    bound (39 of 40 seeds; the other stopped 0.005 inside log g's bound, the search being flat
    there), and the message says what each means."""
    h = sample_lifetime_days(
        3000, aq=50.0, bq=50.0, g=1.0, d=1e12, T=200, rng=np.random.default_rng(0)
    )
    _, caught = _lifetime_fit(h, spread=True)
    assert len(caught) == 1
    message = str(caught[0].message)
    named = _named(message, LIFETIME_DAY)
    assert named and named <= {"g", "d"}, message
    if "d" in named:
        assert "d at its upper bound e^16: no churn" in message
    if "g" in named:
        assert "g at its lower bound e^-7: death chances piled at 0" in message
    assert caught[0].filename == __file__


def test_rate_day_with_one_chance_for_everybody_warns_alpha_q():
    """Every customer buys with q = 0.5, death chance 0.005 a day (interior): α_q alone ends
    at its upper bound (40 of 40 seeds)."""
    h = sample_lifetime_days(
        3000, aq=5e5, bq=5e5, g=None, d=0.005, T=200, rng=np.random.default_rng(0)
    )
    _, caught = _lifetime_fit(h, spread=False)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert _named(message, RATE_DAY) == {"alpha_q"}, message
    assert "no spread of the daily purchase chance" in message


@pytest.mark.parametrize(
    "model, truth",
    [
        (PURCHASE_DAY, {"aq": 0.5, "bq": 40.0, "a": 0.8, "b": 2.5}),
        (RATE_DAY, {"aq": 0.5, "bq": 40.0, "g": None, "d": 0.005}),
        (LIFETIME_DAY, {"aq": 0.5, "bq": 40.0, "g": 0.8, "d": 150.0}),
    ],
)
def test_interior_truths_do_not_warn(model, truth):
    """The doctests' parameters, 3 000 customers observed 200 days: no warning (none in 20
    seeds for each model); a check that fires on every fit would fail here."""
    rng = np.random.default_rng(3)
    if model == PURCHASE_DAY:
        fit, caught = _purchase_day_fit(sample_purchase_days(3000, T=200, rng=rng, **truth))
    else:
        h = sample_lifetime_days(3000, T=200, rng=rng, **truth)
        fit, caught = _lifetime_fit(h, spread=model == LIFETIME_DAY)
    assert caught == [], [str(w.message) for w in caught]
    assert 0.3 < fit.aq < 0.8  # an interior estimate, near the truth


def test_bgnbd_message_is_unchanged():
    """The continuous BG/NBD on histories without dropout (p ~ Beta(0.001, 10 000)) and
    regular buyers (λ ~ Gamma(50, 25) a week): its message is, word for word, the text the
    calibration notes have carried, headed by the parameters at a bound, and it still points
    at the caller."""
    h = sample_bgnbd(1000, r=50.0, alpha=25.0, a=1e-3, b=1e4, T=39, rng=np.random.default_rng(0))
    fit, caught = _warnings(fit_bgnbd, h["x"], h["t_x"], h["T"])
    assert len(caught) == 1
    logs = np.log([fit.r, fit.alpha, fit.a, fit.b])
    at = [
        n
        for n, v, (lo, hi) in zip(("r", "alpha", "a", "b"), logs, LOG_BOUNDS, strict=True)
        if min(v - lo, hi - v) < 1e-3
    ]
    assert {"a", "b"} & set(at)
    expected = f"BG/NBD: {', '.join(at)} at the bound of the search: {BGNBD_LIMIT_TEXT}"
    assert str(caught[0].message) == expected
    assert caught[0].filename == __file__


def test_warn_at_bound_sides_tolerance_and_text():
    """Within 1e-3 of a bound warns, 2e-3 inside does not; each side is read right; the
    message is the documented sentence; ``stacklevel`` counts from the call (1: this line);
    nothing is returned or warned in the interior."""
    bounds = [(-1.0, 1.0), (0.0, 2.0), (-3.0, 5.0)]
    limits = {
        ("u", "lower"): "U low",
        ("u", "upper"): "U high",
        ("v", "lower"): "V low",
        ("v", "upper"): "V high",
        ("w", "lower"): "W low",
        ("w", "upper"): "W high",
    }
    theta = [-1.0 + 5e-4, 1.0, 5.0 - 9e-4]
    with pytest.warns(BGNBDLimitWarning) as caught:
        hits = warn_at_bound(
            theta, bounds, "u v w".split(), model="toy", limits=limits, stacklevel=1
        )
    assert hits == [("u", "lower"), ("w", "upper")]
    assert str(caught[0].message) == (
        "toy: u, w at the bound of the search: the data are at a limit of the model "
        "(u at its lower bound e^-1: U low; w at its upper bound e^5: W high)"
    )
    assert caught[0].filename == __file__
    with warnings.catch_warnings(record=True) as quiet:
        warnings.simplefilter("always")
        none = warn_at_bound(
            [-1.0 + 2e-3, 1.0, 5.0 - 2e-3], bounds, "u v w".split(), model="toy", limits=limits
        )
    assert none == [] and quiet == []
    with pytest.warns(BGNBDLimitWarning, match=r"^toy: v at the bound of the search: one text$"):
        warn_at_bound([0.0, 2.0, 0.0], bounds, "u v w".split(), model="toy", limits="one text")


@pytest.mark.parametrize(
    "model, names, bounds, limits",
    [
        (PURCHASE_DAY, ("alpha_q", "beta_q", "a", "b"), DAY_BOUNDS, DAY_LIMITS),
        (RATE_DAY, ("alpha_q", "beta_q", "theta_per_day"), LOG_BOUNDS_RATE, LIFETIME_LIMITS),
        (LIFETIME_DAY, ("alpha_q", "beta_q", "g", "d"), LOG_BOUNDS_LIFETIME, LIFETIME_LIMITS),
    ],
)
def test_every_bound_of_every_model_has_words(model, names, bounds, limits):
    """Every parameter × side of each model's search has a meaning (a missing one would
    raise inside the fit the first time a fit stopped there)."""
    for (name, (lo, hi)), side in itertools.product(
        zip(names, bounds, strict=True), ("lower", "upper")
    ):
        theta = [(a + b) / 2 for a, b in bounds]
        theta[names.index(name)] = lo if side == "lower" else hi
        with pytest.warns(BGNBDLimitWarning, match=rf"^{re.escape(model)}: {name} at the bound"):
            warn_at_bound(theta, bounds, names, model=model, limits=limits)
        assert limits[name, side]


def test_a_simulated_mixture_says_which_class_stopped_at_a_bound():
    """The latent purchase-day classes simulated warn for the class and parameter at a bound
    of the search (here the slow class's a at e⁷, b beyond it: one dropout chance for all),
    with the purchase-day fit's meaning; an interior mixture says nothing."""
    from sim.calibration.day_variants import warn_mixture_at_bound
    from sim.calibration.latent import LatentBGNBD
    from sim.calibration.purchase_days import PurchaseDayBGNBD

    def mixture(a: float) -> LatentBGNBD:
        slow, fast = PurchaseDayBGNBD(3.0, 400.0, a, 3.0 * a), PurchaseDayBGNBD(3.0, 40.0, 1.0, 9.0)
        return LatentBGNBD(weights=(0.7, 0.3), classes=(slow, fast), unit_days=1.0, family="days")

    with pytest.warns(BGNBDLimitWarning) as caught:
        warn_mixture_at_bound(mixture(float(np.exp(7.0))))
    (message,) = [str(w.message) for w in caught]
    assert "purchase-day latent classes (2)" in message
    assert f"class1 a at its upper bound e^7: {DAY_LIMITS['a', 'upper']}" in message
    assert "class2" not in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_mixture_at_bound(mixture(1.0))
