"""Recovery of the channel response from a synthetic spend history (issue 15): the marginal
response of each channel at its current spend against the generator's truth, over the same 12
channel-seeds as tests/test_response_fit.py (seeds 1, 2, 3 × tmall, jd, douyin paid and
xiaohongshu seeding; 100 000 people, one year fitted).

    python benchmarks/response_recovery.py [--seeds 1,2,3] [--clicks | --visits] [--no-repeat]
        [--cache DIR] [--daily-min N] [--people N]

Prints one line per channel-seed (fitted ÷ true marginal response, the draws' 95 % interval of
that ratio) and the summary lines ``within_20pct: K of N``, ``median_error_pct: X``, ``covered:
K of N`` and ``parameters_covered: K of N`` (E and saturation of every lever, word of mouth and
the market size inside their 95 % intervals). The marginal response d(new customers)/d(spend) =
E·exp(−S/sat)/sat at the last four weeks' mean spend S is the marginal ROI up to the value of a
new customer, which is the same under the fit and the truth. ``--clicks`` gives the fit the
history's daily ad clicks per channel (as ad platforms report them) as well, ``--visits`` the
daily visits (ad clicks + shopping sessions, as a shop back-end reports them) instead;
``--no-repeat`` leaves the repeat orders' split out (first orders only). Also printed:
``level_within_20pct`` (the response level E·(1 − exp(−S/sat)) at current spend S) and
``median_saturation_interval_ratio``. ``--cache`` keeps the simulated histories
so the estimator can be re-measured on the same data. ``--daily-min`` overrides
``sim.calibration.response_fit.DAILY_MIN`` (first orders a day per channel from which the fit
takes days instead of weeks; 1e9: always weekly), ``--people`` the market (100 000; give a
cache directory of its own: histories are cached by seed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration import response_fit
from sim.calibration.response_fit import fit_response
from sim.calibration.spend_history import (
    first_orders,
    orders_per_day,
    per_channel_day,
    spend_array,
)
from sim.calibration.spend_sample import generator_raw, generator_spend, simulate_history

DAYS, HOLDOUT = 364, 91
PEOPLE = 100000
START = dt.date(2025, 1, 1)
TEMPLATE_REACH = 0.025  # the reach the fit holds (the truth differs per channel)


def held_reach(raw: dict) -> dict:
    """The fit's starting scenario: the truth's structure, a template reach for every lever."""
    for ch in raw["channels"]:
        for lever in ("paid", "seeding"):
            if f"{lever}_reach_max" in ch["response"]:
                ch["response"][f"{lever}_reach_max"] = TEMPLATE_REACH
    return raw


def history(seed: int, cache: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The spend rows (with the run's clicks and visits) and the orders (customer, date,
    amount, channel) of one seed."""
    path = cache / f"orders_{seed}.parquet" if cache else None
    if path is not None and path.exists():
        return pd.read_parquet(cache / f"spend_{seed}.parquet"), pd.read_parquet(path)
    raw = generator_raw(DAYS + HOLDOUT, customers=PEOPLE, real_customers=PEOPLE)
    spend = simulate_history(
        raw, generator_spend(DAYS + HOLDOUT, seed=seed), seed=seed, clicks=True
    )
    export = spend.attrs.pop("orders")
    orders = pd.DataFrame(
        {
            "customer": export["customer_id"],
            "date": pd.to_datetime(export["order_date"]),
            "amount": export["amount"],
            "channel": export["channel"],
        }
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        orders.to_parquet(path)
        spend.to_parquet(cache / f"spend_{seed}.parquet")
    return spend, orders


def truth() -> dict[str, tuple[float, float]]:
    """Per lever path prefix: (E = reach × impact, saturation) of the generator."""
    out = {}
    for ch in generator_raw(DAYS)["channels"]:
        r = ch["response"]
        for lever in ("paid", "seeding"):
            if f"{lever}_impact" in r:
                pre = f"channels.{ch['id']}.response.{lever}"
                out[pre] = (
                    r[f"{lever}_reach_max"] * r[f"{lever}_impact"],
                    r[f"{lever}_saturation"],
                )
    return out


def marginal(effect, saturation, current):
    return effect * np.exp(-current / saturation) / saturation


def measure(
    seed: int,
    spend: pd.DataFrame,
    orders: pd.DataFrame,
    clicks: bool,
    visits: bool = False,
    repeat: bool = True,
) -> list[dict]:
    """Fit one seed's year (as the test does) and compare each lever's marginal response;
    ``visits``: the daily visits per channel as moments, ``repeat``: the repeat orders."""
    fit_raw = held_reach(generator_raw(DAYS, customers=3000, real_customers=PEOPLE))
    ids = [c["id"] for c in fit_raw["channels"]]
    s = spend_array(spend, ids, START, DAYS)
    new, before = first_orders(orders, ids, START, DAYS)
    c = per_channel_day(spend, "clicks", ids, START, DAYS) if clicks else None
    v = per_channel_day(spend, "visits", ids, START, DAYS) if visits else None
    o = orders_per_day(orders, ids, START, DAYS) if repeat or visits else None
    fit = fit_response(
        fit_raw,
        s,
        new,
        clicks=c,
        visits=v,
        orders=o,
        repeat=repeat,
        replications=3,
        seed=seed,
        before=before,
    )
    rows = []
    covered = []  # every fitted parameter: is the truth inside its 95 % interval?
    for pre, (e_true, sat_true) in truth().items():
        reach = fit.reach[f"{pre}_reach_max"]
        for value, draws in (
            (e_true, reach * fit.draws[f"{pre}_impact"]),
            (sat_true, fit.draws[f"{pre}_saturation"]),
        ):
            covered.append(bool(draws.quantile(0.025) <= value <= draws.quantile(0.975)))
    lo, hi = fit.interval("market.word_of_mouth")
    covered.append(bool(lo <= 0.001 <= hi))  # the generator's word of mouth
    covered.append(bool(fit.market_interval[0] <= PEOPLE <= fit.market_interval[1]))
    for pre, (e_true, sat_true) in truth().items():
        cid, lever = pre.split(".")[1], pre.split(".")[-1]
        current = s[-28:, ids.index(cid), ("paid", "seeding").index(lever)].mean()
        true = marginal(e_true, sat_true, current)
        reach = fit.reach[f"{pre}_reach_max"]  # held at the template, or read off clicks
        est = marginal(
            reach * fit.estimate[f"{pre}_impact"], fit.estimate[f"{pre}_saturation"], current
        )
        draws = marginal(
            reach * fit.draws[f"{pre}_impact"], fit.draws[f"{pre}_saturation"], current
        )
        lo, hi = np.quantile(draws, [0.025, 0.975])
        e_fit = reach * fit.estimate[f"{pre}_impact"]
        sat_fit = fit.estimate[f"{pre}_saturation"]
        sat_lo, sat_hi = fit.draws[f"{pre}_saturation"].quantile([0.025, 0.975])
        rows.append(
            {
                "seed": seed,
                "lever": f"{cid} {lever}",
                "ratio": est / true,
                "lo": lo / true,
                "hi": hi / true,
                "effect_ratio": reach * fit.estimate[f"{pre}_impact"] / e_true,
                "saturation_ratio": fit.estimate[f"{pre}_saturation"] / sat_true,
                # the response level at current spend (new customers per day it brings) vs
                # its slope there (the marginal): which one the history pins down
                "level_ratio": e_fit
                * -np.expm1(-current / sat_fit)
                / (e_true * -np.expm1(-current / sat_true)),
                "saturation_interval": sat_hi / sat_lo,
                "parameters_covered": sum(covered) if not rows else 0,
                "parameters": len(covered) if not rows else 0,
            }
        )
    return rows


def main() -> None:
    global PEOPLE  # read by history() and measure()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--clicks", action="store_true", help="fit the daily ad clicks too")
    p.add_argument("--visits", action="store_true", help="fit the daily visits per channel too")
    p.add_argument(
        "--no-repeat", action="store_true", help="leave the repeat orders' split out of the fit"
    )
    p.add_argument("--daily-min", type=float, default=None, help="override DAILY_MIN")
    p.add_argument("--people", type=int, default=PEOPLE, help="market size (people)")
    args = p.parse_args()
    if args.daily_min is not None:
        response_fit.DAILY_MIN = args.daily_min
    PEOPLE = args.people
    began = time.perf_counter()
    rows = []
    for seed in (int(x) for x in args.seeds.split(",")):
        spend, orders = history(seed, args.cache)
        rows += measure(seed, spend, orders, args.clicks, args.visits, not args.no_repeat)
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 120)
    print(table.drop(columns=["parameters_covered", "parameters"]).round(3).to_string(index=False))
    err = (table["ratio"] - 1).abs()
    covered = ((table["lo"] <= 1) & (1 <= table["hi"])).sum()
    print(f"within_20pct: {(err <= 0.2).sum()} of {len(table)}")
    level = (table["level_ratio"] - 1).abs()
    print(f"level_within_20pct: {(level <= 0.2).sum()} of {len(table)}")
    print(f"median_saturation_interval_ratio: {table['saturation_interval'].median():.2f}")
    print(f"within_30pct: {(err <= 0.3).sum()} of {len(table)}")
    print(f"median_error_pct: {100 * err.median():.1f}")
    print(f"worst_error_pct: {100 * err.max():.1f}")
    print(f"covered: {covered} of {len(table)}")
    print(f"median_interval_ratio: {(table['hi'] / table['lo']).median():.2f}")
    print(f"parameters_covered: {table['parameters_covered'].sum()} of {table['parameters'].sum()}")
    print(f"seconds: {time.perf_counter() - began:.0f}")


if __name__ == "__main__":
    main()
