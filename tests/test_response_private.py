"""The private pool's join response to private-operations spend (issue 15), fitted from the
orders: recovery of the generator's known curve, and the likelihood checked against the order
fit's own joining estimator (an independent implementation) when the spend does not move."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.calibration.channels import fit_private_joining
from sim.calibration.response_private import fit_join_response
from sim.calibration.spend_sample import generator_raw, generator_spend, simulate_history

DAYS = 364
START = pd.Timestamp("2025-01-01")


def _orders(export: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": export["customer_id"],
            "date": pd.to_datetime(export["order_date"]),
            "channel": export["channel"],
        }
    )


def _ops(spend: pd.DataFrame) -> np.ndarray:
    rows = spend[spend["lever"] == "private_ops"].set_index("date")["spend"]
    return rows.reindex(pd.date_range(START, periods=DAYS)).fillna(0.0).to_numpy()


@pytest.mark.parametrize("seed", [3, 8])
def test_join_curve_of_the_generator_is_recovered(seed):
    """The generator: join_base 0.05, join_max 0.15, ops_saturation 2000 (the schema's
    default), WeCom spending 3 000 CNY/day × a weekly lognormal wobble (σ 0.6). Each truth is
    inside its 95 % interval, and the join chance at the mean spend within 15 %."""
    raw = generator_raw(DAYS, customers=20000, real_customers=20000)
    spend = generator_spend(DAYS, seed=seed)
    orders = _orders(simulate_history(raw, spend, seed=seed))
    ops = _ops(spend)
    fit = fit_join_response(orders, {"wecom"}, ops, START, seed=seed)
    truth = {"join_base": 0.05, "join_max": 0.15, "ops_saturation": 2000.0}
    for name, value in truth.items():
        lo, hi = fit.interval[name]
        assert lo <= value <= hi, (name, lo, value, hi)
    at_mean = float(fit.curve.join(np.array([ops.mean()]))[0])
    true_at_mean = 0.05 + 0.10 * -np.expm1(-ops.mean() / 2000.0)
    assert at_mean == pytest.approx(true_at_mean, rel=0.15)


def test_constant_spend_gives_the_order_fits_join_rate():
    """With the same spend every day the curve is one number, j(spend): it must equal the
    order fit's join probability per order (sim.calibration.channels, a separate likelihood
    implementation) — and P(member picks private) its P."""
    raw = generator_raw(DAYS, customers=8000, real_customers=8000)
    orders = _orders(simulate_history(raw, generator_spend(DAYS, seed=1), seed=1))
    fit = fit_join_response(orders, {"wecom"}, np.full(DAYS, 3000.0), START)
    table = orders.assign(line=np.arange(len(orders)))
    reference = fit_private_joining(
        table, {"tmall": "public", "jd": "public", "douyin": "public", "wecom": "private"}
    )
    assert float(fit.curve.join(np.array([3000.0]))[0]) == pytest.approx(
        reference["join"], rel=0.02
    )
    assert fit.curve.p_private == pytest.approx(reference["p_private"], rel=0.02)


def _two_private(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The generator with a second private channel (a mini-program store: join_base 0.03,
    join_max 0.10, ops_saturation 1 500) whose private-operations spend wobbles week by week
    independently of WeCom's; the orders and both channels' daily spend."""
    from sim.calibration.spend_sample import CHANNELS, flighted_spend

    raw = generator_raw(DAYS, customers=20000, real_customers=20000)
    mini = {
        "id": "miniapp",
        "family": "private",
        "base_conversion": 0.5,
        "price_index": 0.95,
        "service": {"reply_minutes": 0},
        "response": {"join_base": 0.03, "join_max": 0.10, "ops_saturation": 1500.0},
    }
    raw["channels"].append(mini)
    chans = {cid: (spec["lever"], spec["spend"]) for cid, spec in CHANNELS.items()}
    chans["miniapp"] = ("private_ops", 2000.0)
    spend = flighted_spend(DAYS, "2025-01-01", chans, seed=seed)
    orders = _orders(simulate_history(raw, spend, seed=seed))
    ops = np.column_stack(
        [
            spend[(spend["lever"] == "private_ops") & (spend["channel"] == c)]
            .set_index("date")["spend"]
            .reindex(pd.date_range(START, periods=DAYS))
            .fillna(0.0)
            .to_numpy()
            for c in ("wecom", "miniapp")
        ]
    )
    return orders, ops


