"""Optuna plan search: targets as constraints, resumable SQLite studies, reproducible seeds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from optimizers.search import check_decisions, pareto_front, search
from sim.scenario import ScenarioError, load_scenario

from .conftest import SCENARIOS
from .test_tool_columns import assert_every_column_described

TINY = {"market.customers": 1000, "horizon.days": 40, "market.scale": 1000}
JD = {"path": "channels.jd.budget.paid", "low": 0, "high": 60_000}
PRICE = {"path": "channels.wecom.price_index", "choices": [0.9, 0.95, 1.0]}
# Revenue grows with JD spend, overall ROI falls with it: the revenue-best trials break the target.
ROI_TARGET = {"kpi": "roi_overall", "at_least": 4.5}


def tiny(**extra):
    return load_scenario(SCENARIOS / "baseline.yaml", overrides={**TINY, **extra})


def test_no_infeasible_trial_is_reported_as_best():
    sc = tiny(decisions=[JD], targets=[ROI_TARGET])
    res = search(
        sc,
        objectives=["revenue"],
        trials=8,
        replications=2,
        seed=0,
        sampler_seed=3,
        workers=1,
        confidence=0.8,
    )
    t = res.trials
    assert t["feasible"].any() and not t["feasible"].all()  # the constraint really cuts
    assert res.best is not None
    best_row = t[t["channels.jd.budget.paid"] == res.best["channels.jd.budget.paid"]].iloc[0]
    assert best_row["feasible"] and best_row["P(roi_overall)"] >= 0.8
    assert res.best_values[0] == pytest.approx(t.loc[t["feasible"], "revenue"].max())
    assert res.study.best_trial.number == best_row["trial"]  # Optuna agrees via set_constraint
    assert (t.loc[~t["feasible"], "P(roi_overall)"] < 0.8).all()


def test_a_stored_study_resumes_with_the_trials_it_had(tmp_path):
    sc = tiny(decisions=[JD, PRICE])
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = search(sc, trials=3, replications=1, workers=1, storage=storage, study_name="s")
    again = search(sc, trials=5, replications=1, workers=1, storage=storage, study_name="s")
    assert len(first.trials) == 3 and len(again.trials) == 5
    cols = ["trial", "profit", "channels.jd.budget.paid", "channels.wecom.price_index"]
    assert again.trials[cols].head(3).equals(first.trials[cols])
    done = search(sc, trials=5, replications=1, workers=1, storage=storage, study_name="s")
    assert len(done.trials) == 5  # nothing missing: nothing run


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_a_fixed_sampler_seed_reproduces_the_study(sampler):
    sc = tiny(decisions=[JD, PRICE], targets=[ROI_TARGET])
    cols = [
        "profit",
        "channels.jd.budget.paid",
        "channels.wecom.price_index",
        "P(roi_overall)",
        "feasible",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna 5: no deprecated constraint API, no warnings
        a = search(sc, trials=4, replications=1, workers=1, sampler=sampler, sampler_seed=11)
        b = search(sc, trials=4, replications=1, workers=1, sampler=sampler, sampler_seed=11)
    assert a.trials[cols].equals(b.trials[cols])


def test_two_objectives_report_a_pareto_front():
    sc = tiny(decisions=[JD, PRICE])
    res = search(
        sc,
        objectives=["profit", "repurchase_rate"],
        trials=6,
        replications=1,
        workers=1,
        sampler="nsga2",
        sampler_seed=1,
    )
    front = res.pareto[["profit", "repurchase_rate"]].to_numpy()
    every = res.trials[res.trials["feasible"]][["profit", "repurchase_rate"]].to_numpy()
    assert len(front) >= 1
    for p in front:  # nothing on the front is dominated by any trial
        assert not np.any(np.all(every >= p, axis=1) & np.any(every > p, axis=1))
    for q in every:  # and every trial is on the front or dominated by a point of it
        on = np.any(np.all(front == q, axis=1))
        assert on or np.any(np.all(front >= q, axis=1) & np.any(front > q, axis=1))


def test_pareto_front_on_a_known_table():
    import pandas as pd

    t = pd.DataFrame(
        {"a": [1, 2, 3, 0, 3], "b": [3, 2, 1, 0, 0], "feasible": [True, True, True, True, False]}
    )
    assert sorted(pareto_front(t, ["a", "b"]).index.tolist()) == [0, 1, 2]


def test_decision_paths_must_resolve():
    with pytest.raises(
        ScenarioError,
        match=r"decisions\[0\].path: channels.nope.budget.paid: "
        r"unknown id 'nope'",
    ):
        tiny(decisions=[{"path": "channels.nope.budget.paid", "low": 0, "high": 1}])
    with pytest.raises(ScenarioError, match="give either low and high, or choices"):
        tiny(decisions=[{"path": "channels.jd.budget.paid", "low": 0}])
    sc = tiny(decisions=[{"path": "channels.jd.price_index", "choices": [0.0, 1.0]}])
    with pytest.raises(ScenarioError, match=r"decisions\[0\] \(channels.jd.price_index = 0.0\)"):
        check_decisions(sc)
    with pytest.raises(ScenarioError, match="declares no decision"):
        check_decisions(tiny())


def test_cli_search_writes_results_and_resumes(tmp_path, capsys):
    import json

    from sim.commands.cli import main

    plan = tmp_path / "plan.yaml"
    plan.write_text(
        f"name: tiny_search\nextends: {SCENARIOS / 'baseline.yaml'}\n"
        "decisions:\n  - {path: channels.jd.budget.paid, low: 0, high: 40000}\n"
        "targets:\n  - {kpi: revenue, relative_to: baseline, at_least: 0.9}\n"
    )
    out = tmp_path / "out"
    args = [
        "optimize",
        "search",
        str(plan),
        "-r",
        "1",
        "--verify-replications",
        "2",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        str(out),
        *[f"--set={k}={v}" for k, v in TINY.items()],
    ]
    assert main([*args, "--trials", "2"]) == 0
    assert main([*args, "--trials", "3"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 3 and (out / "study.db").is_file()
    for name in (
        "trials.csv",
        "report.md",
        "figures/history.png",
        "manifest.json",
        "verification/report.html",
        "verification/summary.json",
    ):
        assert (out / name).is_file(), name
    assert "Verification" in (out / "report.md").read_text()
    assert_every_column_described(out)  # trials, pareto: columns.csv (issue 16)
    bad = ["optimize", "search", str(plan), "--trials", "0", "--out", str(out)]
    assert main(bad) == 2
    assert "--trials: must be ≥ 1" in capsys.readouterr().err


# ---- studies that survive kill -9 and concurrent workers -------------------------------------
def _cli_args(tmp_path, out, name="plan"):
    plan = tmp_path / f"{name}.yaml"
    plan.write_text(
        f"name: {name}\nextends: {SCENARIOS / 'baseline.yaml'}\n"
        "decisions:\n  - {path: channels.jd.budget.paid, low: 0, high: 40000}\n"
    )
    return [
        "optimize",
        "search",
        str(plan),
        "-r",
        "1",
        "--verify-replications",
        "2",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        str(out),
        *[f"--set={k}={v}" for k, v in TINY.items()],
    ]


def _states(out, name="plan-profit"):
    import optuna

    study = optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")
    return [t.state.name for t in study.get_trials(deepcopy=False)], study


# Runs the CLI with the third evaluation (the baseline's, then trials 0 and 1) hanging: the
# test kills the process there, leaving trial 1 RUNNING as a kill -9 does.
HANG_ON_THIRD_EVALUATION = """
import sys, time
import optimizers.search as search
real, calls = search.evaluate, []
def hanging(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        open(sys.argv[1], "w").close()
        time.sleep(600)
    return real(*args, **kwargs)
search.evaluate = hanging
from sim.commands.cli import main
main(sys.argv[2:])
"""


def test_a_killed_trial_is_marked_failed_and_not_counted_on_resume(tmp_path, capsys):
    import json
    import subprocess
    import sys
    import time

    from sim.commands.cli import main

    from .conftest import ROOT

    out, marker = tmp_path / "out", tmp_path / "hanging"
    args = _cli_args(tmp_path, out)
    proc = subprocess.Popen(
        [sys.executable, "-c", HANG_ON_THIRD_EVALUATION, str(marker), *args, "--trials", "3"],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(1200):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the search never reached its second trial"
    finally:
        proc.kill()  # SIGKILL: the trial it was running stays RUNNING in the study
        proc.wait()
    assert _states(out)[0] == ["COMPLETE", "RUNNING"]
    assert main([*args, "--trials", "3"]) == 0
    states, _ = _states(out)
    assert states.count("COMPLETE") == 3 and states.count("RUNNING") == 0
    assert states[1] == "FAIL"  # the killed trial: failed, and not one of the 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 3 and summary["failed_trials"] == 1
    err = capsys.readouterr().err
    assert "resuming study 'plan-profit': 1 of 3 trials complete, 1 running" in err
    assert "marked 1 stale trial(s) failed" in err and "#1" in err


def test_two_first_starts_on_one_out_end_with_exactly_the_requested_trials(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    out = tmp_path / "out"
    args = [*_cli_args(tmp_path, out), "--trials", "5"]
    cmd = [sys.executable, "-m", "sim.commands.cli", *args]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err
        assert "IntegrityError" not in err and "Traceback" not in err
    states, study = _states(out)
    assert states.count("COMPLETE") == 5 and len(states) == 5  # none doubled, none lost
    owners = {t.user_attrs["worker"]["pid"] for t in study.trials}
    assert owners <= {p.pid for p in procs}
    best = [next(ln for ln in o.splitlines() if ln.startswith("best:")) for o, _ in results]
    assert best[0] == best[1]  # both report the study's best, whoever ran it
    value = max(t.value for t in study.trials)
    assert best[0] == f"best: profit {value:,.6g}"


def test_a_search_resumes_only_its_own_kind_of_directory(tmp_path, capsys):
    from sim.commands.cli import main

    other = tmp_path / "run"
    other.mkdir()
    (other / "manifest.json").write_text('{"command": "channelsim run baseline.yaml"}')
    assert main([*_cli_args(tmp_path, other), "--trials", "1"]) == 2
    assert "another command (manifest.json: 'channelsim run baseline.yaml'), not a plan search" in (
        capsys.readouterr().err
    )
    assert sorted(p.name for p in other.iterdir()) == ["manifest.json"]
    out = tmp_path / "out"
    assert main([*_cli_args(tmp_path, out), "--trials", "1"]) == 0
    changed = [*_cli_args(tmp_path, out), "--trials", "2", "-r", "2"]
    before = (out / "summary.json").read_bytes()
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert "holds another search (replications (stored 1, now 2))" in err
    assert _states(out)[0] == ["COMPLETE"] and (out / "summary.json").read_bytes() == before
