"""Holdout value: does the calibrated simulator predict what the cohort *spent*, not only how
often it bought?

A plan's targets are revenue; the holdout check of repeat transactions says nothing of their
value. This module adds the cohort's **repeat revenue** in the holdout: actual, simulated (the
same replications as the transaction check) and the literature's benchmark, the BG/NBD's
expected holdout transactions times the gamma-gamma's expected value per transaction,
Σᵢ E[Yᵢ | xᵢ, t_xᵢ, Tᵢ] · E[Mᵢ | m_xᵢ, xᵢ] (Fader, Hardie & Lee 2005, "RFM and CLV").

A purchase day's value is the sum of that customer's order amounts that day — the unit the
transaction counts use — and the gamma-gamma is fitted on the calibration period's repeat
purchase days (a customer's first is left out, as the model's authors do).

    >>> import pandas as pd
    >>> orders = pd.DataFrame({"customer": ["a", "a", "a", "b"], "amount": [10.0, 5.0, 7.0, 9.0],
    ...                        "date": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-03",
    ...                                                "2025-01-02"])})
    >>> cohort = pd.DataFrame({"first": [0, 1]}, index=["a", "b"])
    >>> day_values(orders, cohort, pd.Timestamp("2025-01-01"), 10).to_dict("records")
    [{'customer': 'a', 'day': 2, 'value': 12.0}]
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.gamma_gamma import GammaGamma, fit_gamma_gamma

GG_KEYS = ("p", "q", "gamma")


def day_values(table: pd.DataFrame, cohort: pd.DataFrame, start: pd.Timestamp, days: int):
    """The cohort's repeat purchase days before day ``days``: customer, day (from ``start``)
    and value (the day's order amounts summed). ``cohort``: index customer, column ``first``."""
    t = table[table["customer"].isin(cohort.index)]
    frame = pd.DataFrame(
        {
            "customer": t["customer"].to_numpy(),
            "day": (t["date"] - start).dt.days.to_numpy(),
            "value": t["amount"].to_numpy(float),
        }
    )
    frame = frame[(frame["day"] >= 0) & (frame["day"] < days)]
    frame = frame.groupby(["customer", "day"], as_index=False, sort=True)["value"].sum()
    return frame[frame["day"] > frame["customer"].map(cohort["first"]).to_numpy()]


def fit_on_calibration(values: pd.DataFrame, cal_days: int) -> tuple[GammaGamma | None, str]:
    """The gamma-gamma on the calibration period's repeat days, or None and why not."""
    cal = values[values["day"] < cal_days].groupby("customer")["value"].agg(["size", "mean"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow probes at far starts
            return fit_gamma_gamma(cal["size"], cal["mean"]), ""
    except ValueError as err:
        return None, str(err)


def per_customer(
    cal,
    values: pd.DataFrame,
    gg: GammaGamma | None,
    t_hold: float,
    periods: tuple[int, int, int],
) -> pd.DataFrame:
    """Per cohort customer: actual holdout repeat revenue and the benchmark's expectation
    E[Y | x, t_x, T] · E[M | m_x, x] (NaN without a gamma-gamma fit); ``periods``: the
    calibration period's days and the holdout's first and end day, so m_x is the calibration
    period's (the gap before a later holdout is neither's)."""
    cust, bg = cal.customers, cal.bgnbd
    cal_days, *hold = periods
    cal_part = values[values["day"] < cal_days].groupby("customer")["value"].mean()
    in_hold = values[(values["day"] >= hold[0]) & (values["day"] < hold[1])]
    actual = in_hold.groupby("customer")["value"].sum().reindex(cust.index).fillna(0.0)
    unit = bg.unit_days
    count = bg.conditional_expected(t_hold, cust["x"], cust["t_x"] / unit, cust["T"] / unit)
    if gg is None:
        value = np.full(len(cust), np.nan)
    else:
        value = gg.conditional_mean(cust["x"], cal_part.reindex(cust.index).fillna(0.0))
    return pd.DataFrame(
        {"revenue_actual": actual.to_numpy(), "revenue_benchmark": np.asarray(count) * value},
        index=cust.index,
    )


def add_weekly(
    weekly: pd.DataFrame,
    values: pd.DataFrame,
    sim_money: np.ndarray,
    bg_daily: np.ndarray,
    gg: GammaGamma | None,
    days: int,
) -> pd.DataFrame:
    """weekly.csv's revenue columns (complete weeks, as its counts): the actual repeat revenue,
    the simulator's mean and 5–95 % band over replications (``sim_money``: replications ×
    days), the benchmark's BG/NBD weekly expectation × the gamma-gamma's mean value pγ/(q − 1)
    (unconditional, like the counts' curve), and their cumulative sums."""
    n_weeks = len(weekly)
    weeks = np.arange(days) // 7

    def agg(a: np.ndarray) -> np.ndarray:
        return np.bincount(weeks, weights=a[:days], minlength=n_weeks + 1)[:n_weeks]

    actual = np.bincount(values["day"], weights=values["value"], minlength=days)[:days]
    sim_w = np.vstack([agg(v) for v in sim_money])
    mean = gg.mean if gg is not None else float("nan")
    out = weekly.assign(
        actual_revenue=agg(actual),
        sim_revenue_mean=sim_w.mean(axis=0),
        sim_revenue_low=np.percentile(sim_w, 5, axis=0),
        sim_revenue_high=np.percentile(sim_w, 95, axis=0),
        bgnbd_gamma_gamma_revenue=agg(bg_daily) * mean,
    )
    cum = sim_w.cumsum(axis=1)
    return out.assign(
        actual_revenue_cum=out["actual_revenue"].cumsum(),
        sim_revenue_cum=out["sim_revenue_mean"].cumsum(),
        sim_revenue_cum_low=np.percentile(cum, 5, axis=0),
        sim_revenue_cum_high=np.percentile(cum, 95, axis=0),
        bgnbd_gamma_gamma_revenue_cum=out["bgnbd_gamma_gamma_revenue"].cumsum(),
    )


def weekly_mape(weekly: pd.DataFrame) -> dict[str, float]:
    """MAPE of weekly repeat revenue over the holdout's complete weeks with revenue."""
    hw = weekly[(weekly["period"] == "holdout") & (weekly["actual_revenue"] > 0)]
    act = hw["actual_revenue"]

    def mape(col: str) -> float:
        return float((abs(hw[col] - act) / act).mean() * 100) if len(hw) else float("nan")

    return {
        "weekly_revenue_mape_pct": mape("sim_revenue_mean"),
        "weekly_revenue_mape_pct_bgnbd_gamma_gamma": mape("bgnbd_gamma_gamma_revenue"),
    }


def metrics(
    rows: pd.DataFrame,
    sim_totals: np.ndarray,
    gg: GammaGamma | None,
    why_not: str,
    *,
    holdout_repeats: tuple[float, float],
    published: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The holdout value figures for validation.json. ``sim_totals``: each replication's
    simulated holdout repeat revenue of the cohort (scaled to real customers);
    ``holdout_repeats``: actual and simulated mean holdout repeat transactions."""
    act = float(rows["revenue_actual"].sum())
    bench = float(rows["revenue_benchmark"].sum()) if gg is not None else float("nan")
    sim = float(np.mean(sim_totals)) if len(sim_totals) else float("nan")
    per_tx = [
        v / n if n else float("nan") for v, n in zip((act, sim), holdout_repeats, strict=True)
    ]
    return {
        "holdout_revenue_actual": act,
        "holdout_revenue_simulated": sim,
        "holdout_revenue_simulated_band": [
            float(np.percentile(sim_totals, 5)),
            float(np.percentile(sim_totals, 95)),
        ]
        if len(sim_totals)
        else None,
        "holdout_revenue_bgnbd_gamma_gamma": bench,
        "revenue_error_pct": _error_pct(sim, act),
        "revenue_error_pct_bgnbd_gamma_gamma": _error_pct(bench, act),
        "holdout_value_per_transaction_actual": per_tx[0],
        "holdout_value_per_transaction_simulated": per_tx[1],
        "gamma_gamma": gg.summary() if gg is not None else {"not_fitted": why_not},
        "gamma_gamma_published": published,
    }


def markdown(m: dict[str, Any]) -> list[str]:
    """The holdout report's lines on revenue (nothing when the check was not made)."""
    if "holdout_revenue_actual" not in m:
        return []
    band = m["holdout_revenue_simulated_band"] or [float("nan")] * 2
    lines = [
        "## Holdout revenue (repeat purchases)",
        "",
        "| figure | simulator | BG/NBD × gamma-gamma |",
        "|---|---|---|",
        f"| holdout repeat revenue: actual {m['holdout_revenue_actual']:,.2f} | "
        f"{m['holdout_revenue_simulated']:,.2f} (5–95 %: {band[0]:,.2f}–{band[1]:,.2f}) | "
        f"{m['holdout_revenue_bgnbd_gamma_gamma']:,.2f} |",
        f"| error of the holdout revenue | {m['revenue_error_pct']:+.1f} % | "
        f"{m['revenue_error_pct_bgnbd_gamma_gamma']:+.1f} % |",
        f"| MAPE of weekly repeat revenue, holdout | "
        f"{m.get('weekly_revenue_mape_pct', float('nan')):.1f} % | "
        f"{m.get('weekly_revenue_mape_pct_bgnbd_gamma_gamma', float('nan')):.1f} % |",
        f"| value per repeat transaction: actual "
        f"{m['holdout_value_per_transaction_actual']:,.2f} | "
        f"{m['holdout_value_per_transaction_simulated']:,.2f} | |",
        "",
        "![cumulative revenue](tracking_revenue.png)",
        "",
    ]
    gg, pub = m.get("gamma_gamma") or {}, m.get("gamma_gamma_published")
    if "p" in gg:
        se = gg.get("standard_errors", {})
        lines += [
            f"Gamma-gamma on {gg['customers']:,} customers' calibration repeat days "
            f"(correlation of count and mean value {gg['correlation_x_value']:.2f}; the model "
            "assumes none):",
            "",
            "| gamma-gamma | p | q | γ |",
            "|---|---|---|---|",
            "| this fit (SE) | "
            + " | ".join(f"{gg[k]:.3f} ({se.get(k, float('nan')):.3f})" for k in GG_KEYS)
            + " |",
        ]
        if pub:
            lines.append("| published | " + " | ".join(f"{pub[k]:.3f}" for k in GG_KEYS) + " |")
        lines.append("")
    elif gg:
        lines += [f"No gamma-gamma fit: {gg.get('not_fitted')}.", ""]
    return lines


def _error_pct(pred: float, act: float) -> float:
    return float((pred - act) / act * 100) if act and np.isfinite(pred) else float("nan")
