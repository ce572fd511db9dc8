"""``channelsim optimize search SCENARIO``: an Optuna study over the scenario's decisions.

Runs (or resumes) the study stored next to its results (``study.db`` unless ``--storage``),
shows a progress bar over complete trials, verifies the best feasible trial (or the nearest to
feasible) and writes ``manifest.json``, ``summary.json``, ``trials``, ``pareto.csv``,
``figures/*.png``, ``verification/`` and ``report.md``.

``--out`` is resumed only if it is empty or holds a plan search (its study must also be the same
search: :func:`optimizers.search.search` checks); anything else is refused with exit 2. Several
processes may work on one study at once (same ``--out``, or one ``--storage`` URL): the results
files are then replaced one by one under the directory's writer lock, never the directory
itself, since the live ``study.db`` is in it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from optimizers.commands.common import (
    REPORT_FOOTER,
    add_common_arguments,
    check_args,
    load_plan,
    print_summary,
    table_md,
    usage_error,
    verify_plan,
    write_manifest,
    write_verification,
)
from sim.errors import UsageError
from sim.results import (
    ResultsBusyError,
    locked,
    safe_name,
    write_json,
    write_table,
    write_tool_columns,
)


def add_parser(osub) -> None:
    p = osub.add_parser(
        "search", help="Optuna search over the scenario's decisions: block, targets as constraints"
    )
    add_common_arguments(p, replications=3)
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
    p.add_argument(
        "--by-period",
        choices=("month",),
        default=None,
        help="one decision per channel budget and calendar month, written back as "
        "budget.periods (PATH@YYYY-MM in the trials table)",
    )
    p.add_argument(
        "--total",
        type=float,
        default=None,
        help="CNY/day: the budget decisions' mean daily spend over the horizon must stay "
        "within it (a constraint, like the targets)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_search)


class _Progress:
    """A tqdm bar over the study's complete trials (resumed trials count as done)."""

    def __init__(self, total: int, enabled: bool):
        from tqdm import tqdm

        self.bar = (
            tqdm(total=total, desc="trials", unit="trial", file=sys.stderr) if enabled else None
        )

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        if self.bar is None:
            return
        self.bar.n = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        feasible = trial.user_attrs.get("feasible")
        self.bar.set_postfix(
            last=f"{trial.values[0]:,.4g}" if trial.values else "failed", feasible=feasible
        )
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
def run_search(args) -> int:
    from optimizers.search import search
    from optimizers.search_space import search_space

    check_args(args)
    if args.trials < 1:
        raise UsageError(f"--trials: must be ≥ 1, got {args.trials}")
    if not 0 < args.confidence <= 1:
        raise UsageError(f"--confidence: must be in (0, 1], got {args.confidence}")
    objectives = [s.strip() for s in args.objective.split(",") if s.strip()]
    sc, baseline, _ = load_plan(args)
    try:  # before the results directory exists: a refused search leaves nothing behind
        search_space(sc, by_period=args.by_period, total=args.total)
    except ValueError as exc:
        raise usage_error(exc, "search") from None
    out = Path(args.out or Path("results") / f"{safe_name(sc.name)}-search")
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)  # the study must outlive an interrupted run
    db = out.resolve() / "study.db"
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
            storage=args.storage or f"sqlite:///{db}",
            study_name=args.study_name,
            workers=args.workers,
            callbacks=[progress],
            log=lambda text: print(text, file=sys.stderr),
            by_period=args.by_period,
            total=args.total,
        )
    except ValueError as exc:
        raise usage_error(exc, "search") from None
    finally:
        progress.close()
    seed = sc.seed if args.seed is None else args.seed
    chosen = res.best or res.closest  # with no feasible trial, verify the nearest one
    ver = verify_plan(res.scenario, sc, baseline, args, seed) if chosen is not None else None
    _write_results(out, res, ver, sc, args, seed, objectives)
    print(_search_lines(res))
    print(
        f"\nresults: {out} (report.md{', verification/report.html' if ver else ''}); "
        f"run again with the same --out to add trials to the study"
    )
    if ver is not None:
        print_summary(ver.comparison)
    return 0


