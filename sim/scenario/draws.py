"""Posterior draws of uncertain parameters: which draw a replication uses, and the checks.

A scenario's ``uncertainty.draws`` CSV has one column per dotted scenario path and one row per
draw. Replication ``r`` under seed ``s`` uses row :func:`draw_row` ``(s, r)``: a function of
those two only, so a plan and its baseline run with the same seed share the draw as they share
the customers' luck (common random numbers), and every executor gives the same answer. Rows are
taken in a seeded random order without repeats until all are used; ``replications_per_draw``
consecutive replications share one, which is what lets
:mod:`sim.experiments.uncertainty` split the spread into parameters and luck.

    >>> [draw_row(7, r, n_rows=5, per_draw=2) for r in range(6)] == [
    ...     draw_row(7, r, n_rows=5, per_draw=2) for r in range(6)]
    True
    >>> rows = [draw_row(7, r, n_rows=5, per_draw=1) for r in range(5)]
    >>> sorted(rows)
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.scenario.paths import resolve_path, set_path

if TYPE_CHECKING:
    from sim.scenario.schema import Scenario

#: Mixed into the seed so the draw order is a stream of its own (not a phase's numbers).
DRAW_STREAM = 0x5EED_D4A3


def draw_row(seed: int, replication: int, *, n_rows: int, per_draw: int = 1) -> int:
    """The row of the draws file that replication ``replication`` under ``seed`` uses."""
    group = replication // per_draw
    order = np.random.default_rng([DRAW_STREAM, seed, group // n_rows]).permutation(n_rows)
    return int(order[group % n_rows])


def active(scenario: Scenario) -> bool:
    """True when replications draw their parameters (a draws file, enabled)."""
    u = scenario.uncertainty
    return u is not None and u.enabled and bool(u.draws)


def read_draws(path: str) -> pd.DataFrame:
    """The draws CSV: numeric, finite, at least one row; read once per process and file
    version (every replication picks its row from it). Raises :class:`ScenarioError`."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ScenarioError([f"uncertainty.draws: cannot read {path} ({exc.strerror})"]) from None
    return _cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"uncertainty.draws: cannot read {path} ({exc})"]) from None
    problems = []
    if table.empty or table.shape[1] == 0:
        problems.append(f"uncertainty.draws: {path} has no draws (a header and ≥ 1 row needed)")
    for col in table.columns:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
        if len(bad):
            problems.append(
                f"uncertainty.draws: column '{col}', line {bad[0] + 2}: "
                f"{table[col].iloc[bad[0]]!r} is not a finite number"
            )
        table[col] = values
    if problems:
        raise ScenarioError(problems)
    return table


def parameter_draw(scenario: Scenario, seed: int, replication: int) -> tuple[int, dict[str, Any]]:
    """``(row, {path: value})`` for this replication; ``(-1, {})`` without active draws."""
    if not active(scenario):
        return -1, {}
    table = read_draws(str(scenario.uncertainty.draws))
    row = draw_row(
        seed, replication, n_rows=len(table), per_draw=scenario.uncertainty.replications_per_draw
    )
    return row, {c: float(table[c].iloc[row]) for c in table.columns}


def draw_problems(scenario: Scenario) -> list[str]:
    """Columns that are not paths of this scenario, unreadable values, and values that break a
    field's bounds (checked on each column's smallest and largest draw)."""
    if not active(scenario):
        return []
    try:
        table = read_draws(str(scenario.uncertainty.draws))
    except ScenarioError as exc:
        return exc.problems
    data = scenario.model_dump(mode="json")
    problems = []
    for col in table.columns:
        try:
            value = resolve_path(data, col)
        except KeyError as exc:
            problems.append(f"uncertainty.draws: column '{col}' is not a scenario path: {exc}")
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(
                f"uncertainty.draws: column '{col}' names a {type(value).__name__}, not a number"
            )
    if problems:
        return problems
    # Bounds: each column's smallest and largest draw on its own, validated by the schema
    # (the loader would re-check the draws file: this stays one level down).
    base = scenario.model_dump(mode="json")
    set_path(base, "uncertainty.enabled", False)
    for col in table.columns:
        for label, value in (("smallest", table[col].min()), ("largest", table[col].max())):
            data = copy.deepcopy(base)
            set_path(data, col, float(value))
            try:
                type(scenario).model_validate(data)
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                problems.append(f"uncertainty.draws: column '{col}', {label} draw {value:g}: {msg}")
                break
    return problems


def file_digests(scenario: Scenario) -> dict[str, str]:
    """SHA-256 of the data files a scenario reads, by field: a changed file is another run."""
    out = {}
    if scenario.spend_file:
        out["spend_file"] = _digest(str(scenario.spend_file))
    if active(scenario):
        out["uncertainty.draws"] = _digest(str(scenario.uncertainty.draws))
    return out


def _digest(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return _digest_cached(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _digest_cached(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()
