"""A spend history next to an order history: the day × channel × lever spend array, the daily
new customers per channel, the spend range each lever covered and what the history cannot tell
apart (identifiability warnings), and a simulator run driven by that daily spend.

Why a warning and not a silent fit: a curve is only known where its spend moved. Two channels
whose spend always moved together (correlation above :data:`CORRELATED`) share one effect
between them in any fit; a lever whose spend never moved (coefficient of variation below
:data:`FLAT_CV`) has no saturation to measure, only one point of its curve.

    >>> import numpy as np
    >>> s = np.zeros((10, 2, 3)); s[:, 0, 0] = np.arange(10); s[:, 1, 0] = 2 * np.arange(10)
    >>> identifiability_warnings(s, ["tmall", "jd"])[0][:40]
    'tmall paid and jd paid: spend moved toge'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from sim.scenario.spend_file import LEVERS

CORRELATED = 0.9  # |correlation| of two spend series above this → their effects are confounded
FLAT_CV = 0.05  # a lever whose daily spend varies less than this (std ÷ mean) has no curve
FITTED_LEVERS: tuple[str, ...] = ("paid", "seeding")  # levers that bring new customers


def spend_array(table: pd.DataFrame, channels: list[str], start: dt.date, days: int) -> np.ndarray:
    """``(days, channels, 3)`` CNY per day from a :func:`read_spend` table; days or channels
    without a row spend 0. Rows of channels not in ``channels`` are ignored by the caller's
    choice (pass every channel of the file to keep them)."""
    out = np.zeros((days, len(channels), len(LEVERS)))
    day = (table["date"] - pd.Timestamp(start)).dt.days.to_numpy()
    ch = table["channel"].map({c: i for i, c in enumerate(channels)})
    lev = table["lever"].map({lv: i for i, lv in enumerate(LEVERS)}).to_numpy()
    ok = (day >= 0) & (day < days) & ch.notna().to_numpy()
    out[day[ok], ch[ok].astype(int).to_numpy(), lev[ok]] = table["spend"].to_numpy()[ok]
    return out


def per_channel_day(
    table: pd.DataFrame, column: str, channels: list[str], start: dt.date, days: int
) -> np.ndarray | None:
    """``(days, channels)`` of a per-channel-and-day column (``clicks``, ``visits``), NaN
    where the file gives none; None when the file has no such column."""
    if column not in table:
        return None
    out = np.full((days, len(channels)), np.nan)
    given = table[table[column].notna()]
    day = (given["date"] - pd.Timestamp(start)).dt.days.to_numpy()
    ch = given["channel"].map({c: i for i, c in enumerate(channels)})
    ok = (day >= 0) & (day < days) & ch.notna().to_numpy()
    out[day[ok], ch[ok].astype(int).to_numpy()] = given[column].to_numpy()[ok]
    return out


def first_orders(
    orders: pd.DataFrame, channels: list[str], start: dt.date, days: int
) -> tuple[np.ndarray, int]:
    """``(days, channels)`` first-ever orders per channel and day from ``start`` (each
    customer's first order in the file), and how many customers bought before ``start``."""
    first = orders.sort_values("date", kind="stable").drop_duplicates("customer")
    day = (first["date"] - pd.Timestamp(start)).dt.days.to_numpy()
    ch = first["channel"].map({c: i for i, c in enumerate(channels)})
    out = np.zeros((days, len(channels)))
    ok = (day >= 0) & (day < days) & ch.notna().to_numpy()
    np.add.at(out, (day[ok], ch[ok].astype(int).to_numpy()), 1.0)
    return out, int((day < 0).sum())


def orders_per_day(
    orders: pd.DataFrame, channels: list[str], start: dt.date, days: int
) -> np.ndarray:
    """``(days, channels)`` orders (first and repeat) per channel and day from ``start``."""
    day = (orders["date"] - pd.Timestamp(start)).dt.days.to_numpy()
    ch = orders["channel"].map({c: i for i, c in enumerate(channels)})
    out = np.zeros((days, len(channels)))
    ok = (day >= 0) & (day < days) & ch.notna().to_numpy()
    np.add.at(out, (day[ok], ch[ok].astype(int).to_numpy()), 1.0)
    return out


def observed_ranges(spend: np.ndarray, channels: list[str]) -> dict[str, dict[str, list]]:
    """``{channel: {lever: [min, max]}}`` of the daily spend the history covered (levers
    that never spent are left out): where the fitted curves are interpolation."""
    out: dict[str, dict[str, list]] = {}
    for c, ch in enumerate(channels):
        for k, lever in enumerate(LEVERS):
            s = spend[:, c, k]
            if s.max() > 0:
                out.setdefault(ch, {})[lever] = [float(s.min()), float(s.max())]
    return out


def identifiability_warnings(spend: np.ndarray, channels: list[str]) -> list[str]:
    """What the spend history cannot tell apart: correlated pairs, levers that never moved."""
    series = {
        f"{ch} {lever}": spend[:, c, k]
        for c, ch in enumerate(channels)
        for k, lever in enumerate(LEVERS)
        if spend[:, c, k].max() > 0
    }
    notes = []
    names = list(series)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x, y = series[a], series[b]
            if x.std() > 0 and y.std() > 0:
                r = float(np.corrcoef(x, y)[0, 1])
                if abs(r) > CORRELATED:
                    notes.append(
                        f"{a} and {b}: spend moved together (correlation {r:.2f} > "
                        f"{CORRELATED}); the history cannot tell their effects apart, the "
                        "split between them is the prior's, not the data's"
                    )
    for name, x in series.items():
        if x.std() <= FLAT_CV * x.mean():
            notes.append(
                f"{name}: spend never moved (coefficient of variation {x.std() / x.mean():.3f} "
                f"≤ {FLAT_CV}); its saturation is not identified, only the effect at "
                f"{x.mean():,.0f} CNY/day"
            )
    return notes


def simulate_with_spend(
    raw: dict[str, Any], spend: np.ndarray, seed: int, replication: int
) -> dict[str, np.ndarray]:
    """One simulator run of scenario ``raw`` with the daily spend ``(days, channels, 3)`` (the
    scenario's channel order): daily ``new_customers``, ``orders``, ``revenue``, ``visits``,
    ``sessions``, ``clicks`` (visits from an ad or a note) per channel and ``spend`` as
    recorded, in real units. A module-level function, so a process pool can run it.

    The history is set as each channel agent's day × lever budget (what a scenario's
    ``spend_file`` would give it) and checked against the ledger's recorded spend, so a model
    that reads its budget elsewhere fails loudly instead of ignoring the history.
    """
    from sim.scenario import build_scenario

    sc = build_scenario(raw)
    days = sc.horizon.days
    daily = run_with_spend(sc, spend, seed, replication).daily
    ids = [c.id for c in sc.channels]
    out = {}
    for measure in ("new_customers", "orders", "revenue", "visits", "sessions", "spend_paid"):
        table = daily.pivot_table(index="day", columns="channel", values=measure, aggfunc="sum")
        out[measure] = table.reindex(index=range(days), columns=ids).fillna(0.0).to_numpy()
    out["clicks"] = out["visits"] - out["sessions"]  # visits from an ad or a note
    if not np.allclose(out["spend_paid"], spend[:days, :, 0], rtol=1e-9, atol=1e-6):
        raise RuntimeError("the model did not spend the history's paid budget day by day")
    return out


def run_with_spend(scenario, spend: np.ndarray, seed: int, replication: int):
    """One run of ``scenario`` (a :class:`~sim.scenario.Scenario`) whose budget is the daily
    ``spend`` ``(days, channels, 3)`` in its channel order; its ledger.

    The spend replaces the model's day × channel × lever budget in place (the channel agents
    read views of it), and the private pool's daily joining chance is recomputed from it
    (:meth:`~sim.core.model.ChannelMarket.refresh_joining`): the model derives that from the
    budget when it is built, so private operations that move by day would otherwise be
    ignored."""
    from sim.core.model import ChannelMarket

    model = ChannelMarket(scenario, seed=seed, replication=replication)
    days = scenario.horizon.days
    model.budget[:] = np.asarray(spend[:days], dtype=float)
    model.refresh_joining()  # the join chance follows private-ops spend day by day
    return model.run()
