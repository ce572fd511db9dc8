"""The spend file reader (sim.scenario.spend_file) and the identifiability checks on a history:
common column names, lever aliases, every bad row named by line and column, and the CLI's
exit code 2 without a traceback or a file written."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.calibration.spend_history import identifiability_warnings, observed_ranges, spend_array
from sim.scenario.amounts import DECIMAL_COMMA_NOTE
from sim.scenario.spend_file import SpendFileError, read_spend


def _read(text: str, **kw) -> pd.DataFrame:
    return read_spend(io.StringIO(text), **kw)


def test_common_names_lever_aliases_and_money_are_read():
    text = (
        "日期,渠道,类型,花费,clicks\n"
        '2025-01-02,tmall,广告,"¥1,200",30\n'
        "2025/1/1,tmall,ads,1000,25\n"
        "20250101,xhs,KOL,500.5,\n"
        "2025-01-01T09:00:00+08:00,wecom,CRM,0,\n"
    )
    t = _read(text)
    assert list(t.columns) == ["date", "channel", "lever", "spend", "clicks"]
    assert t["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2025-01-01",
        "2025-01-01",
        "2025-01-01",
        "2025-01-02",
    ]
    assert t["lever"].tolist() == ["paid", "private_ops", "seeding", "paid"]
    assert t["spend"].sum() == pytest.approx(1200 + 1000 + 500.5)
    assert t["clicks"].isna().sum() == 2


def test_explicit_mapping_wins():
    t = _read(
        "d,who,what,cny\n2025-03-01,jd,paid,10\n",
        columns={"date": "d", "channel": "who", "lever": "what", "spend": "cny"},
    )
    assert t.loc[0, "channel"] == "jd" and t.loc[0, "spend"] == 10.0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("date,channel,spend\n2025-01-01,tmall,5\n", "<spend>:1: no column for lever"),
        ("date,channel,lever,spend\n2025-02-30,tmall,paid,5\n", "<spend>:2: column 'date'"),
        (
            "date,channel,lever,spend\n13/1/2025,tmall,paid,5\n",
            "cannot read '13/1/2025' as a date (expected e.g. 2025-03-01): a spend file's dates "
            "put the year first",
        ),
        ("date,channel,lever,spend\n2025-01-01,tmall,paid,-5\n", "negative value '-5'"),
        ("date,channel,lever,spend\n2025-01-01,tmall,tv,5\n", "unknown lever 'tv'"),
        ("date,channel,lever,spend\n2025-01-01,,paid,5\n", "<spend>:2: column 'channel'"),
        ("date,channel,lever,spend\n2025-01-01,tmall,paid,abc\n", "cannot read 'abc'"),
        ("date,channel,lever,spend\n2025-01-01,tmall,paid,inf\n", "finite number"),
        (
            "date,channel,lever,spend\n2025-01-01,tmall,paid,5\n2025-01-01,tmall,ads,6\n",
            "<spend>:3: 2025-01-01 tmall paid repeats line 2",
        ),
        ("date,channel,lever,spend\n2025-01-01,tmall,paid,5,7\n", "<spend>:2: has 5 fields"),
        ("date,channel,lever,spend,spend\n", "column 'spend' appears 2 times"),
        ("", "the file is empty"),
        ("date,channel,lever,spend\n", "no spend rows"),
        (
            "date,channel,lever,spend,visits\n2025-01-01,tmall,paid,5,10\n"
            "2025-01-01,tmall,seeding,5,11\n",
            "visits are per channel and day",
        ),
    ],
)
def test_bad_files_name_line_and_column(text, expected):
    with pytest.raises(SpendFileError) as exc:
        _read(text)
    assert isinstance(exc.value, ValueError)
    assert any(expected in p for p in exc.value.problems), exc.value.problems


def test_every_bad_row_is_listed_at_once():
    text = "date,channel,lever,spend\n" + "".join(
        f"2025-01-{d:02d},tmall,paid,-1\n" for d in range(1, 13)
    )
    with pytest.raises(SpendFileError) as exc:
        _read(text)
    assert exc.value.problems[0].startswith("<spend>:2:")
    assert exc.value.problems[-1] == "<spend>: … and 4 more problem(s)"


def test_spend_array_ranges_and_warnings_against_hand_computed_values():
    t = _read(
        "date,channel,lever,spend\n2025-01-01,a,paid,10\n2025-01-03,a,paid,30\n"
        "2025-01-02,b,seeding,7\n2025-01-09,a,paid,99\n"
    )
    s = spend_array(t, ["a", "b"], pd.Timestamp("2025-01-01").date(), 3)
    assert s[:, 0, 0].tolist() == [10.0, 0.0, 30.0]  # day 8 is past the 3 days asked for
    assert s[:, 1, 1].tolist() == [0.0, 7.0, 0.0]
    assert observed_ranges(s, ["a", "b"]) == {
        "a": {"paid": [0.0, 30.0]},
        "b": {"seeding": [0.0, 7.0]},
    }
    days = np.arange(50.0)
    together = np.zeros((50, 3, 3))
    together[:, 0, 0] = 100 + days
    together[:, 1, 0] = 3 * (100 + days) + 1
    together[:, 2, 1] = 500.0  # never moved
    notes = identifiability_warnings(together, ["x", "y", "z"])
    assert any(
        n.startswith("x paid and y paid: spend moved together (correlation 1.00") for n in notes
    )
    assert any(n.startswith("z seeding: spend never moved") for n in notes)
    independent = together.copy()
    independent[:, 1, 0] = 100 + np.random.default_rng(1).permutation(days)
    assert not any(
        "moved together" in n for n in identifiability_warnings(independent, ["x", "y", "z"])
    )


def _calibrate_refused(tmp_path, spend) -> str:
    """``channelsim calibrate`` on the shipped sample with ``--spend spend``: it must exit 2
    with no traceback and write nothing; returns its stderr."""
    out = tmp_path / "out.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.commands.cli",
            "calibrate",
            "scenarios/data/sample_orders.csv",
            "--columns",
            "customer=customer_id,date=order_date,order_id=order_id",
            "--spend",
            str(spend),
            "--out",
            str(out),
            "--report",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "report").exists()
    return proc.stderr


def test_cli_bad_spend_file_exits_2_without_traceback_or_output(tmp_path):
    bad = tmp_path / "spend.csv"
    bad.write_text("date,channel,lever,spend\n2025-01-01,tmall,paid,-3\n", encoding="utf-8")
    stderr = _calibrate_refused(tmp_path, bad)
    assert f"{bad}:2: column 'spend' (spend): negative value '-3'" in stderr


# ---- weekly rows (sim.scenario.spend_weeks) ---------------------------------------------------
def _weekly_text(weeks: int = 5) -> str:
    """Weekly totals dated on Mondays (2025-01-06 …): tmall 700·(k+1) paid, jd 1400 paid, with
    tmall's clicks 70 a week."""
    rows = ["date,channel,lever,spend,clicks"]
    for k in range(weeks):
        d = (pd.Timestamp("2025-01-06") + pd.Timedelta(weeks=k)).date()
        rows += [f"{d},tmall,paid,{700 * (k + 1)},70", f"{d},jd,paid,1400,"]
    return "\n".join(rows) + "\n"


