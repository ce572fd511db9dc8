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

from sim.calibration.spend_history import identifiability_warnings, observed_ranges, spend_array
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


def test_cli_bad_spend_file_exits_2_without_traceback_or_output(tmp_path):
    bad = tmp_path / "spend.csv"
    bad.write_text("date,channel,lever,spend\n2025-01-01,tmall,paid,-3\n", encoding="utf-8")
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
            str(bad),
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
    assert f"{bad}:2: column 'spend' (spend): negative value '-3'" in proc.stderr
    assert not out.exists() and not (tmp_path / "report").exists()
