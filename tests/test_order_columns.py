"""Order exports as they come: common column names, line items, a missing amount or channel."""

from __future__ import annotations

import io

import pytest

from sim.calibration.order_columns import NO_AMOUNT, ONE_CHANNEL, resolve_columns
from sim.calibration.orders import OrdersError, read_orders
from sim.commands.cli import main

# The UCI Online Retail layout: one row per order line, returns as negative quantities.
RETAIL = (
    "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    "536365,71053,6,2010-12-01 08:26:00,3.39,17850,United Kingdom\n"
    "536366,22633,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n"
    "536367,84879,32,2010-12-01 08:34:00,1.69,13047,United Kingdom\n"
    "536368,22960,6,2010-12-03 08:34:00,4.25,13047,United Kingdom\n"
)


def test_common_names_and_quantity_times_price():
    orders = read_orders(io.StringIO(RETAIL), line_items=True)
    t = orders.table
    assert t["order_id"].tolist() == ["536365", "536366", "536367", "536368"]
    assert t["customer"].tolist() == ["17850", "17850", "13047", "13047"]
    # 6 × 2.55 + 6 × 3.39 for the two lines of 536365, by hand
    assert t["amount"].tolist() == pytest.approx([35.64, 11.10, 54.08, 25.50], abs=1e-9)
    assert set(t["channel"]) == {ONE_CHANNEL}
    assert t["date"].dt.strftime("%Y-%m-%d").tolist()[-1] == "2010-12-03"
    assert orders.line_orders == 1  # one row merged into its order
    said = " ".join(orders.notes)
    assert "'Quantity' × 'UnitPrice'" in said and "no channel column" in said
    assert "'CustomerID' read as customer" in said


def test_repeated_order_id_without_line_items_points_at_the_flag():
    with pytest.raises(OrdersError) as exc:
        read_orders(io.StringIO(RETAIL))
    text = "\n".join(exc.value.problems)
    assert "--line-items" in text and "order id '536365' repeats line 2" in text


def test_lines_of_one_order_must_agree():
    bad = RETAIL + "536368,22961,1,2010-12-03 08:34:00,1.00,99999,United Kingdom\n"
    with pytest.raises(OrdersError) as exc:
        read_orders(io.StringIO(bad), line_items=True)
    text = "\n".join(exc.value.problems)
    assert ":7: order id '536368' has another customer" in text and "line 6" in text
    ok = read_orders(io.StringIO(bad), line_items=True, skip_bad_rows=True)
    assert ok.table["order_id"].tolist() == ["536365", "536366", "536367"]


def test_a_cancellation_is_left_out_and_an_unreadable_line_is_named_by_its_columns():
    """A cancelled invoice's line (C…, negative quantity) is no purchase and no bad row
    (tests/test_order_cancellations.py has the rest); a quantity that is no number is."""
    text = RETAIL + "C536379,D,-1,2010-12-04 09:41:00,27.50,14527,United Kingdom\n"
    orders = read_orders(io.StringIO(text), line_items=True)
    assert orders.table["order_id"].tolist() == ["536365", "536366", "536367", "536368"]
    assert "14527" not in set(orders.table["customer"])
    text = RETAIL + "536379,D,two,2010-12-04 09:41:00,27.50,14527,United Kingdom\n"
    with pytest.raises(OrdersError) as exc:
        read_orders(io.StringIO(text), line_items=True)
    assert "<orders>:7: columns 'Quantity' × 'UnitPrice' (amount): cannot read 'two' as a " in (
        "\n".join(exc.value.problems)
    )


def test_no_amount_counts_orders_and_a_bare_id_is_not_a_customer():
    text = "date,id\n2014-03-08,0\n2014-05-21,1\n2014-03-14,2\n2014-04-09,2\n"
    with pytest.raises(OrdersError) as exc:
        read_orders(io.StringIO(text))
    assert "no column for customer" in "\n".join(exc.value.problems)
    orders = read_orders(io.StringIO(text), columns={"customer": "id"})
    assert orders.table["amount"].tolist() == [NO_AMOUNT] * 4
    assert any("every order counts 1" in n for n in orders.notes)


def test_a_named_column_must_exist_and_names_win_over_common_ones():
    header = ["customer_id", "order_date", "buyer", "total", "shop"]
    plan = resolve_columns(header, {"customer": "buyer"})
    assert plan.mapping["customer"] == "buyer" and plan.mapping["amount"] == "total"
    with pytest.raises(Exception, match="missing column 'paid' \\(for date\\)"):
        resolve_columns(header, {"date": "paid"})


def test_line_items_without_an_order_id_is_refused():
    text = "customer,date,amount\nA,2025-01-01,5\nB,2025-01-02,5\n"
    with pytest.raises(OrdersError, match="--line-items needs an order id"):
        read_orders(io.StringIO(text), line_items=True)