def test_rows_dated_on_one_weekday_are_refused_as_days_unless_said():
    with pytest.raises(SpendFileError) as exc:
        read_spend(io.StringIO(_weekly_text()))
    (msg,) = exc.value.problems
    assert "every date is a Monday (5 dates, 2025-01-06 … 2025-02-03): weekly totals?" in msg
    assert "--spend-period" in msg and "spend_period:" in msg
    as_days = read_spend(io.StringIO(_weekly_text()), period="day")  # said: days after all
    assert len(as_days) == 10 and as_days["spend"].sum() == 700 * 15 + 1400 * 5
    assert len(read_spend(io.StringIO(_weekly_text(weeks=3)))) == 6  # 3 dates: no pattern yet


@pytest.mark.parametrize(
    "period, first, last",
    [("week-starting", "2025-01-06", "2025-02-09"), ("week-ending", "2024-12-31", "2025-02-03")],
)
def test_weekly_totals_spread_over_their_seven_days(period, first, last):
    """Each row's spend and clicks are a seventh on each day of the week its date starts or
    ends; the totals per channel are the file's."""
    t = read_spend(io.StringIO(_weekly_text()), period=period)
    tm = t[t["channel"] == "tmall"].set_index("date")
    assert len(tm) == 35 and len(t) == 70
    assert tm.index.min() == pd.Timestamp(first) and tm.index.is_unique
    assert tm.index.max() == pd.Timestamp(last)
    week1 = tm.index < tm.index.min() + pd.Timedelta(days=7)
    np.testing.assert_allclose(tm.loc[week1, "spend"], 100.0)  # 700 / 7, each day
    np.testing.assert_allclose(tm.loc[~week1, "spend"].iloc[:7], 200.0)  # the second week
    np.testing.assert_allclose(tm["clicks"], 10.0)
    assert t.groupby("channel")["spend"].sum().to_dict() == pytest.approx(
        {"tmall": 700 * 15, "jd": 1400 * 5}
    )
    assert t[t["channel"] == "jd"]["clicks"].isna().all()  # not given stays not given


def test_weekly_period_on_rows_closer_than_a_week_is_refused():
    text = "date,channel,lever,spend\n2025-01-06,tmall,paid,7\n2025-01-09,tmall,paid,7\n"
    with pytest.raises(SpendFileError, match=r"tmall paid are less than 7 days apart"):
        read_spend(io.StringIO(text), period="week-starting")
    with pytest.raises(SpendFileError, match=r"spend period 'weekly': expected day, week-"):
        read_spend(io.StringIO(text), period="weekly")


