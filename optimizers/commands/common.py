"""What every ``channelsim optimize`` sub-command shares: arguments, loading, verification.

The common flags (:func:`add_common_arguments`) and their checks, loading the scenario with its
baseline (:func:`load_plan`), library ``ValueError`` s turned into usage errors naming the flag
(:func:`usage_error`), the final verification, the manifest and the markdown tables of
``report.md``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from sim.commands import add_override_options
from sim.errors import UsageError
from sim.results import claim, default_run_dir, manifest, write_json
from sim.scenario import Scenario, load_raw, load_scenario, parse_set_options, resolve_path

#: Library argument names (the prefix of their ``ValueError`` s) → the flag the user typed.
FLAG_OF = {
    "total": "--total",
    "by_period": "--by-period",
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

#: The last line of every ``report.md``.
REPORT_FOOTER = (
    "_This report.md is written by `optimizers.commands`; the comparison report in "
    "`verification/` is rendered by `sim.reports.report` exactly as `channelsim compare` "
    "does._"
)


# --------------------------------------------------------------------------------------------
# arguments
# --------------------------------------------------------------------------------------------
def add_common_arguments(p, *, replications: int) -> None:
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
        # A target is "met" only when its Wilson lower bound reaches the required probability
        # (0.8 by default): 16 replications that all meet it are the fewest that can show it.
        default=20,
        help="replications of the final verification (default 20: fewer cannot show a "
        "target met at the default required probability 0.8)",
    )
    p.add_argument("--seed", type=int, default=None, help="simulation seed (default: scenario's)")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument(
        "--baseline",
        default=None,
        help="baseline scenario for the verification and relative targets "
        "(default: the root of the scenario's extends chain, if any)",
    )
    add_override_options(p, help="override a value (in the scenario and its baseline)")
    p.add_argument("--out", default=None, help="results directory")


def add_force_argument(p) -> None:
    """``--force`` for the optimisers that write a fresh results directory (budget, inventory)."""
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out results directory (default: refuse, exit 2)",
    )


def claim_out(args, default_name: str) -> Path:
    """The results directory (``--out`` or a fresh one under ``results/``), locked for this
    process and refused now, before optimising, if it exists (without ``--force``) or another
    process is writing it."""
    return claim(args.out or default_run_dir(default_name), force=getattr(args, "force", False))


def check_args(args) -> None:
    """The common flags' values, and that the scenario files exist."""
    if args.replications < 1:
        raise UsageError(f"--replications: must be ≥ 1, got {args.replications}")
    if args.verify_replications < 2:
        raise UsageError(f"--verify-replications: must be ≥ 2, got {args.verify_replications}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be ≥ 1, got {args.workers}")
    for path in (args.scenario, args.baseline):
        if path is not None and not Path(path).is_file():
            raise UsageError(f"scenario file not found: {path}")


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    """``NAME=VALUE`` items of a repeatable flag as a dict."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is not a number") from None


def usage_error(exc: Exception, command: str) -> UsageError:
    """A library ValueError ("bounds: …") as a usage error naming the flag."""
    text = str(exc)
    m = re.match(r"(\w+)(\[[^\]]*\])?:", text)
    if m and m.group(1) in FLAG_OF:
        text = FLAG_OF[m.group(1)] + text[len(m.group(1)) :]
    return UsageError(f"optimize {command}: {text}")


def settings(args) -> dict[str, Any]:
    """The parsed flags as recorded in ``manifest.json``."""
    skip = {"func", "command", "optimizer"}
    return {k: v for k, v in vars(args).items() if k not in skip}


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------
def load_plan(args) -> tuple[Scenario, Scenario | None, dict[str, Any]]:
    """The scenario, its baseline (``--baseline`` or the root it extends) and the overrides."""
    overrides = parse_set_options(args.overrides)
    sc = load_scenario(args.scenario, overrides=overrides)
    base_path = args.baseline or _root(sc.extends)
    baseline = (
        load_scenario(base_path, overrides=_shared(overrides, base_path)) if base_path else None
    )
    return sc, baseline, overrides


def _root(path: str | None) -> str | None:
    """The status quo a plan derives from: the end of its ``extends`` chain."""
    while path is not None and (up := load_raw(path).get("extends")) is not None:
        path = up
    return path


def _shared(overrides: dict[str, Any], path: str) -> dict[str, Any]:
    """The --set overrides that also make sense for the baseline (market, horizon, …)."""
    raw = load_raw(path)
    out = {}
    for k, v in overrides.items():
        try:
            resolve_path(raw, k)
        except KeyError:
            if not k.startswith(("market.", "horizon.", "seed", "uncertainty.")):
                continue
        out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# verification and results
# --------------------------------------------------------------------------------------------
def verify_plan(
    plan: Scenario,
    start: Scenario,
    baseline: Scenario | None,
    args,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
):
    """The recommendation re-evaluated with full replications against start and baseline
    (``progress(done, planned)`` counts the replications, for a progress bar)."""
    from optimizers.verification import verify

    print(f"verifying with {args.verify_replications} replications …", file=sys.stderr)
    return verify(
        plan,
        start,
        baseline=baseline,
        replications=args.verify_replications,
        seed=seed,
        workers=args.workers,
        progress=progress,
    )


def print_summary(comparison) -> None:
    """The console's last lines, as ``run`` and ``compare`` end: the verified plans' target
    verdicts and headline changes (:func:`sim.reports.console_summary`)."""
    from sim.reports import console_summary

    print()
    print(console_summary(comparison.summary()))


def write_verification(ver, tmp: Path) -> None:
    from optimizers.verification import write_verification as write

    write(ver, tmp / "verification")


T = TypeVar("T")


def verify_after_writing(out: Path, command: str, verify: Callable[[], T]) -> T:
    """Run ``verify`` for results already written to ``out``; if it fails, ``summary.json``
    says so and the error names the directory, so the optimiser's answer is never lost."""
    try:
        return verify()
    except Exception as exc:  # noqa: BLE001 - any failure: keep what was written, say why
        reason = str(exc).split("\nTraceback (most recent call last):")[0].strip()
        path = out / "summary.json"
        summary = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        summary["verification"] = {"status": "failed", "error": reason}
        write_json(path, summary)
        raise UsageError(
            f"optimize {command}: verification failed: {reason}\n"
            f"the optimiser's (unverified) results are in {out}"
        ) from None


def write_text(path: Path, text: str) -> None:
    """Atomic text write (temp file + rename): a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_manifest(tmp: Path, sc: Scenario, args, seed: int, optimizer: str, **extra) -> None:
    """``manifest.json`` of a results directory (``extra`` after the settings)."""
    write_json(
        tmp / "manifest.json",
        manifest(
            sc,
            seed=seed,
            replications=args.replications,
            optimizer=optimizer,
            settings=settings(args),
            **extra,
            verify_replications=args.verify_replications,
        ),
    )


def table_md(frame: pd.DataFrame, floatfmt: str = "{:,.4g}") -> str:
    """A markdown table; large floats without decimals, NaN as an empty cell."""
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
