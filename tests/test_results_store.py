"""The results store never loses work: names cannot escape ``results/``, directories get the
user's umask, existing results are kept unless ``--force``, one writer at a time, and a
``kill -9`` at any point is recovered by the next writer."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sim.results.directories as directories
from sim.commands.cli import main
from sim.results import (
    ResultsBusyError,
    ResultsExistError,
    atomic_dir,
    default_run_dir,
    leftovers,
    lock_path,
    locked,
    recover,
    safe_name,
    write_json,
)

from .conftest import ROOT, SCENARIOS

TINY = ["--set", "market.customers=1000", "--set", "horizon.days=20", "--set", "targets=[]"]


def _results(out: Path, text: str) -> None:
    """A results directory as a command leaves it."""
    out.mkdir(parents=True)
    (out / "manifest.json").write_text(text)


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# names used as paths
# --------------------------------------------------------------------------------------------
NAMES = [
    "../../../tmp/x",
    "/etc/passwd",
    "/",
    "..",
    ".",
    "x" * 300,
    "a\x00b",
    "a/b\\c",
    "六方案/计划 ✓",
    "é" * 200,
    "",
    " leading and trailing ",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_always_lands_directly_under_the_results_root(tmp_path, name):
    root = tmp_path / "results"
    out = default_run_dir(name, root=root)
    assert out.parent == root and out.name not in ("", ".", "..")
    assert "/" not in out.name and "\x00" not in out.name
    assert len(out.name.encode()) <= 120  # room for the lock and temporary names (255 max)
    with atomic_dir(out) as tmp:
        (tmp / "manifest.json").write_text("{}")
    assert [p.name for p in root.iterdir()] == [out.name]
    assert (root / out.name / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_different_names_never_share_a_directory():
    names = ["a/b", "a_b", "a b", "a\x00b", "x" * 300, "x" * 301, "六方案", "六方案 "]
    assert len({safe_name(n) for n in names}) == len(names)
    assert safe_name("six_schemes") == "six_schemes"  # a plain name is kept as it is


def test_a_default_directory_is_always_fresh(tmp_path):
    first = default_run_dir("plan", root=tmp_path)
    _results(first, "first")
    second = default_run_dir("plan", root=tmp_path)
    assert second != first and second.parent == tmp_path and not second.exists()


def test_run_with_a_hostile_name_writes_under_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            str(SCENARIOS / "baseline.yaml"),
            "-r",
            "2",
            "--workers",
            "1",
            "--set",
            "name=../../escaped",
            *TINY,
        ]
    )
    assert code == 0, capsys.readouterr().err
    made = list((tmp_path / "results").iterdir())
    assert len(made) == 1 and (made[0] / "summary.json").is_file()
    assert made[0].name.startswith("escaped-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    assert not list(tmp_path.parent.parent.glob("escaped*"))


def test_validate_refuses_a_name_with_control_characters(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f'name: "a\\0b"\nextends: {SCENARIOS / "baseline.yaml"}\n')
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr()
    assert "name: must not contain control characters" in err.out + err.err


# --------------------------------------------------------------------------------------------
# modes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o027])
def test_directories_and_files_get_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / "run"
        with atomic_dir(out) as tmp:
            write_json(tmp / "summary.json", {"a": 1})
            (tmp / "figures").mkdir()
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "summary.json").stat().st_mode) == 0o666 & ~umask


# --------------------------------------------------------------------------------------------
# existing results are never replaced silently
# --------------------------------------------------------------------------------------------
def test_an_existing_directory_is_refused_without_force(tmp_path):
    out = tmp_path / "run"
    _results(out, "old")
    with pytest.raises(ResultsExistError, match="--force"):
        with atomic_dir(out) as tmp:
            (tmp / "manifest.json").write_text("new")
    assert (out / "manifest.json").read_text() == "old"
    assert _hidden(tmp_path) == []  # no temporary directory or lock left behind


def test_force_replaces_and_leaves_nothing_behind(tmp_path):
    out = tmp_path / "run"
    _results(out, "old")
    (out / "stale.csv").write_text("x")
    with atomic_dir(out, force=True) as tmp:
        (tmp / "manifest.json").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    assert (out / "manifest.json").read_text() == "new"
    assert _hidden(tmp_path) == []


def test_force_never_replaces_a_directory_that_holds_no_results(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(ResultsExistError, match="not a results directory"):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "manifest.json").write_text("new")
    assert (out / "thesis.tex").read_text() == "years of work"


def test_a_failing_writer_keeps_the_old_results(tmp_path):
    out = tmp_path / "run"
    _results(out, "old")
    with pytest.raises(ZeroDivisionError):
        with atomic_dir(out, force=True) as tmp:
            (tmp / "manifest.json").write_text("half")
            1 / 0  # noqa: B018
    assert (out / "manifest.json").read_text() == "old"
    assert _hidden(tmp_path) == []


def _no_simulation(*a, **k):
    raise AssertionError("simulated although --out was refused")


def test_run_refuses_an_existing_out_before_simulating(tmp_path, monkeypatch, capsys):
    out = tmp_path / "demo"
    _results(out, "the compare report")
    monkeypatch.setattr("sim.commands.run.evaluate", _no_simulation)
    assert main(["run", str(SCENARIOS / "baseline.yaml"), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err and "Traceback" not in err
    assert (out / "manifest.json").read_text() == "the compare report"


def test_compare_refuses_an_existing_out_before_simulating(tmp_path, monkeypatch, capsys):
    out = tmp_path / "demo"
    _results(out, "kept")
    monkeypatch.setattr("sim.commands.compare.compare", _no_simulation)
    base = str(SCENARIOS / "baseline.yaml")
    assert main(["compare", base, base, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "--force" in err
    assert (out / "manifest.json").read_text() == "kept"


@pytest.mark.parametrize(
    "command, scenario, target",
    [
        ("budget", "six_schemes.yaml", "optimizers.budget.optimize_budget"),
        ("inventory", "uplift_plan.yaml", "optimizers.inventory.optimize_inventory"),
    ],
)
def test_the_optimisers_refuse_an_existing_out_before_optimising(
    tmp_path, monkeypatch, capsys, command, scenario, target
):
    out = tmp_path / "opt"
    _results(out, "kept")
    monkeypatch.setattr(target, _no_simulation)
    code = main(["optimize", command, str(SCENARIOS / scenario), "--out", str(out), *TINY])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(out) in err and "--force" in err
    assert (out / "manifest.json").read_text() == "kept"


def test_run_with_force_replaces_the_directory(tmp_path, capsys):
    out = tmp_path / "demo"
    _results(out, "old")
    (out / "stale.csv").write_text("x")
    args = ["run", str(SCENARIOS / "baseline.yaml"), "-r", "2", "--workers", "1", *TINY]
    assert main([*args, "--out", str(out), "--force"]) == 0, capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["replications"] == 2
    assert not (out / "stale.csv").exists() and _hidden(tmp_path) == []


# --------------------------------------------------------------------------------------------
# concurrent writers
# --------------------------------------------------------------------------------------------
HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sim.results import atomic_dir
    out, ready = Path(sys.argv[1]), Path(sys.argv[2])
    with atomic_dir(out, force=True) as tmp:
        (tmp / "manifest.json").write_text("from the killed writer")
        ready.write_text("ready")
        time.sleep(600)
    """
)