@pytest.mark.parametrize("seed", [3, 8])
def test_two_private_channels_each_get_their_own_join_response(seed):
    """Two private channels act on one pool (a buyer stays out only if both fail). Each
    channel's ops_saturation and response m = (join_max − join_base) ÷ (1 − join_base) — the
    generator's: WeCom 2 000 and 0.10 ÷ 0.95, the mini-program 1 500 and 0.07 ÷ 0.97 — is
    inside its own 95 % interval, as is the pool's combined base 1 − 0.95 × 0.97 (the orders
    cannot split the base between the channels); the pool's join chance at the mean spends is
    within 10 % of the generator's (computed here from its parameters)."""
    from sim.calibration.response_private import fit_join_responses

    orders, ops = _two_private(seed)
    fits = fit_join_responses(
        orders, {"wecom", "miniapp"}, ops, START, names=["wecom", "miniapp"], seed=seed
    )
    truth = {"wecom": (0.05, 0.15, 2000.0), "miniapp": (0.03, 0.10, 1500.0)}
    for name, (jb, jm, sat) in truth.items():
        fit = fits[name]
        for key, value in (("ops_saturation", sat), ("ops_response", (jm - jb) / (1 - jb))):
            lo, hi = fit.interval[key]
            assert lo <= value <= hi, (name, key, lo, value, hi)
        lo, hi = fit.interval["pool_base"]
        assert lo <= 1 - 0.95 * 0.97 <= hi, (lo, hi)
    mean = ops.mean(axis=0)
    stay = np.prod([1 - fits[n].curve.join(np.array([mean[i]]))[0] for i, n in enumerate(truth)])
    true_stay = np.prod(
        [
            1 - (jb + (jm - jb) * -np.expm1(-mean[i] / sat))
            for i, (jb, jm, sat) in enumerate(truth.values())
        ]
    )
    assert 1 - stay == pytest.approx(1 - true_stay, rel=0.10)


def test_calibrate_sets_each_private_channels_curve_and_keeps_the_pools_base():
    """``calibrate --spend``'s step (response_scenario.fit_joining) with two private channels:
    each gets its own fitted join_max and ops_saturation, and their join_base values multiply
    back to the pool's fitted base: 1 − Π(1 − join_base_c) = b (recomputed here)."""
    from sim.calibration.response_scenario import fit_joining

    orders, ops = _two_private(3)
    raw = generator_raw(DAYS)
    ids = [c["id"] for c in raw["channels"]] + ["miniapp"]
    fitted = {
        "channels": [
            {"id": c, "family": "private" if c in ("wecom", "miniapp") else "public"} for c in ids
        ]
    }
    spend = np.zeros((DAYS, len(ids), 3))
    spend[:, ids.index("wecom"), 2] = ops[:, 0]
    spend[:, ids.index("miniapp"), 2] = ops[:, 1]
    end = START + pd.Timedelta(days=DAYS - 1)
    joined, notes = fit_joining(fitted, orders, ids, spend, START.date(), end.date(), seed=3)
    assert [cid for cid, _ in joined] == ["wecom", "miniapp"]
    by_id = {c["id"]: c for c in fitted["channels"]}
    for cid, fit in joined:
        response = by_id[cid]["response"]
        assert response["ops_saturation"] == fit.curve.ops_saturation
        assert response["join_max"] > response["join_base"]
    base = 1 - np.prod([1 - by_id[c]["response"]["join_base"] for c in ("wecom", "miniapp")])
    pool_base = 1 - (1 - joined[0][1].curve.join_base) ** 2
    assert base == pytest.approx(pool_base, rel=1e-12)
    assert any("shared equally" in n for n in notes), notes
