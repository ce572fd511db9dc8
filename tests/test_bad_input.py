"""Bad input, tried as a careless user or an attacker would: every case is a clear error that
names the file, field or flag, exit code 2, no traceback, and nothing written.

Each CLI case runs ``sim.commands.cli.main`` in-process from an empty working directory, so a
default ``results/`` directory would show up there too.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.calibration import orders as orders_module
from sim.calibration.orders import read_orders
from sim.commands.cli import main
from sim.errors import ScenarioError, UsageError
from sim.scenario import build_scenario, load_raw, resources

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
BASE_TEXT = BASELINE.read_text(encoding="utf-8")
SAMPLE = ROOT / "scenarios" / "data" / "sample_orders.csv"
SAMPLE_COLUMNS = {"customer": "customer_id", "date": "order_date", "order_id": "order_id"}
FAST = ["-r", "1", "--workers", "1", "--set", "market.customers=1000", "--set", "horizon.days=10"]
FAST += ["--set", "targets=[]"]


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (computed from the text itself)."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _cli(tmp_path, capsys, monkeypatch, *argv) -> tuple[int, str]:
    """Run the CLI in an empty directory; check no traceback and nothing written."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    monkeypatch.chdir(work)
    before = _written(tmp_path)
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert list(work.iterdir()) == [], "something was written in the working directory"
    assert _written(tmp_path) == before, "something was written"
    return rc, err


def _written(directory: Path) -> list[str]:
    """What is in ``directory``, less the writer's lock (``.NAME.lock``, sim.results.locks):
    a command claims its --out before simulating, and in-process the claim outlives it."""
    return sorted(p.name for p in directory.iterdir() if not re.fullmatch(r"\..+\.lock", p.name))


def _run_file(tmp_path, capsys, monkeypatch, data: bytes | str, *extra) -> tuple[int, str, Path]:
    path = tmp_path / "plan.yaml"
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    argv = ["run", path, "-r", "1", "--workers", "1", "--set", "horizon.days=10", *extra]
    rc, err = _cli(tmp_path, capsys, monkeypatch, *argv, "--out", tmp_path / "o")
    return rc, err, path


