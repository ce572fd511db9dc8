"""``channelsim report RESULTS_DIR``: re-render report.html / report.md from stored results.

Nothing is simulated: the report is built from ``summary.json``, ``manifest.json``,
``scenarios.json``, ``daily.parquet``, ``flows.csv`` and ``cohorts.csv`` of a
``channelsim compare`` results directory.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("report", help="re-render a comparison report from a results directory")
    p.add_argument("results_dir", help="a directory written by `channelsim compare`")
    p.set_defaults(func=run)


def run(args) -> int:
    from sim.reports import write_report

    d = Path(args.results_dir)
    if not d.is_dir():
        raise UsageError(f"RESULTS_DIR: not a directory: {d}")
    try:
        html_path, md_path = write_report(d)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"report: {html_path}\nmarkdown: {md_path}")
    return 0
