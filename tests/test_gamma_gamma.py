"""What customers spend: the gamma-gamma benchmark, first orders' own basket, holdout revenue.

Checked against numerical integration of the model's own definition (not its closed forms),
draws of individual transactions, hand-counted order tables, and the published CDNOW fit
(Fader & Hardie 2013: p 6.25, q 3.74, γ 15.44 on the 946 customers of the sample with a
repeat purchase in the 39 calibration weeks).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from sim.calibration import holdout_value
from sim.calibration.baskets import value_days, weighted_mean
from sim.calibration.fitting import calibrate
from sim.calibration.gamma_gamma import (
    GammaGamma,
    _nll_and_gradient,
    fit_gamma_gamma,
    gamma_gamma_loglik,
)
from sim.calibration.orders import orders_from_ledger, read_orders
from sim.core.model import simulate
from sim.scenario import build_scenario

SAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "sample_scenario.yaml"
COLUMNS = {"customer": "customer_id", "date": "order_date", "order_id": "order_id"}


def _density_by_integration(m: float, x: int, p: float, q: float, g: float) -> float:
    """f(m | x) from the model's definition: the mean of x Gamma(p, rate ν) values is
    Gamma(p x, rate x ν); ν ~ Gamma(q, rate γ); integrated over ν numerically."""
    scale_nu = 1.0 / g
    f = lambda nu: (  # noqa: E731
        stats.gamma.pdf(m, p * x, scale=1.0 / (x * nu)) * stats.gamma.pdf(nu, q, scale=scale_nu)
    )
    return integrate.quad(f, 0, np.inf, limit=200, epsabs=0, epsrel=1e-10)[0]


@pytest.mark.parametrize(("m", "x"), [(20.0, 1), (35.0, 3), (12.5, 7)])
def test_likelihood_is_the_integral_of_the_model(m, x):
    p, q, g = 6.25, 3.74, 15.44
    expect = np.log(_density_by_integration(m, x, p, q, g))
    assert float(gamma_gamma_loglik((p, q, g), [x], [m])[0]) == pytest.approx(expect, rel=1e-7)


@pytest.mark.parametrize(("m", "x"), [(20.0, 1), (60.0, 4)])
def test_conditional_mean_is_the_posterior_mean_by_integration(m, x):
    """E[M | m, x] = E[p / ν | m, x]: the posterior of ν integrated numerically."""
    p, q, g = 6.25, 3.74, 15.44
    post = lambda nu: (  # noqa: E731
        stats.gamma.pdf(m, p * x, scale=1.0 / (x * nu)) * stats.gamma.pdf(nu, q, scale=1.0 / g)
    )
    norm = integrate.quad(post, 0, np.inf, epsrel=1e-11)[0]
    mean = integrate.quad(lambda nu: p / nu * post(nu), 0, np.inf, epsrel=1e-11)[0] / norm
    model = GammaGamma(p, q, g)
    assert float(model.conditional_mean([x], [m])[0]) == pytest.approx(mean, rel=1e-7)
    assert float(model.conditional_mean([0], [m])[0]) == pytest.approx(p * g / (q - 1))


def test_gradient_is_the_likelihoods():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 9, 200).astype(float)
    m = rng.gamma(3.0, 10.0, 200)
    theta = np.log([4.0, 3.0, 20.0])
    _, grad = _nll_and_gradient(theta, x, m)
    eye = np.eye(3) * 1e-6
    numeric = [
        (_nll_and_gradient(theta + e, x, m)[0] - _nll_and_gradient(theta - e, x, m)[0]) / 2e-6
        for e in eye
    ]
    assert grad == pytest.approx(numeric, rel=1e-5)


def _draw_transactions(n: int, p: float, q: float, g: float, seed: int):
    """Each customer's transactions drawn one by one (not via the model's sum identity)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 10, n)
    nu = rng.gamma(q, 1.0 / g, n)
    m = np.array([rng.gamma(p, 1.0 / v, k).mean() for k, v in zip(x, nu, strict=True)])
    return x, m


@pytest.mark.parametrize("seed", [1, 2])
def test_fit_recovers_the_parameters_within_their_standard_errors(seed):
    p, q, g = 6.25, 3.74, 15.44
    x, m = _draw_transactions(4000, p, q, g, seed)
    fit = fit_gamma_gamma(x, m)
    for name, true in (("p", p), ("q", q), ("gamma", g)):
        got, se = fit.params()[name], fit.se[name]
        assert 0 < se < 0.5 * true, (name, se)
        assert abs(got - true) < 3 * se, (name, got, se)
    # its maximum is at least as likely as the truth
    assert fit.loglik >= gamma_gamma_loglik((p, q, g), x, m).sum()


