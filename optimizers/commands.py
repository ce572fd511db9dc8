"""``channelsim optimize budget|search|inventory SCENARIO``: optimise, verify, write a results dir.

Every sub-command ends the same way: the recommendation is re-evaluated with full replications
against the baseline and the plan it started from (``sim.experiments.comparison.compare``; the compare-style
report goes to ``verification/``), and the results directory gets ``manifest.json``,
``summary.json``, the optimiser's tables, ``figures/*.png`` and ``report.md``.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import UsageError
from sim.reports.results import atomic_dir, default_run_dir, manifest, write_json, write_table
from sim.scenario import Scenario, load_scenario, parse_set_options

FLAG_OF = {
    "total": "--total",
    "objective": "--objective",
    "levers": "--levers",
    "bounds": "--bound",
    "cost_share_max": "--cost-share-max",
    "core_min_share": "--core-min-share",
    "max_active": "--max-active",
    "fixed_costs": "--fixed-cost",
    "solver": "--solver",
    "replications": "-r",
    "sampler": "--sampler",
    "objectives": "--objective",
    "confidence": "--confidence",
    "baseline": "--baseline",
    "decisions": "decisions",
}


def register(sub) -> None:
    p = sub.add_parser("optimize", help="optimise a plan: budget split, plan search, inventory")
    osub = p.add_subparsers(dest="optimizer", required=True, metavar="OPTIMIZER")
    _budget_parser(osub)
    _search_parser(osub)
    _inventory_parser(osub)


def _common(p, *, replications: int) -> None:
    p.add_argument("scenario", help="scenario file (YAML)")
    p.add_argument(
        "--replications",
        "-r",
        type=int,
        default=replications,
        help=f"replications per evaluation while optimising (default {replications})",
    )
    p.add_argument(
        "--verify-replications",
        type=int,
        default=10,
        help="replications of the final verification (default 10)",
    )
    p.add_argument("--seed", type=int, default=None, help="simulation seed (default: scenario's)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument(
        "--baseline",
        default=None,
        help="baseline scenario for the verification and relative targets "
        "(default: the root of the scenario's extends chain, if any)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a value (in the scenario and its baseline)",
    )
    p.add_argument("--out", default=None, help="results directory")


# --------------------------------------------------------------------------------------------
# budget
# --------------------------------------------------------------------------------------------
def _budget_parser(osub) -> None:
    p = osub.add_parser(
        "budget",
        help="split a daily budget across channels × levers (LP/MILP "
        "over simulated response curves, trust-region loop)",
    )
    _common(p, replications=4)
    p.add_argument("--objective", choices=("revenue", "profit"), default="revenue")
    p.add_argument(
        "--total",
        type=float,
        default=None,
        help="daily budget, CNY/day (default: the scenario's current lever spend)",
    )
    p.add_argument("--solver", choices=("cbc", "highs"), default="cbc")
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
    p.set_defaults(func=run_budget)


def _parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not a number") from None


def _bounds(items: list[str]) -> dict[str, tuple[float | None, float | None]]:
    out = {}
    for key, text in _parse_pairs(items, "--bound").items():
        lo, sep, hi = text.partition(":")
        if not sep:
            raise UsageError(f"--bound {key}={text}: expected LOW:HIGH (either may be empty)")
        out[key] = (_number(lo, "--bound") if lo else None, _number(hi, "--bound") if hi else None)
    return out


def _usage(exc: Exception, command: str) -> UsageError:
    """A library ValueError ("bounds: …") as a usage error naming the flag."""
    text = str(exc)
    m = re.match(r"(\w+)(\[[^\]]*\])?:", text)
    if m and m.group(1) in FLAG_OF:
        text = FLAG_OF[m.group(1)] + text[len(m.group(1)) :]
    return UsageError(f"optimize {command}: {text}")


def _check(args) -> None:
    if args.replications < 1:
        raise UsageError(f"--replications: must be ≥ 1, got {args.replications}")
    if args.verify_replications < 2:
        raise UsageError(f"--verify-replications: must be ≥ 2, got {args.verify_replications}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be ≥ 1, got {args.workers}")
    for path in (args.scenario, args.baseline):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"scenario file not found: {path}")


def _load(args) -> tuple[Scenario, Scenario | None, dict[str, Any]]:
    overrides = parse_set_options(args.overrides)
    sc = load_scenario(args.scenario, overrides=overrides)
    base_path = args.baseline or _root(sc.extends)
    baseline = (
        load_scenario(base_path, overrides=_shared(overrides, base_path)) if base_path else None
    )
    return sc, baseline, overrides


def _root(path: str | None) -> str | None:
    """The status quo a plan derives from: the end of its ``extends`` chain."""
    from sim.scenario import load_raw

    while path is not None and (up := load_raw(path).get("extends")) is not None:
        path = up
    return path


def _shared(overrides: dict[str, Any], path: str) -> dict[str, Any]:
    """The --set overrides that also make sense for the baseline (market, horizon, …)."""
    from sim.scenario import load_raw, resolve_path

    raw = load_raw(path)
    out = {}
    for k, v in overrides.items():
        try:
            resolve_path(raw, k)
        except KeyError:
            if not k.startswith(("market.", "horizon.", "seed")):
                continue
        out[k] = v
    return out


def run_budget(args) -> int:
    from optimizers.budget import InfeasibleError, optimize_budget

    _check(args)
    sc, baseline, overrides = _load(args)
    fixed = {
        k: _number(v, "--fixed-cost")
        for k, v in _parse_pairs(args.fixed_cost, "--fixed-cost").items()
    }
    levers = [s.strip() for s in args.levers.split(",")] if args.levers else None

    def show(row: dict) -> None:
        pred = row["predicted"]
        pred_s = f"{pred:,.0f}" if pred == pred and pred is not None else "—"
        print(
            f"iteration {row['iteration']}: {row['status']:<9} simulated "
            f"{row['simulated']:,.0f}  (LP forecast {pred_s}), spend "
            f"{row['total_spend']:,.0f} CNY/day, feasible {row['feasible']}",
            file=sys.stderr,
        )

    try:
        res = optimize_budget(
            sc,
            total=args.total,
            objective=args.objective,
            levers=levers,
            bounds=_bounds(args.bound),
            roi_floor=args.roi_floor or None,
            cost_share_max=args.cost_share_max,
            core_min_share=args.core_min_share,
            fixed_costs=fixed,
            max_active=args.max_active,
            solver=args.solver,
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
            max_iter=args.max_iter,
            trust_region=args.trust_region,
            curve=args.curve,
            progress=show,
        )
    except InfeasibleError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise _usage(exc, "budget") from None
    seed = sc.seed if args.seed is None else args.seed
    ver = _verify(res.scenario, sc, baseline, args, seed)
    out = Path(args.out or default_run_dir(f"{sc.name}-budget"))
    from optimizers import figures

    with atomic_dir(out) as tmp:
        write_json(
            tmp / "manifest.json",
            manifest(
                sc,
                seed=seed,
                replications=args.replications,
                optimizer="budget",
                settings=_settings(args),
                verify_replications=args.verify_replications,
            ),
        )
        write_json(
            tmp / "summary.json",
            {
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
            },
        )
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
        _write_verification(ver, tmp)
        (tmp / "report.md").write_text(_budget_report(res, ver, figs, tmp), encoding="utf-8")
    print(_budget_lines(res))
    print(f"\nresults: {out} (report.md, verification/report.html)")
    return 0


def _settings(args) -> dict[str, Any]:
    skip = {"func", "command", "optimizer"}
    return {k: v for k, v in vars(args).items() if k not in skip}


def _verify(plan: Scenario, start: Scenario, baseline: Scenario | None, args, seed: int):
    from optimizers.verification import verify

    print(f"verifying with {args.verify_replications} replications …", file=sys.stderr)
    return verify(
        plan,
        start,
        baseline=baseline,
        replications=args.verify_replications,
        seed=seed,
        workers=args.workers,
    )


def _write_verification(ver, tmp: Path) -> None:
    from optimizers.verification import write_verification

    write_verification(ver, tmp / "verification")


def _table_md(frame: pd.DataFrame, floatfmt: str = "{:,.4g}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                cells.append(
                    "" if v != v else (f"{v:,.0f}" if abs(v) >= 1000 else floatfmt.format(v))
                )
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
        _table_md(split),
        "## Constraints at the recommendation (re-simulated)",
        _table_md(res.constraints),
        "## Iterations (trust-region loop)",
        _table_md(res.iterations),
        "## Verification (full replications, common random numbers)",
        markdown(ver),
        "## Figures",
        *[f"![{f.stem}]({f.relative_to(root).as_posix()})" for f in figs],
        "_This report.md is written by `optimizers.commands`; the comparison report in "
        "`verification/` is rendered by `sim.reports.report` exactly as `channelsim compare` does._",
    ]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------
def _search_parser(osub) -> None:
    p = osub.add_parser(
        "search", help="Optuna search over the scenario's decisions: block, targets as constraints"
    )
    _common(p, replications=3)
    p.add_argument(
        "--trials",
        type=int,
        default=20,
        help="finished trials the study should have (a resumed study runs the rest)",
    )
    p.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--sampler", choices=("tpe", "cmaes", "nsga2", "gp"), default="tpe")
    p.add_argument("--sampler-seed", type=int, default=0, help="sampler seed (reproducible)")
    p.add_argument(
        "--storage",
        default=None,
        help="Optuna storage URL (default sqlite:///OUT/study.db), e.g. "
        "postgresql://user@host/db to share a study between machines",
    )
    p.add_argument("--study-name", default=None, help="study name (default SCENARIO-OBJECTIVES)")
    p.add_argument(
        "--objective",
        default="profit",
        help="KPI to maximise, or two comma-separated for a Pareto front, e.g. "
        "profit,repurchase_rate (default profit)",
    )
    p.add_argument(
        "--confidence",
        type=float,
        default=0.8,
        help="a trial is feasible when every target's P(met) ≥ this (default 0.8)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_search)


class _Progress:
    """A tqdm bar over the study's finished trials (resumed trials count as done)."""

    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = (
            tqdm(total=total, desc="trials", unit="trial", file=sys.stderr) if enabled else None
        )

    def __call__(self, study, trial) -> None:
        from optimizers.search import FINISHED

        if self.bar is None:
            return
        self.bar.n = sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))
        feasible = trial.user_attrs.get("feasible")
        self.bar.set_postfix(
            last=f"{trial.values[0]:,.4g}" if trial.values else "failed", feasible=feasible
        )
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_search(args) -> int:
    from optimizers.search import search

    _check(args)
    if args.trials < 1:
        raise UsageError(f"--trials: must be ≥ 1, got {args.trials}")
    if not 0 < args.confidence <= 1:
        raise UsageError(f"--confidence: must be in (0, 1], got {args.confidence}")
    objectives = [s.strip() for s in args.objective.split(",") if s.strip()]
    sc, baseline, _ = _load(args)
    out = Path(args.out or Path("results") / f"{sc.name}-search")
    out.mkdir(parents=True, exist_ok=True)  # the study must outlive an interrupted run
    db = out.resolve() / "study.db"
    storage = args.storage or f"sqlite:///{db}"
    progress = _Progress(args.trials, not args.no_progress)
    try:
        res = search(
            sc,
            objectives=objectives,
            trials=args.trials,
            timeout=args.timeout,
            sampler=args.sampler,
            sampler_seed=args.sampler_seed,
            seed=args.seed,
            replications=args.replications,
            confidence=args.confidence,
            baseline=baseline,
            storage=storage,
            study_name=args.study_name,
            workers=args.workers,
            callbacks=[progress],
        )
    except ValueError as exc:
        raise _usage(exc, "search") from None
    finally:
        progress.close()
    seed = sc.seed if args.seed is None else args.seed
    chosen = res.best or res.closest  # with no feasible trial, verify the nearest one
    ver = _verify(res.scenario, sc, baseline, args, seed) if chosen is not None else None

    with atomic_dir(out) as tmp:
        if args.storage is None:
            _copy_sqlite(db, tmp / "study.db")  # the study stays with its results
        write_json(
            tmp / "manifest.json",
            manifest(
                sc,
                seed=seed,
                replications=args.replications,
                optimizer="search",
                settings=_settings(args),
                storage=args.storage or "sqlite:///study.db",
                study_name=res.study.study_name,
                verify_replications=args.verify_replications,
            ),
        )
        write_json(
            tmp / "summary.json",
            {
                "optimizer": "search",
                "objectives": objectives,
                "study": res.study.study_name,
                "trials": len(res.trials),
                "feasible_trials": int(res.trials["feasible"].sum()),
                "best": res.best,
                "best_values": res.best_values,
                "closest": res.closest,
                "pareto": res.pareto.to_dict("records"),
                "verification": ver.summary() if ver else None,
            },
        )
        write_table(tmp, "trials", res.trials)
        res.pareto.to_csv(tmp / "pareto.csv", index=False)
        figs = _search_figures(res, tmp)
        if ver is not None:
            _write_verification(ver, tmp)
        (tmp / "report.md").write_text(_search_report(res, ver, figs, tmp), encoding="utf-8")
    print(_search_lines(res))
    print(
        f"\nresults: {out} (report.md{', verification/report.html' if ver else ''}); "
        f"run again with the same --out to add trials to the study"
    )
    return 0


