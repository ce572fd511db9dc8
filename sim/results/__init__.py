"""Results directories: written atomically under ``results/`` (or ``--out``), with a manifest.

Every command that writes results (run, compare, the optimisers, sweeps, calibrate) goes through
here, so the rules on where results land and how they are replaced live in one place: a
directory appears complete or not at all (:func:`atomic_dir`), existing results are never
replaced without ``force``, one process writes a directory at a time (:func:`locked`,
:class:`ResultsBusyError`), a killed writer's leftovers are recovered by the next writer
(:func:`recover`), and a scenario's name is made a safe file name (:func:`safe_name`). The
guarantees are listed in ``docs/failure-modes.md``.
"""

from sim.results.atomic import (
    RESULT_MARKERS,
    ResultsExistError,
    atomic_dir,
    claim,
    leftovers,
    recover,
)
from sim.results.columns_tools import write_tool_columns
from sim.results.directories import (
    default_run_dir,
    kpi_summary_dict,
    manifest,
    versions,
    write_json,
    write_table,
)
from sim.results.locks import ResultsBusyError, ResultsError, lock_path, locked
from sim.results.names import safe_name

__all__ = [
    "RESULT_MARKERS",
    "ResultsBusyError",
    "ResultsError",
    "ResultsExistError",
    "atomic_dir",
    "claim",
    "default_run_dir",
    "kpi_summary_dict",
    "leftovers",
    "lock_path",
    "locked",
    "manifest",
    "recover",
    "safe_name",
    "versions",
    "write_json",
    "write_table",
    "write_tool_columns",
]