def test_too_few_repeat_buyers_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 customers"):
        fit_gamma_gamma([1, 0, 2], [10.0, 5.0, 0.0])


def test_cdnow_gamma_gamma_is_the_published_one(cdnow_orders_table):
    """Fader & Hardie (2013): p = 6.25, q = 3.74, γ = 15.44 on 946 customers, and a
    correlation of 0.11 between their repeat count and mean value."""
    table = cdnow_orders_table
    start = pd.Timestamp("1997-01-01")
    cohort = table.groupby("customer")["date"].min().sub(start).dt.days.rename("first")
    values = holdout_value.day_values(table, cohort.to_frame(), start, 273)
    fit, why = holdout_value.fit_on_calibration(values, 273)
    assert why == "" and fit.n == 946
    assert (round(fit.p, 2), round(fit.q, 2), round(fit.gamma, 2)) == (6.25, 3.74, 15.44)
    assert round(fit.correlation, 2) == 0.11


@pytest.fixture
def cdnow_orders_table():
    from sim.calibration.public_data import cdnow_orders, lifetimes_datasets

    if lifetimes_datasets() is None:
        pytest.skip("the CDNOW data come with the lifetimes package")
    buf = io.StringIO()
    cdnow_orders("sample").to_csv(buf, index=False)
    buf.seek(0)
    return read_orders(buf, columns=COLUMNS).table


