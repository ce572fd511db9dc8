"""Reading a spend history: one row per day × channel × lever, as an ad platform exports it.

The same file feeds two places: a scenario's ``spend_file:`` (the rows replace the daily budget
of that day, channel and lever) and ``channelsim calibrate --spend`` (the history the response
curves are fitted to). Columns, by field (``columns`` maps field → the file's column name;
without it the common names below are recognised, case-insensitive, as the order reader
does with its ``--columns`` defaults):

* ``date`` — ISO-like (``2025-03-01``, ``2025/3/1``, ``20250301``, a time of day or zone is
  dropped: the seller's wall-clock date is kept);
* ``channel`` — the channel id (as in the scenario / the order file);
* ``lever`` — ``paid``, ``seeding`` or ``private_ops`` (``ads``, ``content``, ``private`` … are
  read as those);
* ``spend`` — currency per day, ≥ 0 (a currency sign and thousands separators are tolerated;
  a decimal comma — ``12,50``, ``1.234,50`` — when the file's amounts show one, decided on the
  whole file as the order reader does: :mod:`sim.scenario.amounts`; in a comma-separated file
  a decimal comma can only come quoted, ``"12,50"``);
* optional ``visits`` and ``clicks`` — per channel and day (give them on one row of the day or
  repeat the same value on each lever's row).

Every problem names its line (the header is line 1) and column, and all of them are reported
at once (the first few by line, the rest counted), so a file is fixed in one pass. What was
decided about the file (a decimal comma) is said in the table's ``attrs["notes"]``.

    >>> import io
    >>> text = 'Date,Shop,Type,Cost\\n2025-01-01,tmall,ads,1200\\n2025/1/2,tmall,paid,"¥1,300"\\n'
    >>> read_spend(io.StringIO(text))[["channel", "lever", "spend"]].values.tolist()
    [['tmall', 'paid', 1200.0], ['tmall', 'paid', 1300.0]]
    >>> german = "date;channel;type;cost\\n2025-01-01;tmall;ads;1.200,50\\n2025-01-02;jd;ads;99\\n"
    >>> table = read_spend(io.StringIO(german))
    >>> table["spend"].tolist(), table.attrs["notes"][0][:44]
    ([1200.5, 99.0], '<spend>: amounts read with a decimal comma (')
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.scenario.amounts import DECIMAL_COMMA_NOTE, decimal_mark, parse_number
from sim.scenario.spend_weeks import PERIODS, spread_weeks, weekly_weekday
from sim.scenario.text_dialect import delimiter_of, encoding_of

LEVERS: tuple[str, ...] = ("paid", "seeding", "private_ops")
FIELDS: tuple[str, ...] = ("date", "channel", "lever", "spend")
OPTIONAL_FIELDS: tuple[str, ...] = ("visits", "clicks")
SHOWN_PROBLEMS = 8  # problems listed by line; the rest are counted

# Column names recognised without ``columns`` (compared lower-case, spaces/dashes as "_").
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "dt", "stat_date", "report_date", "日期"),
    "channel": ("channel", "channel_id", "shop", "platform", "store", "media", "渠道", "平台"),
    "lever": ("lever", "type", "spend_type", "kind", "budget_type", "投放类型", "类型"),
    "spend": ("spend", "cost", "amount", "budget", "spend_cny", "cost_cny", "花费", "消耗"),
    "visits": ("visits", "visitors", "uv", "sessions", "访客", "访客数"),
    "clicks": ("clicks", "click", "点击", "点击量"),
}
# What a lever value may be called in an export → the scenario's lever.
LEVER_NAMES: dict[str, str] = {
    "paid": "paid",
    "ads": "paid",
    "ad": "paid",
    "advertising": "paid",
    "paid_traffic": "paid",
    "广告": "paid",
    "付费": "paid",
    "seeding": "seeding",
    "content": "seeding",
    "kol": "seeding",
    "notes": "seeding",
    "种草": "seeding",
    "private_ops": "private_ops",
    "private": "private_ops",
    "ops": "private_ops",
    "crm": "private_ops",
    "私域": "private_ops",
}

_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_DATE = re.compile(r"^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})(?:[ T].*)?$")
# A spend file's dates are read year first only (unlike an order file's, which calibrate reads
# day or month first when the file settles it): say so rather than only "cannot read".
_YEAR_LAST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}\b")
_YEAR_LAST_HINT = (
    ": a spend file's dates put the year first (e.g. 2025-01-13): day or month first cannot "
    "be told apart by the value alone"
)


class SpendFileError(ScenarioError, ValueError):
    """The spend file cannot be used; ``problems`` name the line and the column."""


def read_spend(
    path: str | Path | io.StringIO,
    *,
    columns: dict[str, str] | None = None,
    period: str | None = None,
) -> pd.DataFrame:
    """Read and check a spend history. Raises :class:`SpendFileError` (line-numbered).

    Returns one row per date × channel × lever, sorted, with columns ``date``
    (datetime64[ns], midnight), ``channel`` (str), ``lever`` (one of :data:`LEVERS`),
    ``spend`` (float ≥ 0) and, when the file has them, ``visits`` and ``clicks`` (float per
    channel and day, NaN where not given); its ``attrs["notes"]`` say what was decided about
    the file (for the user, as :attr:`sim.calibration.orders.Orders.notes` do). Repeated
    date × channel × lever rows are errors (which one is meant is anyone's guess).

    The decimal mark of every number (spend, visits, clicks) is decided once on all of them
    (:func:`sim.scenario.amounts.decimal_mark`): value by value ``1,234`` is either, so the
    file decides, as it does for an order export; a file of whole numbers reads commas as
    thousands separators.

    ``period``: ``"day"`` (a row is a day's spend), ``"week-starting"`` / ``"week-ending"`` (a
    row is the total of the week its date starts / ends, spread evenly over its 7 days:
    :mod:`sim.scenario.spend_weeks`). None reads rows as days but refuses a file whose every
    date falls on one weekday (weekly totals read as days would put a week's spend on one day).
    """
    source = str(path) if not isinstance(path, io.StringIO) else "<spend>"
    raw = _read_text(path, source)
    header = list(raw.columns)
    mapping = _map_columns(header, columns, source)
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    problems: list[tuple[int, str]] = []
    out = pd.DataFrame(index=raw.index)
    numbers = [mapping[f] for f in ("spend", *OPTIONAL_FIELDS) if f in mapping]
    decimal = decimal_mark(*(raw[c] for c in numbers)) or "."  # the whole file decides
    for fld, parse in (
        ("date", parse_dates),
        ("channel", _parse_name),
        ("lever", _parse_lever),
        ("spend", lambda col: parse_amounts(col, decimal=decimal)),
    ):
        values, bad = parse(raw[mapping[fld]].astype(str).str.strip())
        out[fld] = values
        problems += [(lines[i], f"column '{mapping[fld]}' ({fld}): {bad[i]}") for i in bad]
    for fld in OPTIONAL_FIELDS:
        if fld in mapping:
            col = raw[mapping[fld]].astype(str).str.strip()
            values, bad = parse_amounts(col, empty_ok=True, decimal=decimal)
            out[fld] = values
            problems += [(lines[i], f"column '{mapping[fld]}' ({fld}): {bad[i]}") for i in bad]
    if not problems:
        problems += _repeats(out, lines)
        problems += _per_day_conflicts(out, lines, mapping)
    if problems:
        problems.sort()
        more = len(problems) - SHOWN_PROBLEMS
        raise SpendFileError(
            [f"{source}:{line}: {why}" for line, why in problems[:SHOWN_PROBLEMS]]
            + ([f"{source}: … and {more} more problem(s)"] if more > 0 else [])
        )
    if out.empty:
        raise SpendFileError([f"{source}: no spend rows (the file has a header only)"])
    out["date"] = out["date"].astype("datetime64[ns]")
    out = out.sort_values(["date", "channel", "lever"], kind="stable").reset_index(drop=True)
    out = _per_day(out, period, source)
    out.attrs["notes"] = [f"{source}: {DECIMAL_COMMA_NOTE}"] if decimal == "," else []
    return out


def _per_day(table: pd.DataFrame, period: str | None, source: str) -> pd.DataFrame:
    """The rows as days, as ``period`` says (:func:`read_spend`)."""
    if period not in (None, *PERIODS):
        raise SpendFileError([f"{source}: spend period {period!r}: expected {', '.join(PERIODS)}"])
    weekday = weekly_weekday(table["date"]) if period is None else None
    if weekday is not None:
        dates = table["date"].drop_duplicates()
        raise SpendFileError(
            [
                f"{source}: every date is a {weekday} ({len(dates)} dates, "
                f"{dates.iloc[0].date()} … {dates.iloc[-1].date()}): weekly totals? Rows are read "
                "as days (a day without a row spends nothing), which would put each week's spend "
                "on one day. Give one row per day, or say what a row is: --spend-period "
                "(calibrate) or spend_period: (a scenario) week-starting (its date starts the "
                "week) or week-ending (it ends it) spreads each row over its 7 days; day reads "
                "the rows as days after all"
            ]
        )
    if period not in ("week-starting", "week-ending"):
        return table
    days = spread_weeks(table, period)
    overlap = days.duplicated(["date", "channel", "lever"]).to_numpy()
    if overlap.any():
        first = days[overlap].iloc[0]
        raise SpendFileError(
            [
                f"{source}: spend period {period}: rows of {first['channel']} {first['lever']} "
                f"are less than 7 days apart (their weeks overlap on {first['date'].date()}): "
                "not weekly totals"
            ]
        )
    return days


def spend_columns(text: str | None) -> dict[str, str] | None:
    """``"date=day,spend=cost"`` → ``{"date": "day", "spend": "cost"}`` (a ``--columns``-like
    flag for the spend file); None for no text. Unknown fields raise :class:`SpendFileError`."""
    if not text:
        return None
    out, problems = {}, []
    for part in text.split(","):
        key, sep, name = (s.strip() for s in part.partition("="))
        if not sep or not name:
            problems.append(f"spend columns {part!r}: expected FIELD=COLUMN")
        elif key not in FIELDS + OPTIONAL_FIELDS:
            known = ", ".join(FIELDS + OPTIONAL_FIELDS)
            problems.append(f"spend columns {key!r}: unknown field (known: {known})")
        else:
            out[key] = name
    if problems:
        raise SpendFileError(problems)
    return out


# ---- reading and mapping ----------------------------------------------------------------------
def _read_text(path, source: str) -> pd.DataFrame:
    try:
        text = path.getvalue() if isinstance(path, io.StringIO) else None
        if text is None:  # UTF-8, or GBK as Chinese exports often are (text_dialect)
            encoding = encoding_of(path)
            if encoding is None:
                raise SpendFileError(
                    [f"{source}: neither UTF-8 nor GB18030 (GBK) text; save it as a UTF-8 CSV file"]
                )
            with open(path, encoding=encoding, newline="") as fh:
                text = fh.read()
    except FileNotFoundError:
        raise SpendFileError([f"{source}: no such file"]) from None
    except OSError as exc:
        raise SpendFileError([f"{source}: cannot read it ({exc})"]) from None
    text = text.lstrip("\ufeff")
    sep = delimiter_of(text.split("\n", 1)[0])  # a comma, or ; tab | as the header shows
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()  # trailing blank lines
    if not rows:
        raise SpendFileError([f"{source}: the file is empty (no header, no rows)"])
    header = [c.strip() for c in rows[0]]
    repeated = sorted({n for n in header if n and header.count(n) > 1})
    if repeated:
        raise SpendFileError(
            [
                f"{source}:1: column '{n}' appears {header.count(n)} times in the header"
                for n in repeated
            ]
        )
    width = len(header)
    wrong = []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) > width and any(c.strip() for c in row[width:]):
            wrong.append(
                f"{source}:{i}: has {len(row)} fields, the header has {width} "
                "(quote a value with a comma in it)"
            )
    if wrong:
        raise SpendFileError(wrong[:SHOWN_PROBLEMS])
    body = [(row + [""] * width)[:width] for row in rows[1:]]
    return pd.DataFrame(body, columns=header, dtype=str)


def header_key(name: str) -> str:
    """A column name as common names are compared: lower-case, spaces and dashes as ``_``."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _map_columns(header: list[str], columns: dict[str, str] | None, source: str) -> dict:
    """Field → column: the ``columns`` given, else the first common name in the header."""
    given = dict(columns or {})
    unknown = sorted(set(given) - set(FIELDS + OPTIONAL_FIELDS))
    if unknown:
        raise SpendFileError(
            [f"{source}: unknown spend field(s) {', '.join(unknown)} in the column mapping"]
        )
    by_norm = {header_key(h): h for h in header}
    mapping, missing = {}, []
    for fld in FIELDS + OPTIONAL_FIELDS:
        if fld in given:
            if given[fld] not in header:
                missing.append(
                    f"{source}:1: missing column '{given[fld]}' (for {fld}); "
                    f"the header has: {', '.join(header)}"
                )
            else:
                mapping[fld] = given[fld]
            continue
        found = next((by_norm[n] for n in COMMON_NAMES[fld] if n in by_norm), None)
        if found is not None:
            mapping[fld] = found
        elif fld in FIELDS:
            missing.append(
                f"{source}:1: no column for {fld} (looked for "
                f"{', '.join(COMMON_NAMES[fld][:4])} …); the header has: {', '.join(header)}; "
                f"map it, e.g. {fld}=YOUR_COLUMN"
            )
    if missing:
        raise SpendFileError(missing)
    return mapping


# ---- field parsers: (values, {row position: problem}) -----------------------------------------
def parse_dates(col: pd.Series) -> tuple[pd.Series, dict[int, str]]:
    """ISO-like dates → datetime64 (midnight); unreadable ones as ``{position: problem}``."""
    parts = col.str.replace(_TZ, "", regex=True).str.strip().str.extract(_DATE)
    iso = parts[0] + "-" + parts[1].str.zfill(2) + "-" + parts[2].str.zfill(2)
    values = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    bad = {
        int(i): f"cannot read {col.iloc[i]!r} as a date (expected e.g. 2025-03-01)"
        + (_YEAR_LAST_HINT if _YEAR_LAST.match(col.iloc[i]) else "")
        for i in np.flatnonzero(values.isna().to_numpy())
    }
    return values, bad


def parse_amounts(
    col: pd.Series, *, empty_ok: bool = False, decimal: str = "."
) -> tuple[pd.Series, dict[int, str]]:
    """Non-negative finite numbers (``¥``, ``CNY``, thousands separators tolerated; ``decimal``
    the decimal mark, :mod:`sim.scenario.amounts`); an empty cell is NaN when ``empty_ok``,
    else a problem."""
    values = parse_number(col, decimal)
    bad: dict[int, str] = {}
    for i in np.flatnonzero(~np.isfinite(values.to_numpy()) | (values.to_numpy() < 0)):
        text, v = col.iloc[i], values.iloc[i]
        if text == "" and empty_ok:
            continue
        bad[int(i)] = (
            "empty"
            if text == ""
            else f"negative value {text!r}"
            if v < 0
            else f"cannot read {text!r} as a finite number"
        )
    return values, bad


def _parse_name(col: pd.Series) -> tuple[pd.Series, dict[int, str]]:
    return col, {int(i): "empty channel" for i in np.flatnonzero((col == "").to_numpy())}


def _parse_lever(col: pd.Series) -> tuple[pd.Series, dict[int, str]]:
    values = col.map(lambda v: LEVER_NAMES.get(header_key(v)))
    bad = {
        int(i): f"unknown lever {col.iloc[i]!r} (expected {', '.join(LEVERS)})"
        for i in np.flatnonzero(values.isna().to_numpy())
    }
    return values, bad


def _repeats(out: pd.DataFrame, lines: np.ndarray) -> list[tuple[int, str]]:
    keys = ["date", "channel", "lever"]
    dup = out.duplicated(keys, keep=False).to_numpy()
    found = []
    for _, grp in out[dup].groupby(keys, sort=False):
        first = lines[grp.index[0]]
        for i in grp.index[1:]:
            d = grp.loc[i, "date"].date()
            found.append(
                (
                    lines[i],
                    f"{d} {grp.loc[i, 'channel']} {grp.loc[i, 'lever']} repeats line {first}",
                )
            )
    return found


def _per_day_conflicts(out: pd.DataFrame, lines: np.ndarray, mapping: dict) -> list:
    """Visits and clicks are per channel and day: rows of one day must not disagree."""
    found = []
    for fld in OPTIONAL_FIELDS:
        if fld not in out:
            continue
        given = out[out[fld].notna()]
        spread = given.groupby(["date", "channel"])[fld].transform("nunique")
        for i in given.index[(spread > 1).to_numpy()]:
            found.append(
                (
                    lines[i],
                    f"column '{mapping[fld]}' ({fld}): {out.loc[i, fld]:g} disagrees with another "
                    f"row of {out.loc[i, 'date'].date()} {out.loc[i, 'channel']} "
                    f"({fld} are per channel and day)",
                )
            )
    return found
