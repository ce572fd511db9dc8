"""Replaying a cohort: the simulator's repeat purchases of the real customers, from their real
first orders.

The BG/NBD benchmark of the holdout report forecasts Σᵢ E[X(t − firstᵢ)]: each real customer's
repeat purchases from the day of their real first order. Simulating the whole market instead
(prospects acquired by the fitted organic interest) mixes two models' errors — when and how
many customers arrive, and how they buy again — and at a market of many prospects each agent
stands for several customers, which adds noise. The replay compares like with like: one agent
per cohort customer, nobody else in the market, each agent put into the state of a first buyer
(:meth:`sim.core.population.CustomerPopulation.set_first_order`) on the day and in the channel
of that customer's first order, then simulated by the model as calibrated. Every later order
of the agent is a repeat purchase of the simulator's process.

    >>> import numpy as np
    >>> firsts = np.array([3, 0, 3])
    >>> [(d, ids.tolist()) for d, ids in births_by_day(firsts)]
    [(0, [1]), (3, [0, 2])]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.core.model import ChannelMarket
from sim.scenario import Scenario, build_scenario

REPLAY_STREAM = 0x5E9A  # the replay's own draws (first gaps), apart from the model's streams
# Agents at least, so that the replicated mean is the model's expectation, not its luck: a
# weekly MAPE against a closed form would otherwise charge the simulator its own Monte Carlo
# noise (≈ 7 % a week for CDNOW's 2 357 customers at one agent each and 10 replications).
MIN_AGENTS = 20_000

REPLAYED = (
    "none: the cohort replayed, one agent per customer made a first buyer on the day and in "
    "the channel of their real first order, as the BG/NBD benchmark counts from them "
    "(sim.calibration.cohort_replay); the whole market with the order fit's acquisition: the "
    "row below the table"
)


def replay_scenario(raw: dict, start: str, customers: int, days: int, copies: int = 1) -> Scenario:
    """The calibrated scenario with only the cohort in it: ``copies`` agents per customer,
    nobody acquired (no organic interest, word of mouth, initial customers or paid reach)."""
    raw = copy.deepcopy(raw)
    raw["market"].update(
        real_customers=float(customers),
        customers=int(customers * copies),
        initial_customers=0.0,
        initial_private=0.0,
        organic_interest=0.0,
        word_of_mouth=0.0,
    )
    for ch in raw["channels"]:  # no spend: nobody new hears of the product
        ch.pop("budget", None)
    raw["horizon"] = {"start": start, "days": int(days)}
    raw["name"] = f"{raw['name']}_cohort_replay"
    for key in ("rules", "spend_file"):  # no review moves money, no history spends it
        raw.pop(key, None)
    return build_scenario(raw)


def births_by_day(firsts: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(day, customers whose first order is that day)``, by day."""
    order = np.argsort(firsts, kind="stable")
    days, starts = np.unique(firsts[order], return_index=True)
    for day, ids in zip(days, np.split(order, starts[1:]), strict=True):
        yield int(day), ids


def replay(
    scenario: Scenario,
    firsts: np.ndarray,
    channels: np.ndarray,
    *,
    seed: int,
    replication: int,
) -> pd.DataFrame:
    """One replication: the orders (the ledger's order table) of agents ``0 … n − 1``, agent
    i becoming a first buyer on day ``firsts[i]`` in channel index ``channels[i]``."""
    model = ChannelMarket(scenario, seed=seed, replication=replication)
    rng = np.random.default_rng([REPLAY_STREAM, seed, replication])
    births = dict(births_by_day(np.asarray(firsts)))
    for day in range(scenario.horizon.days):
        ids = births.get(day)
        if ids is not None:
            model.pop.set_first_order(ids, day, channels[ids], rng.standard_normal(len(ids)))
        model.step()
    return model.run().orders


