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
