"""Amounts in an exported file (orders, spend): plain numbers, with a currency sign, thousands
separators or a decimal comma.

Spreadsheets in many locales write twelve and a half as ``12,50`` and 1 234.5 as ``1.234,50``
(and save CSV with semicolons); others write ``1,234.50``. Value by value the two cannot always
be told apart (``1,234`` is either), so the file decides, as its dates decide whether the day or
the month comes first (:mod:`sim.calibration.order_dates`): the decimal mark is a comma when some
amount ends in a comma and one or two digits (``12,50``) and none ends in a point and one or two
digits (``12.50``); otherwise a point, and commas separate thousands.

    >>> import pandas as pd
    >>> col = pd.Series(["12,50", "1.234,5", "7"])
    >>> decimal_mark(col)
    ','
    >>> parse_amount(col, decimal=",")[0].tolist()
    [12.5, 1234.5, 7.0]
    >>> parse_amount(pd.Series(["¥1,234.50", "12"]))[0].tolist()
    [1234.5, 12.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CURRENCY = r"[¥￥$€£\s]|CNY|RMB|EUR"
COMMA_DECIMALS = r"\d,\d{1,2}$"  # 12,50 · 1.234,5
POINT_DECIMALS = r"\d\.\d{1,2}$"  # 12.50 · 1,234.5
DECIMAL_COMMA_NOTE = (
    "amounts read with a decimal comma ('12,50' is 12.5, a point separates thousands): some "
    "end in a comma and one or two digits, none in a point and one or two digits"
)


def decimal_mark(*columns: pd.Series) -> str | None:
    """``","`` if the amounts' text shows a decimal comma and no decimal point, ``"."`` if it
    shows a decimal point, ``None`` if it shows neither (whole numbers only: undecided)."""
    text = pd.concat([c.astype(str).str.strip() for c in columns], ignore_index=True)
    if text.str.contains(POINT_DECIMALS).any():
        return "."
    return "," if text.str.contains(COMMA_DECIMALS).any() else None


def parse_number(col: pd.Series, decimal: str = ".") -> pd.Series:
    """Numbers; a currency sign or thousands separators tolerated; NaN where unreadable."""
    if decimal == ",":
        cleaned = col.str.replace(CURRENCY, "", regex=True).str.replace(".", "", regex=False)
        return pd.to_numeric(cleaned.str.replace(",", ".", regex=False), errors="coerce").astype(
            float
        )
    values = pd.to_numeric(col, errors="coerce").astype(float)  # plain numbers, fast
    other = values.isna().to_numpy()
    if other.any():
        cleaned = col[other].str.replace(f"{CURRENCY}|,", "", regex=True)
        values[other] = pd.to_numeric(cleaned, errors="coerce").astype(float)
    return values


def parse_amount(
    col: pd.Series, what: str = "amount", *, decimal: str = "."
) -> tuple[pd.Series, pd.Series]:
    """(values, problems): each row's number and, where it cannot be one, why (unreadable,
    negative — a return is not an order — or not finite). The order reader leaves
    cancellation and return rows out before (:mod:`sim.calibration.order_status`): a negative
    amount that reaches here is one it could not tell for a return."""
    values = parse_number(col, decimal)
    article = "an" if what[0] in "aeiou" else "a"
    problems = pd.Series([None] * len(col), index=col.index, dtype=object)
    problems[values.isna()] = [f"cannot read {v!r} as {article} {what}" for v in col[values.isna()]]
    neg = values < 0
    problems[neg] = [f"negative {what} {v!r}" for v in col[neg]]
    inf = ~np.isfinite(values.fillna(0))
    problems[inf] = [f"{what} {v!r} is not finite" for v in col[inf]]
    return values, problems


def line_amount(
    raw: pd.DataFrame, cols: tuple[str, str], *, decimal: str = "."
) -> tuple[pd.Series, pd.Series, str]:
    """A line's amount = quantity × unit price; a negative quantity or price is a bad row (the
    order reader leaves return lines out before they get here)."""
    qty, qty_bad = parse_amount(raw[cols[0]].astype(str).str.strip(), "quantity", decimal=decimal)
    price, price_bad = parse_amount(
        raw[cols[1]].astype(str).str.strip(), "unit price", decimal=decimal
    )
    return qty * price, qty_bad.fillna(price_bad), f"columns '{cols[0]}' × '{cols[1]}' (amount)"
