"""``channelsim optimize budget SCENARIO``: the LP/MILP budget split, verified and reported.

Parses the budget flags into :func:`optimizers.budget.optimize_budget` arguments, prints each
iteration of the loop, and writes the results directory: ``manifest.json``, ``summary.json``,
``iterations``/``curves``/``samples`` tables, ``constraints.csv``, ``figures/*.png``,
``verification/`` and ``report.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from optimizers.commands.common import (
    REPORT_FOOTER,
    add_common_arguments,
    check_args,
    load_plan,
    number,
    parse_pairs,
    table_md,
    usage_error,
    verify_plan,
    write_manifest,
    write_verification,
)
from sim.errors import UsageError
from sim.results import atomic_dir, default_run_dir, write_json, write_table


def add_parser(osub) -> None:
    p = osub.add_parser(
        "budget",
        help="split a daily budget across channels × levers (LP/MILP "
        "over simulated response curves, trust-region loop)",
    )
    add_common_arguments(p, replications=4)
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
        help="ceiling on cost ÷ revenue, e.g. 0.18 (seed 003)",
    )
    p.add_argument(
        "--core-min-share",
        type=float,
        default=None,
        help="minimum share of spend on core channels, e.g. 0.6",
    )
    p.add_argument("--max-active", type=int, default=None, help="at most K channels spend (MILP)")
    p.add_argument(
        "--fixed-cost",
        action="append",
        default=[],
        metavar="CHANNEL=CNY",
        help="fixed CNY/day paid when a channel is active (MILP), repeatable",
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
    from optimizers.budget import InfeasibleError, optimize_budget

    check_args(args)
    sc, baseline, _ = load_plan(args)
    options = _options(args)
    try:
        res = optimize_budget(sc, **options, progress=_show_iteration)
    except InfeasibleError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise usage_error(exc, "budget") from None
    seed = sc.seed if args.seed is None else args.seed
    ver = verify_plan(res.scenario, sc, baseline, args, seed)
    out = Path(args.out or default_run_dir(f"{sc.name}-budget"))
    _write_results(out, res, ver, sc, args, seed)
    print(_budget_lines(res))
    print(f"\nresults: {out} (report.md, verification/report.html)")
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
        f"{row['total_spend']:,.0f} CNY/day, feasible {row['feasible']}",
        file=sys.stderr,
    )


# --------------------------------------------------------------------------------------------
# results directory
# --------------------------------------------------------------------------------------------
def _write_results(out: Path, res, ver, sc, args, seed: int) -> None:
    from optimizers import figures

    with atomic_dir(out) as tmp:
        write_manifest(tmp, sc, args, seed, "budget")
        write_json(tmp / "summary.json", _summary(res, ver))
        write_table(tmp, "iterations", res.iterations)
        write_table(tmp, "curves", res.curves)
        write_table(tmp, "samples", res.samples)
        res.constraints.to_csv(tmp / "constraints.csv", index=False)
        metric = "revenue" if res.objective == "revenue" else "margin"
        figs = [
            figures.iterations_figure(
                res.iterations, res.objective, tmp / "figures" / "iterations.png"
            ),
            figures.curves_figure(res.samples, res.curves, metric, tmp / "figures" / "curves.png"),
            figures.split_figure(res.start_spend, res.spend, tmp / "figures" / "split.png"),
        ]
        write_verification(ver, tmp)
        (tmp / "report.md").write_text(_budget_report(res, ver, figs, tmp), encoding="utf-8")


def _summary(res, ver) -> dict[str, Any]:
    return {
        "optimizer": "budget",
        "objective": res.objective,
        "recommendation": res.spend,
        "start": res.start_spend,
        "overrides": res.overrides,
        "value": res.value,
        "start_value": res.start_value,
        "feasible": res.feasible,
        "active": res.active,
        "constraints": res.constraints.to_dict("records"),
        "iterations": len(res.iterations) - 1,
        "verification": ver.summary(),
    }


def _budget_lines(res) -> str:
    lines = [f"{'lever':<24}{'start':>14}{'recommended':>14}  (CNY/day)"]
    for name in res.spend:
        lines.append(f"{name:<24}{res.start_spend[name]:>14,.0f}{res.spend[name]:>14,.0f}")
    lines.append(
        f"{res.objective}: {res.start_value:,.0f} → {res.value:,.0f} "
        f"({len(res.iterations) - 1} iterations, "
        f"{'feasible' if res.feasible else 'NOT feasible: see constraints'})"
    )
    return "\n".join(lines)


def _budget_report(res, ver, figs: list[Path], root: Path) -> str:
    from optimizers.verification import markdown

    split = pd.DataFrame(
        {
            "lever": list(res.spend),
            "start (CNY/day)": list(res.start_spend.values()),
            "recommended (CNY/day)": list(res.spend.values()),
        }
    )
    parts = [
        f"# Budget optimisation: {res.scenario.name}",
        f"Objective: **{res.objective}** over the horizon; simulated (optimiser replications) "
        f"{res.start_value:,.0f} CNY at the start → {res.value:,.0f} CNY recommended; "
        f"{'every constraint holds' if res.feasible else '**some constraint fails**'} in the "
        "re-simulated result.",
        "## Recommended split",
        table_md(split),
        "## Constraints at the recommendation (re-simulated)",
        table_md(res.constraints),
        "## Iterations (trust-region loop)",
        table_md(res.iterations),
        "## Verification (full replications, common random numbers)",
        markdown(ver),
        "## Figures",
        *[f"![{f.stem}]({f.relative_to(root).as_posix()})" for f in figs],
        REPORT_FOOTER,
    ]
    return "\n\n".join(parts) + "\n"
