"""``channelsim report RESULTS_DIR``: re-render report.html / report.md from stored results.

Nothing is simulated: the report is built from ``summary.json``, ``manifest.json``,
``scenarios.json``, ``daily.parquet``, ``flows.csv`` and ``cohorts.csv`` of a ``channelsim
compare`` or ``channelsim run`` results directory. An optimiser's directory re-renders the
report of its verification (``verification/``, a comparison) and points at its own
``report.md``; a sweep's says that its write-up is ``channelsim analyze``.
"""

from __future__ import annotations

from pathlib import Path

from sim.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("report", help="re-render the report of a results directory")
    p.add_argument(
        "results_dir", help="a directory written by `channelsim run`, `compare` or `optimize`"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from sim.reports import write_report

    d = Path(args.results_dir)
    if not d.is_dir():
        raise UsageError(f"RESULTS_DIR: not a directory: {d}")
    if (d / "sweep.json").is_file():
        if (d / "analysis.md").is_file():
            print(f"a sweep: its write-up is {d / 'analysis.md'} (`channelsim analyze {d}`)")
            return 0
        raise UsageError(
            f"RESULTS_DIR {d}: a sweep; its write-up (sensitivity, tornado, target region) is "
            f"made by `channelsim analyze {d}`"
        )
    ver = d / "verification"
    if not (d / "scenarios.json").is_file() and (ver / "scenarios.json").is_file():
        mine = d / "report.md"  # an optimiser's own write-up, next to its verification
        print(f"optimiser's report: {mine}" if mine.is_file() else f"optimiser's results: {d}")
        d = ver
    try:
        html_path, md_path = write_report(d)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(f"report: {html_path}\nmarkdown: {md_path}")
    return 0
