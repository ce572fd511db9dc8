"""Order exports from other locales: semicolon- or tab-separated, amounts with a decimal comma
(sim/scenario/amounts.py, the delimiter in sim/calibration/orders.py). The truth is
the amounts the test writes, formatted two ways."""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.calibration.orders import DECIMAL_COMMA_NOTE, read_orders

COLUMNS = {"customer": "kunde", "date": "datum", "amount": "betrag"}


def _european(cents: int) -> str:
    """1234567 cents → '12.345,67' (a point between thousands, a decimal comma)."""
    whole, frac = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{frac:02d}"


def _read(text: str):
    return read_orders(io.StringIO(text), columns=COLUMNS, set_aside_outliers=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 10**9), min_size=2, max_size=30),
    st.sampled_from([";", "\t", "|"]),
)
@example([100, 250_000], ";")  # whole amounts written '1,00', '2.500,00'
def test_decimal_comma_amounts_read_as_written(cents, sep):
    """Amounts written '12.345,67' in a file separated by ``sep`` are read to the cent, the
    decimal comma said in the notes: :func:`_european` always writes two decimals, so even
    whole amounts ('1,00') show the decimal comma (whole numbers without decimals:
    test_the_file_decides_the_decimal_mark)."""
    rows = [sep.join(["kunde", "datum", "betrag"])]
    rows += [
        sep.join([f"c{i % 3}", f"2024-01-{1 + i % 28:02d}", _european(c)])
        for i, c in enumerate(cents)
    ]
    orders = _read("\n".join(rows) + "\n")
    assert orders.table["amount"].round(2).tolist() == [c / 100 for c in cents]
    assert DECIMAL_COMMA_NOTE in orders.notes


@pytest.mark.parametrize(
    "amounts, want",
    [
        (["1,234", "56"], [1234.0, 56.0]),  # whole numbers: commas separate thousands
        (["1,234.50", "12,50"], [1234.5, 1250.0]),  # a decimal point shown: commas are thousands
        (["¥1,234.5", "€7"], [1234.5, 7.0]),
        (["12,5", "3"], [12.5, 3.0]),  # a decimal comma, no decimal point anywhere
    ],
)
def test_the_file_decides_the_decimal_mark(amounts, want):
    rows = ["kunde;datum;betrag"] + [f"c{i};2024-01-0{i + 1};{v}" for i, v in enumerate(amounts)]
    assert _read("\n".join(rows) + "\n").table["amount"].tolist() == want


def test_a_comma_file_with_semicolons_in_a_name_stays_comma_separated():
    text = "kunde,datum,betrag,note;x\nA,2024-01-02,9.5,y\nB,2024-01-09,3,z\n"
    assert _read(text).table["amount"].tolist() == [9.5, 3.0]
