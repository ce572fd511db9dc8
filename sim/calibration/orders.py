"""Reading an order export: one row per order with customer, date, amount and channel.

Column names are the user's (``--columns customer=buyer_id,date=paid_at,amount=total,
channel=shop[,order_id=id]``); dates may be in any ISO-like form (``2025-03-01``,
``2025/3/1``, ``2025-03-01 14:05:00``, ``2025-03-01T14:05:00+08:00``, ``20250301``: the
seller's wall-clock date is kept, the time of day dropped), or put the year last when the file
shows whether the day or the month comes first; amounts are plain numbers (a currency sign and
thousands separators are tolerated; a decimal comma when the file's amounts show one,
:mod:`sim.scenario.amounts`). Columns are separated by commas, or by the first of
semicolons, tabs and bars that splits the header.

Every row that cannot be read is reported by its line number (the header is line 1); a row is
never dropped silently: rows that are not purchases (a status saying cancelled or unpaid, a
cancellation or return line) are left out before they are read and counted in the notes
(:mod:`sim.calibration.order_status`). By default one bad row is an error; with
``skip_bad_rows=True`` bad rows are skipped, counted and reported in :attr:`Orders.skipped`.

    >>> import io
    >>> text = "buyer,paid_at,total,shop\\nA,2025-01-02,99,tmall\\nB,2025/1/3,150.5,jd\\n"
    >>> orders = read_orders(io.StringIO(text), columns={"customer": "buyer", "date": "paid_at",
    ...                                                  "amount": "total", "channel": "shop"})
    >>> orders.table["amount"].tolist()
    [99.0, 150.5]
"""

from __future__ import annotations

import csv
import io
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.calibration.order_columns import (
    FIELDS,
    OPTIONAL_FIELDS,
    ColumnPlan,
    OrderColumnsError,
    resolve_columns,
)
from sim.calibration.order_dates import YearLastOrder, parse_dates
from sim.calibration.order_lines import merge_lines
from sim.calibration.order_status import drop_not_purchases, drop_returns, returns_note
from sim.calibration.order_status import note as status_note
from sim.calibration.outliers import implausible
from sim.scenario import ScenarioError
from sim.scenario.amounts import DECIMAL_COMMA_NOTE, decimal_mark, line_amount, parse_amount
from sim.scenario.text_dialect import ENCODINGS, Dialect, delimiter_of, encoding_of

__all__ = ["FIELDS", "OPTIONAL_FIELDS", "Orders", "OrdersError", "parse_columns", "read_orders"]
SHOWN_PROBLEMS = 5  # bad rows listed one by one; the rest are counted
CHUNK_ROWS = 100_000  # rows parsed at once: what bounds the memory of reading a big export
RETURNS_HINT = (
    " (negative amounts: a refund is left out by itself only when its order id starts with C "
    "or a status column says so; --columns status=… names one)"
)


class OrdersError(ScenarioError):
    """The order file cannot be used; ``problems`` name the line and the column."""


@dataclass
class Orders:
    """A clean order table plus what was skipped.

    ``table`` columns: ``line`` (line in the file), ``customer`` (str), ``date``
    (datetime64, midnight), ``amount`` (float, currency), ``channel`` (str), and ``order_id``
    when the file has one.
    """

    table: pd.DataFrame
    source: str
    skipped: list[str] = field(default_factory=list)  # first few problems, line-numbered
    n_skipped: int = 0
    set_aside: list[tuple[int, str]] = field(default_factory=list)  # (rows, why: examples)
    n_set_aside: int = 0  # readable rows that cannot be true (sim.calibration.outliers)
    notes: list[str] = field(default_factory=list)  # columns found or stood in for
    line_orders: int = 0  # with ``line_items``: rows merged into an order listed before

    @property
    def customers(self) -> int:
        return int(self.table["customer"].nunique())


def parse_columns(text: str | None) -> dict[str, str]:
    """``"customer=buyer_id,date=paid_at"`` → ``{"customer": "buyer_id", "date": "paid_at"}``."""
    mapping = {f: f for f in FIELDS}
    if not text:
        return mapping
    problems = []
    for part in text.split(","):
        key, sep, name = part.partition("=")
        key, name = key.strip(), name.strip()
        if not sep or not name:
            problems.append(f"--columns {part!r}: expected FIELD=COLUMN")
        elif key not in FIELDS + OPTIONAL_FIELDS:
            problems.append(
                f"--columns {key!r}: unknown field (known: {', '.join(FIELDS + OPTIONAL_FIELDS)})"
            )
        else:
            mapping[key] = name
    if problems:
        raise OrdersError(problems)
    return mapping


