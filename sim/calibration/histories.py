"""Customer histories of a calibration window: the cohort, their purchase days and gaps.

The cohort is the customers whose first order falls in [start, end] (customers seen before the
window are left out). Purchases are counted per day: several orders on one day are one
purchase. Days are counted from ``start``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def customer_histories(
    table: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray]:
    """Per customer of the cohort first seen in [start, end]: first/last day, x, t_x, T (days),
    orders, spend; plus every gap in days between consecutive purchase days."""
    t = table[(table["date"] >= start) & (table["date"] <= end)]
    seen_before = set(table.loc[table["date"] < start, "customer"])
    t = t[~t["customer"].isin(seen_before)]
    day = ((t["date"] - start).dt.days).to_numpy()
    days = pd.DataFrame({"customer": t["customer"].to_numpy(), "day": day})
    uniq = days.drop_duplicates().sort_values(["customer", "day"])
    g = uniq.groupby("customer")["day"]
    horizon = int((end - start).days)
    hist = pd.DataFrame({"first": g.min(), "last": g.max(), "purchase_days": g.size()})
    hist["x"] = hist["purchase_days"] - 1
    hist["t_x"] = hist["last"] - hist["first"]
    hist["T"] = horizon - hist["first"]
    spend = t.groupby("customer")["amount"].agg(["sum", "size"])
    hist["spend"] = spend["sum"]
    hist["orders"] = spend["size"]
    gaps = uniq.groupby("customer")["day"].diff().dropna().to_numpy(int)
    return hist, gaps


def member_gaps(orders: pd.DataFrame, members, start: pd.Timestamp) -> np.ndarray:
    """Every gap in days between consecutive purchase days of ``members`` in ``orders``."""
    sub = orders[orders["customer"].isin(members)]
    days = pd.DataFrame({"c": sub["customer"], "d": (sub["date"] - start).dt.days})
    return (
        days.drop_duplicates()
        .sort_values(["c", "d"])
        .groupby("c")["d"]
        .diff()
        .dropna()
        .to_numpy(int)
    )


def gaps_by_customer(orders: pd.DataFrame, start: pd.Timestamp, customers: pd.Index) -> pd.Series:
    """Each customer's gaps in days between consecutive purchase days in ``orders`` (an array
    per customer, in the order of ``customers``)."""
    days = pd.DataFrame({"c": orders["customer"], "d": (orders["date"] - start).dt.days})
    days = days.drop_duplicates().sort_values(["c", "d"])
    return days.groupby("c")["d"].apply(lambda d: np.diff(d.to_numpy())).reindex(customers)


def distinct_histories(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each distinct (x, t_x, T) once, with how many customers have it (``w``): the
    likelihoods of the repeat-purchase models sum over these, the same value with far fewer
    terms (a few thousand for 300 000 customers)."""
    hist = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="w")
    return tuple(hist[c].to_numpy(float) for c in ("x", "t_x", "T", "w"))