def _copy_sqlite(src: Path, dst: Path) -> None:
    """A consistent copy of a live SQLite database (the backup API, not a file copy)."""
    if not src.exists():
        return
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        b.close()
        a.close()


def _search_figures(res, tmp: Path) -> list[Path]:
    import optuna

    from optimizers import figures

    figs = [figures.history_figure(res.trials, res.objectives[0], tmp / "figures" / "history.png")]
    complete = res.trials[res.trials["state"] == "COMPLETE"]
    if len(complete) >= 2 and len(res.study.best_trials if len(res.objectives) > 1 else [1]):
        try:
            if len(res.objectives) == 1:  # PED-ANOVA (the default) reads the direction
                imp = optuna.importance.get_param_importances(res.study)
            else:  # it ranks what reaches *low* targets: negate the (maximised) first one
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*low `target` values")
                    imp = optuna.importance.get_param_importances(
                        res.study, target=lambda t: -t.values[0]
                    )
            if imp:
                figs.append(figures.importance_figure(imp, tmp / "figures" / "importances.png"))
        except (RuntimeError, ValueError, ZeroDivisionError):
            pass  # too few distinct trials to attribute variance
    if len(res.objectives) >= 2 and len(res.pareto):
        figs.append(
            figures.pareto_figure(
                res.trials, res.pareto, res.objectives, tmp / "figures" / "pareto.png"
            )
        )
    return figs