def _start(tmp_path: Path, script: str, *args: str) -> tuple[subprocess.Popen, Path]:
    ready = tmp_path / f"ready-{len(list(tmp_path.glob('ready-*')))}"
    proc = subprocess.Popen([sys.executable, "-c", script, *args, str(ready)], cwd=ROOT)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, "the writer exited early"
        assert time.monotonic() < deadline, "the writer never got ready"
        time.sleep(0.05)
    return proc, ready


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_second_writer_is_refused_then_a_killed_writers_leftovers_are_cleaned(
    tmp_path, monkeypatch, capsys
):
    out = tmp_path / "w"
    _results(out, "old")
    writer, _ = _start(tmp_path, HOLD, str(out))
    try:
        with pytest.raises(ResultsBusyError, match=f"another process \\(pid {writer.pid}\\)"):
            with atomic_dir(out, force=True):
                pass
        monkeypatch.setattr("sim.commands.run.evaluate", _no_simulation)
        cmd = ["run", str(SCENARIOS / "baseline.yaml"), "--out", str(out), "--force", *TINY]
        assert main(cmd) == 2  # the CLI: exit 2, the holder named, before any simulation
        err = capsys.readouterr().err
        assert f"is being written by another process (pid {writer.pid})" in err
    finally:
        _kill(writer)  # kill -9 while it writes: its temporary directory stays behind
    temps, olds = leftovers(out)
    assert len(temps) == 1 and not olds and lock_path(out).exists()
    assert (out / "manifest.json").read_text() == "old"
    with atomic_dir(out, force=True) as tmp:  # the stale lock is taken over
        (tmp / "manifest.json").write_text("new")
    assert (out / "manifest.json").read_text() == "new"
    assert _hidden(tmp_path) == []


