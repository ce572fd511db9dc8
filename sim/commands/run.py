"""``channelsim run SCENARIO``: replications of one scenario, a KPI table and a results dir."""

from __future__ import annotations

import json

import pandas as pd

from sim.commands.options import add_override_options
from sim.commands.progress import ProgressBar, add_progress_option
from sim.errors import UsageError
from sim.experiments.comparison import HEADLINE, judge_run_targets
from sim.experiments.evaluation import evaluate
from sim.experiments.targets import REQUIRED_PROBABILITY, TargetResult, windows_for
from sim.experiments.uncertainty import spread_line, spread_sources
from sim.experiments.undefined import kpi_entries
from sim.reports import write_report
from sim.reports.format import target_line, undefined_lines
from sim.reports.summary import as_comparison, console_summary
from sim.results import claim
from sim.results.columns import write_columns
from sim.results.directories import (
    atomic_dir,
    default_run_dir,
    manifest,
    write_json,
    write_table,
)
from sim.scenario import load_scenario, parse_set_options

# The same headline KPIs as compare's table (sim.experiments.comparison.HEADLINE).


def add_common_options(p) -> None:
    """Options shared by every command that simulates."""
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--replications", "-r", type=int, default=10)
    add_override_options(p, help="override a scenario value, e.g. channels.tmall.budget.paid=3000")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, tcp://host:8786")
    p.add_argument("--out", default=None, help="results directory (default results/NAME-TIME)")


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a scenario R times and write a results directory")
    p.add_argument("scenario")
    add_common_options(p)
    add_force_option(p)
    p.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help="baseline for relative targets (default: the scenario's `extends`)",
    )
    add_required_probability(p)
    add_progress_option(p)
    p.set_defaults(func=run)


def add_force_option(p) -> None:
    """``--force``: the one way to replace an existing results directory."""
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out results directory (default: refuse, exit 2)",
    )


def add_required_probability(p) -> None:
    """``--required-probability P``: the P(meet) a target must be shown to reach (``run`` too)."""
    p.add_argument(
        "--required-probability",
        type=float,
        default=REQUIRED_PROBABILITY,
        metavar="P",
        help="a target is met when its P(meet) is shown ≥ P at 95%% confidence (Wilson lower "
        f"bound), missed when shown < P, else undecided (default {REQUIRED_PROBABILITY})",
    )


def check_required_probability(args) -> None:
    p = getattr(args, "required_probability", REQUIRED_PROBABILITY)
    if not 0 < p < 1:
        raise UsageError(f"--required-probability: must be in (0, 1) such as 0.8, got {p}")


def check_replications(n: int) -> None:
    if n < 1:
        raise UsageError(f"--replications: must be ≥ 1, got {n}")


def run(args) -> int:
    check_replications(args.replications)
    check_required_probability(args)
    sc = load_scenario(args.scenario, overrides=parse_set_options(args.overrides))
    # Refuse an existing or busy --out now, not after simulating (the lock is kept until written).
    out = claim(args.out or default_run_dir(sc.name), force=getattr(args, "force", False))
    runs = 2 if any(t.relative_to for t in sc.targets) else 1  # the baseline's replications
    with ProgressBar(
        sc.name,
        total=args.replications * runs,
        enabled=not getattr(args, "no_progress", False),
    ) as bar:
        ev = evaluate(
            sc,
            replications=args.replications,
            seed=args.seed,
            keep_daily=True,
            workers=args.workers,
            scheduler=args.scheduler,
            windows=windows_for(sc.targets),
            progress=bar.tick,
        )
        try:  # relative targets run the baseline on the same seeds (common random numbers)
            targets = judge_run_targets(
                sc,
                ev,
                baseline=getattr(args, "baseline", None),
                overrides=parse_set_options(args.overrides),
                workers=args.workers,
                scheduler=args.scheduler,
                required_probability=args.required_probability,
                progress=bar.tick,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    summary = ev.summary()
    sources = spread_sources(sc, ev.seed, ev.kpis, HEADLINE)
    spread = {"spread_sources": sources} if sources else {}
    with atomic_dir(out) as tmp:
        write_json(
            tmp / "manifest.json",
            manifest(sc, seed=ev.seed, replications=ev.replications, errors=ev.errors),
        )
        write_json(
            tmp / "summary.json",
            {
                "kpis": kpi_entries(ev.kpis),
                "required_probability": args.required_probability,
                "targets": [t.to_dict() for t in targets],
                **spread,  # parameters vs luck, when replications drew their parameters
            },
        )
        write_table(tmp, "kpis", ev.kpis)
        write_table(tmp, "daily", ev.daily)
        if ev.market is not None:  # market-wide stocks: one row per replication × day
            write_table(tmp, "market", ev.market)
        ev.journeys.to_csv(tmp / "journeys.csv", index=False)
        if ev.inventory is not None:  # daily stock, on order, demand per SKU × location
            ev.inventory.to_csv(tmp / "inventory.csv", index=False)
        if ev.decisions is not None and len(ev.decisions):  # the review rules' decisions
            ev.decisions.to_csv(tmp / "decisions.csv", index=False)
        if ev.ab_tests is not None and len(ev.ab_tests):  # A/B tests' outcomes
            ev.ab_tests.to_csv(tmp / "ab_tests.csv", index=False)
        for name in ("flows", "cohorts"):  # what the report's customer sections read
            if getattr(ev, name) is not None:
                getattr(ev, name).to_csv(tmp / f"{name}.csv", index=False)
        write_json(tmp / "scenarios.json", {sc.name: sc.model_dump(mode="json")})
        write_columns(tmp)  # the data dictionary of exactly the tables written above
        write_report(tmp)
    print(format_kpi_table(summary, HEADLINE))
    print(verdict_lines(ev.kpis, targets))
    if sources:
        print(spread_line(sources))
    print(f"\n{ev.replications} replications, seed {ev.seed}; results in {out}")
    print(f"report: {out / 'report.html'}\n")
    with open(out / "summary.json", encoding="utf-8") as fh:
        print(console_summary(as_comparison(json.load(fh), sc.name)))
    return 0


def format_kpi_table(summary: pd.DataFrame, names=HEADLINE) -> str:
    rows = [(k, summary.loc[k]) for k in names if k in summary.index]
    lines = [f"{'KPI':<26}{'mean':>16}{'95% CI':>34}"]
    for name, r in rows:
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        mean = "undefined" if r["n"] == 0 else _fmt(r["mean"])
        lines.append(f"{name:<26}{mean:>16}{ci:>34}")
    return "\n".join(lines)


def verdict_lines(kpis: pd.DataFrame, targets: list[TargetResult]) -> str:
    """Why undefined headline KPIs are undefined, then each target with P(meet) and verdict,
    in the same words as ``compare`` prints them."""
    lines = undefined_lines(kpis, HEADLINE)
    lines += [f"target: {target_line(t)}" for t in targets]
    return "\n".join(lines)


def _fmt(x: float) -> str:
    if pd.isna(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
