"""``channelsim analyze SWEEP_DIR``: sensitivity indices, tornado, heatmaps, target region."""

from __future__ import annotations

import re
from pathlib import Path

from sim.experiments.design import DesignTarget
from sim.reports.analysis import analyze

TARGET = re.compile(r"^\s*([\w.@-]+)\s*(>=|<=)\s*(\S+)\s*$")


def register(sub) -> None:
    p = sub.add_parser("analyze", help="sensitivity and scenario discovery on a sweep directory")
    p.add_argument("sweep_dir", metavar="SWEEP_DIR")
    p.add_argument(
        "--kpi",
        dest="kpis",
        action="append",
        default=None,
        metavar="KPI",
        help="KPI to analyse (repeatable; default: the design's)",
    )
    p.add_argument(
        "--target",
        dest="targets",
        action="append",
        default=None,
        metavar="KPI>=VALUE",
        help="target for scenario discovery, e.g. "
        "'profit>=0' (repeatable; default: the design's targets)",
    )
    p.add_argument("--out", default=None, help="output directory (default SWEEP_DIR/analysis)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.set_defaults(func=run)


def parse_target(text: str) -> DesignTarget:
    from sim.commands.cli import UsageError

    m = TARGET.match(text)
    if not m:
        raise UsageError(f"--target {text!r}: expected KPI>=VALUE or KPI<=VALUE")
    kpi, op, value = m.groups()
    try:
        bound = float(value)
    except ValueError:
        raise UsageError(f"--target {text!r}: {value!r} is not a number") from None
    return DesignTarget(kpi=kpi, **({"at_least": bound} if op == ">=" else {"at_most": bound}))


def run(args) -> int:
    from sim.commands.cli import UsageError

    if not Path(args.sweep_dir).is_dir():
        raise UsageError(f"SWEEP_DIR {args.sweep_dir}: no such directory")
    targets = [parse_target(t) for t in args.targets] if args.targets else None
    result = analyze(
        args.sweep_dir, kpis=args.kpis, targets=targets, out=args.out, figures=not args.no_figures
    )
    out = Path(args.out) if args.out else Path(args.sweep_dir) / "analysis"
    print((out / "analysis.md").read_text())
    print(
        f"written: {out}/analysis.json, sensitivity.csv, analysis.md"
        + (f", {len(result['figures'])} figures" if result["figures"] else "")
    )
    return 0
