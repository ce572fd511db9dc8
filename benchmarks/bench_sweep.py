"""Sweep throughput and scaling: points per minute on 1 and 2 local workers and a Dask cluster.

    python benchmarks/bench_sweep.py --points 24 --customers 3000 --days 120

Measures, on a grid of ``--points`` points × 1 replication of the (shrunk) baseline:

* ``direct``: the same points simulated in a plain loop (``apply_overrides`` +
  ``run_replication``), no sweep machinery — the reference cost of the work itself;
* ``1 worker``: ``run_sweep`` inline; its excess over ``direct`` is the sweep's own overhead per
  task (sampling, journal write + fsync per point, progress bar, consolidation);
* ``2 workers``: ``run_sweep`` on a local process pool, warmed up first (pool start-up, which
  spawns fresh interpreters, is reported separately);
* ``dask 2``: a Dask ``LocalCluster`` of 2 single-threaded worker processes, warmed up likewise;
* ``2 workers, fresh pool per batch`` and ``2 workers, pool kept``: the points split into
  ``--batches`` separate ``run_sweep`` calls (as an optimiser's rounds or ``--until-decided``'s
  looks do), first starting a new local pool for every call (what each call did before pools
  were kept: spawn fresh interpreters, import the model stack), then reusing the process's kept
  pool (:func:`sim.experiments.evaluation.local_pool`). Pool start-up is inside these timings.

Efficiency = speed-up over 1 worker ÷ workers. Prints a Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _warm(_: int = 0) -> int:
    import sim.experiments.sweep  # noqa: F401  (imports the model stack in the worker)

    return os.getpid()


KPIS = {f"kpi{i}": float(i) for i in range(150)}  # as wide as a real KPI row


def noop_model(params, seed, stream):
    return KPIS


def task_overhead(executor, tmp: Path, points: int = 200) -> tuple[float, float]:
    """Seconds per task of the sweep machinery alone (a model that does nothing), and the
    one-off cost (sampling + consolidation) of the whole sweep."""
    from sim.experiments.design import build_design
    from sim.experiments.sweep import consolidate, run_sweep

    design = build_design({"sampler": "grid", "parameters": {"x": {"levels": list(range(points))}}})
    out = tmp / f"noop-{id(executor)}"
    t = time.perf_counter()
    run_sweep(
        None,
        design,
        out=out,
        model_fn=noop_model,
        executor=executor,
        batch_size=1,
        workers=2,
        progress=False,
    )
    total = time.perf_counter() - t
    t = time.perf_counter()
    consolidate(out, design)
    fixed = time.perf_counter() - t
    return (total - fixed) / points, fixed


def _dask(sc, design, tmp: Path, rows: dict) -> None:
    """The same sweep on a Dask ``LocalCluster`` of 2 single-threaded worker processes."""
    from dask.distributed import Client, LocalCluster

    from sim.experiments.sweep import run_sweep

    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm)
        startup = time.perf_counter() - t0
        t = time.perf_counter()
        run_sweep(sc, design, out=tmp / "dask", scheduler=cluster.scheduler_address, progress=False)
        rows["dask 2"] = (2, time.perf_counter() - t, startup)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=24)
    p.add_argument("--customers", type=int, default=3000)
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--batches", type=int, default=5, help="separate sweep calls (default 5)")
    p.add_argument("--no-dask", action="store_true", help="skip the Dask cluster")
    p.add_argument("--json", default=None, help="write the figures here as JSON")
    args = p.parse_args(argv)

    from concurrent.futures import wait

    from sim.experiments import evaluation as experiment
    from sim.experiments.design import build_design, sample
    from sim.experiments.sweep import run_sweep
    from sim.scenario import apply_overrides, load_scenario

    sc = load_scenario(
        ROOT / "scenarios" / "baseline.yaml",
        overrides={"market.customers": args.customers, "horizon.days": args.days},
    )
    design = build_design(
        {
            "name": "bench",
            "sampler": "grid",
            "seed": 1,
            "replications": 1,
            "parameters": {
                "channels.tmall.budget.paid": {"low": 10000, "high": 60000, "steps": args.points}
            },
        }
    )
    records = sample(design).to_dict("records")
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep."))
    rows = {}

    experiment.run_replication(sc, 1, 0, (), keep_daily=False)  # warm caches
    t = time.perf_counter()
    for rec in records:
        point = apply_overrides(sc, {"channels.tmall.budget.paid": float(rec[design.names[0]])})
        experiment.run_replication(point, 1, 0, (), keep_daily=False)
    rows["direct"] = (1, time.perf_counter() - t, 0.0)

    t = time.perf_counter()
    run_sweep(sc, design, out=tmp / "w1", workers=1, progress=False)
    rows["1 worker"] = (1, time.perf_counter() - t, 0.0)
    overhead = {"inline": task_overhead(experiment.InlineExecutor(), tmp)}

    t0 = time.perf_counter()
    with experiment.make_executor(workers=2) as pool:
        wait([pool.submit(_warm, i) for i in range(4)])
        startup = time.perf_counter() - t0
        t = time.perf_counter()
        run_sweep(sc, design, out=tmp / "w2", executor=pool, workers=2, progress=False)
        rows["2 workers"] = (2, time.perf_counter() - t, startup)
        overhead["2 processes"] = task_overhead(pool, tmp)

    for name, fresh in (("2 workers, fresh pool per batch", True), ("2 workers, pool kept", False)):
        experiment.shutdown_pools()  # both start from no pool
        t = time.perf_counter()
        for b in range(args.batches):
            if fresh:
                experiment.shutdown_pools()
            levels = [float(r[design.names[0]]) for r in records][b :: args.batches]
            part = build_design(
                {
                    "name": "bench",
                    "sampler": "grid",
                    "seed": 1,
                    "replications": 1,
                    "parameters": {"channels.tmall.budget.paid": {"levels": levels}},
                }
            )
            run_sweep(sc, part, out=tmp / f"b{fresh}{b}", workers=2, progress=False)
        rows[name] = (2, time.perf_counter() - t, 0.0)
    experiment.shutdown_pools()

    if not args.no_dask:
        _dask(sc, design, tmp, rows)

    n = len(records)
    per_run = rows["direct"][1] / n
    base = rows["1 worker"][1]
    result = {
        "points": n,
        "customers": args.customers,
        "days": args.days,
        "run_seconds": per_run,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "python": platform.python_version(),
        "overhead_per_task_share": (base - rows["direct"][1]) / rows["direct"][1],
        "configs": {},
    }
    print(
        f"{n} points × 1 replication, {args.customers} customers × {args.days} days; "
        f"one run {per_run:.3f} s; load average {result['load_average']:.1f} on "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| configuration | workers | wall s | points/min | speed-up | efficiency | start-up s |")
    print("|---|---|---|---|---|---|---|")
    for name, (w, wall, start) in rows.items():
        speed = base / wall
        result["configs"][name] = {
            "workers": w,
            "wall_seconds": wall,
            "points_per_minute": 60 * n / wall,
            "speedup": speed,
            "efficiency": speed / w,
            "startup_seconds": start,
        }
        print(
            f"| {name} | {w} | {wall:.2f} | {60 * n / wall:.1f} | {speed:.2f} | "
            f"{speed / w:.2f} | {start:.1f} |"
        )
    print(
        f"\nsweep vs direct loop (1 worker): {(base - rows['direct'][1]) / n * 1000:.0f} ms "
        f"per point = {100 * result['overhead_per_task_share']:.1f} % of a run, including "
        "the one-off consolidation"
    )
    result["task_overhead"] = {}
    for name, (per_task, fixed) in overhead.items():
        share = per_task / per_run
        result["task_overhead"][name] = {
            "seconds_per_task": per_task,
            "share_of_run": share,
            "fixed_seconds": fixed,
        }
        print(
            f"machinery per task ({name}, no-op model, 150 KPIs): {per_task * 1000:.1f} ms "
            f"= {100 * share:.2f} % of a run (target < 5 %); consolidation {fixed:.2f} s"
        )
    # machine-readable: points per minute of each configuration
    for name, cfg in result["configs"].items():
        key = name.replace(",", "").replace(" ", "_")
        print(f"points_per_minute[{key}]: {cfg['points_per_minute']:.1f}")
    print(f"load_average: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":  # worker processes are spawned: guard the entry point
    sys.exit(main())
