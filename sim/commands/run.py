"""``channelsim run SCENARIO``: replications of one scenario, a KPI table and a results dir."""

from __future__ import annotations

import pandas as pd

from sim.errors import UsageError
from sim.experiments.comparison import judge_run_targets
from sim.experiments.evaluation import evaluate
from sim.experiments.targets import windows_for
from sim.results.directories import (
    atomic_dir,
    default_run_dir,
    kpi_summary_dict,
    manifest,
    write_json,
    write_table,
)
from sim.scenario import load_scenario, parse_set_options

HEADLINE = (
    "revenue",
    "orders",
    "buyers",
    "new_customers",
    "conversion_rate",
    "aov",
    "repurchase_rate",
    "repurchase_rate.private",
    "roi_paid",
    "roi_overall",
    "cost_share",
    "satisfaction",
    "profit",
    "private_pool",
    "customer_overlap",
    "traffic_concentration",
)


def add_common_options(p) -> None:
    """Options shared by every command that simulates."""
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--replications", "-r", type=int, default=10)
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value, e.g. channels.tmall.budget.paid=3000",
    )
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, tcp://host:8786")
    p.add_argument("--out", default=None, help="results directory (default results/NAME-TIME)")


def register(sub) -> None:
    p = sub.add_parser("run", help="simulate a scenario R times and write a results directory")
    p.add_argument("scenario")
    add_common_options(p)
    p.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help="baseline for relative targets (default: the scenario's `extends`)",
    )
    p.set_defaults(func=run)


def check_replications(n: int) -> None:
    if n < 1:
        raise UsageError(f"--replications: must be ≥ 1, got {n}")


def run(args) -> int:
    check_replications(args.replications)
    sc = load_scenario(args.scenario, overrides=parse_set_options(args.overrides))
    ev = evaluate(
        sc,
        replications=args.replications,
        seed=args.seed,
        keep_daily=True,
        workers=args.workers,
        scheduler=args.scheduler,
        windows=windows_for(sc.targets),
    )
    try:  # relative targets run the baseline on the same seeds (common random numbers)
        targets = judge_run_targets(
            sc,
            ev,
            baseline=getattr(args, "baseline", None),
            overrides=parse_set_options(args.overrides),
            workers=args.workers,
            scheduler=args.scheduler,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    summary = ev.summary()
    out = args.out or default_run_dir(sc.name)
    with atomic_dir(out) as tmp:
        write_json(
            tmp / "manifest.json",
            manifest(sc, seed=ev.seed, replications=ev.replications, errors=ev.errors),
        )
        write_json(
            tmp / "summary.json",
            {"kpis": kpi_summary_dict(summary), "targets": [t.to_dict() for t in targets]},
        )
        write_table(tmp, "kpis", ev.kpis)
        write_table(tmp, "daily", ev.daily)
        ev.journeys.to_csv(tmp / "journeys.csv", index=False)
        if ev.inventory is not None:  # daily stock, on order, demand per SKU × location
            ev.inventory.to_csv(tmp / "inventory.csv", index=False)
    print(format_kpi_table(summary, HEADLINE))
    print(f"\n{ev.replications} replications, seed {ev.seed}; results in {out}")
    return 0


def format_kpi_table(summary: pd.DataFrame, names=HEADLINE) -> str:
    rows = [(k, summary.loc[k]) for k in names if k in summary.index]
    lines = [f"{'KPI':<26}{'mean':>16}{'95% CI':>34}"]
    for name, r in rows:
        ci = f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
        lines.append(f"{name:<26}{_fmt(r['mean']):>16}{ci:>34}")
    return "\n".join(lines)


def _fmt(x: float) -> str:
    if pd.isna(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