KILL_BETWEEN_RENAMES = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sim.results import atomic_dir
    out, ready = Path(sys.argv[1]), Path(sys.argv[2])
    real = os.rename
    def rename(src, dst, *a, **k):
        real(src, dst, *a, **k)
        if Path(src) == out:  # the old results were just moved aside: die here
            ready.write_text("dying")
            os.kill(os.getpid(), signal.SIGKILL)
    os.rename = rename
    with atomic_dir(out, force=True) as tmp:
        (tmp / "manifest.json").write_text("new, never in place")
    """
)


def test_kill_between_the_two_renames_is_recovered_by_the_next_writer(tmp_path, caplog):
    out = tmp_path / "w"
    _results(out, "old")
    writer, _ = _start(tmp_path, KILL_BETWEEN_RENAMES, str(out))
    writer.wait()
    assert writer.returncode == -signal.SIGKILL
    assert not out.exists()  # the state the issue found: results only in .w.old-PID
    assert [p.name for p in leftovers(out)[1]] == [f".w.old-{writer.pid}"]
    with pytest.raises(ResultsExistError):  # recovered first, then kept: no --force given
        with atomic_dir(out):
            pass
    assert (out / "manifest.json").read_text() == "old"
    assert _hidden(tmp_path) == []
    assert any("restored the previous results" in r.getMessage() for r in caplog.records)


def test_legacy_leftovers_are_cleaned_when_the_results_are_in_place(tmp_path):
    out = tmp_path / "w"
    _results(out, "current")
    _results(tmp_path / ".w.old-12345", "replaced, delete was interrupted")
    _results(tmp_path / ".w.k3j_9x0a", "a temporary directory of a killed writer")
    _results(tmp_path / ".w.other.abcdefgh", "another output's: not ours")
    with locked(out):
        done = recover(out)
    assert len(done) == 2
    assert (out / "manifest.json").read_text() == "current"
    assert _hidden(tmp_path) == [".w.other.abcdefgh"]


def test_a_lock_with_a_dead_pid_is_taken_over(tmp_path):
    out = tmp_path / "w"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    lock_path(out).write_text(f"{dead}\n")
    with atomic_dir(out) as tmp:
        (tmp / "manifest.json").write_text("new")
    assert (out / "manifest.json").read_text() == "new" and not lock_path(out).exists()


FORK_AND_HOLD = textwrap.dedent(
    """
    import multiprocessing, sys, time
    from pathlib import Path
    from sim.results import locked
    out, pidfile, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    with locked(out):
        worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,))
        worker.start()
        pidfile.write_text(str(worker.pid))
        ready.write_text("ready")
        time.sleep(600)
    """
)


def test_a_pool_worker_orphaned_by_a_killed_writer_does_not_keep_its_lock(tmp_path):
    out, pidfile = tmp_path / "w", tmp_path / "worker.pid"
    writer, _ = _start(tmp_path, FORK_AND_HOLD, str(out), str(pidfile))
    worker = int(pidfile.read_text())
    try:
        _kill(writer)
        os.kill(worker, 0)  # the forked worker outlives its parent …
        with atomic_dir(out) as tmp:  # … and yet the lock is free
            (tmp / "manifest.json").write_text("new")
    finally:
        _kill(writer)
        try:
            os.kill(worker, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert (out / "manifest.json").read_text() == "new"


def test_concurrent_json_writers_never_collide(tmp_path, monkeypatch):
    path = tmp_path / "sweep.json"
    real = os.replace
    nested = []

    def interleaved(src, dst):  # another writer completes between our write and our rename
        if not nested:
            nested.append(1)
            write_json(path, {"writer": "other"})
        real(src, dst)

    monkeypatch.setattr(directories.os, "replace", interleaved)
    write_json(path, {"writer": "us"})
    assert json.loads(path.read_text()) == {"writer": "us"}
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.json"]
