"""Writing runs to ``results/<run-id>/`` atomically.

A run is written into a hidden temporary directory next to its destination and renamed into
place only when every file is complete, so an interrupted run never leaves a half-written
directory, and an earlier run at the same path is replaced only by a complete one.

Layout of a run directory (see ``results/README.md``):
``manifest.json`` (scenario name and hash, seed, replications, versions, command line),
``summary.json`` (``{"kpis": {NAME: {"mean", "ci_low", "ci_high"}}, "targets": [...]}``),
``kpis.csv`` / ``kpis.parquet`` (one row per replication), ``daily.parquet`` / ``daily.csv``
(tidy daily table of every replication), ``journeys.csv`` (sampled customer journeys).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.scenario import Scenario

PACKAGES = (
    "channelsim",
    "mesa",
    "numpy",
    "pandas",
    "pulp",
    "optuna",
    "matplotlib",
    "pydantic",
    "scipy",
)


def default_run_dir(name: str, root: str | Path = "results") -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{name}-{stamp}"


@contextlib.contextmanager
def atomic_dir(out: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` only if the block completes."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_json(path: str | Path, data: Any) -> None:
    """Atomic JSON write (temp file + rename); NaN becomes null."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, path)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_table(directory: Path, name: str, frame: pd.DataFrame, *, csv: bool = True) -> None:
    frame.to_parquet(directory / f"{name}.parquet", index=False)
    if csv:
        frame.to_csv(directory / f"{name}.csv", index=False)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def manifest(scenario: Scenario, *, seed: int, replications: int, **extra: Any) -> dict:
    return {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash(),
        "extends": scenario.extends,
        "seed": seed,
        "replications": replications,
        "versions": versions(),
        "command": " ".join(sys.argv),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        **extra,
    }


def kpi_summary_dict(summary: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {
        str(k): {
            "mean": float(r["mean"]),
            "ci_low": float(r["ci_low"]),
            "ci_high": float(r["ci_high"]),
        }
        for k, r in summary.iterrows()
    }
