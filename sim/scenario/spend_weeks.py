"""Spend rows a week apart: telling weekly totals from daily rows, and spreading them over days.

A spend file is read per day: a day without a row spends nothing. An export of weekly totals
(one row per week, dated by the week's first or last day, as marketing-mix data sets and ad
platforms' weekly reports are) read that way would put each week's spend on one day and nothing
on the other six, and a response fit would see seven-day bursts that never happened. So
:func:`weekly_weekday` spots a file whose every date falls on one weekday (the reader then asks
which reading is meant), and :func:`spread_weeks` reads each row as a week's total: a seventh
of its spend, clicks and visits on each day of its week.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"date": pd.to_datetime(["2025-01-06", "2025-01-13", "2025-01-20",
    ...                   "2025-01-27"]), "channel": "tmall", "lever": "paid", "spend": 700.0})
    >>> weekly_weekday(t["date"])
    'Monday'
    >>> days = spread_weeks(t, "week-starting")
    >>> len(days), float(days["spend"].iloc[0]), str(days["date"].iloc[-1].date())
    (28, 100.0, '2025-02-02')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIODS: tuple[str, ...] = ("day", "week-starting", "week-ending")
MIN_WEEKS = 4  # fewer distinct dates on one weekday are no pattern (a short daily test file)
_PER_DAY = ("spend", "visits", "clicks")  # what a week's row totals and its days share


def weekly_weekday(dates: pd.Series) -> str | None:
    """The weekday's name when at least :data:`MIN_WEEKS` distinct dates all fall on it (the
    mark of weekly rows), else None."""
    distinct = pd.DatetimeIndex(pd.unique(dates))
    if len(distinct) < MIN_WEEKS or (distinct.day_of_week != distinct[0].day_of_week).any():
        return None
    return distinct[0].day_name()


def spread_weeks(table: pd.DataFrame, period: str) -> pd.DataFrame:
    """Each row of ``table`` (a :func:`sim.scenario.spend_file.read_spend` table) as the total
    of the 7 days its date starts (``week-starting``) or ends (``week-ending``): one row per day
    with a seventh of its spend, visits and clicks. Rows closer than a week for one channel and
    lever would overlap: the caller checks the result for repeated days."""
    offsets = np.arange(7) if period == "week-starting" else np.arange(-6, 1)
    days = table.loc[table.index.repeat(7)].reset_index(drop=True)
    days["date"] += pd.to_timedelta(np.tile(offsets, len(table)), unit="D")
    for col in _PER_DAY:
        if col in days:
            days[col] = days[col] / 7.0
    return days.sort_values(["date", "channel", "lever"], kind="stable").reset_index(drop=True)
