"""The budget of every day, channel and lever: constant amounts, flighted periods, a spend file.

A channel's ``budget.paid/seeding/private_ops`` are the always-on amounts; ``budget.periods``
override them between two dates (a 618 pre-sale burst), and the scenario's ``spend_file`` rows
(the format ``channelsim calibrate --spend`` reads) override single days. The model reads the
result as one array, so a phase never asks how a budget was stated.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 1000,
    ...     "horizon.days": 30, "targets": [],
    ...     "channels.tmall.budget.periods": [{"start": 10, "end": 12, "paid": 90000}]})
    >>> b = daily_budget(sc)
    >>> b.shape[0], b.shape[2], float(b[9, 0, 0]), float(b[10, 0, 0]), float(b[13, 0, 0])
    (30, 3, 40000.0, 90000.0, 40000.0)
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.scenario.budget_fields import LEVERS, BudgetPeriod
from sim.scenario.spend_file import read_spend

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario


def daily_budget(scenario: Scenario) -> np.ndarray:
    """Currency per day, shape ``(horizon days, channels, 3)``, levers in :data:`LEVERS` order.

    Constant amounts, then periods, then spend-file rows: the more specific statement wins.
    Periods past the horizon's end are cut there (:func:`budget_warnings` says so).
    Spend-file rows outside the horizon or for another scenario's channels are skipped (the
    loader refuses unknown channels; :func:`budget_warnings` counts rows outside the horizon).
    """
    days, start = scenario.horizon.days, scenario.horizon.start
    out = np.empty((days, len(scenario.channels), len(LEVERS)))
    for i, ch in enumerate(scenario.channels):
        out[:, i, :] = [getattr(ch.budget, lever) for lever in LEVERS]
        for p in ch.budget.periods:
            first, last = period_days(p, start)
            first, last = max(first, 0), min(last, days - 1)
            for k, lever in enumerate(LEVERS):
                if (value := getattr(p, lever)) is not None:
                    out[first : last + 1, i, k] = value
    if scenario.spend_file:
        rows = _in_horizon(scenario)
        index = {c.id: i for i, c in enumerate(scenario.channels)}
        rows = rows[rows["channel"].isin(list(index))]
        out[
            rows["day"].to_numpy(),
            rows["channel"].map(index).to_numpy(),
            rows["lever"].map(LEVERS.index).to_numpy(),
        ] = rows["spend"].to_numpy()
    return out


def is_flighted(scenario: Scenario) -> bool:
    """True when some budget varies over the horizon (periods or a spend file)."""
    return bool(scenario.spend_file) or any(c.budget.periods for c in scenario.channels)


def period_days(period: BudgetPeriod, start: dt.date) -> tuple[int, int]:
    """``(first, last)`` day numbers of a period (both included) from ``horizon.start``."""
    return _day(period.start, start), _day(period.end, start)


def budget_problems(scenario: Scenario) -> list[str]:
    """Periods backwards, outside the horizon or overlapping on one channel; spend files that
    cannot be read or name unknown channels. Each problem names its field."""
    days, start = scenario.horizon.days, scenario.horizon.start
    problems: list[str] = []
    for i, ch in enumerate(scenario.channels):
        spans: list[tuple[int, int, int]] = []
        for j, p in enumerate(ch.budget.periods):
            where = f"channels[{i}]({ch.id}).budget.periods[{j}]"
            first, last = period_days(p, start)
            if first > last:
                problems.append(f"{where}: start {p.start} is after end {p.end}")
                continue
            if first < 0:
                problems.append(
                    f"{where}: [{p.start}, {p.end}] starts before the horizon "
                    f"({start} … {start + dt.timedelta(days=days - 1)}, days 0 to {days - 1})"
                )
            for k, a, b in spans:
                if first <= b and a <= last:
                    problems.append(
                        f"{where}: [{p.start}, {p.end}] overlaps periods[{k}] of the same "
                        f"channel (days {a}…{b}); a day has one budget"
                    )
            spans.append((j, first, last))
    if scenario.spend_file:
        try:
            table = spend_table(scenario.spend_file, scenario.spend_period)
        except ScenarioError as exc:
            return problems + [f"spend_file: {p}" for p in exc.problems]
        unknown = sorted(set(table["channel"]) - set(scenario.channel_ids()))
        if unknown:
            problems.append(
                f"spend_file: unknown channel(s) {unknown} in {scenario.spend_file} "
                f"(this scenario's channels: {scenario.channel_ids()})"
            )
    return problems


def budget_warnings(scenario: Scenario) -> list[str]:
    """Periods and spend-file rows past the horizon's last day: cut, as a shortened horizon
    (``--set horizon.days=90``) cuts dated promotions, not refused."""
    days = scenario.horizon.days
    out = [
        f"channels[{i}]({ch.id}).budget.periods[{j}]: [{p.start}, {p.end}] "
        + ("is past the horizon: not simulated" if first > days - 1 else "is cut at its last day")
        + f" (day {days - 1})"
        for i, ch in enumerate(scenario.channels)
        for j, p in enumerate(ch.budget.periods)
        for first, last in [period_days(p, scenario.horizon.start)]
        if first <= last and last > days - 1
    ]
    if not scenario.spend_file:
        return out
    try:
        table = spend_table(scenario.spend_file, scenario.spend_period)
    except ScenarioError:
        return out
    outside = len(table) - len(_in_horizon(scenario))
    if not outside:
        return out
    return out + [
        f"spend_file: {outside} of {len(table)} rows fall outside the horizon and are skipped"
    ]


def spend_table(path: str, period: str | None = None) -> pd.DataFrame:
    """The spend file at ``path`` (:func:`sim.scenario.spend_file.read_spend`, rows read as
    ``period`` says), read once per process and version of the file: every replication builds
    its budget from it."""
    try:
        st = os.stat(path)
    except OSError:
        return read_spend(path, period=period)  # raises SpendFileError naming the file
    return _cached(str(path), st.st_mtime_ns, st.st_size, period)


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int, period: str | None) -> pd.DataFrame:
    return read_spend(path, period=period)


def _in_horizon(scenario: Scenario) -> pd.DataFrame:
    table = spend_table(str(scenario.spend_file), scenario.spend_period)
    start = pd.Timestamp(scenario.horizon.start)
    day = (table["date"] - start).dt.days
    keep = (day >= 0) & (day < scenario.horizon.days)
    return table[keep].assign(day=day[keep])


def _day(x: dt.date | int, start: dt.date) -> int:
    return (x - start).days if isinstance(x, dt.date) else int(x)
