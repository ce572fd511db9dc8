"""Sweeps: every point of a design × its replications, journaled so a sweep can resume.

:func:`run_sweep` samples the design's points, sends batches of points to an executor (local
processes, inline for one worker, or a Dask cluster), and appends each finished batch to a
journal (``journal/part-*.jsonl``, written to a temporary file, fsync'd and renamed, each
ending with a checksum line: :mod:`sim.experiments.journal`). A crash, ``kill -9`` or Ctrl-C
therefore loses only the batches in flight; running the same sweep again into the same directory
checks every part, keeps the complete points and recomputes the rest (saying how many rows were
discarded). When all points are done the journal is consolidated. The sweep holds the
directory's writer lock throughout: a second sweep on the same ``--out`` is refused, and a
directory of another kind or of another sweep is never resumed (:mod:`.sweep_dir`).

Point ``p``, replication ``r`` is simulated with the design's seed and random-stream index
``r`` (common random numbers across points, the default) or ``p·R + r``; results are put in
``(point, replication)`` order, so the table is the same on 1 worker, N workers or a cluster.

Layout of a sweep directory:

* ``sweep.json`` — kind, sweep id, design, scenario hash, number of points (checks a resume);
* ``design_points.parquet`` — ``point`` and one column per parameter;
* ``journal/`` — one small checksummed JSON Lines file per finished batch (``discarded/``
  keeps damaged parts found on resume);
* ``results.parquet`` / ``results.csv`` — one row per point × replication: ``point``,
  ``replication``, the parameters, every KPI, ``error`` (empty when the replication ran);
* ``point_summary.parquet`` / ``.csv`` — per point and analysed KPI: mean, sd, t interval, n.

    >>> from sim.experiments.design import build_design
    >>> def model(params, seed, replication):
    ...     return {"y": params["x"] ** 2}
    >>> d = build_design({"sampler": "grid", "parameters": {"x": {"levels": [1, 2, 3]}}})
    >>> import tempfile
    >>> table = run_sweep(None, d, out=tempfile.mkdtemp(), model_fn=model, workers=1,
    ...                   progress=False)
    >>> list(table["y"])
    [1.0, 4.0, 9.0]
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments import evaluation as experiment
from sim.experiments.design import Design, kpi_problems, sample
from sim.experiments.evaluation import make_executor
from sim.experiments.journal import check_journal, write_journal
from sim.experiments.sweep_dir import (
    JOURNAL,
    STATE,
    journaled_points,
    prepare,
    read_journal,
    read_state,
    sweep_state,
)
from sim.results import locked
from sim.results.columns import write_columns
from sim.results.directories import write_json
from sim.results.provenance import reproducibility
from sim.scenario import Scenario, ScenarioError, apply_overrides

__all__ = [
    "JOURNAL",
    "STATE",
    "Batch",
    "consolidate",
    "journaled_points",
    "kpi_columns",
    "point_means",
    "point_summary",
    "read_journal",
    "read_state",
    "run_sweep",
    "tidy_table",
    "write_journal",
]

ModelFn = Callable[[dict[str, Any], int, int], dict[str, float]]
"""A plain model: ``model_fn(params, seed, stream) -> {kpi: value}`` (must be picklable)."""

MAX_BATCH = 500  # points per task for plain-function models: bounds the loss on a crash


@dataclass(frozen=True)
class Batch:
    """What a worker receives: a few points and everything needed to simulate them."""

    points: tuple[tuple[int, dict[str, Any]], ...]
    replications: int
    seed: int
    common_random_numbers: bool
    scenario: Scenario | None
    model_fn: ModelFn | None


def run_batch(batch: Batch) -> list[dict[str, Any]]:
    """Run every point × replication of a batch; failures become rows with an error."""
    rows: list[dict[str, Any]] = []
    for point, params in batch.points:
        rows.extend(run_point(batch, point, params))
    return rows


def run_point(batch: Batch, point: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    reps = range(batch.replications)
    streams = [r if batch.common_random_numbers else point * batch.replications + r for r in reps]
    if batch.model_fn is not None:
        return [_call_model(batch, point, params, r, s) for r, s in zip(reps, streams, strict=True)]
    try:
        scenario = apply_overrides(batch.scenario, params)
    except ScenarioError as exc:  # an invalid point (say, a budget below 0) is a failed point
        return [_row(point, r, {}, "ScenarioError: " + "; ".join(exc.problems)) for r in reps]
    rows = []
    for r, s in zip(reps, streams, strict=True):
        # looked up on the module so tests can inject faults into the real code path
        rep = experiment.run_replication(scenario, batch.seed, s, (), keep_daily=False)
        rows.append(_row(point, r, rep.kpis, rep.error))
    return rows


def _call_model(batch: Batch, point: int, params: dict, r: int, stream: int) -> dict[str, Any]:
    try:
        return _row(point, r, batch.model_fn(params, batch.seed, stream), None)
    except Exception as exc:  # recorded, not fatal: the sweep goes on
        return _row(point, r, {}, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")


def _row(point: int, replication: int, kpis: dict[str, float], error: str | None) -> dict:
    return {
        "point": point,
        "replication": replication,
        "error": error,
        **{k: float(v) for k, v in kpis.items()},
    }


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------
def run_sweep(
    scenario: Scenario | None,
    design: Design,
    *,
    out: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = True,
    progress: bool = True,
    model_fn: ModelFn | None = None,
    executor: Executor | None = None,
    batch_size: int | None = None,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run (or resume) a sweep into ``out`` and return its tidy results table.

    Pass ``model_fn`` instead of a scenario to sweep a plain Python function through the same
    design, executor and journal (tests use the Ishigami function). ``resume=False`` discards
    an earlier sweep in ``out``; with ``resume=True`` a different design or scenario in ``out``
    is an error rather than a silent mix. ``log`` receives what the user should know (what
    was resumed, what was discarded); by default it goes to stderr when ``progress`` is on.
    Another process writing ``out`` raises :class:`~sim.results.locks.ResultsBusyError`.
    """
    if (scenario is None) == (model_fn is None):
        raise ValueError("give exactly one of scenario or model_fn")
    if scenario is not None:
        scenario = apply_overrides(scenario, design.overrides)
        check_paths(scenario, design)
        if problems := kpi_problems(design, scenario):  # else analyze fails after the sweep
            raise ScenarioError(problems)
    out = Path(out)
    points = sample(design)
    state = sweep_state(design, _model_id(scenario, model_fn), scenario, len(points))
    say = log or (_stderr if progress else _quiet)
    with locked(out):
        found = prepare(out, state, points, resume=resume)
        check = check_journal(out, design.replications, state["sweep"], repair=True)
        if found != "new":
            rebuilt = f" ({STATE} was unreadable: rewritten from the design)"
            say(
                f"resuming sweep {design.name!r} in {out}: {len(check.done)} of "
                f"{len(points)} points done" + (rebuilt if found == "rebuilt" else "")
            )
        if check.describe():
            say(check.describe())
        todo = [p for p in _records(points, design) if p[0] not in check.done]
        size = batch_size or _default_batch(len(todo), workers, model_fn)
        batches = [
            Batch(
                tuple(todo[i : i + size]),
                design.replications,
                design.seed,
                design.common_random_numbers,
                scenario,
                model_fn,
            )
            for i in range(0, len(todo), size)
        ]
        with contextlib.ExitStack() as stack:
            ex = executor or stack.enter_context(
                make_executor(workers=workers, scheduler=scheduler)
            )
            bar = _progress_bar(len(points), len(points) - len(todo), design.name, progress)
            stack.callback(bar.close)
            for rows in _run_bounded(ex, batches, _slots(ex, workers)):
                write_journal(out, rows, state["sweep"])
                bar.update(len({r["point"] for r in rows}))
        write_json(  # how to reproduce the directory (the design is in sweep.json)
            out / "reproduce.json",
            {
                "scenario": scenario.model_dump(mode="json") if scenario is not None else None,
                "reproduce": reproducibility(),
            },
        )
        return consolidate(out, design)


