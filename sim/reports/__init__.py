"""Reports: report.md / report.html of a results directory, its sections and figures, and the
write-up of a sweep analysis. Results directories themselves are :mod:`sim.results`."""

from sim.reports.format import fmt
from sim.reports.report import write_comparison, write_report
from sim.reports.store import load_results

__all__ = ["fmt", "load_results", "write_comparison", "write_report"]
