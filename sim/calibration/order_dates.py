"""Reading an order export's dates: the seller's wall-clock date, time of day and zone dropped.

Without a format, dates are read in every form that puts the year first (``2025-03-01``,
``2025/3/1``, ``2025.03.01``, ``20250301``, ``2025-03-01 14:05:00``,
``2025-03-01T14:05:00+08:00``). A date that puts the year last (``12/1/2010 8:26``, as many
spreadsheet exports write it) is day-first in one country and month-first in another, and no
rule can tell ``3/4/2025`` apart: such dates are refused with a hint to pass the format
(``--date-format %m/%d/%Y %H:%M``), which then reads every date of the file.

    >>> import pandas as pd
    >>> values, problems = parse_dates(pd.Series(["12/1/2010 8:26", "1/13/2011 10:05"]),
    ...                                "%m/%d/%Y %H:%M")
    >>> values.dt.strftime("%Y-%m-%d").tolist(), int(problems.notna().sum())
    (['2010-12-01', '2011-01-13'], 0)
"""

from __future__ import annotations

import re

import pandas as pd

_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SEPARATED = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_YEAR_LAST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}\b")


def parse_dates(col: pd.Series, date_format: str | None = None) -> tuple[pd.Series, pd.Series]:
    """``(dates at midnight, problem or None per row)`` for the strings ``col``."""
    if date_format is not None:
        stamp = pd.to_datetime(col, format=date_format, errors="coerce")
        values = stamp.dt.floor("D").astype("datetime64[s]")
        expected = f"in --date-format {date_format}"
    else:
        values, expected = _year_first(col), "(expected e.g. 2025-03-01)"
    problems = pd.Series([None] * len(col), index=col.index, dtype=object)
    bad = values.isna()
    problems[bad] = [_problem(v, expected, date_format) for v in col[bad]]
    return values, problems  # seconds: 9999-01-01 is readable, and set aside later


def _year_first(col: pd.Series) -> pd.Series:
    values = pd.to_datetime(col, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    other = values.isna().to_numpy()  # plain 2025-03-01 above; the other forms here
    if other.any():  # 2025-03-01 14:05:00, the commonest export form, parsed fast too
        stamp = pd.to_datetime(col[other], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        values[other] = stamp.dt.floor("D").astype("datetime64[s]")
        other = values.isna().to_numpy()
    if other.any():
        text = col[other].str.replace(_TZ, "", regex=True).str.strip()
        compact = text.str.replace(_COMPACT, r"\1-\2-\3", regex=True)
        parts = compact.str.extract(_SEPARATED)
        iso = parts[0] + "-" + parts[1].str.zfill(2) + "-" + parts[2].str.zfill(2)
        values[other] = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").astype(
            "datetime64[s]"
        )
    return values


def _problem(value: str, expected: str, date_format: str | None) -> str:
    text = f"cannot read {value!r} as a date {expected}"
    if date_format is None and _YEAR_LAST.match(value):
        return f"{text}: day or month first? pass --date-format, e.g. %m/%d/%Y %H:%M or %d/%m/%Y"
    return text
