"""A change's speed-up on a shared machine: the engine's CPU time in alternating fresh processes.

Other people's jobs slow every run down, and by different amounts from minute to minute, so a
change is timed against the code before it in pairs run back to back: a fresh process on the
old tree (``PYTHONPATH``), then one on this tree, ``--pairs`` times. Each process times
``ChannelMarket(scenario, seed=1).run()`` (construction, every day, the ledger tables, as
``bench_engine.py`` times a size) with ``time.process_time()``, the best of ``--repeat`` runs::

    git archive HEAD | tar -x -C /tmp/before                       # the code before the change
    python benchmarks/paired_runs.py /tmp/before --customers 10000 --pairs 6 --repeat 4

It prints each pair in ms and the median of the after / before ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_cpu_ms(scenario: str, customers: int, days: int, repeat: int) -> float:
    """The fastest of ``repeat`` runs in this process, ms of CPU (stock and targets left out,
    as in bench_engine.py)."""
    from sim.core.model import ChannelMarket
    from sim.scenario import load_scenario

    overrides = {"market.customers": customers, "horizon.days": days}
    sc = load_scenario(scenario, overrides={**overrides, "inventory": None, "targets": []})
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        ChannelMarket(sc, seed=1).run()
        best = min(best, time.process_time() - t)
    return best * 1e3


def _fresh(tree: Path, args: argparse.Namespace) -> float:
    cmd = [sys.executable, str(Path(__file__).resolve()), str(tree), "--worker"]
    cmd += ["--scenario", args.scenario, "--customers", str(args.customers)]
    cmd += ["--days", str(args.days), "--repeat", str(args.repeat)]
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tree, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"paired_runs: the run in {tree} failed")
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", help="a copy of the code before the change (holds sim/)")
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--pairs", type=int, default=6)
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for flag in ("customers", "days", "pairs", "repeat"):
        if getattr(args, flag) <= 0:
            p.error(f"--{flag}: must be a positive integer, got {getattr(args, flag)}")
    if not Path(args.scenario).is_file():
        p.error(f"--scenario: no such file: {args.scenario}")
    scenario = str(Path(args.scenario).resolve())
    if args.worker:  # (in the tree named by PYTHONPATH)
        print(f"{best_cpu_ms(scenario, args.customers, args.days, args.repeat):.1f}")
        return
    before = Path(args.before).resolve()
    if not (before / "sim").is_dir():
        p.error(f"before: {before} holds no sim/ package (a copy of the code before the change)")
    args.scenario = scenario
    ratios = []
    for i in range(args.pairs):
        old, new = _fresh(before, args), _fresh(ROOT, args)
        ratios.append(new / old)
        print(f"pair {i + 1}: before {old:.1f} ms, after {new:.1f} ms ({new / old:.3f})")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"median after / before: {statistics.median(ratios):.3f} (load average {load})")


if __name__ == "__main__":
    main()
