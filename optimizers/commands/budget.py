"""``channelsim optimize budget SCENARIO``: the LP/MILP budget split, verified and reported.

Parses the budget flags into :func:`optimizers.budget.optimize_budget` arguments, prints each
iteration of the loop, writes the results directory as soon as the loop ends
(``manifest.json``, ``summary.json`` with ``status: unverified``, ``iterations``/``curves``/
``samples`` tables, ``figures/*.png``, ``report.md``), then verifies the start and every
accepted candidate (:func:`optimizers.budget.verify_budget`) and completes it:
``candidates.csv``, ``constraints.csv``, ``failures.csv``, ``verification/`` and the verified
``summary.json`` and ``report.md`` (:mod:`optimizers.commands.budget_report`). A failing
verification never loses the loop's results.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from optimizers.commands import budget_report
from optimizers.commands.common import (
    add_common_arguments,
    add_force_argument,
    check_args,
    claim_out,
    load_plan,
    number,
    parse_pairs,
    print_summary,
    usage_error,
    verify_after_writing,
    write_manifest,
    write_text,
    write_verification,
)
from sim.errors import UsageError
from sim.results import atomic_dir, write_json, write_table, write_tool_columns


def add_parser(osub) -> None:
    p = osub.add_parser(
        "budget",
        help="split a daily budget across channels × levers (LP/MILP "
        "over simulated response curves, trust-region loop)",
    )
    add_common_arguments(p, replications=4)
    add_force_argument(p)
    p.add_argument("--objective", choices=("revenue", "profit"), default="revenue")
    p.add_argument(
        "--total",
        type=float,
        default=None,
        help="daily budget, CNY/day (default: the scenario's current lever spend)",
    )
    p.add_argument("--solver", choices=("cbc", "highs"), default="cbc")
    _constraint_arguments(p)
    _loop_arguments(p)
    p.set_defaults(func=run_budget)


def _constraint_arguments(p) -> None:
    p.add_argument(
        "--roi-floor",
        type=float,
        default=3.0,
        help="paid-traffic ROI floor per public channel (default 3 = 1:3; 0 = none)",
    )
    p.add_argument(
        "--cost-share-max",
        type=float,
        default=None,
        help="ceiling on cost ÷ revenue, e.g. 0.18 (the multi-channel plan)",
    )
    p.add_argument(
        "--core-min-share",
        type=float,
        default=None,
        help="minimum share of spend on core channels, e.g. 0.6",
    )
    p.add_argument("--max-active", type=int, default=None, help="at most K channels spend (MILP)")
    p.add_argument(
        "--no-target-constraints",
        dest="target_constraints",
        action="store_false",
        help="do not hold the plan to its own targets (by default every target is a "
        "constraint: the recommendation must meet each one at verification)",
    )
    p.add_argument(
        "--fixed-cost",
        action="append",
        default=[],
        metavar="CHANNEL=CNY",
        help="fixed CNY/day paid when a channel is active (MILP), repeatable",
    )
    p.add_argument(
        "--observed-multiple",
        type=float,
        default=1.5,
        help="keep each lever with a budget.observed spend range at most this × its observed "
        "maximum (default 1.5; 0 = no such bound); beyond the range the response is "
        "extrapolated",
    )
    p.add_argument(
        "--bound",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="bounds on a lever (tmall.paid) or a channel (tmall), CNY/day; "
        "either side may be empty, e.g. jd=:5000",
    )


def _loop_arguments(p) -> None:
    p.add_argument(
        "--levers",
        default=None,
        help="comma-separated levers to optimise (default: all), e.g. tmall.paid,douyin.paid",
    )
    p.add_argument(
        "--by-period",
        choices=("month",),
        default=None,
        help="one decision per lever and calendar month, written back as budget.periods",
    )
    p.add_argument("--max-iter", type=int, default=8, help="trust-region iterations (default 8)")
    p.add_argument(
        "--trust-region",
        type=float,
        default=0.25,
        help="initial trust-region radius, × lever spend (default 0.25)",
    )
    p.add_argument(
        "--curve",
        choices=("exp", "hill"),
        default="exp",
        help="response-curve family (default exp: 1 − exp)",
    )


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def run_budget(args) -> int:
    from optimizers.budget import InfeasibleError, optimize_budget, verify_budget

    check_args(args)
    sc, baseline, _ = load_plan(args)
    options = _options(args)
    out = claim_out(args, f"{sc.name}-budget")  # before optimising: fail fast
    try:
        res = optimize_budget(sc, **options, baseline=baseline, progress=_show_iteration)
    except InfeasibleError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise usage_error(exc, "budget") from None
    seed = sc.seed if args.seed is None else args.seed
    _write_loop_results(out, res, sc, args, seed)
    if len(res.failures):
        print(
            f"warning: {len(res.failures)} replication(s) failed in the loop; points were "
            "compared on the replications both completed (failures.csv)",
            file=sys.stderr,
        )
    print(
        f"verifying the start and {len(res.candidates)} accepted candidate(s) with "
        f"{args.verify_replications} replications …",
        file=sys.stderr,
    )
    choice = verify_after_writing(
        out,
        "budget",
        lambda: verify_budget(
            res,
            baseline=baseline,
            replications=args.verify_replications,
            seed=seed,
            workers=args.workers,
            target_constraints=args.target_constraints,
        ),
    )
    if len(choice.failures):
        print(
            f"warning: {len(choice.failures)} replication(s) failed at verification; every "
            "plan was judged on the replications all completed (failures.csv)",
            file=sys.stderr,
        )
    _write_verified(out, res, choice, args)
    print(budget_report.console_lines(res, choice))
    print(f"\nresults: {out} (report.md, verification/report.html)")
    print_summary(choice.verification.comparison)
    return 0


def _options(args) -> dict[str, Any]:
    """The flags as :func:`optimize_budget` keyword arguments."""
    fixed = {
        k: number(v, "--fixed-cost")
        for k, v in parse_pairs(args.fixed_cost, "--fixed-cost").items()
    }
    levers = [s.strip() for s in args.levers.split(",")] if args.levers else None
    return {
        "total": args.total,
        "objective": args.objective,
        "levers": levers,
        "bounds": _bounds(args.bound),
        "roi_floor": args.roi_floor or None,
        "cost_share_max": args.cost_share_max,
        "core_min_share": args.core_min_share,
        "fixed_costs": fixed,
        "max_active": args.max_active,
        "solver": args.solver,
        "replications": args.replications,
        "seed": args.seed,
        "workers": args.workers,
        "max_iter": args.max_iter,
        "trust_region": args.trust_region,
        "curve": args.curve,
        "target_constraints": args.target_constraints,
        "by_period": args.by_period,
        "observed_multiple": args.observed_multiple,
    }


def _bounds(items: list[str]) -> dict[str, tuple[float | None, float | None]]:
    out = {}
    for key, text in parse_pairs(items, "--bound").items():
        lo, sep, hi = text.partition(":")
        if not sep:
            raise UsageError(f"--bound {key}={text}: expected LOW:HIGH (either may be empty)")
        out[key] = (number(lo, "--bound") if lo else None, number(hi, "--bound") if hi else None)
    return out


def _show_iteration(row: dict) -> None:
    pred = row["predicted"]
    pred_s = f"{pred:,.0f}" if pred == pred and pred is not None else "—"
    print(
        f"iteration {row['iteration']}: {row['status']:<9} simulated "
        f"{row['simulated']:,.0f}  (LP forecast {pred_s}), spend "
        f"{row['total_spend']:,.0f} CNY/day, constraints hold at the loop's estimate: "
        f"{'yes' if row['feasible'] else 'no'}",
        file=sys.stderr,
    )


# --------------------------------------------------------------------------------------------
# results directory
# --------------------------------------------------------------------------------------------
def _write_loop_results(out: Path, res, sc, args, seed: int) -> None:
    """Everything the loop produced, before any verification (``status: unverified``)."""
    from optimizers import figures

    with atomic_dir(out) as tmp:
        write_manifest(tmp, sc, args, seed, "budget")
        write_json(tmp / "summary.json", budget_report.summary(res, None, None))
        write_table(tmp, "iterations", res.iterations)
        write_table(tmp, "curves", res.curves)
        write_table(tmp, "samples", res.samples)
        budget_report.failures_table(res, None).to_csv(tmp / "failures.csv", index=False)
        figs = _loop_figures(res, tmp, figures)
        figs.append(figures.split_figure(res.start_spend, res.spend, tmp / "figures" / "split.png"))
        write_text(tmp / "report.md", budget_report.report(res, None, figs, tmp, args.replications))
        write_tool_columns(tmp)  # columns.csv: every column of the tables above


def _loop_figures(res, root: Path, figures) -> list[Path]:
    metric = "revenue" if res.objective == "revenue" else "margin"
    return [
        figures.iterations_figure(
            res.iterations, res.objective, root / "figures" / "iterations.png"
        ),
        figures.curves_figure(res.samples, res.curves, metric, root / "figures" / "curves.png"),
    ]


def _write_verified(out: Path, res, choice, args) -> None:
    """The verified choice added to the results directory written by the loop."""
    import pandas as pd

    from optimizers import figures

    write_verification(choice.verification, out)
    choice.table().to_csv(out / "candidates.csv", index=False)
    pd.DataFrame(choice.chosen.checks).to_csv(out / "constraints.csv", index=False)
    budget_report.failures_table(res, choice).to_csv(out / "failures.csv", index=False)
    figs = [out / "figures" / "iterations.png", out / "figures" / "curves.png"]
    figs.append(
        figures.split_figure(res.start_spend, choice.chosen.spend, out / "figures" / "split.png")
    )
    ver_summary = choice.verification.summary()
    write_json(out / "summary.json", budget_report.summary(res, choice, ver_summary))
    write_text(out / "report.md", budget_report.report(res, choice, figs, out, args.replications))
    write_tool_columns(out)  # now with candidates and constraints