def _search_lines(res) -> str:
    t = res.trials
    failed = int((t["state"] == "FAIL").sum()) if len(t) else 0
    lines = [
        f"{len(t)} trials, {int(t['feasible'].sum())} feasible"
        + (f", {failed} failed (simulation errors)" if failed else "")
    ]
    if res.best is None:
        lines.append(
            "no feasible trial: no trial meets every target with the required "
            "confidence; the nearest one (verified) is:"
        )
        lines += [f"  {k} = {v}" for k, v in (res.closest or {}).items()]
        return "\n".join(lines)
    for path, value in res.best.items():
        lines.append(
            f"  {path} = {value:,.6g}" if isinstance(value, float) else f"  {path} = {value}"
        )
    lines.append(
        "best: "
        + ", ".join(f"{k} {v:,.6g}" for k, v in zip(res.objectives, res.best_values, strict=True))
    )
    if len(res.objectives) > 1:
        lines.append(f"Pareto front: {len(res.pareto)} feasible trials (pareto.csv)")
    return "\n".join(lines)


def _search_report(res, ver, figs: list[Path], root: Path) -> str:
    from optimizers.verification import markdown

    t = res.trials
    top = t[t["feasible"]].sort_values(res.objectives[0], ascending=False).head(10)
    parts = [
        f"# Plan search: {res.scenario.name}",
        f"Study `{res.study.study_name}`: {len(t)} trials, {int(t['feasible'].sum())} feasible "
        f"(every target met with the required probability); objectives: "
        f"{', '.join(res.objectives)} (maximised).",
        "## Best feasible decisions",
        _table_md(pd.DataFrame({"decision": list(res.best), "value": list(res.best.values())}))
        if res.best
        else "No feasible trial. Nearest to feasible (highest worst-target "
        "probability), verified below:\n\n"
        + _table_md(
            pd.DataFrame(
                {"decision": list(res.closest or {}), "value": list((res.closest or {}).values())}
            )
        ),
        "## Top feasible trials",
        _table_md(top) if len(top) else "None.",
    ]
    if len(res.objectives) > 1:
        parts += ["## Pareto front (feasible trials)", _table_md(res.pareto)]
    if ver is not None:
        parts += ["## Verification (full replications, common random numbers)", markdown(ver)]
    parts += [
        "## Figures",
        *[f"![{f.stem}]({f.relative_to(root).as_posix()})" for f in figs],
        "_This report.md is written by `optimizers.commands`; the comparison report in "
        "`verification/` is rendered by `sim.reports.report` exactly as `channelsim compare` "
        "does._",
    ]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# inventory (optimizers/inventory.py is another module's work: import it only when asked)
