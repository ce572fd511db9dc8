"""The default choice of the heterogeneity variant (``--select-by bic+forecast``): the BIC rules
out the variants with strong evidence against them (more than 6 points above the lowest), the
inner forecast of the calibration period's last third chooses among the rest.

The reference is the order history itself: a Pareto/NBD cohort drawn here with known
parameters (Fader & Hardie's CDNOW Pareto/NBD, weeks), whose 39 weeks after the calibration
window are counted from the drawn orders, never from the code under test.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration import calibrate
from sim.calibration.heterogeneity import BIC_BAND, VARIANTS
from sim.calibration.orders import read_orders

COLUMNS = {"customer": "customer_id", "date": "order_date", "order_id": "order_id"}
START, END = "2025-01-01", "2025-09-30"  # 39 weeks; the cohort arrives in the first 12
HOLDOUT_DAYS = 273  # the 39 weeks after END, for the check only


def pareto_orders(n: int, seed: int, r=0.553, alpha=10.578, s=0.606, beta=11.669) -> pd.DataFrame:
    """Orders of ``n`` Pareto/NBD customers (weekly λ ~ Gamma(r, α), μ ~ Gamma(s, β)), first
    orders uniform over 84 days, observed for 78 weeks (window and holdout)."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 84, n)
    lam = rng.gamma(r, 1 / alpha, n) / 7  # per day
    seen = np.minimum(546 - first, 7 * rng.exponential(1 / rng.gamma(s, 1 / beta, n)))
    k = rng.poisson(lam * seen)  # repeat purchases while alive and observed
    cust = np.repeat(np.arange(n), k + 1)
    offsets = [
        np.sort(np.concatenate([[0.0], rng.uniform(0, e, m)])) for e, m in zip(seen, k, strict=True)
    ]
    day = first[cust] + np.floor(np.concatenate(offsets)).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"C{c:05d}" for c in cust],
            "order_date": (pd.Timestamp(START) + pd.to_timedelta(day, "D")).strftime("%Y-%m-%d"),
            "amount": 100.0,
            "channel": "shop",
            "order_id": [f"O{i:07d}" for i in range(len(cust))],
        }
    )


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    buf.seek(0)
    return read_orders(buf, columns=COLUMNS).table


def _calibrate(orders: pd.DataFrame, **kw):
    return calibrate(_table(orders), start=START, end=END, families={"shop": "public"}, **kw)


@pytest.fixture(scope="module")
def pareto():
    """2 000 Pareto/NBD customers (seed 4) and the default calibration on their window."""
    orders = pareto_orders(2000, seed=4)
    return orders, _calibrate(orders)


def _holdout_error(cal, orders: pd.DataFrame, variant: str) -> float:
    """% error of ``variant``'s closed-form forecast of the cohort's purchase days in the 39
    weeks after the window, against the count of the drawn orders."""
    days = pd.to_datetime(orders.drop_duplicates(["customer_id", "order_date"])["order_date"])
    after = (days - pd.Timestamp(END)).dt.days
    actual = int(((after >= 1) & (after <= HOLDOUT_DAYS)).sum())
    fit, hist = cal.spread.fits[variant], cal.customers
    unit = fit.unit_days if variant in ("rate+dropout", "latent") else 1.0
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    predicted = fit.conditional_expected(HOLDOUT_DAYS / unit, x, t_x / unit, T / unit).sum()
    return 100 * (predicted / actual - 1)


def test_forecast_decides_within_the_bic_band(pareto):
    """The rule recomputed from the BIC table and the inner scores: the variants within 6 BIC
    points of the lowest, the best inner score among them. On this history the BIC alone
    picks ``rate`` (one hazard for everybody), the rule picks the truth, ``rate+lifetime``,
    and the truth forecasts the 39 held-out weeks far better (measured −11 % against −30 %)."""
    orders, cal = pareto
    table, f = cal.spread.table, cal.spread.forecast
    assert cal.spread.selected_by == "bic+forecast" and f.scores
    low = min(table[v]["bic"] for v in VARIANTS)
    band = [v for v in VARIANTS if table[v]["bic"] <= low + BIC_BAND]
    assert len(band) >= 2  # the forecast had something to decide
    assert cal.spread.structure == min(band, key=lambda v: f.scores[v]["score"])
    assert cal.spread.structure == "rate+lifetime"  # simulated from its purchase-day twin
    assert cal.spread.winner == "rate+lifetime/day"
    by_bic = min(VARIANTS, key=lambda v: table[v]["bic"])
    assert by_bic == "rate"
    assert abs(_holdout_error(cal, orders, "rate+lifetime")) + 10 < abs(
        _holdout_error(cal, orders, by_bic)
    )
    seg = cal.scenario().market.segments[0]
    assert seg.churn_shape == pytest.approx(cal.spread.fits["rate+lifetime/day"].g, rel=1e-5)


