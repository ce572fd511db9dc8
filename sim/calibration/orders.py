"""Reading an order export: one row per order with customer, date, amount and channel.

Column names are the user's (``--columns customer=buyer_id,date=paid_at,amount=total,
channel=shop[,order_id=id]``); dates may be in any ISO-like form (``2025-03-01``,
``2025/3/1``, ``2025-03-01 14:05:00``, ``2025-03-01T14:05:00+08:00``, ``20250301``: the
seller's wall-clock date is kept, the time of day dropped); amounts are plain numbers
(a currency sign and thousands separators are tolerated).

Every row that cannot be read is reported by its line number (the header is line 1); a row is
never dropped silently. By default one bad row is an error; with ``skip_bad_rows=True`` bad rows
are skipped, counted and reported in :attr:`Orders.skipped`.

    >>> import io
    >>> text = "buyer,paid_at,total,shop\\nA,2025-01-02,99,tmall\\nB,2025/1/3,150.5,jd\\n"
    >>> orders = read_orders(io.StringIO(text), columns={"customer": "buyer", "date": "paid_at",
    ...                                                  "amount": "total", "channel": "shop"})
    >>> orders.table["amount"].tolist()
    [99.0, 150.5]
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.scenario import ScenarioError

FIELDS: tuple[str, ...] = ("customer", "date", "amount", "channel")
OPTIONAL_FIELDS: tuple[str, ...] = ("order_id",)
SHOWN_PROBLEMS = 5  # bad rows listed one by one; the rest are counted

_TZ = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SEPARATED = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")


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
) -> Orders:
    """Read and check an order export. Raises :class:`OrdersError` with line-numbered problems."""
    mapping = {f: f for f in FIELDS} | dict(columns or {})
    source = str(path) if not isinstance(path, io.StringIO) else "<orders>"
    raw = _read_csv(path, source)
    _check_header(raw, mapping, source)
    lines = np.arange(len(raw)) + 2  # line 1 is the header
    table = pd.DataFrame({"line": lines})
    bad: dict[int, str] = {}
    for fld in FIELDS:
        values, problems = _PARSERS[fld](raw[mapping[fld]].astype(str).str.strip())
        table[fld] = values
        for i in np.flatnonzero(problems.notna().to_numpy()):
            bad.setdefault(int(i), f"column '{mapping[fld]}' ({fld}): {problems.iloc[i]}")
    if "order_id" in mapping:
        table["order_id"] = raw[mapping["order_id"]].astype(str).str.strip()
    keep = np.ones(len(table), dtype=bool)
    keep[list(bad)] = False
    messages = [f"{source}:{lines[i]}: {bad[i]}" for i in sorted(bad)]
    if "order_id" in mapping:
        messages += _duplicate_ids(table[keep], source)
    if messages and not skip_bad_rows:
        more = (
            f" (and {len(messages) - SHOWN_PROBLEMS} more)"
            if len(messages) > SHOWN_PROBLEMS
            else ""
        )
        raise OrdersError(
            [
                f"{source}: {len(messages)} unreadable row(s){more}; fix them or pass "
                "--skip-bad-rows",
                *messages[:SHOWN_PROBLEMS],
            ]
        )
    table = table[keep].reset_index(drop=True)
    if "order_id" in table:  # when skipping, a repeated order id keeps its first occurrence
        table = table[~(table["order_id"].duplicated() & (table["order_id"] != ""))]
        table = table.reset_index(drop=True)
    _check_enough(table, source)
    return Orders(
        table=table, source=source, skipped=messages[:SHOWN_PROBLEMS], n_skipped=len(messages)
    )


# ---- reading and checking ---------------------------------------------------------------------
def _read_csv(path, source: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise OrdersError([f"{source}: no such file"]) from None
    except pd.errors.EmptyDataError:
        raise OrdersError([f"{source}: the file is empty (no header, no orders)"]) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise OrdersError([f"{source}: not a readable CSV file ({exc})"]) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _check_header(raw: pd.DataFrame, mapping: dict[str, str], source: str) -> None:
    missing = [
        f"{source}:1: missing column '{col}' (for {fld}); the header has: {', '.join(raw.columns)}"
        for fld, col in mapping.items()
        if col not in raw
    ]
    if missing:
        raise OrdersError(
            missing
            + ["map your column names with --columns customer=...,date=...,amount=...,channel=..."]
        )


def _check_enough(table: pd.DataFrame, source: str) -> None:
    if table.empty:
        raise OrdersError([f"{source}: no orders to calibrate from (the file has no data rows)"])
    if table["customer"].nunique() < 2:
        raise OrdersError(
            [
                f"{source}: all orders belong to one customer "
                f"({table['customer'].iloc[0]!r}); a customer model needs many"
            ]
        )


def _duplicate_ids(table: pd.DataFrame, source: str) -> list[str]:
    ids = table["order_id"]
    dup = ids.duplicated(keep="first") & (ids != "")
    first_line = table.drop_duplicates("order_id").set_index("order_id")["line"]
    return [
        f"{source}:{line}: order id {oid!r} repeats line {first_line[oid]}"
        for line, oid in zip(table["line"][dup], ids[dup], strict=True)
    ]


# ---- field parsers: (values, problem or NA) ---------------------------------------------------
def _parse_customer(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    problems = pd.Series(np.where(col == "", "empty customer id", None), index=col.index)
    return col, problems


def _parse_channel(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    problems = pd.Series(np.where(col == "", "empty channel", None), index=col.index)
    return col, problems


def _parse_amount(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    cleaned = col.str.replace(r"[¥￥$,\s]|CNY|RMB", "", regex=True)
    values = pd.to_numeric(cleaned, errors="coerce").astype(float)
    problems = pd.Series([None] * len(col), index=col.index, dtype=object)
    problems[values.isna()] = [f"cannot read {v!r} as an amount" for v in col[values.isna()]]
    neg = values < 0
    problems[neg] = [f"negative amount {v!r}" for v in col[neg]]
    inf = ~np.isfinite(values.fillna(0))
    problems[inf] = [f"amount {v!r} is not finite" for v in col[inf]]
    return values, problems


def _parse_date(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO-like dates; the local date is kept (time of day and time zone dropped)."""
    text = col.str.replace(_TZ, "", regex=True).str.strip()
    compact = text.str.replace(_COMPACT, r"\1-\2-\3", regex=True)
    parts = compact.str.extract(_SEPARATED)
    iso = parts[0] + "-" + parts[1].str.zfill(2) + "-" + parts[2].str.zfill(2)
    values = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    problems = pd.Series([None] * len(col), index=col.index, dtype=object)
    problems[values.isna()] = [
        f"cannot read {v!r} as a date (expected e.g. 2025-03-01)" for v in col[values.isna()]
    ]
    return values.astype("datetime64[ns]"), problems


_PARSERS = {
    "customer": _parse_customer,
    "date": _parse_date,
    "amount": _parse_amount,
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