def read_orders(
    path: str | Path | io.StringIO,
    *,
    columns: dict[str, str] | None = None,
    skip_bad_rows: bool = False,
    set_aside_outliers: bool = True,
    line_items: bool = False,
    date_format: str | None = None,
) -> Orders:
    """Read and check an order export. Raises :class:`OrdersError` with line-numbered problems.

    The file is read :data:`CHUNK_ROWS` rows at a time, only the mapped columns, each parsed
    into its typed column at once: the text of a whole export never sits in memory (a 2 M-row,
    85 MB file adds ≈ 3.1× its size to the peak RSS, against 14× read whole:
    ``benchmarks/bench_orders_memory.py``).
    Readable rows that cannot be true (:mod:`sim.calibration.outliers`) are set aside unless
    ``set_aside_outliers=False`` (dates a calibration cannot hold are set aside always).
    Columns not mapped are found by common names, and a missing amount or channel is stood
    in for (:mod:`sim.calibration.order_columns`; said in :attr:`Orders.notes`). With
    ``line_items=True`` the rows are order lines: rows sharing an order id are one order, their
    amounts summed (their customer, date and channel must agree). Cancellation and return rows
    (a ``C…`` order id, a negative line: :func:`sim.calibration.order_status.drop_returns`)
    are left out before they are read, counted in :attr:`Orders.notes`. Dates that put the year last
    are read day or month first as the file's own dates settle it (a second look at the date
    column alone, chunked, said in :attr:`Orders.notes`; :mod:`sim.calibration.order_dates`);
    ``date_format`` (strftime, e.g. ``%m/%d/%Y %H:%M``) reads every date, with no guessing.
    """
    source = str(path) if not isinstance(path, io.StringIO) else "<orders>"
    start = path.tell() if isinstance(path, io.StringIO) else 0
    header, dialect = _read_header(path, source)
    try:
        plan = resolve_columns(header, dict(columns or {}), source)
    except OrderColumnsError as exc:
        raise OrdersError(exc.problems) from None
    mapping = plan.mapping
    if line_items and "order_id" not in mapping:
        raise OrdersError(
            [f"{source}: --line-items needs an order id column (--columns order_id=…)"]
        )
    columns: dict[str, list[pd.Series]] = {}  # each column's chunks, joined one at a time
    messages: list[str] = []  # the first few problems, in line order
    n_bad = 0
    year_last = None  # without a format, the order of year-last dates: decided on the file
    if date_format is None:
        year_last = YearLastOrder(
            lambda: _date_column(path, start, source, header, dialect, mapping)
        )
    decimal = None  # the amounts' decimal mark: decided by the first chunk that shows one
    not_purchases: Counter = Counter()  # rows left out by their status
    returns: Counter = Counter()  # cancellation and return rows left out by their sign
    lines = line_items or plan.amount_from is not None  # rows are order lines
    signed = [] if "amount" in plan.constants else list(plan.amount_from or [mapping["amount"]])
    for first_line, raw in _chunks(path, source, header, dialect, plan.read):
        if "status" in mapping:
            raw, dropped = drop_not_purchases(raw, mapping["status"])
            not_purchases.update(dropped)
        decimal = decimal or _decimal_mark(raw, plan)
        if signed:  # before parsing: a negative amount there is a bad row
            raw, dropped = drop_returns(
                raw, signed, mapping.get("order_id"), lines=lines, decimal=decimal or "."
            )
            returns.update(dropped)
        part, bad = _parse_chunk(raw, plan, first_line, date_format, year_last, decimal or ".")
        n_bad += len(bad)
        for i in sorted(bad)[: max(0, SHOWN_PROBLEMS - len(messages))]:
            messages.append(f"{source}:{part['line'].iloc[i]}: {bad[i]}")
        keep = np.ones(len(part), dtype=bool)
        keep[list(bad)] = False
        for name, col in (part[keep] if bad else part).items():
            columns.setdefault(name, []).append(col)
        del raw, part
        pa.default_memory_pool().release_unused()  # the chunk's text, back to the system
    table = (
        pd.DataFrame(
            {c: pd.concat(columns.pop(c), ignore_index=True) for c in list(columns)}, copy=False
        )
        if columns
        else _empty(mapping)
    )
    dup = np.zeros(len(table), dtype=bool)
    merged = 0
    if line_items:
        table, merged = merge_lines(table, messages, source, shown=SHOWN_PROBLEMS)
    elif "order_id" in mapping:  # a repeated order id keeps its first occurrence
        dup, first = _repeats(table["order_id"])
        shown = max(0, SHOWN_PROBLEMS - len(messages))
        for i, f in zip(np.flatnonzero(dup)[:shown], first[:shown], strict=True):
            messages.append(
                f"{source}:{table['line'].iloc[i]}: order id {table['order_id'].iloc[i]!r} "
                f"repeats line {table['line'].iloc[f]}"
            )
    n_problems = n_bad + int(dup.sum()) + int(table.attrs.pop("conflicts", 0))
    if n_problems and not skip_bad_rows:
        more = f" (and {n_problems - SHOWN_PROBLEMS} more)" if n_problems > SHOWN_PROBLEMS else ""
        lines = " (rows of one order over several lines? pass --line-items)" if dup.any() else ""
        if any("negative amount" in m for m in messages):  # refunds the reader cannot tell
            lines += RETURNS_HINT
        raise OrdersError(
            [
                f"{source}: {n_problems} unreadable row(s){more}; fix them or pass "
                f"--skip-bad-rows{lines}",
                *messages[:SHOWN_PROBLEMS],
            ]
        )
    if dup.any():
        table = table[~dup].reset_index(drop=True)
    table, set_aside = _set_aside(table, source, set_aside_outliers)
    _check_enough(table, source, sum(not_purchases.values()) + sum(returns.values()))
    return Orders(
        table=table,
        source=source,
        skipped=messages[:SHOWN_PROBLEMS],
        n_skipped=n_problems,
        set_aside=set_aside,
        n_set_aside=sum(n for n, _ in set_aside),
        notes=list(plan.notes)
        + ([dialect.note] if dialect.note else [])
        + ([status_note(not_purchases, mapping["status"])] if not_purchases else [])
        + ([returns_note(returns, lines)] if returns else [])
        + ([year_last.note] if year_last and year_last.note else [])
        + ([DECIMAL_COMMA_NOTE] if decimal == "," else []),
        line_orders=merged,
    )