def test_the_default_rule_never_reads_after_the_calibration_period(pareto):
    """Orders after the window (more purchases of the cohort, new customers) change neither
    the choice nor any inner score nor any criterion."""
    orders, cal = pareto
    rng = np.random.default_rng(5)
    later = orders[pd.to_datetime(orders["order_date"]) > pd.Timestamp(END)]
    extra = later.sample(1500, replace=True, random_state=5).assign(
        customer_id=lambda f: np.where(rng.random(len(f)) < 0.3, "NEW", "") + f["customer_id"]
    )
    more = pd.concat([orders, extra], ignore_index=True)
    more["order_id"] = [f"P{i:07d}" for i in range(len(more))]
    again = _calibrate(more)
    assert again.spread.winner == cal.spread.winner
    assert again.spread.forecast.scores == cal.spread.forecast.scores
    assert again.spread.table == cal.spread.table


def test_select_by_bic_keeps_the_lowest_bic_without_a_forecast(pareto):
    """``--select-by bic`` on the same history: the same criteria table, the lowest BIC
    (``rate``, simulated from its purchase-day twin), and no inner forecast."""
    orders, cal = pareto
    bic = _calibrate(orders, select_by="bic")
    assert bic.spread.structure == "rate" and bic.spread.winner == "rate/day"
    assert bic.spread.forecast is None
    assert {v: bic.spread.table[v] for v in VARIANTS} == {v: cal.spread.table[v] for v in VARIANTS}


def test_one_variant_in_the_band_needs_no_forecast(monkeypatch):
    """The shipped homogeneous sample: only ``none`` is within the band, so the default rule
    takes it without computing the inner forecast (made to fail here) and says why."""
    import sim.calibration.fitting as fitting

    def never(*args, **kwargs):
        raise AssertionError("the inner forecast was computed")

    monkeypatch.setattr(fitting, "inner_forecast", never)
    path = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "sample_orders.csv"
    cal = calibrate(read_orders(path, columns=COLUMNS).table, end="2025-12-30")
    table = cal.spread.table
    low = min(table[v]["bic"] for v in VARIANTS)
    assert [v for v in VARIANTS if table[v]["bic"] <= low + BIC_BAND] == ["none"]
    assert cal.spread.winner == "none" and cal.spread.selected_by == "bic+forecast"
    assert "nothing for the forecast to decide" in cal.spread.forecast.reason
    assert cal.summary()["heterogeneity"]["inner_forecast"]["used"] is False


# ---- the study's generator (benchmarks/variant_choice.py) -----------------------------------
def _study():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import variant_choice

    return variant_choice


@pytest.mark.parametrize("truth", ["bgnbd", "pareto"])
def test_study_draws_its_truths(truth):
    """The study's histories have the truth's expected repeat purchases in the window: the
    mean count per customer against the closed-form E[X(T)] (BG/NBD: Fader, Hardie & Lee 2005,
    eq. 9; Pareto/NBD: r·β / (α·(s − 1))·(1 − (β / (β + T))^(s − 1))), within 3 standard errors."""
    from scipy import special

    vc = _study()
    orders = vc.draw_orders(truth, 20000, seed=11)
    day = (orders["date"] - vc.START).dt.days
    g = pd.DataFrame({"c": orders["customer"], "d": day}).groupby("c")["d"]
    first = g.min()
    x = (g.apply(lambda d: int((d <= vc.CAL_DAYS - 1).sum())) - 1).to_numpy(float)
    T = (vc.CAL_DAYS - first.to_numpy()) / 7.0  # weeks observed after the first order
    if truth == "bgnbd":
        _, r, alpha, a, b = vc.TRUTHS[truth][1]["classes"][0]
        z = T / (alpha + T)
        hyp = special.hyp2f1(r, b, a + b - 1, z)
        expected = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + T)) ** r * hyp)
    else:
        r, alpha, s, beta = vc.TRUTHS[truth][1]["pareto"]
        expected = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + T)) ** (s - 1))
    assert abs(x.mean() - expected.mean()) < 3 * x.std() / np.sqrt(len(x))
