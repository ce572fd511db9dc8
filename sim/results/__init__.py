"""Results directories: written atomically under ``results/`` (or ``--out``), with a manifest.

Every command that writes results (run, compare, the optimisers, sweeps, calibrate) goes through
here, so the rules on where results land and how they are replaced live in one place.
"""

from sim.results.directories import (
    atomic_dir,
    default_run_dir,
    kpi_summary_dict,
    manifest,
    versions,
    write_json,
    write_table,
)

__all__ = [
    "atomic_dir",
    "default_run_dir",
    "kpi_summary_dict",
    "manifest",
    "versions",
    "write_json",
    "write_table",
]