# ---- reading and checking ---------------------------------------------------------------------
def _read_header(path, source: str) -> tuple[list[str], Dialect]:
    """The header's column names (stripped) and how the file is written
    (:mod:`sim.scenario.text_dialect`). A repeated name is an error (pandas would rename
    the second one silently, and which one is meant is anyone's guess)."""
    encoding = ENCODINGS[0]
    try:
        if isinstance(path, io.StringIO):
            pos = path.tell()
            line = path.readline()
            path.seek(pos)
        else:
            encoding = encoding_of(path)
            if encoding is None:
                raise OrdersError(
                    [
                        f"{source}: not a readable CSV file: neither UTF-8 nor GB18030 (GBK) "
                        "text; save it as UTF-8 CSV"
                    ]
                )
            with open(path, encoding=encoding, newline="") as fh:
                line = fh.readline()
    except FileNotFoundError:
        raise OrdersError([f"{source}: no such file"]) from None
    except OSError as exc:
        raise OrdersError([f"{source}: not a readable CSV file ({exc})"]) from None
    if not line.strip():
        raise OrdersError([f"{source}: the file is empty (no header, no orders)"])
    dialect = Dialect(delimiter_of(line), encoding)
    names = [name.strip() for name in next(csv.reader([line], delimiter=dialect.sep))]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise OrdersError(
            [
                f"{source}:1: column '{n}' appears {names.count(n)} times in the header "
                f"(columns {', '.join(str(i + 1) for i, m in enumerate(names) if m == n)}); "
                "rename or remove the extra one"
                for n in repeated
            ]
        )
    return names, dialect


