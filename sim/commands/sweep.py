"""``channelsim sweep SCENARIO --design DESIGN.yaml``: a resumable parameter sweep.

Re-running the same command continues an interrupted sweep (finished points are skipped, a
damaged journal part is set aside and its incomplete points recomputed, and the command says
how many points were done); ``--no-resume`` starts it again from scratch. A second sweep on an
``--out`` being written, or an ``--out`` of another kind, is refused with exit 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sim.commands.options import add_override_options
from sim.experiments.design import build_design, load_design, points_count
from sim.experiments.sweep import journaled_points, run_sweep
from sim.scenario import load_scenario, parse_set_options


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a design of parameter points × replications")
    p.add_argument("scenario")
    p.add_argument(
        "--design",
        required=True,
        metavar="DESIGN.yaml",
        help="sweep design (see scenarios/designs/)",
    )
    p.add_argument(
        "--out", default=None, help="sweep directory (default results/sweeps/SCENARIO-DESIGN)"
    )
    p.add_argument("--workers", type=int, default=None, help="local processes (default: cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, tcp://host:8786")
    p.add_argument(
        "--resume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="skip points already in --out (default); --no-resume starts afresh",
    )
    p.add_argument(
        "--replications",
        "-r",
        type=int,
        default=None,
        help="replications per point (overrides the design's)",
    )
    add_override_options(p, help="override a scenario value for every point")
    p.add_argument("--batch-size", type=int, default=None, help="points per task (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from sim.commands.cli import UsageError

    for flag in ("replications", "workers", "batch_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')}: must be ≥ 1, got {value}")
    design = load_design(args.design, replications=args.replications)
    sets = parse_set_options(args.overrides)
    if sets:  # --set has the last word, also over the design's fixed overrides
        data = design.model_dump(mode="json")
        data["overrides"] = {**data["overrides"], **sets}
        design = build_design(data, source="--set")
    scenario = load_scenario(args.scenario)
    out = Path(args.out or default_sweep_dir(scenario.name, design.name))
    n = points_count(design)
    print(
        f"sweep {design.name}: {n} points × {design.replications} replications "
        f"({design.sampler}) on {scenario.name} → {out}",
        file=sys.stderr,
    )
    try:
        table = run_sweep(
            scenario,
            design,
            out=out,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=args.resume,
            progress=not args.no_progress,
            batch_size=args.batch_size,
            log=lambda text: print(text, file=sys.stderr),
        )
    except BrokenProcessPool as exc:
        print(f"error: a worker died ({exc}); {_saved(out, n)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; {_saved(out, n)}", file=sys.stderr)
        return 130
    failed = int(table["error"].notna().sum())
    print(
        f"{table['point'].nunique()} points, {len(table)} rows, {failed} failed "
        f"replications; results in {out}/results.parquet (analyse with "
        f"`channelsim analyze {out}`)"
    )
    return 0


def _saved(out: Path, n: int) -> str:
    done = len(journaled_points(out)) if out.exists() else 0
    return f"{done} of {n} points are saved in {out}; re-run the same command to resume"


def default_sweep_dir(scenario: str, design: str) -> Path:
    """Deterministic, so re-running the same command resumes the same sweep."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{scenario}-{design}")
    return Path("results") / "sweeps" / safe