def _model_id(scenario: Scenario | None, model_fn: ModelFn | None) -> str:
    if scenario is not None:
        return scenario.content_hash()
    return f"{model_fn.__module__}.{getattr(model_fn, '__qualname__', repr(model_fn))}"


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _quiet(text: str) -> None:
    pass


def check_paths(scenario: Scenario, design: Design) -> None:
    """Every parameter must name an existing scenario setting (a typo would fail every point)."""
    data = scenario.model_dump(mode="json")
    problems = []
    for name in design.names:
        node: Any = data
        for part in name.split("."):
            if isinstance(node, list):
                ids = [str(item.get("id")) for item in node if isinstance(item, dict)]
                node = (
                    node[ids.index(part)]
                    if part in ids
                    else node[int(part)]
                    if part.isdigit() and int(part) < len(node)
                    else _MISSING
                )
            elif isinstance(node, dict):
                node = node.get(part, _MISSING)
            else:
                node = _MISSING
            if node is _MISSING:
                problems.append(
                    f"parameters.{name}: no such setting in scenario "
                    f"{scenario.name!r} (stopped at '{part}')"
                )
                break
    if problems:
        raise ScenarioError(problems)


_MISSING = object()


def _records(points: pd.DataFrame, design: Design) -> list[tuple[int, dict[str, Any]]]:
    names = design.names
    return [
        (int(row["point"]), {n: _native(row[n]) for n in names})
        for row in points.to_dict("records")
    ]


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _default_batch(n_todo: int, workers: int | None, model_fn: ModelFn | None) -> int:
    if model_fn is None:  # a point is R simulations: per-task overhead is already negligible
        return 1
    slots = max(1, workers or experiment.default_workers())
    return max(1, min(MAX_BATCH, math.ceil(n_todo / (8 * slots))))


