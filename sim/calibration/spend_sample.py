"""A synthetic spend history with known response: the generator of
``scenarios/data/sample_spend.csv`` and of the recovery tests.

Real plans flight their spend — always-on most of the year, a pre-sale burst in the weeks before
618 (June 18) and Double 11 (November 11) — and a curve is only identified where spend moved,
so the generator flights it the same way, with each channel's own weekly wobble (independent
across channels, so their effects can be told apart) and a step in one channel's always-on
level. ``generator_raw`` is the scenario with the true parameters.

    >>> s = flighted_spend(365, "2025-01-01", {"tmall": ("paid", 20000.0)}, seed=1)
    >>> int(s.groupby(s["date"].dt.month)["spend"].mean().idxmax())  # the Double 11 burst
    11
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

BURSTS = (((5, 20), (6, 18), 2.5), ((10, 20), (11, 11), 3.0))  # (from, to (month, day), ×)

# The generator's five channels: lever, always-on CNY/day, true response (see generator_raw).
CHANNELS: dict[str, dict[str, Any]] = {
    "tmall": {
        "family": "public",
        "lever": "paid",
        "spend": 30000.0,
        "response": {"paid_reach_max": 0.03, "paid_saturation": 40000.0, "paid_impact": 0.01},
    },
    "jd": {
        "family": "public",
        "lever": "paid",
        "spend": 15000.0,
        "response": {"paid_reach_max": 0.02, "paid_saturation": 20000.0, "paid_impact": 0.012},
    },
    "douyin": {
        "family": "public",
        "lever": "paid",
        "spend": 20000.0,
        "response": {"paid_reach_max": 0.04, "paid_saturation": 30000.0, "paid_impact": 0.008},
    },
    "xiaohongshu": {
        "family": "social",
        "lever": "seeding",
        "spend": 8000.0,
        "response": {
            "seeding_reach_max": 0.05,
            "seeding_saturation": 10000.0,
            "seeding_impact": 0.005,
        },
    },
    "wecom": {"family": "private", "lever": "private_ops", "spend": 3000.0, "response": {}},
}


def flighted_spend(
    days: int, start: str | dt.date, channels: dict[str, tuple[str, float]], *, seed: int = 0
) -> pd.DataFrame:
    """Daily spend rows (date, channel, lever, spend): each channel's always-on level × the
    pre-sale bursts × its own weekly wobble (lognormal, σ 0.6: strong weeks and weak ones), and
    the first channel's always-on level doubles from day 180 (a step to learn saturation from)."""
    rng = np.random.default_rng([seed, 618])
    dates = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
    burst = np.ones(days)
    for (m0, d0), (m1, d1), factor in BURSTS:
        md = dates.month * 100 + dates.day
        burst[(md >= m0 * 100 + d0) & (md <= m1 * 100 + d1)] = factor
    rows = []
    for i, (ch, (lever, level)) in enumerate(channels.items()):
        weekly = np.exp(rng.normal(-0.18, 0.6, days // 7 + 1))[np.arange(days) // 7]
        step = np.where((np.arange(days) >= 180) & (i == 0), 2.0, 1.0)
        flight = burst if lever != "private_ops" else np.ones(days)
        spend = np.round(level * flight * weekly * step, 2)
        rows.append(pd.DataFrame({"date": dates, "channel": ch, "lever": lever, "spend": spend}))
    return pd.concat(rows, ignore_index=True)


def generator_raw(
    days: int = 546, *, customers: int = 20000, real_customers: int = 200000, seed: int = 2025
) -> dict[str, Any]:
    """The scenario with the true parameters (as a dict): five channels (three paid
    marketplaces, a seeding channel linking to Tmall, a private pool), organic interest
    0.0002/day, word of mouth 0.001, no customers before day 0."""
    channels = []
    for cid, spec in CHANNELS.items():
        ch: dict[str, Any] = {
            "id": cid,
            "family": spec["family"],
            "base_conversion": 0.5,
            "service": {"reply_minutes": 0},
            "response": dict(spec["response"]),
        }
        if spec["family"] == "social":
            ch.update(sells=False, links_to="tmall")
        if spec["family"] == "private":
            ch["price_index"] = 0.95
            ch["response"].update(join_base=0.05, join_max=0.15)
        channels.append(ch)
    return {
        "name": "sample_spend_generator",
        "seed": seed,
        "horizon": {"start": "2025-01-01", "days": days},
        "market": {
            "real_customers": real_customers,
            "customers": customers,
            "guide_price": 120,
            "unit_cost": 40,
            "initial_customers": 0.0,
            "organic_interest": 0.0002,
            "word_of_mouth": 0.001,
            "interest_lapse": 0.35,
            "churn": 0.004,
            "dissatisfied_churn": 0.0,
            "private_retention": 1.0,
            "journey_sample": 0,
            "segments": [
                {
                    "id": "all",
                    "share": 1.0,
                    "basket_units": 1.6,
                    "purchase_cycle_days": 30,
                    "cycle_cv": 0.3,
                    "price_sensitivity": 1.5,
                    "reservation_price": 1.25,
                    "reservation_spread": 0.2,
                }
            ],
        },
        "channels": channels,
    }


def generator_spend(days: int = 546, *, seed: int = 2025) -> pd.DataFrame:
    """The generator's flighted spend for :data:`CHANNELS`."""
    chans = {cid: (spec["lever"], spec["spend"]) for cid, spec in CHANNELS.items()}
    return flighted_spend(days, "2025-01-01", chans, seed=seed)


def simulate_history(
    raw: dict[str, Any], spend: pd.DataFrame, *, seed: int, clicks: bool = False
) -> pd.DataFrame:
    """One run of ``raw`` (one agent per person) with the daily ``spend`` rows: its orders as
    an export shows them (order_id, customer_id, order_date, amount, channel). With
    ``clicks``, ``spend`` is returned instead, with the run's ad clicks and visits per channel
    and day added as the ad platforms and shop back-ends report them (``clicks``: visits that
    came from an ad or a note; ``visits``: those and the shopping sessions) in columns
    ``clicks`` and ``visits`` of each channel's first lever row; the orders are in
    ``.attrs["orders"]``."""
    from sim.calibration.orders import orders_from_ledger
    from sim.calibration.spend_history import run_with_spend, spend_array
    from sim.scenario import build_scenario

    sc = build_scenario(raw)
    ids = [c.id for c in sc.channels]
    s = spend_array(spend, ids, sc.horizon.start, sc.horizon.days)
    ledger = run_with_spend(sc, s, seed, 0)  # the history's day-by-day budget
    orders = orders_from_ledger(ledger, sc)
    if not clicks:
        return orders
    daily = ledger.daily.assign(
        date=pd.Timestamp(sc.horizon.start) + pd.to_timedelta(ledger.daily["day"], unit="D")
    )
    flows = daily.groupby(["date", "channel"])[["visits", "sessions"]].sum()
    flows["clicks"] = flows["visits"] - flows["sessions"]
    out = spend.copy()
    first = ~out.duplicated(["date", "channel"])
    keyed = flows.reindex(pd.MultiIndex.from_frame(out.loc[first, ["date", "channel"]]))
    for col in ("clicks", "visits"):
        out[col] = np.nan
        out.loc[first, col] = keyed[col].to_numpy()
    out.attrs["orders"] = orders
    return out