# --------------------------------------------------------------------------------------------
def _inventory_parser(osub) -> None:
    p = osub.add_parser(
        "inventory",
        help="(s, S) policies per SKU and location: analytic start, refined by simulation",
    )
    _common(p, replications=8)
    p.add_argument("--fill-rate", type=float, default=None, help="fill-rate target, e.g. 0.95")
    p.add_argument(
        "--stockout-rate", type=float, default=None, help="stockout-rate ceiling, e.g. 0.05"
    )
    p.add_argument("--days", type=int, default=3000, help="days per policy simulation")
    p.set_defaults(func=run_inventory)


def run_inventory(args) -> int:
    try:
        from optimizers.inventory import apply_policies, optimize_inventory
    except ImportError as exc:
        raise UsageError(f"optimize inventory: unavailable in this checkout ({exc})") from None
    _check(args)
    sc, baseline, _ = _load(args)
    if sc.inventory is None:
        raise UsageError(f"optimize inventory: {args.scenario} has no inventory: section")
    seed = sc.seed if args.seed is None else args.seed
    records = None
    if getattr(sc.inventory.demand, "mode", "exogenous") != "exogenous":
        # Demand comes from the customers: fit it on the stock records of one simulated run.
        from sim.core.model import simulate

        records = simulate(sc, seed=seed).extra.get("inventory")
        if records is None:
            raise UsageError(
                "optimize inventory: customer-driven demand needs the stock "
                "records of a run, and this engine does not record them yet"
            )
    try:
        table = optimize_inventory(
            sc.inventory,
            target_fill_rate=args.fill_rate,
            target_stockout_rate=args.stockout_rate,
            days=args.days,
            replications=args.replications,
            seed=seed,
            records=records,
        )
        spec = apply_policies(sc.inventory, table)
    except ValueError as exc:
        raise UsageError(f"optimize inventory: {exc}") from None
    plan = sc.model_copy(update={"inventory": spec})
    ver = _verify(plan, sc, baseline, args, seed)
    out = Path(args.out or default_run_dir(f"{sc.name}-inventory"))
    with atomic_dir(out) as tmp:
        write_json(
            tmp / "manifest.json",
            manifest(
                sc,
                seed=seed,
                replications=args.replications,
                optimizer="inventory",
                settings=_settings(args),
                verify_replications=args.verify_replications,
            ),
        )
        write_json(
            tmp / "summary.json",
            {
                "optimizer": "inventory",
                "policies": table.to_dict("records"),
                "verification": ver.summary(),
            },
        )
        write_table(tmp, "policies", table)
        _write_verification(ver, tmp)
        from optimizers.verification import markdown

        (tmp / "report.md").write_text(
            f"# Inventory policies: {sc.name}\n\n{_table_md(table)}\n\n"
            f"## Verification (full replications)\n\n{markdown(ver)}\n",
            encoding="utf-8",
        )
    print(table.to_string(index=False))
    print(f"\nresults: {out}")
    return 0