def _slots(ex: Executor, workers: int | None) -> int:
    """Tasks kept in flight: two per worker, so no worker idles while results are journaled."""
    if isinstance(ex, experiment.InlineExecutor):
        return 1  # inline tasks run at submit time: one at a time keeps the journal current
    client = getattr(ex, "_client", None)  # a Dask executor: size by the cluster's threads
    if client is not None:
        with contextlib.suppress(Exception):
            return max(2, 2 * sum(client.nthreads().values()))
        return 64
    return 2 * (workers or experiment.default_workers())


def _run_bounded(
    ex: Executor, batches: Sequence[Batch], slots: int
) -> Iterator[list[dict[str, Any]]]:
    """Yield batch results as they finish, never more than ``slots`` tasks in flight.

    Results that finished are yielded (and journaled) before any failure is raised, so a worker
    that dies loses only what was in flight.
    """
    queue = iter(batches)
    pending: set[Future] = set()
    try:
        while True:
            for batch in queue:
                pending.add(ex.submit(run_batch, batch))
                if len(pending) >= slots:
                    break
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            failure = None
            for fut in finished:
                if fut.exception() is None:
                    yield fut.result()
                elif failure is None:
                    failure = fut.exception()
            if failure is not None:
                raise failure
    finally:
        for fut in pending:
            fut.cancel()


def _progress_bar(total: int, initial: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="pt",
        desc=name,
        disable=not enabled,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def consolidate(out: str | Path, design: Design) -> pd.DataFrame:
    """Journal → ``results.*`` and ``point_summary.*``; returns the results table."""
    out = Path(out)
    journal = read_journal(out, design.replications)
    points = pd.read_parquet(out / "design_points.parquet")
    table = tidy_table(journal, points, design)
    _write_table(out, "results", table)
    _write_table(out, "point_summary", point_summary(table, design))
    write_columns(out, sweep_parameters=tuple(design.names))  # columns.csv: the dictionary
    return table


def tidy_table(journal: pd.DataFrame, points: pd.DataFrame, design: Design) -> pd.DataFrame:
    """One row per point × replication in (point, replication) order, canonical columns."""
    journal = journal.drop_duplicates(["point", "replication"], keep="first")
    reserved = {"point", "replication", "error"}
    kpis = [c for c in journal.columns if c not in reserved]
    table = points.merge(journal, on="point", how="inner", validate="one_to_many")
    table = table.sort_values(["point", "replication"], kind="stable").reset_index(drop=True)
    table["point"] = table["point"].astype("int64")
    table["replication"] = table["replication"].astype("int64")
    casts = {k: "float64" for k in kpis if table[k].dtype != "float64"}
    table = table.astype({"error": "string", **casts})
    return table[["point", "replication", *design.names, *kpis, "error"]].copy()


def kpi_columns(table: pd.DataFrame, design: Design) -> list[str]:
    reserved = {"point", "replication", "error", *design.names}
    return [c for c in table.columns if c not in reserved]


def point_summary(table: pd.DataFrame, design: Design, confidence: float = 0.95) -> pd.DataFrame:
    """Per point and KPI (the design's, or all): mean, t interval, sd, n, failed replications."""
    kpis = [k for k in (design.kpis or kpi_columns(table, design)) if k in table.columns]
    groups = table.groupby("point", sort=True)
    stat = {"mean": groups[kpis].mean(), "sd": groups[kpis].std(ddof=1), "n": groups[kpis].count()}
    long = pd.DataFrame({k: v.stack(future_stack=True) for k, v in stat.items()})
    long.index.names = ["point", "kpi"]
    long = long.reset_index()
    n = long["n"].to_numpy(dtype=float)
    tq = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
    half = np.where(n > 1, tq * long["sd"].to_numpy() / np.sqrt(np.maximum(n, 1)), np.nan)
    long["ci_low"] = long["mean"] - half
    long["ci_high"] = long["mean"] + half
    long["errors"] = long["point"].map(groups["error"].count()).astype("int64")
    params = table.drop_duplicates("point")[["point", *design.names]]
    cols = ["point", *design.names, "kpi", "mean", "ci_low", "ci_high", "sd", "n", "errors"]
    return params.merge(long, on="point")[cols]


def point_means(table: pd.DataFrame, design: Design) -> pd.DataFrame:
    """One row per point: the parameters and the mean of every KPI over its replications."""
    kpis = kpi_columns(table, design)
    means = table.groupby("point", sort=True)[kpis].mean()
    params = table.drop_duplicates("point").set_index("point")[design.names]
    return params.join(means).reset_index().copy()


def _write_table(out: Path, name: str, frame: pd.DataFrame) -> None:
    for ext, write in (
        ("parquet", lambda p: frame.to_parquet(p, index=False)),
        ("csv", lambda p: frame.to_csv(p, index=False)),
    ):
        tmp = out / f".{name}.{ext}.tmp"
        write(tmp)
        os.replace(tmp, out / f"{name}.{ext}")