@dataclass(frozen=True)
class Cohort:
    """The calibration cohort to replay: its scenario, first-order days (from the window's
    first day) and first-order channel indices, one entry per agent."""

    scenario: Scenario
    firsts: np.ndarray
    channels: np.ndarray
    copies: int = 1  # agents per real customer

    def counts(
        self,
        seed: int,
        replication: int,
        cal_days: int,
        hold: tuple[int, int],
        *,
        revenue: bool = False,
    ) -> tuple[np.ndarray, ...]:
        """One replication as the holdout report reads it: repeat purchase days per day, and
        per customer the calibration-period repeats ``x``, the holdout's ``holdout`` and
        their revenue ``holdout_revenue``; with ``revenue``, also the revenue per day."""
        o = replay(self.scenario, self.firsts, self.channels, seed=seed, replication=replication)
        days = o[["customer", "day"]].drop_duplicates()  # purchase days, as counted for real
        daily = np.bincount(days["day"], minlength=hold[1])[: hold[1]].astype(float)
        n = len(self.firsts)
        x = np.bincount(days.loc[days["day"] < cal_days, "customer"], minlength=n)
        in_hold = days[(days["day"] >= hold[0]) & (days["day"] < hold[1])]
        h = np.bincount(in_hold["customer"], minlength=n)
        sold = o[(o["day"] >= hold[0]) & (o["day"] < hold[1])]
        value = np.bincount(sold["customer"], weights=sold["revenue"], minlength=n)
        cust = pd.DataFrame({"x": x[:n], "holdout": h[:n], "holdout_revenue": value[:n]})
        if not revenue:
            return daily, cust
        per_day = np.bincount(o["day"], weights=o["revenue"], minlength=hold[1])[: hold[1]]
        return daily, cust, per_day


def build_cohort(cal, table: pd.DataFrame, days: int) -> Cohort:
    """The cohort of ``cal`` (a :class:`~sim.calibration.fitting.Calibration`): its customers'
    first-order days and channels from ``table`` (the order table), each customer played by
    enough agents for :data:`MIN_AGENTS` in all (``market.scale`` = 1 / copies)."""
    cust = cal.customers
    window = table[table["customer"].isin(cust.index)].sort_values("date", kind="stable")
    first_channel = window.groupby("customer", sort=False)["channel"].first()
    index = {c.get("name", c["id"]): i for i, c in enumerate(cal.raw["channels"])}
    channels = first_channel.reindex(cust.index).map(index).fillna(0).to_numpy(np.int64)
    copies = max(1, math.ceil(MIN_AGENTS / max(len(cust), 1)))
    scenario = replay_scenario(cal.raw, cal.start.isoformat(), len(cust), days, copies)
    firsts = np.repeat(cust["first"].to_numpy(np.int64), copies)
    return Cohort(scenario, firsts, np.repeat(channels, copies), copies)


def market_check(reps, actual: np.ndarray, hold: tuple[int, int], scale: float) -> dict:
    """What the whole-market runs (prospects acquired by the fitted organic interest) say of
    the holdout: their cohort's repeat purchases and size, against the actual."""
    sim = np.vstack([d for d, *_ in reps]) * scale
    act = float(actual[hold[0] : hold[1]].sum())
    mean = float(sim[:, hold[0] : hold[1]].sum(axis=1).mean())
    return {
        "holdout_repeat_simulated": mean,
        "cumulative_error_pct": (mean - act) / act * 100 if act else float("nan"),
        "cohort_per_replication": float(sum(len(r[1]) for r in reps) / len(reps) * scale),
    }


def market_markdown(w: dict[str, float] | None) -> list[str]:
    """The holdout report's line on the whole-market runs (none with a spend fit)."""
    if not w:
        return []
    return [
        f"The whole market simulated instead (prospects acquired by the fitted organic "
        f"interest; {w['cohort_per_replication']:,.0f} cohort customers per replication): "
        f"{w['holdout_repeat_simulated']:,.0f} holdout repeat transactions, "
        f"{w['cumulative_error_pct']:+.1f} % — acquisition's error and the repeat "
        "process's together.",
        "",
    ]
