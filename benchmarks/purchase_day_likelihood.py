"""The BG/NBD against its purchase-day twin on one order file: fit, BIC and holdout forecast.

``calibrate`` counts purchase days (two orders on one day are one purchase, the BG/NBD
convention). This script fits, on the same purchase days of the customers first seen in the
calibration period, the continuous BG/NBD (times in days) and the purchase-day BG/NBD of
:mod:`sim.calibration.purchase_days` (each day a customer alive buys with probability
q ~ Beta(α_q, β_q), and after each repeat purchase day leaves with p ~ Beta(a, b)), and prints
their parameters, log-likelihoods and BIC; with ``--holdout-end`` also each model's own
forecast of the cohort's purchase days after the calibration period (Σᵢ E[Y(t) | xᵢ, t_xᵢ,
Tᵢ], no simulator) against the actual count::

    python benchmarks/purchase_day_likelihood.py ORDERS.csv --start 1997-01-01 \\
        --end 1997-09-30 --holdout-end 1998-06-30 [--customer customer_id] [--date order_date]

(docs/calibration.md, "Purchase days": the drawn histories and CDNOW).
"""

from __future__ import annotations

import argparse
import math
import time

import pandas as pd

from sim.calibration.bgnbd import fit_bgnbd
from sim.calibration.histories import customer_histories
from sim.calibration.purchase_days import fit_purchase_day_bgnbd


def read(path: str, customer: str, date: str) -> pd.DataFrame:
    """The order file as :func:`customer_histories` reads it (amounts are not needed)."""
    o = pd.read_csv(path, usecols=[customer, date])
    return pd.DataFrame({"customer": o[customer], "date": pd.to_datetime(o[date]), "amount": 1.0})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("orders")
    p.add_argument("--start", default=None, help="first day of the calibration period")
    p.add_argument("--end", required=True, help="last day of the calibration period")
    p.add_argument("--holdout-end", default=None, help="last day of the holdout period")
    p.add_argument("--customer", default="customer_id")
    p.add_argument("--date", default="order_date")
    args = p.parse_args()
    orders = read(args.orders, args.customer, args.date)
    start = pd.Timestamp(args.start) if args.start else orders["date"].min()
    end = pd.Timestamp(args.end)
    hist, _ = customer_histories(orders, start=start, end=end)
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    n = len(x)
    print(f"customers {n}, repeat purchase days {int(x.sum())}")
    began = time.perf_counter()
    bg = fit_bgnbd(x, t_x, T, unit_days=1.0)
    day = fit_purchase_day_bgnbd(x, t_x, T, start=(bg.r, bg.alpha, bg.a, bg.b))
    print(f"fits: {time.perf_counter() - began:.1f} s")
    for name, fit, loglik in (
        ("BG/NBD (days)", bg, bg.loglik),
        ("purchase-day BG/NBD", day, day.loglik),
    ):
        values = ", ".join(f"{k} {v:.4g}" for k, v in fit.params().items())
        bic = 4 * math.log(n) - 2 * loglik
        print(f"{name}: {values}; log-likelihood {loglik:,.1f}; BIC {bic:,.1f}")
    if args.holdout_end:
        days = int((pd.Timestamp(args.holdout_end) - end).days)
        later = orders[(orders["date"] > end) & (orders["date"] <= pd.Timestamp(args.holdout_end))]
        later = later[later["customer"].isin(hist.index)].drop_duplicates(["customer", "date"])
        actual = len(later)
        print(f"holdout: {days} days, actual repeat purchase days {actual:,}")
        for name, forecast in (
            ("BG/NBD (transactions)", lambda: bg.conditional_expected(days, x, t_x, T).sum()),
            ("purchase-day BG/NBD", lambda: day.cohort_cumulative(days, x, t_x, T)[-1]),
        ):
            began = time.perf_counter()
            total = forecast()
            print(
                f"  {name}: {total:,.0f} ({100 * (total / actual - 1):+.2f} %; "
                f"{time.perf_counter() - began:.2f} s)"
            )


if __name__ == "__main__":
    main()
