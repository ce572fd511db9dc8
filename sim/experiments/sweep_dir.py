"""The sweep directory: its state file, what a resume may continue, and the journal read back.

A sweep resumes only into a directory of its own kind holding the same sweep (same design, same
scenario): :func:`prepare` refuses anything else (another command's results, an Optuna study, a
different sweep, an unrelated folder) with a message naming what it found, and never writes
into it. ``sweep.json`` is written last when a sweep starts, so a directory holding only
``journal/`` and ``design_points.parquet`` is a start that was cut short. If ``sweep.json`` is
unreadable (cut short, edited) it is rewritten from the design only when every journal part's
check line names this very sweep (see :mod:`sim.experiments.journal`); otherwise the directory
is left as it is and the user is told how to proceed.

Writers hold the directory's lock (:mod:`sim.results.locks`) while they run, so two sweeps on one
``--out`` cannot both write: the second is refused at once (exit 2).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.design import Design
from sim.experiments.journal import JOURNAL, check_journal, sweep_ids
from sim.results.directories import write_json
from sim.scenario import Scenario, ScenarioError

STATE = "sweep.json"
POINTS = "design_points.parquet"
KIND = "sweep"

__all__ = [
    "JOURNAL",
    "KIND",
    "POINTS",
    "STATE",
    "journaled_points",
    "prepare",
    "read_journal",
    "read_state",
    "sweep_state",
]


def sweep_state(design: Design, model: str, scenario: Scenario | None, n_points: int) -> dict:
    """What ``sweep.json`` holds; ``sweep`` is the id every journal part is stamped with."""
    design_hash = design.content_hash()
    return {
        "kind": KIND,
        "sweep": hashlib.sha256(f"{design_hash}|{model}".encode()).hexdigest()[:16],
        "design": design.model_dump(mode="json"),
        "design_hash": design_hash,
        "model": model,
        "scenario": scenario.name if scenario is not None else None,
        "points": n_points,
    }


def read_state(out: str | Path) -> dict[str, Any]:
    """``sweep.json`` of ``out``; a :class:`ScenarioError` naming the file if it is unusable."""
    path = Path(out) / STATE
    if not path.exists():
        raise ScenarioError([f"{out}: not a sweep directory (no {STATE})"])
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # cut short, not JSON, not UTF-8
        raise ScenarioError([f"{path}: unreadable ({type(exc).__name__}: {exc})"]) from None
    if not isinstance(state, dict) or not {"design", "design_hash", "model"} <= set(state):
        raise ScenarioError([f"{path}: not a sweep state (design, design_hash, model missing)"])
    return state


def prepare(out: Path, state: dict[str, Any], points: pd.DataFrame, *, resume: bool) -> str:
    """Create ``out`` or check it holds this very sweep; ``"new"``, ``"resume"`` or
    ``"rebuilt"`` (an unreadable or missing ``sweep.json`` rewritten, the journal being this
    sweep's). Anything else in ``out`` is refused, never overwritten."""
    found = _examine(out, state, points, resume=resume)
    if found == "resume":
        return found
    if found == "new":
        shutil.rmtree(out / JOURNAL, ignore_errors=True)
    (out / JOURNAL).mkdir(parents=True, exist_ok=True)
    tmp = out / f".{POINTS}.tmp"
    points.to_parquet(tmp, index=False)
    os.replace(tmp, out / POINTS)
    write_json(out / STATE, state)  # last: a directory with sweep.json is a complete start
    return found


def _examine(out: Path, state: dict[str, Any], points: pd.DataFrame, *, resume: bool) -> str:
    if not out.exists():
        return "new"
    if not out.is_dir():
        raise ScenarioError([f"--out {out}: exists and is not a directory"])
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}  # temp files aside
    if STATE in names:
        try:
            old = read_state(out)
        except ScenarioError as exc:
            return _rebuildable(out, state, points, exc.problems[0]) if resume else "new"
        if not resume:
            return "new"
        if (old.get("design_hash"), old.get("model")) != (state["design_hash"], state["model"]):
            raise ScenarioError(
                [
                    f"--out {out}: holds a different sweep (design "
                    f"{old['design'].get('name')!r} on {old.get('scenario') or old['model']!r}; "
                    "design or scenario changed); choose another --out or pass --no-resume"
                ]
            )
        return "resume"
    if names <= {JOURNAL, POINTS}:  # a start cut short before sweep.json, or nothing at all
        return _rebuildable(out, state, points, None) if resume and names else "new"
    raise ScenarioError([f"--out {out}: {_kind_of(out, names)}, not a sweep; choose another --out"])


def _rebuildable(out: Path, state: dict[str, Any], points: pd.DataFrame, why: str | None) -> str:
    """Without a readable sweep.json, resume only if every journal part names this sweep."""
    foreign = sweep_ids(out) - {state["sweep"]}
    same_points = True
    if (out / POINTS).exists():
        try:
            same_points = pd.read_parquet(out / POINTS).equals(points)
        except Exception:  # noqa: BLE001 - an unreadable file is rewritten from the design
            same_points = True
    if foreign or not same_points:
        raise ScenarioError(
            [
                f"{why or f'{out / STATE}: missing'}; the journal in {out} cannot be matched "
                f"to this sweep, so it was left as it is: restore {STATE}, choose another "
                "--out, or pass --no-resume to discard it"
            ]
        )
    return "rebuilt"


def _kind_of(out: Path, names: set[str]) -> str:
    if "manifest.json" in names:
        try:
            command = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["command"]
        except (OSError, ValueError, KeyError, TypeError):
            command = "unknown command"
        return f"holds the results of another command (manifest.json: {command!r})"
    if "study.db" in names:
        return "holds an Optuna study (study.db)"
    shown = ", ".join(sorted(names)[:4]) + (", …" if len(names) > 4 else "")
    return f"is not empty ({shown})"


def journaled_points(out: str | Path, replications: int | None = None) -> set[int]:
    """Points whose every replication is in an intact part of the journal."""
    return check_journal(out, _replications(out, replications)).done


def read_journal(out: str | Path, replications: int | None = None) -> pd.DataFrame:
    """Every trustworthy journaled row of a complete point (columns: point, replication,
    error, KPIs); damaged parts are skipped, not repaired (see :mod:`.journal`)."""
    rows = check_journal(out, _replications(out, replications)).rows
    if not rows:
        return pd.DataFrame(
            {
                "point": pd.Series(dtype="int64"),
                "replication": pd.Series(dtype="int64"),
                "error": pd.Series(dtype="string"),
            }
        )
    return pd.DataFrame(rows)


def _replications(out: str | Path, replications: int | None) -> int | None:
    if replications is not None:
        return replications
    with contextlib.suppress(ScenarioError, KeyError, TypeError):
        return int(read_state(out)["design"]["replications"])
    return None