def _chunks(
    path,
    source: str,
    header: list[str],
    dialect: Dialect,
    wanted: list[str],
    only: int | None = None,
):
    """``(line of the chunk's first row, its text in the ``wanted`` columns)``,
    :data:`CHUNK_ROWS` rows at a time (with ``only``, that column alone is parsed). A row with
    more fields than the header is an error (as read whole); a comma ending every line (one
    empty field more) is not."""
    try:
        reader = pd.read_csv(
            path,
            sep=dialect.sep,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            index_col=False,  # never take the first column for an index
            encoding=dialect.encoding,
            chunksize=CHUNK_ROWS,
            usecols=None if only is None else [only],
        )
        line = 2  # line 1 is the header
        while True:
            with warnings.catch_warnings():  # pandas warns about the trailing commas
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                raw = next(reader, None)
            if raw is None:
                return
            if only is None:
                raw.columns = header
                raw = raw[wanted]
            yield line, raw.reset_index(drop=True)
            line += len(raw)
    except pd.errors.EmptyDataError:
        raise OrdersError([f"{source}: the file is empty (no header, no orders)"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise OrdersError([f"{source}: not a readable CSV file ({str(exc).strip()})"]) from None


def _date_column(
    path, start: int, source: str, header: list[str], dialect: Dialect, mapping: dict[str, str]
):
    """The date column alone, chunk by chunk (``(first line, values)``): what decides the order
    of year-last dates, read again from the start of the file (a StringIO from ``start``)."""
    if isinstance(path, io.StringIO):
        path = io.StringIO(path.getvalue())
        path.seek(start)
    only = header.index(mapping["date"])
    for line, raw in _chunks(path, source, header, dialect, [], only=only):
        yield line, raw.iloc[:, 0].astype(str).str.strip()


def _parse_chunk(
    raw: pd.DataFrame,
    plan: ColumnPlan,
    first_line: int,
    date_format: str | None = None,
    year_last: YearLastOrder | None = None,
    decimal: str = ".",
) -> tuple[pd.DataFrame, dict[int, str]]:
    """Typed columns of one chunk and its unreadable rows (position → first problem);
    ``decimal``: the amounts' decimal mark (:mod:`sim.scenario.amounts`)."""
    mapping = plan.mapping
    # the row's position in its chunk (rows left out by their status keep the others' lines)
    table = pd.DataFrame({"line": raw.index.to_numpy(dtype=np.int64) + first_line})
    raw = raw.reset_index(drop=True)
    bad: dict[int, str] = {}
    for fld in FIELDS:
        if fld in plan.constants:
            table[fld] = plan.constants[fld]
            continue
        if fld == "amount" and plan.amount_from is not None:
            values, problems, where = line_amount(raw, plan.amount_from, decimal=decimal)
        elif fld == "amount":
            col = raw[mapping[fld]].astype(str).str.strip()
            (values, problems), where = (
                parse_amount(col, decimal=decimal),
                f"column '{col.name}' (amount)",
            )
        else:
            col = raw[mapping[fld]].astype(str).str.strip()
            parse = _PARSERS.get(fld) or (lambda c: parse_dates(c, date_format, year_last))
            (values, problems), where = parse(col), f"column '{mapping[fld]}' ({fld})"
        table[fld] = values
        for i in np.flatnonzero(problems.notna().to_numpy()):
            bad.setdefault(int(i), f"{where}: {problems.iloc[i]}")
    if "order_id" in mapping:
        table["order_id"] = raw[mapping["order_id"]].astype(str).str.strip()
    return table, bad


def _decimal_mark(raw: pd.DataFrame, plan: ColumnPlan) -> str | None:
    """The decimal mark the chunk's amount text shows (None: whole numbers only, or none read)."""
    if plan.amount_from is not None:
        return decimal_mark(*(raw[c] for c in plan.amount_from))
    return None if "amount" in plan.constants else decimal_mark(raw[plan.mapping["amount"]])


def _empty(mapping: dict[str, str]) -> pd.DataFrame:
    cols = ["line", *FIELDS, *(["order_id"] if "order_id" in mapping else [])]
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})