def test_calibrate_reads_a_line_item_export(tmp_path, capsys):
    rows = [RETAIL.splitlines()[0]]
    for c in range(40):  # 40 customers, each buying 2–4 times over 12 weeks
        for k in range(2 + c % 3):
            day = 1 + (c * 5 + k * 19) % 84
            date = f"2011-{1 + day // 28:02d}-{1 + day % 28:02d} 10:00:00"
            rows += [f"{c}-{k},A,2,{date},3.5,{1000 + c},UK", f"{c}-{k},B,1,{date},4,{1000 + c},UK"]
    path = tmp_path / "retail.csv"
    path.write_text("\n".join(rows) + "\n")
    rc = main(
        ["calibrate", str(path), "--out", str(tmp_path / "b.yaml"), "--line-items"]
        + ["--report", str(tmp_path / "rep"), "--heterogeneity", "none"]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "'Quantity' × 'UnitPrice'" in err and "Traceback" not in err
    assert "guide_price: 11.0" in (tmp_path / "b.yaml").read_text()  # 2 × 3.5 + 1 × 4 per order


# The same lines as a spreadsheet writes them: month first, year last, no seconds.
US_DATES = (
    RETAIL.replace("2010-12-01 08:26:00", "12/1/2010 8:26")
    .replace("2010-12-03 08:34:00", "12/3/2010 8:34")
    .replace("2010-12-01 08:28:00", "12/1/2010 8:28")
    .replace("2010-12-01 08:34:00", "12/1/2010 8:34")
)


def test_dates_that_put_the_year_last_are_refused_with_a_hint():
    with pytest.raises(OrdersError) as exc:
        read_orders(io.StringIO(US_DATES), line_items=True)
    text = "\n".join(exc.value.problems)
    assert "cannot read '12/1/2010 8:26' as a date" in text and "--date-format" in text


def test_a_date_format_reads_them():
    t = read_orders(io.StringIO(US_DATES), line_items=True, date_format="%m/%d/%Y %H:%M").table
    assert t["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2010-12-01",
        "2010-12-01",
        "2010-12-01",
        "2010-12-03",
    ]
    # the same file read day first is readable too, and wrong: why no rule guesses it
    t = read_orders(io.StringIO(US_DATES), line_items=True, date_format="%d/%m/%Y %H:%M").table
    assert t["date"].dt.strftime("%Y-%m-%d").tolist()[-1] == "2010-03-12"
    with pytest.raises(OrdersError, match="as a date in --date-format %Y-%m-%d"):
        read_orders(io.StringIO(US_DATES), line_items=True, date_format="%Y-%m-%d")


def test_a_tmall_order_export_header_is_read_without_columns():
    """The columns of a Tmall / Taobao order export (a subset, in its order): the buyer, what
    was paid (not the list total), the payment time (not the creation of a possibly unpaid
    order), the shop and the order number."""
    header = [
        "订单编号",
        "买家会员名",
        "买家应付货款",
        "总金额",
        "买家实际支付金额",
        "订单状态",
        "订单创建时间",
        "订单付款时间",
        "店铺名称",
    ]
    plan = resolve_columns(header, {})
    assert plan.mapping == {
        "customer": "买家会员名",
        "date": "订单付款时间",
        "amount": "买家实际支付金额",
        "channel": "店铺名称",
        "order_id": "订单编号",
        "status": "订单状态",
    }


TMALL = (
    "订单编号,买家会员名,买家实际支付金额,订单状态,订单付款时间,店铺名称\n"
    "1,甲,99.00,交易成功,2024-01-02 10:00:00,旗舰店\n"
    "2,乙,0.00,交易关闭,,旗舰店\n"
    "3,甲,45.50,交易成功,2024-02-03 11:00:00,旗舰店\n"
    "4,丙,0.00,等待买家付款,,旗舰店\n"
    "5,乙,30.00,卖家已发货，等待买家确认,2024-02-05 09:00:00,旗舰店\n"
)


def test_cancelled_and_unpaid_orders_are_left_out_by_their_status():
    """A Tmall export lists closed and unpaid orders (no payment time, amount 0) with the
    paid ones: they are left out before they are read, counted by status in the notes, and a
    bad row after them keeps its own line number."""
    orders = read_orders(io.StringIO(TMALL), set_aside_outliers=False)
    assert orders.table["order_id"].tolist() == ["1", "3", "5"]
    assert orders.table["amount"].tolist() == [99.0, 45.5, 30.0]
    note = next(n for n in orders.notes if "left out by their status" in n)
    assert "交易关闭 × 1" in note and "等待买家付款 × 1" in note and "'订单状态'" in note
    bad = TMALL.replace("2024-02-05 09:00:00", "not a date")
    with pytest.raises(OrdersError, match=r"<orders>:6: column '订单付款时间'"):
        read_orders(io.StringIO(bad), set_aside_outliers=False)
