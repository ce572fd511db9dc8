"""Reports: results directories written atomically, report.md / report.html, and figures."""

from sim.reports.format import fmt
from sim.reports.report import write_comparison, write_report
from sim.reports.results import (
    atomic_dir,
    default_run_dir,
    manifest,
    write_json,
    write_table,
)
from sim.reports.store import load_results

__all__ = [
    "atomic_dir",
    "default_run_dir",
    "fmt",
    "load_results",
    "manifest",
    "write_comparison",
    "write_json",
    "write_report",
    "write_table",
]
