"""Rows of an order export that are not purchases, by the export's own status column.

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
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

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
