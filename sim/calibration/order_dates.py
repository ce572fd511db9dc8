"""Reading an order export's dates: the seller's wall-clock date, time of day and zone dropped.

Without a format, dates are read in every form that puts the year first (``2025-03-01``,
``2025/3/1``, ``2025.03.01``, ``20250301``, ``2025-03-01 14:05:00``,
``2025-03-01T14:05:00+08:00``). A date that puts the year last (``12/1/2010 8:26``, as many
spreadsheet exports write it; ``/``, ``-`` or ``.`` between the fields, a time of day
optional) is day-first in one country and month-first in another, and ``3/4/2025`` alone
cannot say which. The file as a whole often can: :class:`YearLastOrder` looks at the whole
date column once, and a date that is a calendar date one way only (``1/13/2011``: there is no
13th month) decides for every year-last date of the file, said in a note. A file with
evidence both ways (mixed) or none (every day ≤ 12: ambiguous) has its year-last dates refused
with a hint to pass the format (``--date-format %m/%d/%Y %H:%M``), which reads every date of
the file and always wins. Two-digit years (``12/1/10``) are refused.

    >>> import pandas as pd
    >>> col = pd.Series(["12/1/2010 8:26", "1/13/2011 10:05", "2011-01-14"])
    >>> order = YearLastOrder(lambda: [(2, col)])  # the whole column, (first line, values)
    >>> values, problems = parse_dates(col, year_last=order)
    >>> values.dt.strftime("%Y-%m-%d").tolist(), int(problems.notna().sum())
    (['2010-12-01', '2011-01-13', '2011-01-14'], 0)
    >>> for part in order.note.split("; "):
    ...     print(part)
    dates read month first (e.g. '1/13/2011 10:05' on line 3: no 13th month)
    pass --date-format to override
    >>> values, _ = parse_dates(col[:1], "%d/%m/%Y %H:%M")  # a format wins
    >>> values.dt.strftime("%Y-%m-%d").tolist()
    ['2010-01-12']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SEPARATED = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
_YEAR_LAST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}\b")
# d/m/Y or m/d/Y (one separator throughout: s1 == s2), then an optional time of day, AM/PM
# and zone; RE2 syntax: pyarrow matches it in C++, a chunk at once, not value by value
_YEAR_LAST_PARTS = (
    r"^(?P<a>\d{1,2})(?P<s1>[-/.])(?P<b>\d{1,2})(?P<s2>[-/.])(?P<y>\d{4})"
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?"
    r"(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?)?$"
)
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_HOW = "pass --date-format, e.g. %m/%d/%Y %H:%M or %d/%m/%Y"


class YearLastOrder:
    """Whether a file's year-last dates put the day or the month first, decided once for the
    whole date column, so that every chunk of a file is read the same way.

    ``column()`` yields ``(line of its first value, values)`` chunk by chunk; it is called
    (once) only when a year-last date turns up, so a year-first file costs nothing more. A
    date that is a calendar date one way only decides (``1/13/2011``: month first, as there is
    no 13th month; ``13/1/2011``: day first). A file with both kinds is ``"mixed"``, one with
    neither (``3/4/2025`` only) ``"ambiguous"``: their year-last dates stay unreadable, with a
    hint to pass ``--date-format``.
    """

    def __init__(self, column: Callable[[], Iterable[tuple[int, pd.Series]]]) -> None:
        self._column = column
        self.verdict: str | None = None  # "day", "month", "mixed" or "ambiguous" once scanned
        self.example: dict[str, tuple[str, int]] = {}  # "day"/"month" → (value, its line)

    def add(self, col: pd.Series, first_line: int) -> None:
        """The evidence in one chunk of the column (the first date of each kind is kept)."""
        rows, a, b, y = _year_last_parts(col)
        month_first, day_first = _is_date(y, a, b), _is_date(y, b, a)
        for kind, only in (("month", month_first & ~day_first), ("day", day_first & ~month_first)):
            if kind not in self.example and only.any():
                row = int(rows[np.argmax(only)])
                self.example[kind] = (str(col.iloc[row]).strip(), first_line + row)

    def decide(self) -> str:
        """The verdict, scanning the column the first time it is asked for."""
        if self.verdict is None:
            for first_line, col in self._column():
                self.add(col, first_line)
                if len(self.example) == 2:  # mixed: nothing later can change that
                    break
            kinds = list(self.example)
            self.verdict = "mixed" if len(kinds) == 2 else kinds[0] if kinds else "ambiguous"
        return self.verdict

    @property
    def note(self) -> str | None:
        """What was assumed, for the user (None unless the dates were read by inference)."""
        if self.verdict not in ("day", "month"):
            return None
        value, line = self.example[self.verdict]
        a, b = (int(x) for x in re.split(r"[-/.]", value, maxsplit=2)[:2])
        other = b if self.verdict == "month" else a  # the month of the reading refused
        return (
            f"dates read {self.verdict} first (e.g. {value!r} on line {line}: no "
            f"{_ordinal(other)} month); pass --date-format to override"
        )


def parse_dates(
    col: pd.Series, date_format: str | None = None, year_last: YearLastOrder | None = None
) -> tuple[pd.Series, pd.Series]:
    """``(dates at midnight, problem or None per row)`` for the strings ``col``; year-last
    dates in the order ``year_last`` decides (without it they are refused)."""
    if date_format is not None:
        stamp = pd.to_datetime(col, format=date_format, errors="coerce")
        values = stamp.dt.floor("D").astype("datetime64[s]")
        expected = f"in --date-format {date_format}"
    else:
        values, expected = _year_first(col, year_last), "(expected e.g. 2025-03-01)"
    problems = pd.Series([None] * len(col), index=col.index, dtype=object)
    bad = values.isna()
    problems[bad] = [_problem(v, expected, date_format, year_last) for v in col[bad]]
    return values, problems  # seconds: 9999-01-01 is readable, and set aside later


def _read_year_last(col: pd.Series, values: pd.Series, year_last: YearLastOrder) -> None:
    """Fill ``values`` where ``col`` holds a year-last date, in the file's order, if it has
    one (asking for it scans the file's date column, once)."""
    other = values.isna().to_numpy()
    if not other.any():
        return
    rows, month, day, year = _year_last_parts(col[other])
    if not len(rows) or year_last.decide() not in ("day", "month"):
        return
    if year_last.verdict == "day":
        month, day = day, month
    stamp = pd.to_datetime(  # an impossible date (30 February) stays NaT: a bad row
        pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce"
    )
    values.iloc[np.flatnonzero(other)[rows]] = stamp.astype("datetime64[s]").to_numpy()


def _year_last_parts(text: pd.Series) -> tuple[np.ndarray, ...]:
    """``(positions, a, b, y)``: where ``text`` holds an ``a/b/y`` date, and its fields."""
    arr = pc.utf8_trim_whitespace(pa.array(text, from_pandas=True))
    found = pc.extract_regex(arr, _YEAR_LAST_PARTS)
    ok = pc.and_(found.is_valid(), pc.equal(found.field("s1"), found.field("s2")))
    ok = pc.fill_null(ok, False).to_numpy(zero_copy_only=False)
    found = found.filter(pa.array(ok))
    a, b, y = (pc.cast(found.field(f), pa.int64()).to_numpy() for f in "aby")
    return np.flatnonzero(ok), a, b, y


def _is_date(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether day ``d`` of month ``m`` of year ``y`` is on the (proleptic Gregorian) calendar."""
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    last = _MONTH_DAYS[np.clip(m, 0, 12)] + ((m == 2) & leap)
    return (m >= 1) & (m <= 12) & (d >= 1) & (d <= last)


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _year_first(col: pd.Series, year_last: YearLastOrder | None = None) -> pd.Series:
    decided = year_last is not None and year_last.verdict in ("day", "month")
    if decided:  # a year-last file: those first
        values = pd.Series(pd.NaT, index=col.index, dtype="datetime64[s]")
        _read_year_last(col, values, year_last)
        other = values.isna().to_numpy()
        iso = pd.to_datetime(col[other], format="%Y-%m-%d", errors="coerce")
        values[other] = iso.astype("datetime64[s]")
    else:
        values = pd.to_datetime(col, format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    other = values.isna().to_numpy()  # plain 2025-03-01 above; the other forms here
    if other.any():  # 2025-03-01 14:05:00, the commonest export form, parsed fast too
        stamp = pd.to_datetime(col[other], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        values[other] = stamp.dt.floor("D").astype("datetime64[s]")
        other = values.isna().to_numpy()
    if other.any() and year_last is not None and not decided:  # before the slow regex forms
        _read_year_last(col, values, year_last)
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


def _problem(
    value: str, expected: str, date_format: str | None, year_last: YearLastOrder | None
) -> str:
    text = f"cannot read {value!r} as a date {expected}"
    if date_format is not None or not _YEAR_LAST.match(value):
        return text
    verdict = year_last.verdict if year_last is not None else None
    if verdict == "mixed":
        seen = sorted((line, v, kind) for kind, (v, line) in year_last.example.items())
        both = " but ".join(f"{v!r} on line {line} is {kind} first" for line, v, kind in seen)
        return f"{text}: day or month first? mixed: {both}; {_HOW}"
    if verdict == "ambiguous":
        return (
            f"{text}: day or month first? ambiguous: no date of the file reads one way only "
            f"(as 13/1/2011 or 1/13/2011 would); {_HOW}"
        )
    if verdict in ("day", "month"):  # read in the file's order, and not a date that way
        example, line = year_last.example[verdict]
        return (
            f"{text}: not a date read {verdict} first, as {example!r} on line {line} must be; "
            "pass --date-format to read the file otherwise"
        )
    return f"{text}: day or month first? {_HOW}"