def _set_aside(
    table: pd.DataFrame, source: str, enabled: bool
) -> tuple[pd.DataFrame, list[tuple[int, str]]]:
    """Drop implausible rows; ``(count, "why: examples")`` per rule. Dates a calibration
    cannot hold go even when ``enabled`` is False."""
    if table.empty:
        return table.assign(date=table["date"].astype("datetime64[ns]")), []
    found = implausible(table["date"], table["amount"].to_numpy(dtype=float))
    if not enabled:
        found = [f for f in found if "can hold" in f.rule]
    drop = np.zeros(len(table), dtype=bool)
    notes = []
    for f in found:
        examples = ", ".join(
            f"line {table['line'].iloc[i]} ({_shown(table, i)})" for i in f.rows[:SHOWN_PROBLEMS]
        )
        more = " …" if f.count > SHOWN_PROBLEMS else ""
        notes.append((f.count, f"{f.rule}: {examples}{more}"))
        drop[f.rows] = True
    if drop.any():
        table = table[~drop].reset_index(drop=True)
    return table.assign(date=table["date"].astype("datetime64[ns]")), notes


def _shown(table: pd.DataFrame, i: int) -> str:
    date = np.datetime_as_string(table["date"].to_numpy()[i], unit="D")
    return f"{date}, amount {table['amount'].iloc[i]:g}"


def _check_enough(table: pd.DataFrame, source: str, left_out: int = 0) -> None:
    if table.empty:
        why = f"{left_out:,} row(s) left out as not purchases" if left_out else "no data rows"
        raise OrdersError([f"{source}: no orders to calibrate from ({why})"])
    if not (table["customer"] != table["customer"].iloc[0]).any():
        raise OrdersError(
            [
                f"{source}: all orders belong to one customer "
                f"({table['customer'].iloc[0]!r}); a customer model needs many"
            ]
        )


def _repeats(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose (non-empty) id is on an earlier row, and for each of them, in row order, the
    row of the id's first occurrence. Ids are compared by 64-bit hashes taken a chunk at a
    time, so 2 M ids never become 2 M Python strings at once; a repeat is confirmed on the ids
    themselves."""
    hashes = np.concatenate(
        [np.zeros(0, np.uint64)]
        + [
            pd.util.hash_array(ids.iloc[i : i + CHUNK_ROWS].to_numpy(dtype=object))
            for i in range(0, len(ids), CHUNK_ROWS)
        ]
    )
    order = np.argsort(hashes, kind="stable")  # equal hashes stay in file order
    hashes = hashes[order]
    again = np.flatnonzero(hashes[1:] == hashes[:-1]) + 1  # sorted positions of repeats
    del hashes
    starts = np.setdiff1d(again - 1, again)  # the first of each run of equal hashes
    rows = order[again]
    first = order[starts[np.searchsorted(starts, again, side="right") - 1]]
    same = ids.iloc[rows].to_numpy(dtype=object) == ids.iloc[first].to_numpy(dtype=object)
    same &= ids.iloc[rows].to_numpy(dtype=object) != ""  # rows without an id never repeat
    dup = np.zeros(len(ids), dtype=bool)
    dup[rows[same]] = True  # not same: a hash collision, not a repeat
    by_row = np.argsort(rows[same])
    return dup, first[same][by_row]


# ---- field parsers: (values, problem or NA) ---------------------------------------------------
def _parse_customer(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    problems = pd.Series(np.where(col == "", "empty customer id", None), index=col.index)
    return col, problems


def _parse_channel(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    problems = pd.Series(np.where(col == "", "empty channel", None), index=col.index)
    return col, problems


_PARSERS = {
    "customer": _parse_customer,
    "channel": _parse_channel,
}


def orders_from_ledger(ledger, scenario, *, start=None) -> pd.DataFrame:
    """A simulated run's orders as an export would show them: order_id, customer_id,
    order_date (ISO), amount (CNY, 2 decimals), channel (the channel id).

    Only meaningful with ``market.scale == 1`` (one simulated customer = one real one).
    """
    o = ledger.orders.sort_values(["day", "customer"], kind="stable").reset_index(drop=True)
    start = pd.Timestamp(start or scenario.horizon.start)
    ids = np.asarray([c.id for c in scenario.channels])
    width = max(5, len(str(int(o["customer"].max()) if len(o) else 0)))
    return pd.DataFrame(
        {
            "order_id": [f"O{i:07d}" for i in range(1, len(o) + 1)],
            "customer_id": [f"C{c:0{width}d}" for c in o["customer"]],
            "order_date": (start + pd.to_timedelta(o["day"], unit="D")).dt.strftime("%Y-%m-%d"),
            "amount": o["revenue"].astype(float).round(2),
            "channel": ids[o["channel"].to_numpy()],
        }
    )
