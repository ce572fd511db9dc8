"""Reports: results directories written atomically, report.md / report.html, and figures."""

from sim.reports.report import fmt, load_results, write_comparison, write_report
from sim.reports.results import (
    atomic_dir,
    default_run_dir,
    manifest,
    write_json,
    write_table,
)

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