def test_cli_weekly_spend_file_names_the_flag_and_writes_nothing(tmp_path):
    weekly = tmp_path / "spend.csv"
    weekly.write_text(_weekly_text(), encoding="utf-8")
    stderr = _calibrate_refused(tmp_path, weekly)
    assert "every date is a Monday" in stderr and "--spend-period" in stderr


@pytest.mark.parametrize("encoding, sep", [("gbk", ";"), ("utf-8", "\t"), ("gb18030", ",")])
def test_a_gbk_or_semicolon_spend_file_reads_as_the_utf8_comma_one(tmp_path, encoding, sep):
    """The spend file is read as the order export is (sim/scenario/text_dialect.py): GBK text
    and semicolon- or tab-separated columns give the same table as UTF-8 with commas."""
    text = "日期,渠道,类型,花费\n2025-01-01,天猫,广告,1200\n2025-01-02,小红书,KOL,500.5\n"
    path = tmp_path / "spend.csv"
    path.write_bytes(text.replace(",", sep).encode(encoding))
    pd.testing.assert_frame_equal(read_spend(path), _read(text))


# ---- a decimal comma (sim/scenario/amounts.py): the whole file's numbers decide ---------------
# The same history written twice by hand: as a German spreadsheet saves it (semicolons, a
# decimal comma, a point between thousands, in visits too) and as UTF-8 with decimal points.
GERMAN = (
    "date;channel;lever;spend;visits\n"
    "2025-01-01;tmall;paid;1.234,50;1.200\n"
    "2025-01-01;tmall;seeding;12,5;\n"
    "2025-01-02;tmall;paid;€ 99;980\n"
    "2025-01-02;jd;paid;0,75;12.345\n"
)
POINTS = (
    "date,channel,lever,spend,visits\n"
    '2025-01-01,tmall,paid,"1,234.50","1,200"\n'
    "2025-01-01,tmall,seeding,12.5,\n"
    "2025-01-02,tmall,paid,99,980\n"
    "2025-01-02,jd,paid,0.75,12345\n"
)


def test_a_german_spend_file_reads_as_the_point_decimal_one():
    german, points = _read(GERMAN), _read(POINTS)
    pd.testing.assert_frame_equal(german, points)
    # by hand, in the table's order (date, channel, lever)
    assert german["spend"].tolist() == [1234.5, 12.5, 0.75, 99.0]
    # '1.200' and '12.345' are thousands: the file's decimal mark is a comma (NaN: not given)
    assert german["visits"].fillna(-1).tolist() == [1200.0, -1.0, 12345.0, 980.0]
    assert german.attrs["notes"] == [f"<spend>: {DECIMAL_COMMA_NOTE}"]
    assert points.attrs["notes"] == []


@pytest.mark.parametrize(
    "amounts, want",
    [
        (['"12,50"', "3"], [12.5, 3.0]),  # quoted in a comma-separated file: a decimal comma
        (['"1,234"', "56"], [1234.0, 56.0]),  # whole numbers: commas separate thousands
        (['"12,50"', "3.25"], [1250.0, 3.25]),  # a decimal point shown: commas are thousands
    ],
)
def test_the_spend_file_decides_the_decimal_mark(amounts, want):
    text = "date,channel,lever,spend\n" + "".join(
        f"2025-01-0{i + 1},tmall,paid,{v}\n" for i, v in enumerate(amounts)
    )
    assert _read(text)["spend"].tolist() == want


def test_an_unquoted_decimal_comma_in_a_comma_file_is_a_row_too_long():
    with pytest.raises(SpendFileError, match=r"<spend>:2: has 5 fields.*quote a value"):
        _read("date,channel,lever,spend\n2025-01-01,tmall,paid,12,50\n")


def _german(cents: int) -> str:
    """1234567 cents → '12.345,67'."""
    whole, frac = divmod(cents, 100)
    return f"{whole:,}".replace(",", ".") + f",{frac:02d}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=20), st.sampled_from([";", "\t"]))
@example([0], ";")  # '0,00': whole amounts written with cents still show the decimal comma
@example([100, 250_000], "\t")
def test_decimal_comma_spend_is_read_to_the_cent(cents, sep):
    """Amounts written '12.345,67' (always with two decimals, as spreadsheets write money) are
    read to the cent, as their point-decimal twin is, the decimal comma said in the notes."""
    days = pd.date_range("2025-01-01", periods=len(cents)).strftime("%Y-%m-%d")
    rows = [sep.join([d, "tmall", "paid", _german(c)]) for d, c in zip(days, cents, strict=True)]
    german = sep.join(["date", "channel", "lever", "spend"]) + "\n" + "\n".join(rows) + "\n"
    rows = [f"{d},tmall,paid,{c // 100}.{c % 100:02d}" for d, c in zip(days, cents, strict=True)]
    points = "date,channel,lever,spend\n" + "\n".join(rows) + "\n"
    want = [c / 100 for c in cents]
    table = _read(german)
    assert table["spend"].round(2).tolist() == want
    assert table.attrs["notes"] == [f"<spend>: {DECIMAL_COMMA_NOTE}"]
    pd.testing.assert_frame_equal(table, _read(points))
