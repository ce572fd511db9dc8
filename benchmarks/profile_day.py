"""Where a simulated day's time goes, phase by phase, at a small population.

Runs the benchmark's scenario (``scenarios/baseline.yaml`` without stock or targets, as
``bench_engine.py`` builds it) several times in this process and prints, for the median run,
the CPU time of construction, of the days and of building the ledger, and each phase's CPU time
per simulated day (each phase function of ``ChannelMarket.step`` timed with
``time.process_time``; the timers add ≈ 1 µs per phase and day)::

    python benchmarks/profile_day.py                      # 10 000 customers × 365 days, 7 runs
    python benchmarks/profile_day.py --customers 100000 --runs 3
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("exposure", "promote", "needs", "choice", "purchase", "post_purchase", "follow_up")
PHASES += ("churn",)


def profile(scenario: str, customers: int, days: int, runs: int, seed: int) -> list[str]:
    """Median run's breakdown, as printable lines."""
    import sim.core.model as model_module
    from sim.scenario import load_scenario

    overrides = {"market.customers": customers, "horizon.days": days}
    sc = load_scenario(scenario, overrides={**overrides, "inventory": None, "targets": []})
    spent: dict[str, float] = defaultdict(float)
    clock = time.process_time

    def timed(name, fn):
        def run(*args, **kwargs):
            t = clock()
            out = fn(*args, **kwargs)
            spent[name] += clock() - t
            return out

        return run

    for name in PHASES:  # the names ChannelMarket.step calls, in sim.core.model's namespace
        setattr(model_module, name, timed(name, getattr(model_module, name)))
    cls = model_module.ChannelMarket
    cls.record = timed("record (incl. DataCollector)", cls.record)
    results = []
    for _ in range(runs):
        spent.clear()
        t0 = clock()
        m = cls(sc, seed=seed)
        t1 = clock()
        while m.running:
            m.step()
        t2 = clock()
        m.recorder.finish()
        t3 = clock()
        results.append((t3 - t0, t1 - t0, t2 - t1, t3 - t2, dict(spent)))
    results.sort(key=lambda r: r[0])
    total, setup, run_days, finish, phases = results[len(results) // 2]
    lines = [
        f"{customers} customers × {days} days, median of {runs} runs: {total * 1e3:.1f} ms cpu "
        f"= construction {setup * 1e3:.1f} + days {run_days * 1e3:.1f} + ledger tables "
        f"{finish * 1e3:.1f}; {run_days / days * 1e6:.0f} µs per day"
    ]
    for name, s in phases.items():
        lines.append(f"  {name:30s} {s / days * 1e6:7.1f} µs/day  {s / run_days:6.1%}")
    rest = run_days - sum(phases.values())
    lines.append(
        f"  {'step itself (rest)':30s} {rest / days * 1e6:7.1f} µs/day  {rest / run_days:6.1%}"
    )
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    for name, value in (("--customers", args.customers), ("--days", args.days)):
        if value <= 0:
            p.error(f"{name}: must be a positive integer, got {value}")
    if args.runs <= 0:
        p.error(f"--runs: must be a positive integer, got {args.runs}")
    if not Path(args.scenario).is_file():
        p.error(f"--scenario: no such file: {args.scenario}")
    print("\n".join(profile(args.scenario, args.customers, args.days, args.runs, args.seed)))


if __name__ == "__main__":
    main()
