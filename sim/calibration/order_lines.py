"""Order lines → orders: the rows of a line-item export (``--line-items``) that share an order
id are one order, its amount their sum.

    >>> import pandas as pd
    >>> lines = pd.DataFrame({"line": [2, 3, 4], "customer": ["A", "A", "B"],
    ...                       "date": ["d1", "d1", "d2"], "amount": [1.5, 2.0, 4.0],
    ...                       "channel": ["all"] * 3, "order_id": ["1", "1", "2"]})
    >>> orders, merged = merge_lines(lines, [], "<orders>", shown=5)
    >>> orders["amount"].tolist(), merged
    ([3.5, 4.0], 1)
"""

from __future__ import annotations

import pandas as pd


def merge_lines(
    table: pd.DataFrame, messages: list[str], source: str, *, shown: int
) -> tuple[pd.DataFrame, int]:
    """One row per order id (its first line's number), amounts summed; and how many lines
    were merged into an order listed before. Lines of one id that disagree on customer, date
    or channel are problems (counted in ``table.attrs["conflicts"]``, listed in ``messages``
    while it holds fewer than ``shown``) and their order is dropped."""
    if table.empty:
        return table, 0
    g = table.groupby("order_id", sort=False)
    firsts = g.first()
    differs = (g[["customer", "date", "channel"]].nunique() > 1).any(axis=1)
    orders = firsts.assign(amount=g["amount"].sum(), line=g["line"].min())
    bad_ids = differs[differs].index
    for oid in bad_ids[: max(0, shown - len(messages))]:
        lines = table.loc[table["order_id"] == oid, "line"].tolist()
        messages.append(
            f"{source}:{lines[1]}: order id {oid!r} has another customer, date or channel "
            f"than line {lines[0]}"
        )
    orders = orders[~differs].reset_index().sort_values("line", kind="stable")
    orders = orders[table.columns].reset_index(drop=True)
    orders.attrs["conflicts"] = len(bad_ids)
    return orders, len(table) - len(orders) - int(table["order_id"].isin(bad_ids).sum())
