"""Cancellations and returns in order exports (sim/calibration/order_status.py, drop_returns):
the UCI Online Retail convention (an invoice number starting with C, negative quantities) and
negative lines in general are left out before the history is read, counted in the notes, and
never count as purchases. The truth is worked out by hand (or, in the property test, from the
invoices the test itself draws), never by the reader."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.calibration.order_columns import resolve_columns
from sim.calibration.orders import OrdersError, read_orders
from sim.commands.cli import main

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
# line numbers (the header is line 1) on the right, and what each row is
UCI = (
    "\n".join(
        [
            UCI_HEADER,
            "536365,85123A,HANGING HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",  # 2
            "536365,71053,METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",  # 3
            "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom",  # 4 cancelled
            "536367,84879,BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047,United Kingdom",  # 5
            "C536383,35004C,CAKE TINS,-1,2010-12-01 09:49:00,4.65,13047,United Kingdom",  # 6
            "536368,22960,JAM MAKING SET,6,2010-12-03 08:34:00,4.25,13047,United Kingdom",  # 7
            "536368,22961,FREE GIFT,1,2010-12-03 08:34:00,0,13047,United Kingdom",  # 8 zero amount
            "536369,21756,BATH BUILDING BLOCK,3,2010-12-03 09:00:00,5.95,17850,United Kingdom",  # 9
            "536370,22728,ALARM CLOCK PINK,-2,2010-12-05 10:00:00,3.75,12583,France",  # 10 a return
            "536371,22727,ALARM CLOCK RED,4,2010-12-05 10:00:00,3.75,12583,France",  # 11
            "536372,22728,ALARM CLOCK PINK,2,2010-12-06 11:00:00,3.75,,United Kingdom",  # 12 no id
            "c536373,22728,ALARM CLOCK PINK,-3,2010-12-06 11:00:00,3.75,,United Kingdom",  # 13 c…
            "C536374,POST,POSTAGE,1,2010-12-07 12:00:00,18.00,12583,France",  # 14 C, yet bought
        ]
    )
    + "\n"
)
# By hand: the orders that remain, their customer and amount (quantity × unit price, summed).
UCI_ORDERS = {
    "536365": ("17850", 6 * 2.55 + 6 * 3.39),  # 35.64
    "536367": ("13047", 32 * 1.69),  # 54.08
    "536368": ("13047", 6 * 4.25 + 1 * 0.0),  # 25.50: a free line is part of its order
    "536369": ("17850", 3 * 5.95),  # 17.85
    "536371": ("12583", 4 * 3.75),  # 15.00: the return of 536370 takes nothing from it
    "C536374": ("12583", 1 * 18.00),  # a C order id with a positive line is an order
}


def _read(text: str, **kw):
    return read_orders(io.StringIO(text), line_items=True, set_aside_outliers=False, **kw)


def _by_id(orders) -> dict[str, tuple[str, float]]:
    t = orders.table
    return {
        o: (c, round(a, 2))
        for o, c, a in zip(t["order_id"], t["customer"], t["amount"], strict=True)
    }


def test_uci_cancellations_and_returns_are_left_out_and_counted():
    orders = _read(UCI, skip_bad_rows=True)
    assert _by_id(orders) == {k: (c, round(a, 2)) for k, (c, a) in UCI_ORDERS.items()}
    # 14527's only row is a cancellation: no customer of the export
    assert sorted(set(orders.table["customer"])) == ["12583", "13047", "17850"]
    assert orders.customers == 3
    assert orders.n_skipped == 1  # line 12: no customer id (line 13's is a cancellation)
    assert orders.skipped == ["<orders>:12: column 'CustomerID' (customer): empty customer id"]
    assert orders.line_orders == 2  # lines 3 and 8 joined their orders
    note = next(n for n in orders.notes if "cancellation/return" in n)
    assert note.startswith("left out 4 cancellation/return line(s) (3 cancellation(s): order id")
    assert "1 return(s): a negative quantity, price or amount" in note


def test_a_blank_customer_is_still_an_unreadable_row():
    with pytest.raises(OrdersError) as exc:
        _read(UCI)
    text = "\n".join(exc.value.problems)
    assert "1 unreadable row(s); fix them or pass --skip-bad-rows" in text
    assert "<orders>:12: column 'CustomerID' (customer): empty customer id" in text
    assert ":4:" not in text and ":10:" not in text and ":13:" not in text


def test_a_line_is_left_out_alone_and_a_negative_price_is_a_refund():
    """A returned line of an order with other lines: the order stays with what was bought. A
    negative unit price ("Adjust bad debt" in the UCI data) makes a negative amount."""
    text = "\n".join(
        [
            UCI_HEADER,
            "1,A,x,2,2011-01-03 10:00:00,5.00,100,UK",
            "1,B,x,-1,2011-01-03 10:00:00,5.00,100,UK",
            "1,C,x,1,2011-01-03 10:00:00,1.50,100,UK",
            "A2,B,Adjust bad debt,1,2011-01-04 10:00:00,-11062.06,200,UK",
            "3,A,x,1,2011-01-05 10:00:00,7.25,200,UK",
        ]
    )
    orders = _read(text + "\n")
    assert _by_id(orders) == {"1": ("100", 11.5), "3": ("200", 7.25)}  # 2 × 5 + 1.5
    assert "left out 2 cancellation/return line(s) (2 return(s)" in " ".join(orders.notes)


def test_every_row_left_out_says_so():
    text = UCI_HEADER + "\nC1,A,x,-1,2011-01-03 10:00:00,5,100,UK\nC2,A,x,-2,2011-01-04,5,101,UK\n"
    with pytest.raises(OrdersError, match=r"no orders to calibrate from \(2 row\(s\) left out"):
        _read(text)


# ---- order-level exports: one row per order, an amount column --------------------------------
ORDER_LEVEL = (
    "order_id,customer,date,amount\n"
    "1001,A,2025-01-02,99\n"
    "C1002,A,2025-01-09,-99\n"  # a cancellation: left out
    "C1003,B,2025-01-10,40\n"  # an order named C…: kept
    "1004,B,2025-02-01,12.5\n"
)


def test_order_level_cancellations_go_and_other_negative_totals_stay_bad_rows():
    orders = read_orders(io.StringIO(ORDER_LEVEL), set_aside_outliers=False)
    assert _by_id(orders) == {"1001": ("A", 99.0), "C1003": ("B", 40.0), "1004": ("B", 12.5)}
    assert "left out 1 cancellation/return row(s) (1 cancellation(s)" in " ".join(orders.notes)
    # a negative total without the mark of a cancellation is shown, not guessed at
    with pytest.raises(OrdersError, match=r"<orders>:6: column 'amount' \(amount\): negative"):
        read_orders(io.StringIO(ORDER_LEVEL + "1005,C,2025-02-02,-5\n"))


def test_uci_and_online_retail_ii_headers_need_no_columns():
    plan = resolve_columns(UCI_HEADER.split(","), {})
    assert plan.mapping == {
        "customer": "CustomerID",
        "date": "InvoiceDate",
        "order_id": "InvoiceNo",
    }
    assert plan.amount_from == ("Quantity", "UnitPrice")
    ii = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
    plan = resolve_columns(ii.split(","), {})
    assert plan.mapping == {"customer": "Customer ID", "date": "InvoiceDate", "order_id": "Invoice"}
    assert plan.amount_from == ("Quantity", "Price")
    # the same rows under the Online Retail II names read the same
    body = UCI.split("\n", 1)[1]
    assert _by_id(_read(ii + "\n" + body, skip_bad_rows=True)) == _by_id(
        _read(UCI, skip_bad_rows=True)
    )


# ---- a property: whatever the mix, the orders are the invoices bought -------------------------
_invoice = st.tuples(
    st.integers(0, 4),  # customer
    st.integers(1, 28),  # day of January
    st.lists(st.tuples(st.integers(1, 50), st.integers(0, 5000)), min_size=1, max_size=4),
)  # lines: (quantity, unit price in cents)
_taken_back = st.tuples(
    st.integers(0, 6),  # customer: 5 and 6 never buy
    st.booleans(),  # with a C prefix (a cancellation) or without (a return)
    st.integers(-50, -1),  # quantity
    st.integers(0, 5000),  # unit price in cents
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_invoice, min_size=2, max_size=12), st.lists(_taken_back, max_size=8), st.randoms())
def test_orders_are_the_invoices_bought_whatever_is_taken_back(invoices, taken_back, rnd):
    blocks, want = [], {}  # the lines of one invoice stay together, as exports write them
    for i, (cust, day, lines) in enumerate(invoices):
        oid = f"{540000 + i}"
        want[oid] = (f"c{cust}", round(sum(q * p for q, p in lines) / 100, 2))
        date = f"2011-01-{day:02d} 10:00:00"
        blocks.append([f"{oid},S,x,{q},{date},{p / 100:.2f},c{cust},UK" for q, p in lines])
    for j, (cust, prefix, q, p) in enumerate(taken_back):
        oid = f"{'C' if prefix else ''}{550000 + j}"
        blocks.append([f"{oid},S,x,{q},2011-01-15 10:00:00,{p / 100:.2f},c{cust},UK"])
    rnd.shuffle(blocks)
    text = UCI_HEADER + "\n" + "\n".join(r for b in blocks for r in b) + "\n"
    if len({c for c, _ in want.values()}) < 2:  # one customer: refused, as any such export
        with pytest.raises(OrdersError, match="one customer"):
            _read(text)
        return
    orders = _read(text)
    assert _by_id(orders) == want
    assert orders.customers == len({c for c, _ in want.values()})
    note = [n for n in orders.notes if "cancellation/return" in n]
    if taken_back:
        assert note and note[0].startswith(f"left out {len(taken_back)} cancellation/return")
        cancelled = sum(1 for _, prefix, _, _ in taken_back if prefix)
        assert (f"{cancelled} cancellation(s)" in note[0]) == (cancelled > 0)
    else:
        assert not note


# ---- the command line ---------------------------------------------------------------------------
def _export(tmp_path) -> tuple:
    """40 customers buying 2–4 orders of 11.00 (2 × 3.50 + 1 × 4.00) over 12 weeks; each
    customer's first order cancelled once (C…), every fifth one returns a line without the
    prefix, customer 9999 only ever cancels, and 3 lines have no customer id."""
    rows = [UCI_HEADER]
    n_orders = n_taken_back = 0
    for c in range(40):
        for k in range(2 + c % 3):
            day = 1 + (c * 5 + k * 19) % 84
            date = f"2011-{1 + day // 28:02d}-{1 + day % 28:02d} 10:00:00"
            rows += [
                f"{c}-{k},A,x,2,{date},3.50,{1000 + c},UK",
                f"{c}-{k},B,x,1,{date},4.00,{1000 + c},UK",
            ]
            n_orders += 1
        rows.append(f"C{c}-0,A,x,-2,2011-02-01 11:00:00,3.50,{1000 + c},UK")
        n_taken_back += 1
        if c % 5 == 0:
            rows.append(f"R{c},B,x,-1,2011-02-02 11:00:00,4.00,{1000 + c},UK")
            n_taken_back += 1
    rows += [f"C9-{k},A,x,-1,2011-02-03 09:00:00,3.50,9999,UK" for k in range(3)]
    n_taken_back += 3
    rows += [f"N{k},A,x,1,2011-02-04 09:00:00,3.50,,UK" for k in range(3)]
    path = tmp_path / "online_retail.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, n_orders, n_taken_back


def test_calibrate_leaves_cancellations_out_of_a_uci_export(tmp_path, capsys):
    path, n_orders, n_taken_back = _export(tmp_path)
    # by hand: 14 customers (c % 3 == 0) × 2 + 13 × 3 + 13 × 4 orders; 40 + 3 cancellations,
    # 8 returns (c % 5 == 0)
    assert (n_orders, n_taken_back) == (119, 51)
    args = ["calibrate", str(path), "--out", str(tmp_path / "b.yaml"), "--line-items"]
    args += ["--heterogeneity", "none"]
    rc = main([*args, "--report", str(tmp_path / "refused")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "3 unreadable row(s)" in err and "empty customer id" in err  # the blank ids only
    rc = main([*args, "--skip-bad-rows", "--report", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "note: left out 51 cancellation/return line(s) (43 cancellation(s)" in err
    assert "8 return(s)" in err and "skipped 3 unreadable row(s)" in err
    summary = json.loads((tmp_path / "rep" / "calibration.json").read_text())
    assert summary["customers"] == 40  # 9999 cancelled and never bought: no customer
    assert summary["rows_skipped"] == 3
    assert summary["order_lines_merged"] == n_orders  # one B line joined each order's A line
    assert "guide_price: 11.0" in (tmp_path / "b.yaml").read_text()  # 2 × 3.5 + 1 × 4


def test_rows_left_out_keep_the_others_line_numbers():
    """Rows left out keep the others' line numbers (the bad row after them is line 4)."""
    text = UCI_HEADER + (
        "\nC1,A,x,-1,2011-01-03 10:00:00,5,100,UK"
        "\n2,A,x,1,2011-01-03 10:00:00,5,100,UK"
        "\n3,A,x,1,not a date,5,101,UK\n"
    )
    with pytest.raises(OrdersError, match=r"<orders>:4: column 'InvoiceDate'"):
        _read(text)