# ---- scenario files -------------------------------------------------------------------------
def _billion_laughs() -> str:
    """9 aliases per level, 9 levels: 9**9 = 387 M strings once expanded, 700 bytes on disk."""
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        refs = ", ".join([f"*lol{i - 1}"] * 9)
        lines.append(f"lol{i}: &lol{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _bomb_in_decisions() -> str:
    return (
        BASE_TEXT
        + "x_bombs:\n"
        + "".join(f"  {line}\n" for line in _billion_laughs().splitlines())
        + "decisions:\n  - path: seed\n    choices: *lol8\n"
    )


CASES = {
    # name: (file contents, pieces the message must hold; {f} = the file, {L} = a line)
    "latin-1": (
        BASE_TEXT.encode("ascii", "replace").replace(b"Status quo", b"Statu\xe9 quo"),
        ["{f}:{L}: not UTF-8 text (byte 0xe9)"],
        "Statu",
    ),
    "utf-16": (BASE_TEXT.encode("utf-16"), ["{f}: the file is UTF-16 text"], None),
    "binary": (bytes(range(256)) * 8, ["{f}:1:", "binary"], None),
    "impossible date": (
        BASE_TEXT.replace("start: 2026-01-01", "start: 2026-13-45"),
        ["horizon.start:", "2026-13-45"],
        None,
    ),
    "year 9999": (
        BASE_TEXT.replace("start: 2026-01-01", "start: 9999-12-01"),
        ["horizon:", "9999-12-01"],
        None,
    ),
    "100k levels of nesting": (
        BASE_TEXT + "deep: " + "[" * 100_000 + "]" * 100_000 + "\n",
        ["{f}:{L}: nested more than 64 levels deep"],
        "deep: ",
    ),
    "billion laughs in decisions.choices": (
        _bomb_in_decisions(),
        ["{f}:{L}: YAML aliases (*lol0) are not allowed"],
        "lol1: ",
    ),
    "customers: true": (
        BASE_TEXT.replace("customers: 20000 ", "customers: true  "),
        ["market.customers: must be a number, got true"],
        None,
    ),
    ".inf": (
        BASE_TEXT.replace("churn: 0.0015", "churn: .inf"),
        ["market.churn: must be a finite number, got inf"],
        None,
    ),
    ".nan in an unbounded field": (
        BASE_TEXT.replace("loyalty: 0.8", "loyalty: .nan"),
        ["market.loyalty: must be a finite number, got nan"],
        None,
    ),
    ".nan in decisions.choices": (
        BASE_TEXT + "decisions:\n  - path: seed\n    choices: [1, .nan]\n",
        ["decisions[0].choices[1]: must be a finite number, got nan"],
        None,
    ),
    "duplicate key": (
        BASE_TEXT.replace("  loyalty: 0.8\n", "  loyalty: 0.8\n  loyalty: 0.9\n"),
        ["{f}:{L2}: duplicate key 'loyalty' (first at line {L})"],
        "  loyalty: 0.8",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_scenario_file_is_a_clean_error(tmp_path, capsys, monkeypatch, case):
    data, pieces, anchor = CASES[case]
    rc, err, path = _run_file(tmp_path, capsys, monkeypatch, data)
    assert rc == 2, err
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    line = _line_of(text, anchor) if anchor else 0
    for piece in pieces:
        expected = piece.format(f=path, L=line, L2=line + 1)
        assert expected in err, err


def test_alias_bomb_is_refused_before_anything_expands_it():
    """The loader refuses the first alias it meets: the 387 M-string expansion never starts
    (it would take many GB: a few bytes per reference at least)."""
    from sim.scenario.yaml_io import parse_yaml

    with pytest.raises(ScenarioError) as err:
        parse_yaml(_billion_laughs(), "bomb.yaml")
    assert err.value.problems == [
        "bomb.yaml:2: YAML aliases (*lol0) are not allowed; write the value out"
    ]


@pytest.mark.parametrize(
    "pair, pieces",
    [
        ("horizon.start=2026-02-30", ["horizon.start:", "2026-02-30"]),
        ("extends=baseline.yaml", ["extends: cannot be overridden"]),
        ("decisions=[&a [1, 2], *a]", ["--set decisions: YAML aliases (*a) are not allowed"]),
        ("market.churn=.nan", ["market.churn: must be a finite number, got nan"]),
        ("market.customers=true", ["market.customers: must be a number, got true"]),
    ],
)
def test_bad_set_is_a_clean_error(tmp_path, capsys, monkeypatch, pair, pieces):
    rc, err = _cli(
        tmp_path,
        capsys,
        monkeypatch,
        "run",
        BASELINE,
        *FAST,
        "--set",
        pair,
        "--out",
        tmp_path / "o",
    )
    assert rc == 2, err
    for piece in pieces:
        assert piece in err, err


# ---- memory a run needs ---------------------------------------------------------------------
def _meminfo_total() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    return int(re.search(r"MemTotal:\s+(\d+) kB", text).group(1)) * 1024


def test_machine_memory_is_this_machines():
    total = _meminfo_total()
    have = resources.machine_memory_bytes()
    if total is None or have is None:
        pytest.skip("no /proc/meminfo or sysconf here")
    assert 0 < have <= total * 1.001  # the cgroup limit, when lower, is the one that counts


def test_a_market_this_machine_cannot_hold_is_refused_with_the_figure(
    tmp_path, capsys, monkeypatch
):
    """1e12 simulated customers: at ≥ 155 bytes each (measured marginal cost, see
    sim.scenario.resources) no machine holds them; the message gives the figure."""
    text = BASE_TEXT.replace("customers: 20000 ", "customers: 1000000000000 ")
    path = _write(tmp_path / "big.yaml", text)
    for argv in (["validate", path], ["run", path, "-r", "1", "--out", tmp_path / "o"]):
        rc, err = _cli(tmp_path, capsys, monkeypatch, *argv)
        assert rc == 2
        assert "market.customers: 1,000,000,000,000 simulated customers need" in err, err
        gb = float(re.search(r"need ≈ ([\d,.]+) GB", err).group(1).replace(",", ""))
        assert gb * 2**30 >= 1e12 * 155


def test_the_limit_follows_the_machine(monkeypatch):
    """With 8 GB, 2e8 customers (≥ 31 GB at 155 B each) are refused and 1e6 (≈ 0.4 GB
    measured) pass: the refusal is about this machine, not a fixed cap."""
    monkeypatch.setattr(resources, "machine_memory_bytes", lambda: 8 * 2**30)
    raw = load_raw(BASELINE)
    with pytest.raises(ScenarioError) as err:
        build_scenario(raw, overrides={"market.customers": 200_000_000})
    assert any(p.startswith("market.customers: 200,000,000") for p in err.value.problems)
    assert build_scenario(raw, overrides={"market.customers": 1_000_000}).market.customers == 10**6


def test_one_customer_runs(tmp_path, capsys, monkeypatch):
    """`customers: 1` used to end in a KeyError: a run without a single order."""
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "run",
            str(BASELINE),
            "-r",
            "1",
            "--workers",
            "1",
            "--set",
            "market.customers=1",
            "--set",
            "horizon.days=10",
            "--set",
            "targets=[]",
            "--out",
            str(tmp_path / "one"),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["kpis"]["orders"]["mean"] == 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- flags ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "flags, piece",
    [
        (["--seed", "-5"], "--seed: must be ≥ 0, got -5"),
        (["--scheduler", "notaurl"], "--scheduler: expected a Dask scheduler address"),
        (["--scheduler", "tcp://127.0.0.1:99999"], "--scheduler: expected a Dask scheduler"),
        (["--scheduler", "tcp://127.0.0.1:{port}"], "cannot connect"),
        (["--workers", "0"], "--workers: must be ≥ 1, got 0"),
    ],
)
def test_bad_flag_is_a_clean_error(tmp_path, capsys, monkeypatch, flags, piece):
    flags = [f.format(port=_free_port()) for f in flags]  # nothing listens on a freed port
    for command in (["run", BASELINE], ["compare", BASELINE, BASELINE]):
        rc, err = _cli(tmp_path, capsys, monkeypatch, *command, *flags, "--out", tmp_path / "o")
        assert rc == 2, err
        assert piece in err, err


def test_something_that_is_not_dask_is_not_taken_for_a_scheduler():
    """A port that answers, but not in Dask's protocol (here: HTTP), is a UsageError."""
    from sim.experiments.evaluation import make_executor

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            try:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 50)
            except OSError:
                pass
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    try:
        with pytest.raises(UsageError, match=re.escape(f"--scheduler {address}")):
            with make_executor(scheduler=address):
                pass
    finally:
        server.close()


def test_every_replication_failing_shows_the_first_error(tmp_path, capsys, monkeypatch):
    import sim.experiments.replication as replication

    def planted(*args, **kwargs):
        raise ValueError("planted failure in the model")

    monkeypatch.setattr(replication, "simulate", planted)
    rc, err = _cli(tmp_path, capsys, monkeypatch, "run", BASELINE, *FAST, "--out", tmp_path / "o")
    assert rc == 2
    assert "every replication failed" in err
    assert "(replication 0)" in err and "ValueError: planted failure in the model" in err


# ---- report ---------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ['{"baseline": "b", "scen', "[1, 2]", "\udcff"])
def test_report_on_a_damaged_summary_names_the_file(tmp_path, capsys, monkeypatch, damage):
    d = tmp_path / "cmp"
    d.mkdir()
    for name in ("manifest.json", "scenarios.json"):
        (d / name).write_text("{}")
    (d / "summary.json").write_bytes(damage.encode("utf-8", errors="surrogateescape"))
    rc, err = _cli(tmp_path, capsys, monkeypatch, "report", d)
    assert rc == 2
    assert f"{d / 'summary.json'}: damaged" in err, err
    assert sorted(p.name for p in d.iterdir()) == [
        "manifest.json",
        "scenarios.json",
        "summary.json",
    ]


# ---- calibrate ------------------------------------------------------------------------------
def _sample(rows: int) -> str:
    with open(SAMPLE, encoding="utf-8") as fh:
        return "".join(fh.readline() for _ in range(rows + 1))


OUTLIERS = (
    "X1,C00514,9999-01-01,120.0,jd\n"
    "X2,C00601,2099-03-01,120.0,jd\n"
    "X3,C00700,1900-01-01,150.0,tmall\n"
    "X4,C00701,2025-01-20,1e300,tmall\n"
)


def test_implausible_rows_are_set_aside_and_the_rest_read_as_without_them():
    clean = _sample(1500)
    got = read_orders(io.StringIO(clean + OUTLIERS), columns=SAMPLE_COLUMNS)
    want = read_orders(io.StringIO(clean), columns=SAMPLE_COLUMNS)
    pd.testing.assert_frame_equal(got.table, want.table)
    assert got.n_set_aside == 4 and want.n_set_aside == 0
    why = " | ".join(w for _, w in got.set_aside)
    assert [n for n, _ in got.set_aside] == [1, 2, 1], why
    for line, shown in [(1502, "9999-01-01"), (1503, "2099-03-01"), (1504, "1900-01-01")]:
        assert f"line {line} ({shown}" in why
    assert "line 1505 (2025-01-20, amount 1e+300)" in why


def test_keep_outliers_keeps_all_but_dates_no_calibration_can_hold():
    clean = _sample(300)
    got = read_orders(
        io.StringIO(clean + OUTLIERS), columns=SAMPLE_COLUMNS, set_aside_outliers=False
    )
    assert got.n_set_aside == 1 and "9999-01-01" in got.set_aside[0][1]
    assert len(got.table) == 300 + 3


def test_a_real_gap_in_the_history_is_not_an_outlier():
    """Two seasons a year apart, each a big share of the rows: both are kept."""
    rows = [f"O{i},C{i % 50},2024-0{1 + i % 3}-1{i % 9},100,jd\n" for i in range(100)]
    rows += [f"P{i},C{i % 50},2025-0{4 + i % 3}-1{i % 9},100,jd\n" for i in range(60)]
    text = "order_id,customer_id,order_date,amount,channel\n" + "".join(rows)
    assert read_orders(io.StringIO(text), columns=SAMPLE_COLUMNS).n_set_aside == 0


def test_calibrate_sets_outliers_aside_and_fits_on_the_rest(tmp_path, capsys, monkeypatch):
    from sim.calibration.fitting import calibrate

    clean = _sample(1500)
    path = _write(tmp_path / "orders.csv", clean + OUTLIERS)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cal.yaml"
    rc = main(
        [
            "calibrate",
            str(path),
            "--out",
            str(out),
            "--columns",
            "customer=customer_id,date=order_date,order_id=order_id",
            "--report",
            str(tmp_path / "report"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "set aside 4 implausible row(s)" in err
    assert "1 with date outside 1678-01-01" in err and "2 with date outside the order" in err
    assert "1 with amount above 1000 × the median amount" in err
    written = yaml.safe_load(out.read_text())
    reference = calibrate(
        read_orders(io.StringIO(clean), columns=SAMPLE_COLUMNS).table, name=written["name"]
    )
    assert written["market"] == reference.raw["market"]
    assert written["horizon"] == json.loads(json.dumps(reference.raw["horizon"], default=str))
    saved = json.loads((tmp_path / "report" / "calibration.json").read_text())
    assert saved["rows_set_aside"] == 4


def test_duplicate_header_column_is_an_error(tmp_path, capsys, monkeypatch):
    text = "order_id,customer_id,amount,order_date,amount,channel\nA,C1,5,2025-01-01,6,jd\n"
    path = _write(tmp_path / "dup.csv", text)
    rc, err = _cli(
        tmp_path,
        capsys,
        monkeypatch,
        "calibrate",
        path,
        "--out",
        tmp_path / "x.yaml",
        "--columns",
        "customer=customer_id,date=order_date,order_id=order_id",
    )
    assert rc == 2
    assert f"{path}:1: column 'amount' appears 2 times in the header (columns 3, 5)" in err


def test_reading_in_chunks_reads_what_one_chunk_reads(monkeypatch):
    """Chunk edges must not move a line number, hide a repeated order id or a bad row."""
    text = _sample(40) + "O0000003,C1,2025-01-05,5,jd\n" + "O9,C2,not-a-date,5,jd\n"
    whole = read_orders(io.StringIO(text), columns=SAMPLE_COLUMNS, skip_bad_rows=True)
    monkeypatch.setattr(orders_module, "CHUNK_ROWS", 7)
    chunked = read_orders(io.StringIO(text), columns=SAMPLE_COLUMNS, skip_bad_rows=True)
    pd.testing.assert_frame_equal(chunked.table, whole.table)
    assert chunked.skipped == whole.skipped and chunked.n_skipped == whole.n_skipped == 2
    assert any("repeats line 4" in s for s in chunked.skipped)
    assert np.array_equal(chunked.table["line"], np.arange(2, 42))


def test_a_row_with_more_fields_than_the_header_is_an_error_but_trailing_commas_are_not():
    text = _sample(20)
    with pytest.raises(ScenarioError, match="Expected 5 fields in line 22, saw 7"):
        read_orders(io.StringIO(text + "O9,C1,2025-01-05,5,jd,extra,x\n"), columns=SAMPLE_COLUMNS)
    trailing = "".join(line + ",\n" for line in text.splitlines())
    got = read_orders(io.StringIO(trailing), columns=SAMPLE_COLUMNS).table
    pd.testing.assert_frame_equal(got, read_orders(io.StringIO(text), columns=SAMPLE_COLUMNS).table)


@pytest.mark.parametrize(
    "data, flags, piece",
    [
        ("utf-16", [], "not a readable CSV file"),
        ("", ["--calibration-period", "9999-01-01:9999-12-31"], "--calibration-period:"),
        ("", ["--seed", "-1"], "--seed: must be ≥ 0"),
    ],
)
def test_calibrate_bad_input_is_a_clean_error(tmp_path, capsys, monkeypatch, data, flags, piece):
    text = _sample(200)
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode(data or "utf-8"))
    argv = ["calibrate", path, "--out", tmp_path / "x.yaml", "--report", tmp_path / "r"]
    argv += ["--columns", "customer=customer_id,date=order_date,order_id=order_id", *flags]
    rc, err = _cli(tmp_path, capsys, monkeypatch, *argv)
    assert rc == 2
    assert piece in err and str(path if data else "") in err, err


@pytest.mark.parametrize(
    "extends, piece",
    [("/dev/zero", "/dev/zero: not a regular file"), ("big.yaml", "too large for a scenario")],
)
def test_a_base_that_is_no_scenario_file_is_refused_without_reading_it(
    tmp_path, capsys, monkeypatch, extends, piece
):
    """`extends: /dev/zero` used to read forever; a 5 MB base is not read past 4 MB."""
    if extends == "/dev/zero" and not Path(extends).exists():
        pytest.skip("no /dev/zero here")
    (tmp_path / "big.yaml").write_text("name: big\n" + "# padding\n" * 500_000)
    text = BASE_TEXT.replace("name: baseline", f"name: plan\nextends: {extends}", 1)
    rc, err, _ = _run_file(tmp_path, capsys, monkeypatch, text)
    assert rc == 2
    assert piece in err, err


def test_a_design_with_aliases_or_repeated_keys_is_refused(tmp_path):
    from sim.experiments import load_design
    from sim.scenario import ScenarioError

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &x [1, 2]\nb: *x\n", encoding="utf-8")
    twice = tmp_path / "twice.yaml"
    twice.write_text("sampler: grid\nsampler: lhs\n", encoding="utf-8")
    for path in (bomb, twice):
        try:
            load_design(path)
        except ScenarioError as exc:
            assert str(path) in str(exc)
        else:
            raise AssertionError(f"{path.name} was accepted")