# --------------------------------------------------------------------------------------------
# results directory
# --------------------------------------------------------------------------------------------
def _check_out(out: Path) -> None:
    """Resume only a directory of this kind: empty, or holding a plan search."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    names = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    if not names or "study.db" in names:
        return
    kind = f"is not empty ({', '.join(sorted(names)[:4])}{', …' if len(names) > 4 else ''})"
    if "manifest.json" in names:
        try:
            found = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = {}
        if isinstance(found, dict) and found.get("optimizer") == "search":
            return  # a search whose study lives in --storage
        command = found.get("command") if isinstance(found, dict) else None
        kind = f"holds the results of another command (manifest.json: {command!r})"
    elif "sweep.json" in names:
        kind = "holds a sweep (sweep.json)"
    raise UsageError(f"--out {out}: {kind}, not a plan search; choose another --out")


def _write_results(out: Path, res, ver, sc, args, seed: int, objectives: list[str]) -> None:
    """Replace the results files in ``out`` one by one, next to the live study.

    The study (``study.db``) may be in use by other processes, so the directory is never
    swapped: files are written into a hidden temporary directory inside ``out``, then renamed
    into place, under the directory's writer lock (waited for: workers that share a study
    finish together). A killed writer's temporary directory is removed by the next one."""
    with _wait_for_lock(out):
        for left in out.glob(".write-*"):
            shutil.rmtree(left, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".write-", dir=out))
        try:
            write_manifest(
                tmp,
                sc,
                args,
                seed,
                "search",
                storage=args.storage or "sqlite:///study.db",
                study_name=res.study.study_name,
            )
            write_json(tmp / "summary.json", _summary(res, ver, objectives, args))
            write_table(tmp, "trials", res.trials)
            res.pareto.to_csv(tmp / "pareto.csv", index=False)
            figs = _search_figures(res, tmp)
            if ver is not None:
                write_verification(ver, tmp)
            (tmp / "report.md").write_text(_search_report(res, ver, figs, tmp), encoding="utf-8")
            write_tool_columns(tmp)  # columns.csv: trials and pareto, column by column
            for item in sorted(tmp.iterdir()):
                _put(item, out / item.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _wait_for_lock(out: Path, patience: float = 600.0) -> Iterator[None]:
    """The writer lock of ``out``, waiting while another search process writes its results."""
    deadline = time.monotonic() + patience
    while True:
        hold = locked(out)
        try:
            hold.__enter__()
            break
        except ResultsBusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield
    finally:
        hold.__exit__(None, None, None)


def _put(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``: a file atomically; a directory swapped, the old one removed."""
    if src.is_dir() and dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dst, old)
        os.rename(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def _summary(res, ver, objectives: list[str], args=None) -> dict[str, Any]:
    return {
        "optimizer": "search",
        "objectives": objectives,
        "by_period": getattr(args, "by_period", None),
        "total": getattr(args, "total", None),
        "study": res.study.study_name,
        "trials": _complete(res),
        "failed_trials": int((res.trials["state"] == "FAIL").sum()) if len(res.trials) else 0,
        "feasible_trials": int(res.trials["feasible"].sum()),
        "best": res.best,
        "best_values": res.best_values,
        "closest": res.closest,
        "pareto": res.pareto.to_dict("records"),
        "verification": ver.summary() if ver else None,
    }


def _complete(res) -> int:
    return int((res.trials["state"] == "COMPLETE").sum()) if len(res.trials) else 0


def _search_figures(res, tmp: Path) -> list[Path]:
    from optimizers import figures

    figs = [figures.history_figure(res.trials, res.objectives[0], tmp / "figures" / "history.png")]
    complete = res.trials[res.trials["state"] == "COMPLETE"]
    if len(complete) >= 2 and len(res.study.best_trials if len(res.objectives) > 1 else [1]):
        try:
            imp = _importances(res)
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


def _importances(res) -> dict[str, float]:
    """Optuna's importances of the decisions for the first objective."""
    import optuna

    if len(res.objectives) == 1:  # PED-ANOVA (the default) reads the direction
        return optuna.importance.get_param_importances(res.study)
    # it ranks what reaches *low* targets: negate the (maximised) first one
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*low `target` values")
        return optuna.importance.get_param_importances(res.study, target=lambda t: -t.values[0])


def _search_lines(res) -> str:
    t = res.trials
    failed = int((t["state"] == "FAIL").sum()) if len(t) else 0
    lines = [
        f"{_complete(res)} trials complete, {int(t['feasible'].sum())} feasible"
        + (f", {failed} failed (simulation errors or killed; not counted)" if failed else "")
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


def _decisions_md(decisions: dict[str, Any] | None) -> str:
    decisions = decisions or {}
    return table_md(pd.DataFrame({"decision": list(decisions), "value": list(decisions.values())}))


def _search_report(res, ver, figs: list[Path], root: Path) -> str:
    from optimizers.verification import markdown

    t = res.trials
    top = t[t["feasible"]].sort_values(res.objectives[0], ascending=False).head(10)
    parts = [
        f"# Plan search: {res.scenario.name}",
        f"Study `{res.study.study_name}`: {_complete(res)} complete trials, "
        f"{int(t['feasible'].sum())} feasible "
        f"(every target met with the required probability); objectives: "
        f"{', '.join(res.objectives)} (maximised).",
        "## Best feasible decisions",
        _decisions_md(res.best)
        if res.best
        else "No feasible trial. Nearest to feasible (highest worst-target "
        "probability), verified below:\n\n" + _decisions_md(res.closest),
        "## Top feasible trials",
        table_md(top) if len(top) else "None.",
    ]
    if len(res.objectives) > 1:
        parts += ["## Pareto front (feasible trials)", table_md(res.pareto)]
    if ver is not None:
        parts += ["## Verification (full replications, common random numbers)", markdown(ver)]
    parts += [
        "## Figures",
        *[f"![{f.stem}]({f.relative_to(root).as_posix()})" for f in figs],
        REPORT_FOOTER,
    ]
    return "\n\n".join(parts) + "\n"