# ---- what the orders are worth, counted by hand ---------------------------------------------
def _table(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer", "date", "amount"])
    return frame.assign(date=pd.to_datetime(frame["date"]))


HAND = _table(
    [
        ("a", "2025-01-01", 10.0),  # a's first day: two orders, 10 + 5
        ("a", "2025-01-01", 5.0),
        ("a", "2025-01-09", 30.0),  # repeat, calibration
        ("a", "2025-01-20", 40.0),  # repeat, holdout (from day 15)
        ("a", "2025-01-20", 2.0),
        ("b", "2025-01-03", 8.0),  # b: first only, then a holdout repeat
        ("b", "2025-01-25", 12.0),
        ("c", "2025-01-05", 7.0),  # c: first only
    ]
)


def test_value_days_sum_a_day_and_set_first_days_apart():
    repeat, first = value_days(HAND)
    assert sorted(map(tuple, repeat.to_numpy().tolist())) == [
        ("a", 30.0),
        ("a", 42.0),
        ("b", 12.0),
    ]
    assert first.to_dict() == {"a": 15.0, "b": 8.0, "c": 7.0}
    # weighted first days: (15 + 8) / 2, ÷ unit price 5
    w = pd.Series({"a": 1.0, "b": 1.0, "c": 0.0})
    assert weighted_mean(first, w) / 5.0 == pytest.approx(2.3)


def test_holdout_revenue_adds_up_the_orders_by_hand():
    start = pd.Timestamp("2025-01-01")
    cohort = pd.DataFrame({"first": [0, 2, 4]}, index=["a", "b", "c"])
    values = holdout_value.day_values(HAND, cohort, start, 30)
    assert values["value"].tolist() == [30.0, 42.0, 12.0]  # first days left out, a day summed
    rows = pd.DataFrame(
        {"revenue_actual": [42.0, 12.0, 0.0], "revenue_benchmark": [40.0, 10.0, 1.0]},
        index=["a", "b", "c"],
    )
    gg = GammaGamma(6.0, 4.0, 15.0)
    m = holdout_value.metrics(rows, np.array([50.0, 60.0]), gg, "", holdout_repeats=(2.0, 2.5))
    assert m["holdout_revenue_actual"] == 54.0
    assert m["holdout_revenue_simulated"] == 55.0
    assert m["revenue_error_pct"] == pytest.approx(100 / 54)
    assert m["revenue_error_pct_bgnbd_gamma_gamma"] == pytest.approx(-300 / 54)
    assert m["holdout_value_per_transaction_actual"] == 27.0
    assert m["holdout_value_per_transaction_simulated"] == 22.0


# ---- first orders' own basket in the simulator ----------------------------------------------
def _raw(**segment) -> dict:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["market"]["segments"][0].update(segment)
    raw["market"]["customers"] = 3000
    return raw


def _orders(raw, seed=1) -> pd.DataFrame:
    return simulate(build_scenario(raw), seed=seed).orders


@given(units=st.floats(1.0, 6.0), shape=st.sampled_from([None, 2.0]))
@settings(max_examples=4, deadline=None)
def test_a_first_basket_equal_to_the_basket_changes_nothing(units, shape):
    units = round(units, 3)
    raw = _raw(basket_units=units, basket_shape=shape)
    raw["horizon"]["days"] = 60
    same = _raw(basket_units=units, basket_shape=shape, first_basket_units=units)
    same["horizon"]["days"] = 60
    pd.testing.assert_frame_equal(_orders(raw), _orders(same))


def test_first_orders_take_their_own_basket():
    """basket_units 3, first_basket_units 1: every first order is one unit (a geometric of
    mean 1), repeat orders keep the geometric mean of 3 (within 4 % on ~4 000 orders)."""
    orders = _orders(_raw(basket_units=3.0, first_basket_units=1.0))
    first = orders["first"].astype(bool)
    assert first.sum() > 500 and (~first).sum() > 2000
    assert (orders.loc[first, "units"] == 1).all()
    assert orders.loc[~first, "units"].mean() == pytest.approx(3.0, rel=0.04)


def test_calibrate_recovers_first_and_repeat_baskets():
    """Orders simulated with first orders of 1.5 units and repeats of 3: the calibrated
    scenario's two baskets within 6 % (about 1 500 first and 4 000 repeat purchase days)."""
    raw = _raw(basket_units=3.0, first_basket_units=1.5)
    sc = build_scenario(raw)
    buf = io.StringIO()
    orders_from_ledger(simulate(sc, seed=2), sc).to_csv(buf, index=False)
    buf.seek(0)
    table = read_orders(buf, columns=COLUMNS).table
    seg = calibrate(table, end="2025-12-30", heterogeneity="none").scenario().market.segments[0]
    assert seg.basket_units == pytest.approx(3.0, rel=0.06)
    assert seg.first_basket_units == pytest.approx(1.5, rel=0.06)


def test_coupons_spread_over_a_first_orders_own_basket():
    """A coupon is a cut per unit of the expected basket, which for a first order is now the
    first basket: equal to the basket it changes no number (coupons redeemed, so the path is
    taken), and a first basket of one unit is what every first order holds."""
    from sim.scenario import load_raw

    raw = load_raw(Path(__file__).resolve().parents[1] / "scenarios" / "six_schemes.yaml")
    raw["market"]["customers"] = 2000
    raw["horizon"]["days"] = 60
    raw["targets"] = []
    plain = simulate(build_scenario(raw), seed=3)
    assert plain.daily["coupons_redeemed"].sum() > 0
    same, small = yaml.safe_load(yaml.safe_dump(raw)), yaml.safe_load(yaml.safe_dump(raw))
    for seg_same, seg_small in zip(
        same["market"]["segments"], small["market"]["segments"], strict=True
    ):
        seg_same["first_basket_units"] = seg_same.get("basket_units", 1.5)
        seg_small["first_basket_units"] = 1.0
    pd.testing.assert_frame_equal(plain.orders, simulate(build_scenario(same), seed=3).orders)
    first = simulate(build_scenario(small), seed=3).orders
    assert (first.loc[first["first"].astype(bool), "units"] == 1).all()


def test_the_benchmark_reads_m_x_from_the_calibration_period_only():
    """A holdout that starts after a gap: a repeat day in the gap is in neither period, so the
    customer's mean value m_x is the calibration days' (10 and 20 → 15), not 15 with the
    gap's 600 in it. E[M | m_x, x] by its closed form p(γ + x m_x)/(p x + q − 1)."""
    from types import SimpleNamespace

    from sim.calibration.bgnbd import BGNBD

    customers = pd.DataFrame({"x": [2], "t_x": [20], "T": [29]}, index=["a"])
    cal = SimpleNamespace(customers=customers, bgnbd=BGNBD(0.5, 5.0, 0.8, 2.5))
    values = pd.DataFrame(
        {"customer": ["a"] * 4, "day": [10, 20, 35, 50], "value": [10.0, 20.0, 600.0, 5.0]}
    )
    gg = GammaGamma(6.0, 4.0, 15.0)
    rows = holdout_value.per_customer(cal, values, gg, 2.0, (30, 40, 54))
    count = cal.bgnbd.conditional_expected(2.0, [2], [20 / 7], [29 / 7])[0]
    assert rows.loc["a", "revenue_benchmark"] == pytest.approx(
        count * 6.0 * (15.0 + 2 * 15.0) / (6.0 * 2 + 4.0 - 1)
    )
    assert rows.loc["a", "revenue_actual"] == 5.0  # the holdout's day only
