"""``channelsim compare BASELINE PLAN [PLAN ...]``: plans against a baseline, with a report.

Every scenario runs on the same seed and replication indices (common random numbers); writes
``results/<run>/`` with ``report.html`` (self-contained), ``report.md``, ``summary.json``,
``manifest.json``, ``kpis.csv``, ``daily.parquet`` and prints the headline table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from sim.commands.options import add_override_options
from sim.commands.progress import ProgressBar, add_progress_option
from sim.commands.run import add_required_probability, check_required_probability
from sim.errors import UsageError
from sim.experiments.comparison import HEADLINE, Comparison, compare
from sim.experiments.targets import REQUIRED_PROBABILITY
from sim.experiments.uncertainty import spread_line
from sim.reports import fmt, write_comparison
from sim.reports.format import target_line, undefined_lines
from sim.reports.summary import console_summary
from sim.results import claim, default_run_dir
from sim.scenario import parse_set_options


def register(sub) -> None:
    p = sub.add_parser("compare", help="compare plans with a baseline (paired, CRN) and report")
    p.add_argument("baseline", help="baseline scenario file")
    p.add_argument("plans", nargs="+", metavar="plan", help="plan scenario file(s)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed shared by all scenarios (default: the baseline's)",
    )
    p.add_argument(
        "--replications",
        "-r",
        type=int,
        default=10,
        help="replications (the first batch when --precision is given)",
    )
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, tcp://host:8786")
    p.add_argument(
        "--precision",
        type=float,
        default=None,
        metavar="REL",
        help="add replications until every headline KPI's 95%% half-width is "
        "< REL × |mean| (e.g. 0.02)",
    )
    p.add_argument(
        "--max-replications",
        type=int,
        default=200,
        help="cap on replications with --precision or --until-decided (default 200)",
    )
    p.add_argument(
        "--until-decided",
        action="store_true",
        help="add replications (same seeds, indices continuing) until every target is met, "
        "missed or undefined, or --max-replications is reached; says which stayed undecided",
    )
    add_required_probability(p)
    add_progress_option(p)
    p.add_argument("--no-cache", action="store_true", help="simulate even if cached")
    p.add_argument("--cache-dir", default="results/.cache", help="result cache directory")
    add_override_options(p, help="override a value in every scenario, e.g. market.customers=5000")
    p.add_argument("--out", default=None, help="results directory (default results/compare-TIME)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out results directory (default: refuse, exit 2)",
    )
    p.set_defaults(func=run)


def check(args) -> None:
    check_required_probability(args)
    if args.replications < 1:
        raise UsageError(f"--replications: must be ≥ 1, got {args.replications}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be ≥ 1, got {args.workers}")
    if args.precision is not None and not 0 < args.precision < 1:
        raise UsageError(
            f"--precision: must be a fraction in (0, 1) such as 0.02, got {args.precision}"
        )
    if args.max_replications < args.replications:
        raise UsageError(
            f"--max-replications: must be ≥ --replications "
            f"({args.replications}), got {args.max_replications}"
        )
    for path in (args.baseline, *args.plans):
        if not Path(path).is_file():
            raise UsageError(f"scenario file not found: {path}")


def run(args) -> int:
    check(args)
    # Refuse an existing or busy --out now, not after simulating (the lock is kept until written).
    out = claim(args.out or default_run_dir("compare"), force=getattr(args, "force", False))
    bar = ProgressBar(
        "compare",
        total=(1 + len(args.plans)) * args.replications,
        enabled=not getattr(args, "no_progress", False),
    )
    try:
        cmp = compare(
            args.baseline,
            args.plans,
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            scheduler=args.scheduler,
            precision=args.precision,
            max_replications=args.max_replications,
            cache=False if args.no_cache else args.cache_dir,
            overrides=parse_set_options(args.overrides),
            until_decided=getattr(args, "until_decided", False),
            required_probability=getattr(args, "required_probability", REQUIRED_PROBABILITY),
            progress=bar.update_to,
        )
    except ValueError as exc:  # e.g. a target naming an unknown KPI
        raise UsageError(str(exc)) from None
    finally:
        bar.close()
    write_comparison(
        cmp,
        out,
        created=dt.datetime.now().isoformat(timespec="seconds"),
    )
    print(headline_table(cmp))
    for name, entry in cmp.summary()["scenarios"].items():  # parameter draws: where spread is
        if entry.get("spread_sources"):
            print(f"{name}: {spread_line(entry['spread_sources'])}")
    print()
    print(status_lines(cmp, out))
    print()
    print(console_summary(cmp.summary()))
    return 0


def headline_table(cmp: Comparison) -> str:
    """Baseline mean, then per plan: mean and paired difference [95 % CI]."""
    sums = {n: cmp.evaluations[n].summary(cmp.confidence) for n in cmp.names}
    d = cmp.diffs.set_index(["plan", "kpi"]) if len(cmp.diffs) else None
    head = f"{'KPI':<24} {cmp.baseline[:16]:>16}"
    for p in cmp.plans:
        head += f" {p[:16]:>16} {'Δ paired [95% CI]':>42}"
    lines = [head]
    for k in HEADLINE:
        if k not in sums[cmp.baseline].index:
            continue
        line = f"{k:<24} {_mean(sums[cmp.baseline], k):>16}"
        for p in cmp.plans:
            r = d.loc[(p, k)] if d is not None and (p, k) in d.index else None
            delta = (
                "n/a"
                if r is None
                else f"{fmt(r['diff'])} [{fmt(r['paired_low'])}, {fmt(r['paired_high'])}]"
            )
            line += f" {_mean(sums[p], k):>16} {delta:>42}"
        lines.append(line)
    for name in cmp.names:
        lines += undefined_lines(cmp.evaluations[name].kpis, HEADLINE, prefix=f"{name}: ")
    for name in cmp.names:
        lines += [f"target {name}: {target_line(t)}" for t in cmp.targets.get(name, [])]
    return "\n".join(lines)


def _mean(summary: pd.DataFrame, k: str) -> str:
    """The mean of KPI ``k``, or ``undefined`` when no replication has a value."""
    return "undefined" if summary.loc[k, "n"] == 0 else fmt(summary.loc[k, "mean"])


def status_lines(cmp: Comparison, out: Path) -> str:
    lines = [
        f"{cmp.replications} replications per scenario, seed {cmp.seed}"
        f"{f', {cmp.cache_hits} read from the cache' if cmp.cache_hits else ''}."
    ]
    pr = cmp.precision
    if pr:
        lines.append(
            f"precision {pr['precision']:.1%}: {pr['stopped_because']} after "
            f"{pr['replications']} replications (worst: {pr['worst_kpi']} of "
            f"{pr['worst_scenario']}, half-width {pr['worst_relative_half_width']:.2%}"
            f" of its mean; cap {pr['max_replications']})."
        )
    dec = cmp.decision
    if dec:
        lines.append(
            f"until decided: {dec['stopped_because']} after {dec['replications']} replications "
            f"(cap {dec['max_replications']}; {dec['looks']} possible looks, each at "
            f"{dec['look_confidence']:.2%} so that all together keep {dec['confidence']:.0%})."
        )
        lines += [f"  still undecided: {u}" for u in dec["undecided"]]
        lines += [f"  undefined: {u}" for u in dec["undefined"]]
    failed = sum(len(ev.errors) for ev in cmp.evaluations.values())
    if failed:
        lines.append(f"warning: {failed} replications failed (see manifest.json)")
    lines.append(f"report: {out / 'report.html'}")
    return "\n".join(lines)
