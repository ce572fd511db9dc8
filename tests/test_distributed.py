"""The README's several-machine promises, against real servers on localhost.

* ``--scheduler tcp://host:8786``: a real ``dask scheduler`` and two ``dask worker`` processes
  (not an in-process ``LocalCluster``) give bit-identical results to one worker.
* ``--storage postgresql://…``: a real PostgreSQL server (Debian's ``postgresql`` package,
  ``initdb`` into a temporary directory, started on a free port) holds one Optuna study that two
  ``channelsim optimize search`` processes work on at once; the study ends with exactly the
  requested number of complete trials, and both processes report the same best trial.

Each server is started by the test and torn down after it; the PostgreSQL test is skipped, with
the reason, where the server binaries or the driver are missing (``.ci/run`` installs them).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.experiments import evaluate, run_sweep
from sim.experiments.design import build_design
from sim.scenario import load_scenario

from .conftest import ROOT, SCENARIOS

TINY = {"market.customers": 1500, "horizon.days": 45}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---- Dask ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_cluster():
    """``dask scheduler`` + two ``dask worker`` processes on localhost; yields the address."""
    from dask.distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
             str(port), "--no-dashboard"],
            **quiet,
        )
    ]  # fmt: skip
    try:
        procs += [
            subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--name", f"w{i}"],
                **quiet,
            )
            for i in range(2)
        ]  # fmt: skip
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            yield address, client
    finally:
        _stop(procs[1:])
        _stop(procs[:1])


def test_a_real_dask_cluster_gives_the_results_of_one_worker(dask_cluster, tmp_path):
    address, client = dask_cluster
    tiny = load_scenario(SCENARIOS / "baseline.yaml", overrides=TINY)
    design = build_design(
        {
            "sampler": "grid",
            "seed": 3,
            "replications": 2,
            "parameters": {"channels.tmall.budget.paid": {"levels": [10000, 30000, 60000]}},
        }
    )
    one = run_sweep(tiny, design, out=tmp_path / "one", workers=1, progress=False)
    dask = run_sweep(tiny, design, out=tmp_path / "dask", scheduler=address, progress=False)
    pd.testing.assert_frame_equal(one, dask, check_exact=True)
    assert one["revenue"].nunique() == 6  # the points and replications really differ
    ran = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    assert len(ran) == 2 and all(n > 0 for n in ran.values())  # both workers did some of it

    ev_one = evaluate(tiny, replications=4, seed=11, workers=1)
    ev_dask = evaluate(tiny, replications=4, seed=11, scheduler=address)
    pd.testing.assert_frame_equal(ev_one.kpis, ev_dask.kpis, check_exact=True)


# ---- PostgreSQL ------------------------------------------------------------------------------
def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server in a temporary directory on a free port; yields its URL."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed")
    base = Path(tempfile.mkdtemp(prefix="channelsim-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    port = free_port()
    data = base / "data"
    run = {"check": True, "capture_output": True, "cwd": base}
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
         "--auth=trust", "-E", "UTF8", "--no-sync"],
        **run,
    )  # fmt: skip
    options = f"-p {port} -h 127.0.0.1 -k {base} -c fsync=off -c max_connections=50"
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"),
         "-o", options, "-w", "-t", "60", "start"],
        **run,
    )  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=base,
        )
        shutil.rmtree(base, ignore_errors=True)


def test_two_searches_share_one_postgresql_study_and_stop_at_exactly_n(postgres, tmp_path):
    import optuna

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"name: shared\nextends: {SCENARIOS / 'baseline.yaml'}\n"
        "decisions:\n  - {path: channels.jd.budget.paid, low: 0, high: 40000}\n"
        "  - {path: channels.wecom.price_index, choices: [0.9, 0.95, 1.0]}\n"
    )
    trials = 6

    def command(name: str) -> list[str]:
        return [
            sys.executable, "-m", "sim.commands.cli", "optimize", "search", str(plan),
            "--storage", postgres, "--study-name", "shared", "--trials", str(trials),
            "-r", "1", "--verify-replications", "2", "--workers", "1", "--no-progress",
            "--out", str(tmp_path / name),
            *[f"--set={k}={v}" for k, v in {**TINY, "market.scale": 1000}.items()],
        ]  # fmt: skip

    procs = []
    try:
        for name in ("a", "b"):
            procs.append(
                subprocess.Popen(
                    command(name), cwd=ROOT, text=True,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                )
            )  # fmt: skip
            time.sleep(0.5)  # b joins a study a has just created
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "Traceback" not in err

    study = optuna.load_study(study_name="shared", storage=postgres)
    states = [t.state.name for t in study.trials]
    assert states.count("COMPLETE") == trials and "RUNNING" not in states
    assert len(states) == trials  # nothing doubled: no trial beyond the N asked for
    ran_by = {t.user_attrs["worker"]["pid"] for t in study.trials}
    assert ran_by <= {p.pid for p in procs}
    best = max(study.trials, key=lambda t: t.value)
    summaries = [json.loads((tmp_path / n / "summary.json").read_text()) for n in ("a", "b")]
    for s in summaries:  # each process reports the study's best trial, whoever ran it
        assert s["trials"] == trials
        assert s["best"] == best.params
        assert s["best_values"] == [best.value]
