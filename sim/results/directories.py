"""Writing runs to ``results/<run-id>/``: names, manifests, tables and JSON files.

A run is written with :func:`~sim.results.atomic.atomic_dir` (complete or absent, locked, never
over existing results unless forced); its default place, :func:`default_run_dir`, is a fresh
directory under ``results/`` named after the scenario through
:func:`~sim.results.names.safe_name`, so a scenario's name can never point outside it.

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
import secrets
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.results.atomic import atomic_dir, leftovers
from sim.results.locks import lock_path
from sim.results.names import safe_name
from sim.results.provenance import command_line, reproducibility
from sim.scenario import Scenario

__all__ = [  # atomic_dir is re-exported: commands import it from here
    "atomic_dir",
    "default_run_dir",
    "kpi_summary_dict",
    "manifest",
    "versions",
    "write_json",
    "write_table",
]

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
    """A fresh ``root/NAME-YYYYmmdd-HHMMSS`` (``-2``, ``-3``… if taken), ``NAME`` made safe by
    :func:`~sim.results.names.safe_name`: always one directory directly under ``root``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{safe_name(name)}-{stamp}"
    out, n = base, 1
    while os.path.lexists(out) or lock_path(out).exists() or any(leftovers(out)):
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def write_json(path: str | Path, data: Any) -> None:
    """Atomic JSON write (a temporary file of this writer's own, then rename); NaN becomes
    null. Concurrent writers of one file never collide: the last complete one wins."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:  # mode 0o666 & ~umask, like any file
            fh.write(json.dumps(_clean(data), indent=2, sort_keys=False, default=str) + "\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


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
        "command": command_line(),
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        **extra,
        "reproduce": reproducibility(),
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
