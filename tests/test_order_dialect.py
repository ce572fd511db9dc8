"""How an order export is written (sim/scenario/text_dialect.py): GBK text, as Chinese shop
back-ends export it, and columns separated by something other than commas."""

from __future__ import annotations

import pytest

from sim.calibration.orders import OrdersError, read_orders

COLUMNS = {"customer": "买家", "date": "日期", "amount": "金额", "channel": "店铺"}
TEXT = "买家,日期,金额,店铺\nA,2024-01-02,9.5,天猫\nB,2024-01-09,3,京东\nA,2024-02-01,4,天猫\n"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_gbk_and_utf8_exports_read_the_same(tmp_path, encoding):
    path = tmp_path / "orders.csv"
    path.write_bytes(TEXT.encode(encoding))
    orders = read_orders(path, columns=COLUMNS, set_aside_outliers=False)
    assert orders.table["channel"].tolist() == ["天猫", "京东", "天猫"]
    assert orders.table["amount"].tolist() == [9.5, 3.0, 4.0]
    said = any("GB18030" in n for n in orders.notes)
    assert said == encoding.startswith("gb")


def test_the_whole_file_decides_the_encoding_not_its_first_lines(tmp_path):
    """ASCII for 3 000 lines, then a GBK channel name: read as GB18030 from the start (a
    decision on the first block would have failed or misread the end)."""
    rows = [f"c{i % 50},2024-01-{1 + i % 28:02d},5,tmall" for i in range(3000)]
    text = "buyer,paid,total,shop\n" + "\n".join(rows) + "\nc1,2024-02-01,7,京东\n"
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("gbk"))
    cols = {"customer": "buyer", "date": "paid", "amount": "total", "channel": "shop"}
    orders = read_orders(path, columns=cols, set_aside_outliers=False)
    assert orders.table["channel"].iloc[-1] == "京东"


def test_text_in_neither_encoding_is_a_clean_error(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(b"buyer,paid,total\n" + b"A,2024-01-02,\xff\xfe9\n")
    with pytest.raises(OrdersError, match="neither UTF-8 nor GB18030"):
        read_orders(path)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters(tmp_path, sep):
    path = tmp_path / "orders.csv"
    path.write_text(TEXT.replace(",", sep), encoding="utf-8")
    orders = read_orders(path, columns=COLUMNS, set_aside_outliers=False)
    assert orders.table["amount"].tolist() == [9.5, 3.0, 4.0]
