"""The auxiliary model's extra moments (issue 15): visits of a selling channel (ad clicks +
shopping sessions ∝ its orders) and the repeat orders' split between channels. On noiseless
series built from known parameters, the fit must give those parameters back from a start far
from them; the visits' expectation is also recomputed here by hand from its definition."""

from __future__ import annotations

import numpy as np
import pytest

from sim.calibration.response_model import (
    WOM_OFFSET,
    AuxInputs,
    fit_aux,
    predict_clicks,
    predict_daily,
    predict_repeat,
    unpack,
)

DAYS = 364


def _inputs() -> tuple[AuxInputs, np.ndarray]:
    """Two selling channels, each with a paid lever whose spend wobbles week by week; the
    second reports visits (κ × its orders are sessions), repeat orders are given."""
    rng = np.random.default_rng(7)
    weekly = np.exp(rng.normal(0, 0.6, (DAYS // 7 + 1, 2)))[np.arange(DAYS) // 7]
    spend = np.zeros((DAYS, 2, 3))
    spend[:, 0, 0] = 30000 * weekly[:, 0]
    spend[:, 1, 0] = 15000 * weekly[:, 1]
    orders = 300 + 50 * np.sin(np.arange(DAYS) / 9.0)  # the channel's orders (observed)
    x = AuxInputs(
        spend=spend,
        bought=np.linspace(0, 30000, DAYS),
        decay=0.7,
        land=[0, 1],
        pairs=[(0, 0), (1, 0)],
        selling=2,
        clicked=[1],
        clicks=np.zeros((DAYS, 1)),
        click_through=np.array([0.1]),
        churned=np.linspace(0, 2000, DAYS),
        visited=[0],
        visit_orders=orders[:, None],
        repeat=np.column_stack([np.full(DAYS, 700.0), np.full(DAYS, 500.0)]),
    )
    theta = np.zeros(x.size)
    theta[:7] = np.log([2e-4, 1e-3 + WOM_OFFSET, 3e-4, 2.4e-4, 40000, 20000, 100000])
    theta[7] = np.log(0.8)  # w of channel 1 vs 0
    theta[x.reach_at] = np.log(0.02)
    theta[x.kappa_at] = np.log(1.7)  # sessions per order
    theta[x.repeat_at] = np.log(500 / 700)  # the split's logit
    theta[x.repeat_at + 1 : x.repeat_at + 3] = np.log([0.015, 0.01])  # η per landing pair
    theta[-1] = 1.0
    x.clicks = predict_clicks(theta, x)
    x.repeat = predict_repeat(theta, x)  # same total each day, split as the truth moves it
    return x, theta


def test_visits_expectation_is_clicks_plus_sessions_by_hand():
    x, theta = _inputs()
    reach_curve = -np.expm1(-x.spend[:, 1, 0] / 20000)
    by_hand = (100000 - x.churned) * 0.1 * 0.02 * reach_curve + 1.7 * x.visit_orders[:, 0]
    np.testing.assert_allclose(x.clicks[:, 0], by_hand, rtol=1e-12)


def test_repeat_split_keeps_the_total_and_moves_it_toward_the_advertised_channel():
    x, theta = _inputs()
    np.testing.assert_allclose(x.repeat.sum(axis=1), 1200.0, rtol=1e-12)
    busy = x.spend[:, 0, 0] > np.median(x.spend[:, 0, 0])
    assert x.repeat[busy, 0].mean() > x.repeat[~busy, 0].mean()  # more tmall ads: more tmall


@pytest.mark.parametrize("blocks", ["visits", "repeat"])
def test_saturation_is_recovered_from_visits_or_repeat_orders(blocks):
    """Noiseless new customers + one extra block: the fit finds the truth's saturations (and
    κ, η, reach) from a start a factor 2-3 off (the blocks' parameters are wired to their
    places in theta and the joint fit converges; how much each block adds on noisy data is
    measured by benchmarks/response_recovery.py)."""
    x, theta = _inputs()
    if blocks == "repeat":  # drop the visits: the repeat orders alone besides the new ones
        x2 = AuxInputs(**{**vars(x), "clicked": [], "clicks": None, "visited": []})
        x2.visit_orders = None
        keep = np.r_[0 : x.reach_at, x.repeat_at : x.size]
        x, theta = x2, theta[keep]
    else:
        x.repeat = None
        theta = np.r_[theta[: x.repeat_at], theta[-1]]
    new = predict_daily(theta, x)
    start = theta.copy()
    start[4:6] += np.log([2.5, 0.4])  # saturations far off
    start[2:4] += np.log([0.5, 2.0])
    lo, hi = np.full(x.size, -15.0), np.full(x.size, 15.0)
    fit = fit_aux(new, x, start, (lo, hi))
    got, want = unpack(fit.theta, x), unpack(theta, x)
    np.testing.assert_allclose(got["saturation"], want["saturation"], rtol=1e-3)
    np.testing.assert_allclose(got["effect"], want["effect"], rtol=1e-3)
    used = np.ones(x.size, dtype=bool)
    if x.repeat is not None and x.first_mix is None:  # the loyalty α enters no prediction then:
        used[x.repeat_at + x.selling - 1 + len(x.shifted)] = False  # nothing to recover
    np.testing.assert_allclose(fit.theta[used], theta[used], atol=1e-3)


def test_marginal_response_and_its_identifiability_warning_name_the_channel():
    """d(new customers)/d(spend) = reach × impact × content × exp(−S/sat)/sat at the last four
    weeks' mean spend S, by hand; a lever whose 95 % interval spans more than 1.2 ÷ 0.8 is
    named in a warning, one whose interval is tight is not."""
    import pandas as pd

    from sim.calibration.response_fit import ResponseFit
    from sim.calibration.response_scenario import marginal_response, marginal_warnings

    rng = np.random.default_rng(3)
    pre = "channels.tmall.response.paid"
    spend = np.zeros((56, 1, 3))
    spend[:, 0, 0] = np.r_[np.full(28, 5000.0), np.full(28, 20000.0)]

    def fit(spread: float) -> ResponseFit:
        draws = pd.DataFrame(
            {
                f"{pre}_impact": 0.01 * np.exp(rng.normal(0, spread, 400)),
                f"{pre}_saturation": 40000 * np.exp(rng.normal(0, spread, 400)),
            }
        )
        estimate = {f"{pre}_impact": 0.01, f"{pre}_saturation": 40000.0}
        return ResponseFit([pre], estimate, draws, {f"{pre}_reach_max": 0.03}, None, content=0.9)

    wide, tight = fit(0.6), fit(0.02)
    got = marginal_response(tight, spend, ["tmall"])["tmall paid"]
    assert got["spend"] == 20000.0
    assert got["estimate"] == pytest.approx(0.03 * 0.01 * 0.9 * np.exp(-0.5) / 40000, rel=1e-12)
    assert marginal_warnings(tight, spend, ["tmall"]) == []
    (note,) = marginal_warnings(wide, spend, ["tmall"])
    assert note.startswith("tmall paid: marginal response") and "clicks or visits" in note


def _lagged(x: AuxInputs, theta: np.ndarray, r: float) -> tuple[AuxInputs, np.ndarray]:
    """The same inputs with the interest → first order lag on (its logit second to last)."""
    return AuxInputs(**{**vars(x), "lagged": True}), np.r_[
        theta[:-1], np.log(r / (1 - r)), theta[-1]
    ]


def test_lagged_first_orders_are_the_days_interest_through_a_geometric_kernel_by_hand():
    """Expected first orders on day t = Σ_k (1 − r)·r^k × the unlagged expectation on day
    t − k (a shopper who does not buy today comes back tomorrow unless they lapse), by an
    explicit sum; the kernel keeps the total but what it carries past the last day."""
    x, theta = _inputs()
    lx, ltheta = _lagged(x, theta, 0.4)
    plain, lagged = predict_daily(theta, x), predict_daily(ltheta, lx)
    by_hand = np.zeros_like(plain)
    for t in range(DAYS):
        for k in range(t + 1):
            by_hand[t] += 0.6 * 0.4**k * plain[t - k]
    np.testing.assert_allclose(lagged, by_hand, rtol=1e-10)
    tail = sum(0.4**k for k in range(1, 60)) * plain[-1]  # what spills past the horizon
    np.testing.assert_allclose(lagged.sum(0) + tail, plain.sum(0), rtol=1e-3)


def test_daily_lagged_fit_recovers_the_lag_and_the_curves_the_unlagged_one_does_not():
    """Noiseless lagged first orders fitted by day: the lagged model finds r, the effects and
    the saturations from a start 2-3× off; the same data fitted without the lag give effects
    off by more than 1 % (so the lag is what recovers them)."""
    x, theta = _inputs()
    x.repeat, x.clicked, x.clicks, x.visited, x.visit_orders = None, [], None, [], None
    theta = np.r_[theta[: x.structural + x.selling - 1], theta[-1]]
    lx, ltheta = _lagged(x, theta, 0.35)
    lx.bin_days = x.bin_days = 1
    new = predict_daily(ltheta, lx)
    lo, hi = np.full(lx.size, -15.0), np.full(lx.size, 15.0)
    start = ltheta.copy()
    start[4:6] += np.log([2.5, 0.4])
    start[2:4] += np.log([0.5, 2.0])
    start[-2] = 0.0  # r = 0.5
    fit = fit_aux(new, lx, start, (lo, hi))
    np.testing.assert_allclose(fit.theta, ltheta, atol=1e-3)
    plain = fit_aux(new, x, np.r_[start[:-2], start[-1]], (lo[1:], hi[1:]))
    off = unpack(plain.theta, x)["effect"] / unpack(theta, x)["effect"]
    assert np.abs(off - 1).max() > 0.01, off


def test_bins_of_one_day_are_the_days_and_of_seven_the_weeks():
    from sim.calibration.response_model import weekly_sum

    daily = np.arange(30.0)[:, None] * [1.0, 2.0]
    np.testing.assert_array_equal(weekly_sum(daily, 1), daily)
    np.testing.assert_array_equal(weekly_sum(daily)[:, 0], [21, 70, 119, 168])
