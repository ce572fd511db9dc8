"""Holdout validation: does the calibrated simulator predict what it was not fitted on?

The cohort is the customers whose first order falls in the calibration period (as in Fader,
Hardie & Lee's CDNOW study). Without a spend fit the cohort is **replayed**
(:mod:`sim.calibration.cohort_replay`): one agent per customer, made a first buyer on the day of
their real first order, simulated through the end of the holdout period ``replications`` times
— the simulator's repeat process on the same births the BG/NBD benchmark counts from. The whole
calibrated market (prospects acquired by the fitted organic interest) is simulated too, and its
cohort's holdout total reported beside it. With a spend fit the market is simulated with the
actual spend, and the simulated cohort is the simulated customers whose first order falls in
the calibration period. Compared:

* weekly and cumulative **repeat transactions** of the cohort (every purchase day after a
  customer's first), actual vs simulated (mean and 5–95 % band over replications) and vs the
  BG/NBD aggregate forecast Σᵢ E[X(t − firstᵢ)];
* **MAPE** of the weekly counts over the complete holdout weeks, and the **error of the
  cumulative total** at the end of the holdout (holdout only, and since the start);
* the **conditional expectation** check: mean purchases in the holdout by number of repeat
  purchases in the calibration period (0, 1, …, 7+), actual vs the BG/NBD closed form
  E[Y(t) | x, t_x, T] vs the simulator (simulated customers grouped by their own simulated
  calibration-period count);
* the cohort's **repeat revenue** in the holdout, actual vs simulated vs the BG/NBD times the
  gamma-gamma spend model (:mod:`sim.calibration.holdout_value`), in total and by x.

    >>> # see tests/test_calibration.py::test_holdout_report_has_every_element
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration import holdout_value
from sim.calibration.cohort_replay import (
    REPLAYED,
    build_cohort,
    market_check,
)
from sim.calibration.fitting import Calibration
from sim.calibration.spend_history import run_with_spend
from sim.calibration.validation_report import write_report  # noqa: F401 (re-exported)
from sim.core.model import simulate
from sim.experiments.evaluation import make_executor
from sim.scenario import Scenario

X_CAP = 7  # conditional expectation groups: 0, 1, …, 6, 7+


@dataclass
class SpendRun:
    """What a spend fit changes in the holdout simulation: the scenario dict to simulate from
    the calibration window's first day (the spend fit's market size, organic interest, word of
    mouth and responses; customers who bought before the window as ``initial_customers``) and
    the history's actual daily spend ``(days, channels, 3)`` over calibration + holdout, so
    the cohort is acquired as the spend acquired it (:mod:`sim.calibration.response_cli`)."""

    raw: dict[str, Any]
    spend: np.ndarray
    market: float

    def scenario(self, days: int) -> Scenario:
        from sim.scenario import build_scenario

        return build_scenario({**self.raw, "horizon": {**self.raw["horizon"], "days": days}})

    def describe(self) -> str:
        return (
            f"the spend fit: market {self.market:,.0f} people, fitted acquisition, the "
            "spend file's actual daily spend through the holdout"
        )


@dataclass
class Validation:
    """Everything the holdout report shows, as plain tables and figures."""

    weekly: pd.DataFrame  # week, week_start, period, actual, sim_mean, sim_low, sim_high, bgnbd
    # x, customers, actual, bgnbd, actual_revenue, bgnbd_gamma_gamma_revenue, simulator,
    # sim_customers, simulator_revenue (means per customer of the group)
    conditional: pd.DataFrame
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "conditional_expectation": self.conditional.to_dict(orient="records"),
        }


def validate_holdout(
    table: pd.DataFrame,
    cal: Calibration,
    *,
    holdout: tuple[dt.date, dt.date],
    replications: int = 5,
    seed: int = 0,
    workers: int | None = 1,
    published: dict[str, float] | None = None,
    spend_run: SpendRun | None = None,
    published_gamma_gamma: dict[str, float] | None = None,
) -> Validation:
    """Simulate the calibrated market over calibration + holdout and compare with the orders.

    ``published``: BG/NBD parameters published for this data set (r, alpha, a, b in weeks),
    shown next to the project's fit (``published_gamma_gamma``: p, q, gamma, likewise for
    the gamma-gamma spend model). ``spend_run``: with a spend fit, the market to simulate
    (its fitted size and acquisition) and the actual daily spend of calibration + holdout;
    without it, the order fit's market at the scenario's constant budget."""
    c_start = pd.Timestamp(cal.start)
    h_start, h_end = pd.Timestamp(holdout[0]), pd.Timestamp(holdout[1])
    cal_days = int((pd.Timestamp(cal.end) - c_start).days) + 1
    h_lo, h_hi = int((h_start - c_start).days), int((h_end - c_start).days) + 1
    if spend_run is None:
        scenario, spend = cal.scenario_from_start(h_hi), None
    else:
        scenario, spend = spend_run.scenario(h_hi), spend_run.spend[:h_hi]
    actual_daily, actual_cust = _actual(table, cal, c_start, cal_days, (h_lo, h_hi))
    cohort = None if spend_run is not None else build_cohort(cal, table, h_hi)
    with make_executor(workers=workers) as ex:
        futures = [
            ex.submit(_replicate, scenario, seed, r, cal_days, (h_lo, h_hi), spend)
            for r in range(replications)
        ]
        replays = [  # orders only: the cohort replayed is what the BG/NBD is compared on
            ex.submit(cohort.counts, seed, r, cal_days, (h_lo, h_hi), revenue=True)
            for r in range(replications if cohort is not None else 0)
        ]
        reps = [f.result() for f in futures]
        market = market_check(reps, actual_daily, (h_lo, h_hi), scenario.market.scale)
        if replays:
            reps, scenario = [f.result() for f in replays], cohort.scenario
    sim_daily = np.vstack([d for d, _, _ in reps]) * scenario.market.scale
    sim_value = np.array([c["holdout_revenue"].sum() for _, c, _ in reps]) * scenario.market.scale
    sim_money = np.vstack([v for _, _, v in reps]) * scenario.market.scale
    sim_cust = pd.concat([c for _, c, _ in reps], ignore_index=True)
    bg_daily = _bgnbd_daily(cal, h_hi)
    weekly = _weekly(actual_daily, sim_daily, bg_daily, c_start, cal_days, (h_lo, h_hi))
    copies = cohort.copies if replays else 1  # agents per customer in the replay
    t_hold = (h_hi - h_lo) / cal.bgnbd.unit_days
    values = holdout_value.day_values(table, cal.customers, c_start, h_hi)
    gg, why_not = holdout_value.fit_on_calibration(values, cal_days)
    weekly = holdout_value.add_weekly(weekly, values, sim_money, bg_daily, gg, h_hi)
    money = holdout_value.per_customer(cal, values, gg, t_hold, (cal_days, h_lo, h_hi))
    actual_cust = actual_cust.assign(**money)
    conditional = _conditional(cal, actual_cust, sim_cust, t_hold, replications * copies)
    metrics = _metrics(weekly, actual_daily, sim_daily, bg_daily, (h_lo, h_hi))
    metrics.update(
        holdout_value.metrics(
            money,
            sim_value,
            gg,
            why_not,
            holdout_repeats=(metrics["holdout_repeat_actual"], metrics["holdout_repeat_simulated"]),
            published=published_gamma_gamma,
        )
        | holdout_value.weekly_mape(weekly)
    )
    metrics.update(
        replications=replications,
        seed=seed,
        cohort=len(cal.customers),
        calibration_period=[cal.start.isoformat(), cal.end.isoformat()],
        holdout_period=[h_start.date().isoformat(), h_end.date().isoformat()],
        simulated_cohort_per_replication=float(
            len(sim_cust) / replications * scenario.market.scale
        ),
        models=_models(cal, published),
        acquisition=REPLAYED if spend_run is None else spend_run.describe(),
        whole_market=market if spend_run is None else None,
    )
    return Validation(weekly=weekly, conditional=conditional, metrics=metrics)


# ---- actual and simulated series -------------------------------------------------------------
def _actual(table, cal, c_start, cal_days, hold) -> tuple[np.ndarray, pd.DataFrame]:
    cohort = table[table["customer"].isin(cal.customers.index)]
    days = pd.DataFrame(
        {
            "customer": cohort["customer"].to_numpy(),
            "day": (cohort["date"] - c_start).dt.days.to_numpy(),
        }
    )
    days = days[(days["day"] >= 0) & (days["day"] < hold[1])].drop_duplicates()
    first = days["customer"].map(cal.customers["first"])
    repeat = days[days["day"] > first]
    daily = np.bincount(repeat["day"], minlength=hold[1]).astype(float)
    in_hold = repeat[(repeat["day"] >= hold[0])].groupby("customer").size()
    cust = cal.customers[["x", "t_x", "T"]].assign(
        holdout=in_hold.reindex(cal.customers.index).fillna(0).to_numpy()
    )
    return daily, cust


def _replicate(
    scenario: Scenario,
    seed: int,
    replication: int,
    cal_days: int,
    hold: tuple[int, int],
    spend: np.ndarray | None = None,
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """One simulated run reduced to the cohort's daily repeats, per-customer (x, holdout,
    holdout_revenue) and daily repeat revenue; with ``spend`` (days × channels × levers) the
    run spends it day by day."""
    if spend is None:
        o = simulate(scenario, seed=seed, replication=replication).orders
    else:
        o = run_with_spend(scenario, spend, seed, replication).orders
    firsts = o.loc[o["first"].astype(bool) & (o["day"] < cal_days), ["customer", "day"]]
    cohort = o[o["customer"].isin(firsts["customer"])]
    repeat = cohort[~cohort["first"].astype(bool)]
    daily = np.bincount(repeat["day"], minlength=hold[1])[: hold[1]].astype(float)
    x = repeat[repeat["day"] < cal_days].groupby("customer").size()
    in_hold = repeat[(repeat["day"] >= hold[0]) & (repeat["day"] < hold[1])]
    money = np.bincount(repeat["day"], weights=repeat["revenue"], minlength=hold[1])[: hold[1]]
    h = in_hold.groupby("customer").size()
    value = in_hold.groupby("customer")["revenue"].sum()
    ids = firsts["customer"].to_numpy()
    cust = pd.DataFrame(
        {
            "x": x.reindex(ids).fillna(0).to_numpy(int),
            "holdout": h.reindex(ids).fillna(0).to_numpy(int),
            "holdout_revenue": value.reindex(ids).fillna(0.0).to_numpy(float),
        }
    )
    return daily, cust, money


def _bgnbd_daily(cal: Calibration, days: int) -> np.ndarray:
    """BG/NBD expected repeat transactions per day of the cohort: Σᵢ E[X(t − firstᵢ)]."""
    bg, unit = cal.bgnbd, cal.bgnbd.unit_days
    first = cal.customers["first"].to_numpy()
    t = np.arange(days + 1, dtype=float)
    counts = np.bincount(first, minlength=days + 1)[: days + 1]
    curve = bg.expected(t / unit)  # E[X] by age in days
    cum = np.convolve(counts, curve)[: days + 1]  # Σᵢ E[X(t − firstᵢ)] at the start of day t
    return np.diff(cum)


def _weekly(actual, sim, bg, c_start, cal_days, hold) -> pd.DataFrame:
    weeks = np.arange(hold[1]) // 7
    n_weeks = hold[1] // 7  # complete weeks only
    frame = pd.DataFrame({"week": np.arange(n_weeks)})
    agg = lambda a: np.bincount(weeks, weights=a, minlength=n_weeks + 1)[:n_weeks]  # noqa: E731
    sim_w = np.vstack([agg(s) for s in sim])
    frame["week_start"] = [(c_start + pd.Timedelta(days=7 * w)).date() for w in frame["week"]]
    frame["period"] = np.where(
        (frame["week"] + 1) * 7 <= cal_days,
        "calibration",
        np.where(frame["week"] * 7 >= hold[0], "holdout", "gap"),
    )
    frame["actual"] = agg(actual)
    frame["sim_mean"] = sim_w.mean(axis=0)
    frame["sim_low"] = np.percentile(sim_w, 5, axis=0)
    frame["sim_high"] = np.percentile(sim_w, 95, axis=0)
    frame["bgnbd"] = agg(bg)
    frame["actual_cum"] = frame["actual"].cumsum()
    frame["sim_cum"] = frame["sim_mean"].cumsum()
    cum_w = sim_w.cumsum(axis=1)
    frame["sim_cum_low"] = np.percentile(cum_w, 5, axis=0)
    frame["sim_cum_high"] = np.percentile(cum_w, 95, axis=0)
    frame["bgnbd_cum"] = frame["bgnbd"].cumsum()
    return frame


def _conditional(cal, actual, sim, t_hold, reps) -> pd.DataFrame:
    bg = cal.bgnbd
    unit = bg.unit_days
    pred = bg.conditional_expected(t_hold, actual["x"], actual["t_x"] / unit, actual["T"] / unit)
    a = actual.assign(bgnbd=pred, group=np.minimum(actual["x"], X_CAP))
    s = sim.assign(group=np.minimum(sim["x"], X_CAP))
    out = a.groupby("group").agg(
        customers=("x", "size"),
        actual=("holdout", "mean"),
        bgnbd=("bgnbd", "mean"),
        actual_revenue=("revenue_actual", "mean"),
        bgnbd_gamma_gamma_revenue=("revenue_benchmark", "mean"),
    )
    sim_g = s.groupby("group").agg(
        simulator=("holdout", "mean"),
        sim_customers=("x", "size"),
        simulator_revenue=("holdout_revenue", "mean"),
    )
    out = out.join(sim_g, how="left").reset_index().rename(columns={"group": "x"})
    out["sim_customers"] = out["sim_customers"].fillna(0) / reps
    out["x"] = [f"{int(v)}+" if v == X_CAP else str(int(v)) for v in out["x"]]
    return out


def _metrics(weekly, actual, sim, bg, hold) -> dict[str, float]:
    hw = weekly[weekly["period"] == "holdout"]
    lo, hi = hold
    act_hold = float(actual[lo:hi].sum())
    sim_hold = sim[:, lo:hi].sum(axis=1)
    bg_hold = float(bg[lo:hi].sum())
    act_all, sim_all = float(actual[:hi].sum()), sim[:, :hi].sum(axis=1)
    return {
        "weekly_mape_pct": _mape_pct(hw, "sim_mean"),
        "weekly_mape_pct_bgnbd": _mape_pct(hw, "bgnbd"),
        "holdout_weeks": int(len(hw)),
        "holdout_repeat_actual": act_hold,
        "holdout_repeat_simulated": float(sim_hold.mean()),
        "holdout_repeat_simulated_band": [
            float(np.percentile(sim_hold, 5)),
            float(np.percentile(sim_hold, 95)),
        ],
        "holdout_repeat_bgnbd": bg_hold,
        "cumulative_error_pct": _relative_error_pct(float(sim_hold.mean()), act_hold),
        "cumulative_error_pct_bgnbd": _relative_error_pct(bg_hold, act_hold),
        "cumulative_since_start_actual": act_all,
        "cumulative_since_start_simulated": float(sim_all.mean()),
        "cumulative_since_start_error_pct": _relative_error_pct(float(sim_all.mean()), act_all),
    }


def _models(cal: Calibration, published: dict[str, float] | None) -> dict[str, Any]:
    """The models fitted on the calibration period: the BG/NBD (weeks, with the published
    values when given) and the heterogeneity variants with their criteria."""
    return {
        "bgnbd_weeks": cal.bgnbd.params(),
        "bgnbd_published": published,
        "heterogeneity": next(
            (x.summary() for x in (cal.spread, cal.segment_spread) if x is not None), None
        ),
    }


def _mape_pct(weeks: pd.DataFrame, col: str) -> float:
    """Mean absolute percentage error of ``col`` against ``actual``, over weeks with orders."""
    ok = weeks["actual"] > 0
    return float(
        (abs(weeks.loc[ok, col] - weeks.loc[ok, "actual"]) / weeks.loc[ok, "actual"]).mean() * 100
    )


def _relative_error_pct(pred: float, act: float) -> float:
    return float((pred - act) / act * 100) if act else float("nan")
