"""Does counting purchase days need its own likelihood? The BG/NBD against its day-level twin.

``calibrate`` counts purchase days (two orders on one day are one purchase, the BG/NBD
convention) and fits the continuous-time BG/NBD to them. On a large cohort drawn in continuous
time that misfit (≈ E[λ]/7 of the gaps fall within a day and merge) was worth 131 BIC points to
three latent classes that forecast the holdout worse (docs/calibration.md, "Found at a large
cohort"). This script fits, on the same purchase days, the continuous BG/NBD (times in days)
and a **purchase-day BG/NBD**: each day after the first purchase a customer buys with
probability q ~ Beta(α_q, β_q) while alive, and after each purchase day leaves with
probability p ~ Beta(a, b). Its likelihood is closed form, as the BG/NBD's is, with Beta
functions where the BG/NBD has gamma terms (x repeat purchase days, the last t_x days after the
first, n days observed after the first)::

    L = B(a, b+x)/B(a, b) · B(α_q+x, β_q+n−x)/B(α_q, β_q)
        + [x > 0] · B(a+1, b+x−1)/B(a, b) · B(α_q+x, β_q+t_x−x)/B(α_q, β_q)

Prints both fits (α_q ↔ r, β_q ↔ α in days for small q) with their log-likelihood and BIC.
A study for the next step of issue 14, not used by ``calibrate``::

    python benchmarks/purchase_day_likelihood.py ORDERS.csv --end 1997-09-30 \\
        [--start 1997-01-01] [--customer customer_id] [--date order_date]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln


def histories(path: str, customer: str, date: str, start: str | None, end: str) -> pd.DataFrame:
    """``x, tx, n, w``: each distinct (repeat purchase days, last one, days observed) and how
    many customers have it, over the purchase days up to ``end`` of customers first seen on or
    after ``start``."""
    o = pd.read_csv(path, usecols=[customer, date])
    dates = pd.to_datetime(o[date])
    o = o.assign(day=(dates - dates.min()).dt.days)[dates <= pd.Timestamp(end)]
    o = o.drop_duplicates([customer, "day"])
    by = o.groupby(customer)["day"]
    first, last, count = by.min(), by.max(), by.size()
    if start is not None:
        keep = first >= (pd.Timestamp(start) - dates.min()).days
        first, last, count = first[keep], last[keep], count[keep]
    end_day = (pd.Timestamp(end) - dates.min()).days
    table = pd.DataFrame({"x": count - 1, "tx": last - first, "n": end_day - first})
    return table.value_counts().reset_index(name="w")


def bgnbd_nll(params: np.ndarray, h: pd.DataFrame) -> float:
    """The BG/NBD's negative log-likelihood, times in days (densities per day)."""
    r, alpha, a, b = np.exp(params)
    x, tx, n, w = (h[c].to_numpy(float) for c in ("x", "tx", "n", "w"))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + n)
    gone = betaln(a + 1, b + np.maximum(x - 1, 0)) - betaln(a, b)
    gone = np.where(x > 0, gone - (r + x) * np.log(alpha + np.maximum(tx, 1e-9)), -np.inf)
    return float(-(w * (head + np.logaddexp(alive, gone))).sum())


def purchase_day_nll(params: np.ndarray, h: pd.DataFrame) -> float:
    """The purchase-day BG/NBD's negative log-likelihood (probabilities of the days)."""
    aq, bq, a, b = np.exp(params)
    x, tx, n, w = (h[c].to_numpy(float) for c in ("x", "tx", "n", "w"))
    alive = betaln(a, b + x) - betaln(a, b) + betaln(aq + x, bq + n - x) - betaln(aq, bq)
    gone = betaln(a + 1, b + np.maximum(x - 1, 0)) - betaln(a, b)
    gone = np.where(x > 0, gone + betaln(aq + x, bq + tx - x) - betaln(aq, bq), -np.inf)
    return float(-(w * np.logaddexp(alive, gone)).sum())


def fit(nll, h: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Maximum likelihood from (1, 30 days, 1, 3): Nelder-Mead, then BFGS."""
    start = np.log([1.0, 30.0, 1.0, 3.0])
    res = minimize(nll, start, args=(h,), method="Nelder-Mead", options={"maxiter": 4000})
    res = minimize(nll, res.x, args=(h,), method="BFGS")
    return np.exp(res.x), -float(res.fun)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("orders")
    p.add_argument("--end", required=True, help="last day of the calibration period")
    p.add_argument("--start", default=None, help="first day of the cohort (default: all)")
    p.add_argument("--customer", default="customer_id")
    p.add_argument("--date", default="order_date")
    args = p.parse_args()
    h = histories(args.orders, args.customer, args.date, args.start, args.end)
    customers = h["w"].sum()
    print(f"customers {customers}, repeat purchase days {int((h['x'] * h['w']).sum())}")
    for name, nll, labels in (
        ("BG/NBD (days)", bgnbd_nll, "r alpha_days a b"),
        ("purchase-day BG/NBD", purchase_day_nll, "alpha_q beta_q a b"),
    ):
        began = time.perf_counter()
        params, ll = fit(nll, h)
        bic = -2 * ll + 4 * np.log(customers)
        values = ", ".join(f"{k} {v:.4g}" for k, v in zip(labels.split(), params, strict=True))
        print(
            f"{name}: {values}; mean gap {params[1] / params[0]:.2f} days; log-likelihood "
            f"{ll:,.1f}; BIC {bic:,.1f} ({time.perf_counter() - began:.0f} s)"
        )


if __name__ == "__main__":
    main()
