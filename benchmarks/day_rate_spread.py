"""Gamma or Beta rates: what the simulator must draw for a purchase-day fit to hold.

The purchase-day BG/NBD (``sim/calibration/purchase_days.py``) says each customer buys on a day
with chance q ~ Beta(α_q, β_q). Gamma(α_q, α_q + β_q), its limit for small q (same shape, same
mean), has (α_q + β_q + 1)/β_q times its variance. Two measurements (docs/calibration.md,
"Purchase days"):

``sim``: histories the simulator generates at ``se_coverage.py --simulator``'s truth (rate shape
1, cycle 40 days, dropout Beta(1, 4), 3 000 agents, a year; acquisition by organic interest), in
purchase days as ``calibrate`` counts them, fitted by :func:`fit_purchase_day_bgnbd`; next to
fits of the model's own draws (:func:`sample_purchase_days`) at the same births and windows.
``--beta`` draws the customers' rates from the Beta (``rate_beta`` = 40/π − 1, π = 0.73383,
``calibrate``'s for the sample template): the truth is then the model's own.

``cdnow``: the CDNOW sample's holdout (1997-10-01 … 1998-06-30) as the purchase-day model
forecasts it from the cohort's births (what the cohort replay simulates: each agent a prior
draw), with the fitted Beta, the gamma of the same shape and mean, and the gamma of the same
mean and variance; E[X(t) | q, p] = (1 − (1 − qp)^t)/p integrated over q and p on a 3 999-point
quantile grid. The fit is ``calibration.json`` of a ``calibrate`` report (``--report``).

    python benchmarks/day_rate_spread.py sim [--beta] [--seeds 0-99] [--model]
    python benchmarks/day_rate_spread.py cdnow REPORT_DIR ORDERS.csv
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from se_coverage import SAMPLE_PI as PI  # the sibling script: calibrate's π, sample template

from sim.calibration.histories import customer_histories
from sim.calibration.purchase_days import (
    PurchaseDayBGNBD,
    fit_purchase_day_bgnbd,
    sample_purchase_days,
)
from sim.core.model import simulate
from sim.scenario import apply_overrides

START, END = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-30")
CYCLE = 40.0


def simulated_history(seed: int, beta: bool) -> pd.DataFrame:
    """One year of the simulator's orders at the truth, as calibrate's (x, t_x, T) in days."""
    from se_coverage import simulated_scenario  # (the sibling script: its truth's scenario)

    over = {"horizon.days": 364}  # (the sample's 546 days; the window ends on day 363)
    # the sibling's "/day" truth draws the Beta; the gamma of the same shape is the other case
    over["market.segments.class1.rate_beta"] = CYCLE / PI - 1.0 if beta else None
    sc = apply_overrides(simulated_scenario("rate+dropout/day", 3000), over)
    o = simulate(sc, seed=seed).orders
    day = np.asarray(o["day"])
    table = pd.DataFrame(
        {"customer": np.asarray(o["customer"]), "date": START + pd.to_timedelta(day, "D")}
    )
    return customer_histories(table.assign(amount=1.0), start=START, end=END)[0]


def fit(hist: pd.DataFrame) -> tuple[float, float, float]:
    """α_q, the cycle π(α_q + β_q)/α_q and the gamma shape with the Beta's mean and variance,
    α_q(α_q + β_q + 1)/β_q, of a purchase-day fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = fit_purchase_day_bgnbd(hist["x"], hist["t_x"], hist["T"])
    return f.aq, PI * (f.aq + f.bq) / f.aq, f.aq * (f.aq + f.bq + 1) / f.bq


def study_sim(seeds: list[int], beta: bool, model: bool) -> None:
    rows = {"simulator": [], "model's draws": []}
    for s in seeds:
        hist = simulated_history(s, beta)
        rows["simulator"].append(fit(hist))
        if model:
            rng = np.random.default_rng(10_000 + s)
            draws = sample_purchase_days(
                len(hist), aq=1.0, bq=CYCLE / PI - 1, a=1.0, b=4.0, T=hist["T"], rng=rng
            )
            rows["model's draws"].append(fit(draws))
    label = "Beta rates (rate_beta)" if beta else "gamma rates"
    print(f"{len(seeds)} histories, the simulator with {label}; truth α_q 1, cycle {CYCLE:g}")
    for name, got in rows.items():
        if got:
            v = np.array(got)
            se = v.std(axis=0, ddof=1) / np.sqrt(len(v))
            print(
                f"  {name:14s} α_q {v[:, 0].mean():.4f} ± {se[0]:.4f}   "
                f"cycle {v[:, 1].mean():.2f} ± {se[1]:.2f}   "
                f"variance-matched shape {v[:, 2].mean():.4f} ± {se[2]:.4f}"
            )


def study_cdnow(report: Path, orders: Path) -> None:
    p = json.loads((report / "calibration.json").read_text())["heterogeneity"]["fits"]
    p = p["rate+dropout/day"]
    aq, bq, a, b = p["alpha_q"], p["beta_q"], p["a"], p["b"]
    o = pd.read_csv(orders, parse_dates=["order_date"])
    table = pd.DataFrame({"customer": o["customer_id"], "date": o["order_date"], "amount": 1.0})
    cal_end = pd.Timestamp("1997-09-30")
    hist = customer_histories(table, start=pd.Timestamp("1997-01-01"), end=cal_end)[0]
    T, h = hist["T"].to_numpy(int), 273
    fit = PurchaseDayBGNBD(aq, bq, a, b)
    curve = np.concatenate([[0.0], fit.cumulative_expected(int(T.max()) + h, 0, 0, 0)[0]])
    x, t_x = hist["x"].to_numpy(float), hist["t_x"].to_numpy(float)
    conditional = fit.cohort_cumulative(h, x, t_x, T.astype(float))[-1]
    print(f"  the model, exactly: from the births {(curve[T + h] - curve[T]).sum():.1f},")
    print(f"    conditional on the histories {conditional:.1f}; by quadrature:")
    u = np.linspace(0, 1, 4001)[1:-1]
    p_grid = stats.beta(a, b).ppf(u)[None, :]
    ts = np.unique(np.concatenate([T, T + h]))
    shape = aq * (aq + bq + 1) / bq  # the gamma with the Beta's mean and variance
    for name, dist in (
        ("Beta(α_q, β_q), the fit", stats.beta(aq, bq)),
        ("gamma, same shape and mean", stats.gamma(aq, scale=1 / (aq + bq))),
        ("gamma, same mean and variance", stats.gamma(shape, scale=aq / (aq + bq) / shape)),
    ):
        q = np.minimum(dist.ppf(u), 1.0)[:, None]
        ex = {t: float(np.mean((1 - (1 - q * p_grid) ** t) / p_grid)) for t in ts}
        total = sum(ex[t + h] - ex[t] for t in T)
        print(f"  {name:30s} {total:8.1f} holdout repeat purchase days from the births")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["sim", "cdnow"])
    ap.add_argument("paths", nargs="*", type=Path)
    ap.add_argument("--beta", action="store_true")
    ap.add_argument("--model", action="store_true", help="also fit the model's own draws")
    ap.add_argument("--seeds", default="0-99")
    args = ap.parse_args()
    if args.what == "cdnow":
        study_cdnow(*args.paths)
        return
    lo, hi = map(int, args.seeds.split("-"))
    study_sim(list(range(lo, hi + 1)), args.beta, args.model)


if __name__ == "__main__":
    main()
