"""Order dates that put the year last: read day or month first as the file itself settles it."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest

from sim.calibration import order_dates, orders
from sim.calibration.orders import OrdersError, read_orders
from sim.commands.cli import main

COLUMNS = {"customer": "buyer", "date": "paid_at", "amount": "total", "channel": "shop"}
HEADER = "buyer,paid_at,total,shop\n"


def _file(dates: list[str]) -> str:
    return HEADER + "".join(f"C{i % 3},{d},10,jd\n" for i, d in enumerate(dates))


def _read(text: str, **kw) -> orders.Orders:
    return read_orders(io.StringIO(text), columns=COLUMNS, **kw)


def _days(o: orders.Orders) -> list[str]:
    return o.table["date"].dt.strftime("%Y-%m-%d").tolist()


# Month first, times of day in three spellings; only the last row (line 8) says which order:
# every other date reads both ways. Expected dates written by hand.
MONTH_FIRST = [
    "12/1/2010 8:26",
    "12/2/2010 08:26:00",
    "1/3/2011",
    "2011-01-04",  # year first: read as always
    "2/1/2011 10:05 AM",
    "3/2/2011 23:59",
    "1/13/2011 10:05",
]
MONTH_FIRST_DAYS = [
    "2010-12-01",
    "2010-12-02",
    "2011-01-03",
    "2011-01-04",
    "2011-02-01",
    "2011-03-02",
    "2011-01-13",
]


def test_month_first_decided_by_a_date_in_a_later_chunk(monkeypatch):
    monkeypatch.setattr(orders, "CHUNK_ROWS", 2)  # the deciding line 8 is in the 4th chunk
    o = _read(_file(MONTH_FIRST))
    assert _days(o) == MONTH_FIRST_DAYS
    assert (
        "dates read month first (e.g. '1/13/2011 10:05' on line 8: no 13th month); "
        "pass --date-format to override"
    ) in o.notes


def test_day_first_with_dots_and_dashes_decided_in_a_later_chunk(monkeypatch):
    monkeypatch.setattr(orders, "CHUNK_ROWS", 3)
    dates = ["01.02.2011 08:26", "02.02.2011 09:00:00", "03-04-2011", "12.11.2011", "31.12.2011"]
    o = _read(_file(dates))
    assert _days(o) == ["2011-02-01", "2011-02-02", "2011-04-03", "2011-11-12", "2011-12-31"]
    assert any(
        "dates read day first (e.g. '31.12.2011' on line 6: no 31st month)" in n for n in o.notes
    )


def test_a_date_that_is_no_date_in_the_files_order_is_a_bad_row():
    text = _file(["1/13/2011", "2/30/2011", "3/1/2011"])  # month first; there is no 30 February
    with pytest.raises(OrdersError) as exc:
        _read(text)
    said = "\n".join(exc.value.problems)
    assert "1 unreadable row(s)" in said and "<orders>:3:" in said
    assert "'2/30/2011'" in said and "not a date read month first" in said
    o = _read(text, skip_bad_rows=True)
    assert _days(o) == ["2011-01-13", "2011-03-01"]


def test_a_date_no_order_can_read_is_not_evidence():
    # 13/13/2011 is no date either way: it neither decides nor makes the file mixed
    with pytest.raises(OrdersError) as exc:
        _read(_file(["12/1/2010", "13/13/2011", "3/4/2011"]))
    said = "\n".join(exc.value.problems)
    assert "3 unreadable row(s)" in said and "ambiguous" in said


def test_a_date_format_wins_and_nothing_is_inferred(monkeypatch):
    monkeypatch.setattr(orders, "_date_column", _no_scan)
    text = _file(["1/2/2011 8:00", "3/4/2011 9:15", "13/1/2011 10:00"])  # the file: day first
    o = _read(text, date_format="%m/%d/%Y %H:%M", skip_bad_rows=True)
    assert _days(o) == ["2011-01-02", "2011-03-04"]  # read month first, as told
    assert o.n_skipped == 1 and "'13/1/2011 10:00'" in o.skipped[0]
    assert not any("dates read" in n for n in o.notes)


def _no_scan(*args, **kw):
    raise AssertionError("the date column was scanned")


def test_a_year_first_file_is_not_scanned(monkeypatch):
    monkeypatch.setattr(orders, "_date_column", _no_scan)
    o = _read(_file(["2025-01-02", "2025/1/3", "2025-01-04 10:00:00", "20250105"]))
    assert _days(o) == ["2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"]
    assert not any("dates read" in n for n in o.notes)


def test_the_scan_reads_the_date_column_alone_in_chunks(monkeypatch, tmp_path):
    monkeypatch.setattr(orders, "CHUNK_ROWS", 2)
    seen = []
    chunks = orders._chunks

    def spy(path, source, header, dialect, wanted, only=None):
        for line, raw in chunks(path, source, header, dialect, wanted, only):
            if only is not None:
                seen.append((line, raw.shape))
            yield line, raw

    monkeypatch.setattr(orders, "_chunks", spy)
    path = tmp_path / "o.csv"  # a path this time: the scan opens the file again
    path.write_text(_file(MONTH_FIRST))
    o = read_orders(path, columns=COLUMNS)
    assert _days(o) == MONTH_FIRST_DAYS
    assert seen == [(2, (2, 1)), (4, (2, 1)), (6, (2, 1)), (8, (1, 1))]


def test_a_stringio_not_at_its_start_is_scanned_from_where_it_was():
    buf = io.StringIO("junk before the header\n" + _file(MONTH_FIRST))
    buf.readline()
    assert _days(read_orders(buf, columns=COLUMNS)) == MONTH_FIRST_DAYS


def test_calendar_check_against_datetime():
    years, months, days = np.meshgrid([1900, 2000, 2011, 2012], range(0, 14), range(0, 33))
    y, m, d = years.ravel(), months.ravel(), days.ravel()
    got = order_dates._is_date(y, m, d)

    def real(a, b, c):
        try:
            dt.date(int(a), int(b), int(c))
        except ValueError:
            return False
        return True

    assert got.tolist() == [real(*t) for t in zip(y, m, d, strict=True)]


# ---- through the command: refusals exit 2 with the hint; a read file says what it assumed ----
def _calibrate(tmp_path, capsys, text: str) -> tuple[int, str]:
    path = tmp_path / "orders.csv"
    path.write_text(text)
    rc = main(
        ["calibrate", str(path), "--out", str(tmp_path / "b.yaml")]
        + ["--columns", "customer=buyer,date=paid_at,amount=total,channel=shop"]
        + ["--report", str(tmp_path / "rep"), "--heterogeneity", "none"]
    )
    return rc, capsys.readouterr().err


def test_ambiguous_file_is_refused_by_the_command(tmp_path, capsys):
    rc, err = _calibrate(tmp_path, capsys, _file(["3/4/2025", "4/3/2025", "12/1/2025"]))
    assert rc == 2 and "Traceback" not in err
    assert "cannot read '3/4/2025' as a date" in err and "ambiguous" in err
    assert "--date-format" in err and not (tmp_path / "b.yaml").exists()


def test_mixed_file_is_refused_by_the_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(orders, "CHUNK_ROWS", 2)
    text = _file(["1/13/2011", "2/2/2011", "3/3/2011", "14/2/2011"])
    rc, err = _calibrate(tmp_path, capsys, text)
    assert rc == 2 and "Traceback" not in err
    assert (
        "mixed: '1/13/2011' on line 2 is month first but '14/2/2011' on line 5 is day first" in err
    )
    assert "--date-format" in err and not (tmp_path / "b.yaml").exists()


def test_the_command_says_what_it_assumed(tmp_path, capsys):
    rows = []
    for c in range(40):  # 40 customers, each buying 2–4 times over 12 weeks, month first
        for k in range(2 + c % 3):
            day = (c * 5 + k * 19) % 84
            when = dt.date(2011, 1, 1) + dt.timedelta(days=day)
            rows.append(f"C{c},{when.month}/{when.day}/{when.year} 10:00,{20 + c % 7},jd\n")
    rc, err = _calibrate(tmp_path, capsys, HEADER + "".join(rows))
    assert rc == 0, err
    assert "note: dates read month first (e.g. '1/20/2011 10:00' on line 3: no 20th month)" in err
