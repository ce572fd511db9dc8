"""Sweeps: resumable journal, failures recorded, determinism across executors, Sobol' indices."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.commands.cli import main
from sim.experiments import evaluation as experiment
from sim.experiments.design import build_design, points_count, sample
from sim.experiments.sweep import journaled_points, run_sweep
from sim.reports.analysis import analyze
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = {"market.customers": 2000, "horizon.days": 60}


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(ROOT / "scenarios" / "baseline.yaml", overrides=TINY)


def grid_design(**extra):
    return build_design(
        {
            "name": "tiny-grid",
            "sampler": "grid",
            "seed": 5,
            "replications": 2,
            "parameters": {
                "channels.tmall.budget.paid": {"levels": [20000, 50000]},
                "channels.wecom.budget.private_ops": {"levels": [1000, 8000]},
            },
            **extra,
        }
    )


# ---- plain-function models (module level: picklable for worker processes) -------------------
def ishigami(params, seed, stream, a=7.0, b=0.1):
    x1, x2, x3 = params["x1"], params["x2"], params["x3"]
    return {"y": np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)}


def noisy(params, seed, stream):
    rng = np.random.default_rng([seed, stream])
    if params["x"] == 3:
        raise ValueError("point 3 is broken")
    return {"y": params["x"] + rng.normal(), "z": params["x"] ** 2}


def crashing(params, seed, stream, marker):
    """Kills its worker process the first time it meets x == 6 (a hard crash, not an error)."""
    if params["x"] == 6 and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(3)
    return noisy({"x": params["x"] + 100}, seed, stream)


def line_design(n=12, reps=2):
    return build_design(
        {
            "sampler": "grid",
            "replications": reps,
            "seed": 9,
            "parameters": {"x": {"levels": list(range(n))}},
        }
    )


# ---- design ------------------------------------------------------------------------------------
def test_design_errors_name_the_field():
    with pytest.raises(ScenarioError) as err:
        build_design(
            {
                "sampler": "sobol",
                "n": 10,
                "parameters": {"a": {"low": 2, "high": 1}, "b": {"low": 0, "high": 1, "colour": 3}},
            }
        )
    text = "\n".join(err.value.problems)
    assert "parameters.a" in text and "low must be < high" in text
    assert "parameters.b.colour" in text and "unknown key" in text
    with pytest.raises(ScenarioError, match="power of 2"):
        build_design(
            {
                "sampler": "sobol",
                "n": 10,
                "parameters": {"a": {"low": 0, "high": 1}, "b": {"low": 0, "high": 1}},
            }
        )


def test_samplers_produce_the_announced_points():
    params = {
        "a": {"low": 0, "high": 1},
        "b": {"levels": ["x", "y", "z"]},
        "c": {"distribution": "lognormal", "median": 2.0, "sigma": 0.5},
    }
    for sampler, n in (("grid", 1), ("lhs", 10), ("sobol", 8), ("morris", 4), ("montecarlo", 10)):
        d = build_design({"sampler": sampler, "n": n, "seed": 1, "parameters": params})
        pts = sample(d)
        assert len(pts) == points_count(d)
        assert pts["a"].between(0, 1).all() and set(pts["b"]) <= {"x", "y", "z"}
        assert (pts["c"] > 0).all()
        pd.testing.assert_frame_equal(pts, sample(d))  # the seed fixes the sample
    assert points_count(build_design({"sampler": "grid", "parameters": params})) == 3 * 3 * 3


def test_unknown_parameter_path_is_rejected_before_running(tiny, tmp_path):
    d = build_design({"parameters": {"channels.tmall.budget.payd": {"levels": [1, 2]}}})
    with pytest.raises(ScenarioError, match="budget.payd: no such setting"):
        run_sweep(tiny, d, out=tmp_path / "s", workers=1, progress=False)


# ---- resume ------------------------------------------------------------------------------------
def test_keyboard_interrupt_then_resume_gives_the_uninterrupted_table(tiny, tmp_path, monkeypatch):
    design = grid_design()
    reference = run_sweep(tiny, design, out=tmp_path / "ref", workers=1, progress=False)
    assert len(reference) == 4 * 2 and reference["error"].isna().all()

    real = experiment.run_replication
    calls = {"n": 0}

    def interrupt_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # the first replication of point 2: Ctrl-C mid-sweep
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "run_replication", interrupt_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tiny, design, out=tmp_path / "s", workers=1, progress=False)
    assert journaled_points(tmp_path / "s") == {0, 1}  # finished points survived
    monkeypatch.setattr(experiment, "run_replication", real)
    calls["n"] = 0
    resumed = run_sweep(tiny, design, out=tmp_path / "s", workers=1, progress=False)
    pd.testing.assert_frame_equal(resumed, reference)
    again = run_sweep(tiny, design, out=tmp_path / "s", workers=1, progress=False)
    pd.testing.assert_frame_equal(again, reference)  # nothing left to run: same table
    on_disk = pd.read_parquet(tmp_path / "s" / "results.parquet")
    pd.testing.assert_frame_equal(on_disk, reference)


def test_worker_killed_midway_then_resume(tmp_path):
    design = line_design()
    (tmp_path / "never").touch()  # with its marker already there, the reference never crashes
    reference = run_sweep(
        None,
        design,
        out=tmp_path / "ref",
        workers=1,
        progress=False,
        model_fn=functools.partial(crashing, marker=str(tmp_path / "never")),
    )
    model = functools.partial(crashing, marker=str(tmp_path / "crashed"))
    with pytest.raises(BrokenProcessPool):
        run_sweep(
            None,
            design,
            out=tmp_path / "s",
            workers=2,
            batch_size=1,
            progress=False,
            model_fn=model,
        )
    assert 6 not in journaled_points(tmp_path / "s")
    resumed = run_sweep(
        None, design, out=tmp_path / "s", workers=1, progress=False, model_fn=model
    )  # inline: one process pool per test is enough
    pd.testing.assert_frame_equal(resumed, reference)


def test_a_different_design_in_the_same_directory_is_refused(tmp_path):
    run_sweep(
        None, line_design(3), out=tmp_path / "s", workers=1, progress=False, model_fn=ishigami_free
    )
    with pytest.raises(ScenarioError, match="different sweep"):
        run_sweep(
            None,
            line_design(4),
            out=tmp_path / "s",
            workers=1,
            progress=False,
            model_fn=ishigami_free,
        )
    table = run_sweep(
        None,
        line_design(4),
        out=tmp_path / "s",
        workers=1,
        progress=False,
        model_fn=ishigami_free,
        resume=False,
    )
    assert list(table["point"].unique()) == [0, 1, 2, 3]


def ishigami_free(params, seed, stream):
    return {"y": float(params["x"])}


# ---- a damaged journal, a damaged state, a directory of another kind ----------------------------
CALLS: list[int] = []  # points simulated by `counted` (inline runs only: workers=1)


def counted(params, seed, stream):
    CALLS.append(params["x"])
    return noisy(params, seed, stream)


def _damaged_copy(tmp_path, name):
    """A finished 6-point × 2-replication sweep journaled in two parts (points 0-2, 3-5)."""
    out = tmp_path / name
    run_sweep(
        None, line_design(6), out=out, workers=1, progress=False, model_fn=counted, batch_size=3
    )
    for f in ("results.parquet", "results.csv", "point_summary.parquet", "point_summary.csv"):
        (out / f).unlink()
    first, second = sorted((out / "journal").glob("part-*.jsonl"))
    return out, first, second


def _resume(out):
    CALLS.clear()
    said = []
    table = run_sweep(
        None, line_design(6), out=out, workers=1, progress=False, model_fn=counted, log=said.append
    )
    return table, "\n".join(said)


def test_a_cut_short_journal_part_is_checked_and_its_incomplete_points_recomputed(tmp_path):
    reference = run_sweep(
        None, line_design(6), out=tmp_path / "ref", workers=1, progress=False, model_fn=counted
    )
    out, first, second = _damaged_copy(tmp_path, "s")
    lines = second.read_bytes().splitlines(keepends=True)  # 6 rows (points 3, 4, 5) + check
    second.write_bytes(b"".join(lines[:5]))  # point 5 lost replication 1 and the check line
    text = first.read_bytes()
    first.write_bytes(text[: text.index(b'"point": 2, "replication": 1') + 20])  # cut mid-row
    table, said = _resume(out)
    pd.testing.assert_frame_equal(table, reference)
    assert sorted(CALLS) == [2, 2, 5, 5]  # only the two incomplete points ran again, whole
    assert "resuming sweep" in said and "4 of 6 points done" in said
    assert (
        "2 parts cut short" in said
        and "discarded 2 rows and 1 unreadable line; 2 incomplete points to recompute" in said
    )
    assert len(list((out / "journal" / "discarded").iterdir())) == 2  # set aside, not deleted
    CALLS.clear()
    assert journaled_points(out) == set(range(6)) and not CALLS


def test_an_altered_journal_value_is_never_served(tmp_path):
    reference = run_sweep(
        None, line_design(6), out=tmp_path / "ref", workers=1, progress=False, model_fn=counted
    )
    out, first, _ = _damaged_copy(tmp_path, "s")
    z = '"z": 4.0}'  # point 2's z = x² = 4, edited to 5 with the check line left as it was
    first.write_text(first.read_text().replace(z, '"z": 5.0}', 1))
    table, said = _resume(out)
    pd.testing.assert_frame_equal(table, reference)
    assert table.loc[table["point"] == 2, "z"].tolist() == [4.0, 4.0]
    assert (
        sorted(CALLS) == [0, 0, 1, 1, 2, 2]
        and "1 part altered" in said
        and "discarded 6 rows; 3 incomplete points" in said
    )


def test_an_unreadable_sweep_json_is_rebuilt_only_for_the_same_sweep(tmp_path):
    reference = run_sweep(
        None, line_design(6), out=tmp_path / "ref", workers=1, progress=False, model_fn=counted
    )
    out, _, _ = _damaged_copy(tmp_path, "s")
    state = (out / "sweep.json").read_text()
    (out / "sweep.json").write_text(state[: len(state) // 2])  # cut short
    table, said = _resume(out)
    pd.testing.assert_frame_equal(table, reference)
    assert not CALLS and "6 of 6 points done" in said and "sweep.json was unreadable" in said
    # the same damage under another sweep's journal: refused, nothing touched
    (out / "sweep.json").write_text("{")
    before = sorted(p.name for p in (out / "journal").iterdir())
    with pytest.raises(ScenarioError, match=r"sweep.json: unreadable .*cannot be matched"):
        run_sweep(None, line_design(7), out=out, workers=1, progress=False, model_fn=noisy)
    assert sorted(p.name for p in (out / "journal").iterdir()) == before


def test_only_a_sweep_directory_is_resumed(tmp_path):
    other = tmp_path / "run"
    other.mkdir()
    (other / "manifest.json").write_text('{"command": "channelsim run baseline.yaml"}')
    with pytest.raises(ScenarioError, match=r"another command .*channelsim run baseline.yaml"):
        run_sweep(None, line_design(3), out=other, workers=1, progress=False, model_fn=noisy)
    assert sorted(p.name for p in other.iterdir()) == ["manifest.json"]
    # a start cut short before sweep.json was written is this kind: it simply starts
    started = tmp_path / "started"
    (started / "journal").mkdir(parents=True)
    table = run_sweep(None, line_design(3), out=started, workers=1, progress=False, model_fn=noisy)
    assert len(table) == 6


def gated(params, seed, stream, gate):
    """Waits for the gate file: keeps a sweep running while the test starts a second one."""
    while not os.path.exists(gate):
        time.sleep(0.05)
    return {"y": float(params["x"])}


def test_a_second_sweep_on_the_same_out_is_refused_and_no_work_is_doubled(tmp_path, capsys):
    out, gate = tmp_path / "s", tmp_path / "gate"
    code = (
        "import functools, sys\n"
        "from tests.test_sweep import gated, line_design\n"
        "from sim.experiments.sweep import run_sweep\n"
        "run_sweep(None, line_design(4, reps=1), out=sys.argv[1], workers=1, batch_size=1,\n"
        "          progress=False, model_fn=functools.partial(gated, gate=sys.argv[2]))\n"
    )
    first = subprocess.Popen([sys.executable, "-c", code, str(out), str(gate)], cwd=ROOT)
    try:
        for _ in range(1200):  # sweep.json is written under the lock
            if (out / "sweep.json").exists() or first.poll() is not None:
                break
            time.sleep(0.05)
        design = tmp_path / "d.yaml"
        design.write_text("sampler: grid\nparameters:\n  market.word_of_mouth: {levels: [0.001]}\n")
        args = ["sweep", str(ROOT / "scenarios" / "baseline.yaml"), "--design", str(design)]
        assert main([*args, "--out", str(out), "--workers", "1", "--no-progress"]) == 2
        assert "is being written by another process" in capsys.readouterr().err
    finally:
        gate.touch()
        assert first.wait(timeout=120) == 0
    assert len(list((out / "journal").glob("part-*.jsonl"))) == 4  # one per point, once
    assert len(pd.read_parquet(out / "results.parquet")) == 4


def test_pool_workers_exit_when_the_sweep_is_killed(tmp_path):
    psutil = pytest.importorskip("psutil")
    design = tmp_path / "d.yaml"
    design.write_text(
        "sampler: grid\nreplications: 1\n"
        "overrides: {market.customers: 2000, horizon.days: 60}\n"
        "parameters:\n  channels.tmall.budget.paid: {low: 10000, high: 60000, steps: 200}\n"
    )
    out = tmp_path / "s"
    cmd = [
        sys.executable,
        "-m",
        "sim.commands.cli",
        "sweep",
        str(ROOT / "scenarios" / "baseline.yaml"),
        "--design",
        str(design),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    sweep = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    try:
        for _ in range(1200):  # until the workers have journaled a point
            if list(out.glob("journal/part-*")) or sweep.poll() is not None:
                break
            time.sleep(0.05)
        children = psutil.Process(sweep.pid).children(recursive=True)
        assert len(children) >= 2  # the two workers (and multiprocessing's resource tracker)
        sweep.kill()  # SIGKILL: no clean-up code runs in the sweep
        sweep.wait()
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        for p in children:  # on failure, never leave them running
            with contextlib.suppress(psutil.Error):
                p.kill()
        if sweep.poll() is None:
            sweep.kill()


# ---- failures ----------------------------------------------------------------------------------
def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, tiny):
    table = run_sweep(
        None, line_design(5), out=tmp_path / "f", workers=1, progress=False, model_fn=noisy
    )
    assert len(table) == 10
    bad = table[table["point"] == 3]
    assert bad["error"].str.contains("point 3 is broken").all() and bad["y"].isna().all()
    assert table.loc[table["point"] != 3, "error"].isna().all()
    assert table.loc[table["point"] != 3, "z"].tolist() == [0, 0, 1, 1, 4, 4, 16, 16]

    invalid = build_design(
        {"replications": 1, "parameters": {"channels.tmall.budget.paid": {"levels": [30000, -5]}}}
    )  # −5 CNY/day is invalid
    sweep = run_sweep(tiny, invalid, out=tmp_path / "s", workers=1, progress=False)
    assert sweep["error"].isna().tolist() == [True, False]
    assert "budget.paid" in sweep.loc[1, "error"] and sweep.loc[0, "revenue"] > 0
    summary = pd.read_csv(tmp_path / "s" / "point_summary.csv")
    assert (summary.loc[summary["point"] == 1, "errors"] == 1).all()


# ---- determinism -------------------------------------------------------------------------------
def test_identical_on_one_and_two_workers_and_a_dask_cluster(tiny, tmp_path):
    from dask.distributed import LocalCluster

    design = grid_design(replications=1)
    one = run_sweep(tiny, design, out=tmp_path / "w1", workers=1, progress=False)
    two = run_sweep(tiny, design, out=tmp_path / "w2", workers=2, progress=False)
    pd.testing.assert_frame_equal(one, two)
    # in-process Dask workers: the same scheduler/executor path without paying two more
    # interpreter start-ups (benchmarks/bench_sweep.py runs a process LocalCluster)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=40
    ) as cluster:
        dask = run_sweep(
            tiny, design, out=tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(one, dask)
    assert one["revenue"].nunique() == 4  # the points really differ


def test_replications_use_common_or_independent_streams(tmp_path):
    crn = run_sweep(
        None, line_design(3), out=tmp_path / "a", workers=1, progress=False, model_fn=noisy
    )
    noise = crn["y"] - crn["point"]
    ok = crn["point"] != 3
    # common random numbers: replication r draws the same noise at every point
    assert np.allclose(noise[ok & (crn["replication"] == 0)], noise.iloc[0])
    ind = run_sweep(
        None,
        line_design(3).model_copy(update={"common_random_numbers": False}),
        out=tmp_path / "b",
        workers=1,
        progress=False,
        model_fn=noisy,
    )
    assert (ind["y"] - ind["point"]).nunique() == 6


# ---- sensitivity through the sweep machinery ---------------------------------------------------
def test_sobol_indices_of_ishigami_through_the_sweep(tmp_path):
    pi = float(np.pi)
    design = build_design(
        {
            "name": "ishigami",
            "sampler": "sobol",
            "n": 1024,
            "seed": 3,
            "kpis": ["y"],
            "parameters": {f"x{i}": {"low": -pi, "high": pi} for i in (1, 2, 3)},
        }
    )
    run_sweep(None, design, out=tmp_path / "ish", workers=1, progress=False, model_fn=ishigami)
    result = analyze(tmp_path / "ish", figures=False)
    sens = pd.DataFrame(result["sensitivity"])
    sobol = sens[sens["method"] == "sobol"].set_index(["parameter", "measure"])["value"]
    # analytic values for a = 7, b = 0.1 (Ishigami & Homma 1990; Saltelli et al. 2008)
    expected = {
        ("x1", "S1"): 0.3139,
        ("x2", "S1"): 0.4424,
        ("x3", "S1"): 0.0,
        ("x1", "ST"): 0.5576,
        ("x2", "ST"): 0.4424,
        ("x3", "ST"): 0.2437,
    }
    for key, value in expected.items():
        assert sobol[key] == pytest.approx(value, abs=0.04), key
    assert (tmp_path / "ish" / "analysis" / "sensitivity.csv").exists()


def test_morris_ranks_the_influential_input_first(tmp_path):
    design = build_design(
        {
            "sampler": "morris",
            "n": 20,
            "seed": 1,
            "kpis": ["y"],
            "parameters": {f"x{i}": {"low": -3.14159, "high": 3.14159} for i in (1, 2, 3)},
        }
    )
    run_sweep(None, design, out=tmp_path / "m", workers=1, progress=False, model_fn=ishigami)
    sens = pd.DataFrame(analyze(tmp_path / "m", figures=False)["sensitivity"])
    mu = sens[sens["measure"] == "mu_star"].set_index("parameter")["value"]
    assert mu.idxmax() == "x2" and mu.idxmin() == "x3"


# ---- CLI ---------------------------------------------------------------------------------------
def test_cli_sweep_then_analyze(tmp_path, capsys):
    design = tmp_path / "d.yaml"
    design.write_text(
        "name: cli\nsampler: grid\nreplications: 1\nkpis: [revenue, profit]\n"
        "overrides: {market.customers: 2000, horizon.days: 45}\n"
        "parameters:\n  channels.tmall.budget.paid: {low: 10000, high: 60000, steps: 3}\n"
        "  market.word_of_mouth: {levels: [0.001, 0.004]}\n"
        "targets:\n  - {kpi: profit, at_least: -1.0e12}\n"
    )
    out = tmp_path / "sw"
    assert (
        main(
            [
                "sweep",
                str(ROOT / "scenarios" / "baseline.yaml"),
                "--design",
                str(design),
                "--out",
                str(out),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (out / "results.csv").exists() and (out / "point_summary.parquet").exists()
    assert main(["analyze", str(out), "--target", "revenue>=1"]) == 0
    for name in (
        "analysis.json",
        "sensitivity.csv",
        "analysis.md",
        "tornado_profit.png",
        "heatmap_profit.png",
    ):
        assert (out / "analysis" / name).exists(), name
    assert (
        main(
            [
                "sweep",
                str(ROOT / "scenarios" / "baseline.yaml"),
                "--design",
                str(tmp_path / "missing.yaml"),
            ]
        )
        == 2
    )
    assert main(["analyze", str(out), "--target", "revenue=>1"]) == 2
    assert (
        main(
            ["sweep", str(ROOT / "scenarios" / "baseline.yaml"), "--design", str(design), "-r", "0"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "cannot read design" in err and "--target" in err and "--replications" in err


def test_scenario_discovery_finds_the_box(tmp_path):
    design = build_design(
        {
            "sampler": "lhs",
            "n": 200,
            "seed": 2,
            "kpis": ["y"],
            "targets": [{"kpi": "y", "at_least": 0.0}],
            "parameters": {"a": {"low": 0, "high": 1}, "b": {"low": 0, "high": 1}},
        }
    )
    run_sweep(None, design, out=tmp_path / "d", workers=1, progress=False, model_fn=box_model)
    found = analyze(tmp_path / "d", figures=False)["discovery"]
    box = found["box"]
    assert set(box) == {"a", "b"}
    assert box["a"]["low"] == pytest.approx(0.5, abs=0.05) and box["a"]["high"] is None
    assert box["b"]["high"] == pytest.approx(0.3, abs=0.05) and box["b"]["low"] is None
    assert found["density"] == 1.0 and found["coverage"] == 1.0


def box_model(params, seed, stream):
    inside = params["a"] > 0.5 and params["b"] < 0.3
    return {"y": 1.0 if inside else -1.0}


def test_analyze_on_a_corrupt_sweep_json_names_the_file(tmp_path, capsys):
    from sim.commands.cli import main

    (tmp_path / "sweep.json").write_text('{"design": ', encoding="utf-8")
    assert main(["analyze", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "sweep.json" in err and "Traceback" not in err
