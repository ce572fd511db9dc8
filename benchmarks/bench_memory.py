"""Memory one replication needs, per simulated customer: the figures behind the refusal of
scenarios this machine cannot hold (:mod:`sim.scenario.resources`).

Runs one whole replication as ``channelsim run`` does (``run_replication`` with the daily
tables kept, the baseline's inventory engine on) at each size × horizon, each in its own fresh
single-threaded subprocess, and reads the peak RSS (``ru_maxrss``) before and after. Prints one
line per measurement and ends with lines a script can read::

    bytes_per_customer[100000x365]: 231.4
    base_rss_mb: 201.3

Example (a few seconds)::

    python benchmarks/bench_memory.py --sizes 20000 --days 30
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "baseline.yaml"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def measure(customers: int, days: int) -> dict:
    """Peak RSS of one replication (inside this process) and the RSS before it started."""
    from sim.experiments.replication import run_replication
    from sim.scenario import load_scenario

    sc = load_scenario(SCENARIO, overrides={"market.customers": customers, "horizon.days": days})
    base = _rss_mb()
    rep = run_replication(sc, 0, 0, (), True)
    if rep.error:
        raise RuntimeError(rep.error)
    return {"customers": customers, "days": days, "base_rss_mb": base, "peak_rss_mb": _rss_mb()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    p.add_argument("--days", type=int, nargs="+", default=[90, 365])
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(*args.child)))
        return 0
    env = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    for days in args.days:
        for n in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), str(days)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env={**__import__("os").environ, **env},
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["bytes_per_customer"] = (r["peak_rss_mb"] - r["base_rss_mb"]) * 2**20 / n
            rows.append(r)
            print(
                f"{n:>9} customers × {days:>4} days: peak RSS {r['peak_rss_mb']:.0f} MB "
                f"({r['base_rss_mb']:.0f} MB before the replication), "
                f"{r['bytes_per_customer']:.1f} B per customer"
            )
    for r in rows:
        print(f"bytes_per_customer[{r['customers']}x{r['days']}]: {r['bytes_per_customer']:.1f}")
    print(f"base_rss_mb: {max(r['base_rss_mb'] for r in rows):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
