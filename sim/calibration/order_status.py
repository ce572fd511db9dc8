"""Rows of an order export that are not purchases: by the export's own status column, and
cancellation and return lines by their sign.

Shop back-ends export every order whatever became of it: a Tmall / Taobao export lists closed
(cancelled or refunded, ``交易关闭``) and unpaid (``等待买家付款``) orders next to paid ones,
often with no payment time and an amount of 0. Counted as purchases they inflate repurchase —
the very figure a calibration is for — and their empty payment times would stop the reading as
unreadable rows. So when the export has a status column (found by name, or mapped with
``--columns status=…``), rows whose status is one of :data:`NOT_PURCHASES` are left out before
anything else is read from them, counted by status in the notes. English ``closed`` is not in
the list: some shops (Shopify) close orders that were completed.

    >>> import pandas as pd
    >>> raw = pd.DataFrame({"状态": ["交易成功", "交易关闭", "Cancelled", "交易成功"]})
    >>> kept, dropped = drop_not_purchases(raw, "状态")
    >>> len(kept), dropped
    (2, {'交易关闭': 1, 'Cancelled': 1})

Line-item exports mark what was taken back by its sign: in the UCI Online Retail data (and the
many exports like it) a cancelled invoice's number starts with ``C`` (``C536379``) and its lines
have negative quantities; a return booked without the prefix has a negative quantity too. Read
as orders, these lines would be unreadable rows (an error unless ``--skip-bad-rows``) or, worse,
purchases. :func:`drop_returns` leaves them out before they are read, counted in the notes:

* in a **line-item export** (the amount is quantity × unit price, or ``--line-items``), every
  line with a negative quantity, unit price or amount, ``C`` prefix or not: a return or refund
  line, never a purchase. A line of an order with other, positive lines goes alone: the order
  stays, its amount the sum of the lines bought;
* in an **order-level export** (one row per order with its amount), a row whose order id
  starts with ``C`` (either case) and whose amount is negative: a cancellation. Any other
  negative amount stays an unreadable row: a negative total with no mark of a cancellation is
  as likely a broken export as a refund, and is shown rather than guessed;
* an order id starting with ``C`` with a positive (or zero) amount is an order: shops name
  their orders ``C1001`` too;
* a zero amount is not a return: a free line (a gift, a sample) is part of its order;
* the purchases a cancellation or return takes back still count: the export does not say which
  order it reverses, and the customer did buy. A customer whose only rows are cancellations or
  returns bought nothing in the export, and is no customer of it.

    >>> raw = pd.DataFrame({"InvoiceNo": ["536365", "C536379", "536380", "C1001"],
    ...                     "Quantity": ["6", "-1", "-2", "3"], "UnitPrice": ["2.55"] * 4})
    >>> kept, dropped = drop_returns(raw, ["Quantity", "UnitPrice"], "InvoiceNo", lines=True)
    >>> kept["InvoiceNo"].tolist(), dict(dropped)
    (['536365', 'C1001'], {'cancellation': 1, 'return': 1})
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from sim.scenario.amounts import parse_number
from sim.scenario.spend_file import header_key

NOT_PURCHASES = frozenset(
    {
        "交易关闭",
        "等待买家付款",
        "已取消",
        "订单取消",
        "取消",
        "未付款",
        "待付款",
        "退款成功",
        "已退款",
        "cancelled",
        "canceled",
        "refunded",
        "voided",
        "void",
        "unpaid",
        "pending_payment",
        "payment_failed",
        "failed",
    }
)


def drop_not_purchases(raw: pd.DataFrame, column: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """``raw`` without the rows whose ``column`` is a status of :data:`NOT_PURCHASES`
    (compared as column names are: lower-case, spaces and dashes as ``_``), and how many of
    each status were left out."""
    status = raw[column].astype(str).str.strip()
    out = status.map(header_key).isin(NOT_PURCHASES).to_numpy()
    if not out.any():
        return raw, {}
    return raw[~out], dict(Counter(status[out]))


def note(dropped: Counter, column: str) -> str:
    """The notes' line for the rows left out by their status."""
    counts = ", ".join(f"{s} × {n:,}" for s, n in dropped.most_common())
    return (
        f"{sum(dropped.values()):,} row(s) left out by their status in column '{column}' "
        f"({counts}): cancelled, unpaid or refunded orders are not purchases"
    )


def drop_returns(
    raw: pd.DataFrame,
    numbers: list[str],
    order_id: str | None,
    *,
    lines: bool,
    decimal: str = ".",
) -> tuple[pd.DataFrame, Counter]:
    """``raw`` without its cancellation and return rows (see above), and how many of each
    (``"cancellation"``: the order id starts with ``C``; ``"return"``: the others).

    ``numbers``: the columns whose sign is read (the amount, or quantity and unit price);
    ``order_id``: the order id column, or None; ``lines``: rows are order lines, so any
    negative line goes, else only one whose order id starts with ``C``. A number that cannot
    be read (or is not finite) is no sign of anything: its row stays, to be reported as
    unreadable. The rows kept keep their index (their line in the file)."""
    negative = np.zeros(len(raw), dtype=bool)
    for col in numbers:
        text = raw[col].astype(str)
        minus = text.str.contains("-", regex=False).to_numpy()  # few rows: parse only them
        if minus.any():
            values = parse_number(text[minus].str.strip(), decimal).to_numpy()
            negative[minus] |= np.isfinite(values) & (values < 0)
    if not negative.any():  # the usual chunk: nothing to look up in its order ids
        return raw, Counter()
    marked = np.zeros(len(raw), dtype=bool)  # (looked up on the negative rows only)
    if order_id is not None:
        ids = raw.loc[negative, order_id].astype(str).str.strip().str[:1].str.upper()
        marked[negative] = ids.eq("C").to_numpy()
    out = negative if lines else negative & marked
    if not out.any():
        return raw, Counter()
    counts = Counter(
        {"cancellation": int((out & marked).sum()), "return": int((out & ~marked).sum())}
    )
    return raw[~out], +counts  # + drops the zero counts


def returns_note(dropped: Counter, lines: bool) -> str:
    """The notes' line for the cancellation and return rows left out."""
    parts = []
    if dropped["cancellation"]:
        parts.append(f"{dropped['cancellation']:,} cancellation(s): order id starting with C")
    if dropped["return"]:
        parts.append(f"{dropped['return']:,} return(s): a negative quantity, price or amount")
    what = "line(s)" if lines else "row(s)"
    return (
        f"left out {sum(dropped.values()):,} cancellation/return {what} ({'; '.join(parts)}): "
        "they are not purchases (the purchases they take back still count)"
    )
