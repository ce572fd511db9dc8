"""The backtest of a spend-fitted scenario: fit on the calibration months, simulate the holdout
with the holdout's actual spend, compare with what happened — next to the MMM benchmark
(:mod:`sim.calibration.mmm`) fitted on the same weeks.

The simulation starts on the calibration window's first day (customers who bought before it
are ``initial_customers``) and runs through the holdout with the history's spend, so the
holdout's customers are the ones the simulated calibration months acquired, as in reality.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.mmm import errors, fit_mmm
from sim.calibration.response_model import weekly_sum
from sim.calibration.spend_history import simulate_with_spend, spend_array
from sim.experiments.evaluation import make_executor


@dataclass
class Backtest:
    weekly: pd.DataFrame  # week, period, actual, simulated (mean, p5, p95), mmm
    metrics: dict[str, Any]
    channels: pd.DataFrame  # week_start, channel, measure, actual, simulated (whole stretch)


def from_start(
    raw: dict[str, Any], *, start: dt.date, days: int, market: float, before: float, agents: int
) -> dict[str, Any]:
    """``raw`` (a fitted scenario dict) re-based to start on ``start`` with the whole market
    ``market`` (real people), ``before`` of whom bought earlier, simulated by ``agents``."""
    out = copy.deepcopy(raw)
    out.pop("uncertainty", None)
    out["market"].update(
        real_customers=float(market),
        customers=int(min(agents, max(round(market), 10))),
        initial_customers=min(before / market, 1.0),
        initial_private=0.0,
    )
    out["horizon"] = {"start": start.isoformat(), "days": int(days)}
    return out


def backtest(
    raw: dict[str, Any],
    orders: pd.DataFrame,
    spend: pd.DataFrame,
    names: list[str],
    *,
    start: dt.date,
    end: dt.date,
    holdout: tuple[dt.date, dt.date] | None,
    market: float,
    agents: int = 10000,
    replications: int = 4,
    seed: int = 0,
    workers: int = 1,
) -> Backtest:
    """Weekly revenue, actual vs simulated vs MMM, over the calibration window (fitted) and
    the holdout (predicted), and weekly new customers and orders per channel. ``names`` are the
    files' channel names in ``raw``'s order. Without a holdout only the calibration window is
    simulated (fitted vs actual)."""
    days = ((holdout[1] if holdout else end) - start).days + 1
    before = float(orders.loc[orders["date"] < pd.Timestamp(start), "customer"].nunique())
    run = from_start(raw, start=start, days=days, market=market, before=before, agents=agents)
    s = spend_array(spend, names, start, days)
    with make_executor(workers=workers) as ex:
        futures = [ex.submit(simulate_with_spend, run, s, seed, r) for r in range(replications)]
        runs = [f.result() for f in futures]
    revenue = np.stack([r["revenue"].sum(axis=1) for r in runs])  # (R, days)
    channels = _per_channel(runs, orders, names, start, days, spend)
    day = (orders["date"] - pd.Timestamp(start)).dt.days.to_numpy()
    ok = (day >= 0) & (day < days)
    actual = np.bincount(day[ok], weights=orders["amount"].to_numpy()[ok], minlength=days)
    cal_days = (end - start).days + 1
    hold_from = (holdout[0] - start).days if holdout else days
    cal_w = weekly_sum(actual[:cal_days])
    hold_w = weekly_sum(actual[hold_from:])
    sim_cal = np.stack([weekly_sum(r[:cal_days]) for r in revenue])
    sim_hold = np.stack([weekly_sum(r[hold_from:]) for r in revenue])
    weekly_spend = weekly_sum(s.sum(axis=2))  # (weeks, channels) over the whole stretch
    n_cal = len(cal_w)
    mmm = fit_mmm(cal_w, weekly_spend[:n_cal])
    hold_spend = weekly_sum(s[hold_from:].sum(axis=2))
    carry = None
    if n_cal:
        from sim.calibration.mmm import geometric_adstock

        carry = geometric_adstock(weekly_spend[:n_cal], mmm.decay)[-1]
    mmm_hold = mmm.predict(hold_spend, start_week=hold_from // 7, carry=carry)
    weekly = pd.concat(
        [
            _frame("calibration", start, cal_w, sim_cal, mmm.predict(weekly_spend[:n_cal])),
            _frame("holdout", holdout[0] if holdout else end, hold_w, sim_hold, mmm_hold),
        ],
        ignore_index=True,
    )
    if not holdout:
        return Backtest(weekly, {}, channels)
    metrics = {
        "measure": "revenue (CNY, all channels), complete weeks",
        "holdout_weeks": len(hold_w),
        "simulator": errors(hold_w, sim_hold.mean(axis=0)),
        "mmm": errors(hold_w, mmm_hold),
        "simulator_total_band": [
            float(np.quantile(sim_hold.sum(axis=1), 0.05)),
            float(np.quantile(sim_hold.sum(axis=1), 0.95)),
        ],
        "actual_total": float(hold_w.sum()),
        "mmm_fit_in_calibration": errors(cal_w, mmm.predict(weekly_spend[:n_cal])),
    }
    return Backtest(weekly, metrics, channels)


def _per_channel(
    runs, orders: pd.DataFrame, names, start: dt.date, days: int, spend: pd.DataFrame
) -> pd.DataFrame:
    """Weekly new customers and orders per channel: actual (from the orders) vs simulated;
    and ad clicks and visits when the spend file reports them (weeks with a day missing are
    left out of the actual)."""
    from sim.calibration.spend_history import per_channel_day

    orders = orders.sort_values("date", kind="stable")
    day = (orders["date"] - pd.Timestamp(start)).dt.days.to_numpy()
    col = orders["channel"].map({n: i for i, n in enumerate(names)}).to_numpy()
    first = ~orders["customer"].duplicated().to_numpy()  # orders are in date order
    ok = (day >= 0) & (day < days) & ~pd.isna(col)
    frames = []
    measured = {}
    for measure, rows in (("new_customers", ok & first), ("orders", ok)):
        actual = np.zeros((days, len(names)))
        np.add.at(actual, (day[rows], col[rows].astype(int)), 1.0)
        measured[measure] = actual
    for measure in ("clicks", "visits"):
        given = per_channel_day(spend, measure, names, start, days)
        if given is not None:
            measured[measure] = given
    for measure, actual in measured.items():
        simulated = np.mean([r[measure] for r in runs], axis=0)
        a, m = weekly_sum(actual), weekly_sum(simulated)
        weeks = pd.date_range(pd.Timestamp(start), periods=len(a), freq="7D")
        for c, name in enumerate(names):
            frames.append(
                pd.DataFrame(
                    {
                        "week_start": weeks,
                        "channel": name,
                        "measure": measure,
                        "actual": a[:, c],
                        "simulated": m[:, c],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _frame(period, first: dt.date, actual, sims, mmm) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week_start": pd.date_range(pd.Timestamp(first), periods=len(actual), freq="7D"),
            "period": period,
            "actual": actual,
            "simulated": sims.mean(axis=0),
            "simulated_p5": np.quantile(sims, 0.05, axis=0),
            "simulated_p95": np.quantile(sims, 0.95, axis=0),
            "mmm": mmm,
        }
    )
