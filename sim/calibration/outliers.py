"""Order rows that read fine but cannot be true: set aside before the fit, counted and shown.

One such row is enough to ruin a calibration: an amount of ``1e300`` makes ``basket_units``
3.36e+293; a date in 2099 stretches the period to 2099 (and the fit to minutes); a date in 1900
makes an 11× market. The rules are robust (one wild row cannot move them) and deliberately
loose (a real history never trips them):

* **dates outside the order history** — order dates are grouped into stretches with no gap
  longer than :data:`GAP_DAYS`; a stretch away from the busiest one that holds at most
  :data:`STRAY_SHARE` of the rows (and a tenth of the busiest stretch) is a stray: typed
  years, placeholder dates (``1900-01-01``, ``9999-12-31``). Dates a calibration cannot hold
  at all (outside 1678-2261, the range of the datetime type) are always set aside;
* **amounts beyond** :data:`AMOUNT_FACTOR` **× the median** positive amount.

    >>> import numpy as np, pandas as pd
    >>> dates = pd.Series(pd.to_datetime(["2025-01-01"] * 200 + ["2099-01-01"]))
    >>> found = implausible(dates, np.full(201, 100.0))
    >>> [(r.count, r.rule) for r in found]
    [(1, 'date outside the order history (2025-01-01 … 2025-01-01)')]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

GAP_DAYS = 180  # a longer silence splits the history into separate stretches
STRAY_SHARE = 0.01  # a stretch with at most this share of the rows can be a stray
AMOUNT_FACTOR = 1000  # × the median amount: a 1000-item order where one item is typical
FIRST_DAY, LAST_DAY = np.datetime64("1678-01-01"), np.datetime64("2261-12-31")


@dataclass
class SetAside:
    """Rows one rule sets aside: ``rows`` are positions in the table, ``rule`` says why."""

    rule: str
    rows: np.ndarray

    @property
    def count(self) -> int:
        return len(self.rows)


def implausible(dates: pd.Series, amounts: np.ndarray) -> list[SetAside]:
    """The rules above, applied to one order table (dates as datetime64, any unit)."""
    days = dates.to_numpy().astype("datetime64[D]")
    out = []
    unholdable = (days < FIRST_DAY) | (days > LAST_DAY)
    if unholdable.any():
        out.append(
            SetAside(
                f"date outside {FIRST_DAY} … {LAST_DAY} (what a calibration can hold)",
                np.flatnonzero(unholdable),
            )
        )
    stray, first, last = _stray_dates(days, ~unholdable)
    if stray.any():
        out.append(
            SetAside(f"date outside the order history ({first} … {last})", np.flatnonzero(stray))
        )
    positive = amounts[amounts > 0]
    if len(positive):
        fence = AMOUNT_FACTOR * float(np.median(positive))
        huge = amounts > fence
        if huge.any():
            out.append(
                SetAside(
                    f"amount above {AMOUNT_FACTOR} × the median amount ({fence:,.2f})",
                    np.flatnonzero(huge),
                )
            )
    return out


def _stray_dates(
    days: np.ndarray, usable: np.ndarray
) -> tuple[np.ndarray, np.datetime64 | None, np.datetime64 | None]:
    """Rows whose date lies in a small stretch away from the busiest one; the kept range.
    Counts per calendar day (at most 213 k of them), so millions of rows cost no sort."""
    stray = np.zeros(len(days), dtype=bool)
    if not usable.any():
        return stray, None, None
    offset = days[usable].astype(np.int64)
    first_day = int(offset.min())
    offset -= first_day
    counts = np.bincount(offset)
    unique = np.flatnonzero(counts)
    stretch = np.concatenate([[0], np.cumsum(np.diff(unique) > GAP_DAYS)])
    sizes = np.bincount(stretch, weights=counts[unique]).astype(np.int64)
    busiest = int(np.argmax(sizes))
    limit = min(max(1.0, STRAY_SHARE * len(offset)), sizes[busiest] / 10)
    strays = np.flatnonzero(sizes <= limit)
    strays = strays[strays != busiest]
    stray_day = np.zeros(len(counts), dtype=bool)
    stray_day[unique[np.isin(stretch, strays)]] = True
    stray[usable] = stray_day[offset]
    kept = unique[~stray_day[unique]]
    lo, hi = (np.datetime64(first_day + int(d), "D") for d in (kept.min(), kept.max()))
    return stray, lo, hi
