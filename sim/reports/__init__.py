"""Reports: report.md / report.html of a results directory, its sections and figures, and the
write-up of a sweep analysis. Results directories themselves are :mod:`sim.results`."""

from sim.reports.format import fmt, p_meet, target_line, undefined_lines
from sim.reports.report import write_comparison, write_report
from sim.reports.store import load_results
from sim.reports.summary import console_summary

__all__ = [
    "console_summary",
    "fmt",
    "load_results",
    "p_meet",
    "target_line",
    "undefined_lines",
    "write_comparison",
    "write_report",
]
