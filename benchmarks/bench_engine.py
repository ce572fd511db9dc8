"""Speed of the vectorised engine against the same rules written one ``mesa.Agent`` per customer.

Prints customer-days per second of :class:`sim.ChannelMarket` on ``scenarios/baseline.yaml``
(``market.customers`` overridden) at each size, and of :class:`per_agent_mesa.PerAgentMarket` at
10 000 customers, measured in the same run, with their ratio, plus peak RSS per size. Every
measurement runs in its own fresh single-threaded subprocess, one after the other, so peak RSS
belongs to that size alone and no run warms the caches of the next.

How the rates are counted: ``customers × days ÷ wall time`` of model construction + every day,
for both (the engine also builds its ledger tables, which the per-agent version has no
equivalent of: that favours the baseline). ``ratio_vs_per_agent_mesa`` is like for like: the
engine is run again at the per-agent run's customers *and* days (10 000 × 365 by default), so
both rates cover the same simulated days, both including construction. Neither includes its
process's imports, which the script prints apart (``import_s[…]``): they include numba loading
the engine's compiled kernels (``sim.core.kernels``, once per process; the per-agent process
imports ``sim`` too, so it pays the same).

The per-agent run's KPIs are compared with the engine's on the same scenario (mean of a few
seeds): a baseline implementing different rules would be meaningless. The comparison is printed,
never asserted. The script ends with lines a script can read::

    customer_days_per_s[10000]: 7412345
    customer_days_per_s[100000]: ...
    customer_days_per_s[1000000]: ...
    ratio_vs_per_agent_mesa: 19.1
    peak_rss_mb[1000000]: ...

Example (tiny, a few seconds)::

    python benchmarks/bench_engine.py --sizes 2000 --days 20 --agent-customers 1000 --agent-days 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_SCENARIO = ROOT / "scenarios" / "baseline.yaml"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
CHECKED = (
    "orders_per_day",
    "revenue_per_day",
    "new_customers_per_day",
    "visits_per_day",
    "sessions_per_day",
    "satisfied_orders_per_day",
    "joined_private_per_day",
    "private_pool_end",
    "adopters_end",
)
SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


# ---- what runs inside a measuring subprocess --------------------------------------------------
def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _scenario(path: str, customers: int, days: int):
    from sim.scenario import load_scenario

    # The per-agent baseline implements the customer rules only, so stock is left out of both
    # (the inventory engine adds ≈ 1 ms per simulated day; see docs/inventory.md).
    return load_scenario(
        path,
        overrides={
            "market.customers": customers,
            "horizon.days": days,
            "inventory": None,
            "targets": [],
        },
    )


def measure_engine(path: str, customers: int, days: int, seed: int) -> dict:
    """Time one vectorised run (construction + days + ledger) and read the peak RSS; and, apart,
    the process's imports (with numba loading the compiled kernels: sim.core.kernels)."""
    t_import = time.perf_counter()
    from sim.core.model import ChannelMarket

    import_s = time.perf_counter() - t_import
    sc = _scenario(path, customers, days)
    base = _rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    model = ChannelMarket(sc, seed=seed)
    t1 = time.perf_counter()
    ledger = model.run()
    t2, cpu2 = time.perf_counter(), time.process_time()
    return {
        "kind": "engine",
        "import_s": import_s,
        "customers": customers,
        "days": days,
        "setup_s": t1 - t0,
        "run_s": t2 - t1,
        "wall_s": t2 - t0,
        "cpu_s": cpu2 - cpu0,
        "rate": customers * days / (t2 - t0),
        "base_rss_mb": base,
        "peak_rss_mb": _rss_mb(),
        "orders": int(len(ledger.orders)),
    }


def measure_per_agent(path: str, customers: int, days: int, seed: int) -> dict:
    """Time the per-agent Mesa model over ``days`` (construction timed apart)."""
    sys.path.insert(0, str(HERE))
    t_import = time.perf_counter()
    from per_agent_mesa import PerAgentMarket  # (imports sim too: the same kernels load)

    import_s = time.perf_counter() - t_import
    sc = _scenario(path, customers, days)
    base = _rss_mb()
    cpu0, t0 = time.process_time(), time.perf_counter()
    model = PerAgentMarket(sc, seed=seed)
    t1 = time.perf_counter()
    for _ in range(days):
        model.step()
    t2, cpu2 = time.perf_counter(), time.process_time()
    return {
        "kind": "per_agent",
        "import_s": import_s,
        "customers": customers,
        "days": days,
        "setup_s": t1 - t0,
        "run_s": t2 - t1,
        "wall_s": t2 - t0,
        "cpu_s": cpu2 - cpu0,
        "rate": customers * days / (t2 - t0),
        "base_rss_mb": base,
        "peak_rss_mb": _rss_mb(),
        "seed": seed,
        "summary": model.summary(),
    }


# ---- the orchestrating process ----------------------------------------------------------------
def _in_subprocess(kind: str, path: str, customers: int, days: int, seed: int) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--scenario",
        path,
        "--sizes",
        str(customers),
        "--days",
        str(days),
        "--seed",
        str(seed),
    ]
    env = {**os.environ, **SINGLE_THREAD}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"bench_engine: the {kind} run at {customers} customers failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best_of(repeat: int, *args) -> dict:
    """The fastest of ``repeat`` fresh runs: other load only ever slows a run down."""
    runs = [_in_subprocess(*args) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["wall_s"])
    return {**best, "cpu_rate": best["customers"] * best["days"] / best["cpu_s"]}


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def _mean_sd(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)) ** 0.5


def check_rules(path: str, per_agent: dict, *, seeds: int = 3) -> list[str]:
    """Per-agent KPIs next to the engine's on the same scenario, each a mean over ``seeds`` runs.

    The timed per-agent run is one of the per-agent seeds; the others (and the engine's
    ``max(12, 2 × seeds)`` runs) run here, untimed. A KPI is flagged when it differs by more
    than 10 % *and* by more than three standard errors of the difference (seed-to-seed noise).
    """
    from per_agent_mesa import PerAgentMarket, engine_summary

    from sim.core.model import ChannelMarket

    customers, days = per_agent["customers"], per_agent["days"]
    sc = _scenario(path, customers, days)
    agents = [per_agent["summary"]]
    for s in range(1, seeds):
        model = PerAgentMarket(sc, seed=per_agent["seed"] + 1000 * s)
        for _ in range(days):
            model.step()
        agents.append(model.summary())
    # The engine is cheap: enough runs that its sd is a fair estimate of one run's noise.
    engines = [
        engine_summary(ChannelMarket(sc, seed=s).run(), days) for s in range(max(12, 2 * seeds))
    ]
    lines = [
        f"{'KPI (simulated units)':26s} {'per-agent':>10s} {'engine':>10s} "
        f"{'sd of a run':>11s} {'diff':>7s}"
    ]
    for k in CHECKED:
        a, _ = _mean_sd([r[k] for r in agents])
        e, sd = _mean_sd([r[k] for r in engines])
        diff = (a - e) / e if e else (0.0 if a == e else float("inf"))
        noise = sd * (1 / len(agents) + 1 / len(engines)) ** 0.5
        flag = "  <-- differs" if abs(diff) > 0.10 and abs(a - e) > 3 * noise else ""
        lines.append(f"{k:26s} {a:10.2f} {e:10.2f} {sd:11.2f} {diff:+7.1%}{flag}")
    return lines


def run(args: argparse.Namespace) -> None:
    sizes, days = args.sizes, args.days
    print(
        f"channelsim engine benchmark: {Path(args.scenario).name}, {days} days, "
        f"sizes {', '.join(map(str, sizes))}; per-agent Mesa at {args.agent_customers} "
        f"customers over {args.agent_days} days; best of {args.repeat}"
    )
    print(
        f"python {sys.version.split()[0]}, one process per measurement, single-threaded; "
        f"{_load()} at start"
    )
    results = {}
    for n in sizes:
        r = results[n] = _best_of(args.repeat, "engine", args.scenario, n, days, args.seed)
        grown = (r["peak_rss_mb"] - r["base_rss_mb"]) * 2**20 / n
        print(
            f"engine     {n:>9,d} customers × {days} days: {r['wall_s']:7.2f} s wall, "
            f"{r['cpu_s']:6.2f} s cpu (setup {r['setup_s']:.2f} s) → "
            f"{r['rate'] / 1e6:6.2f} M customer-days/s wall, {r['cpu_rate'] / 1e6:6.2f} M cpu; "
            f"peak RSS {r['peak_rss_mb']:.0f} MB ({r['base_rss_mb']:.0f} MB after imports, "
            f"+{grown:.0f} B per customer)"
        )
    agent = _best_of(
        args.repeat, "per_agent", args.scenario, args.agent_customers, args.agent_days, args.seed
    )
    print(
        f"per-agent  {agent['customers']:>9,d} customers × {agent['days']} days: "
        f"{agent['wall_s']:7.2f} s wall, {agent['cpu_s']:6.2f} s cpu (setup "
        f"{agent['setup_s']:.2f} s) → {agent['rate'] / 1e6:6.3f} M "
        f"customer-days/s wall, {agent['cpu_rate'] / 1e6:6.3f} M cpu"
    )
    # Like for like: the engine over the per-agent run's customers and days, construction in.
    like = results.get(agent["customers"]) if agent["days"] == days else None
    if like is None:  # not measured above: run the engine at the per-agent run's size and days
        like = _best_of(
            args.repeat, "engine", args.scenario, agent["customers"], agent["days"], args.seed
        )
    print(
        f"engine     {like['customers']:>9,d} customers × {like['days']} days: "
        f"{like['wall_s']:7.2f} s wall, {like['cpu_s']:6.2f} s cpu (setup "
        f"{like['setup_s']:.2f} s) → {like['rate'] / 1e6:6.2f} M customer-days/s wall, "
        f"{like['cpu_rate'] / 1e6:6.2f} M cpu (like for like with the per-agent run)"
    )
    print(
        f"ratio engine / per-agent, like for like ({agent['customers']} × {agent['days']} "
        f"days, both with construction): {like['rate'] / agent['rate']:.1f}× wall, "
        f"{like['cpu_rate'] / agent['cpu_rate']:.1f}× cpu"
    )
    for n, r in results.items():
        print(
            f"ratio engine[{n} × {days} days] / per-agent[{agent['customers']} × "
            f"{agent['days']} days] (rates per customer-day): "
            f"{r['rate'] / agent['rate']:.1f}× wall, "
            f"{r['cpu_rate'] / agent['cpu_rate']:.1f}× cpu"
        )
    if not args.no_check:
        print(
            f"rule check: per-agent vs engine, {agent['customers']} customers × "
            f"{agent['days']} days, mean of {args.check_seeds} per-agent and "
            f"{max(12, 2 * args.check_seeds)} engine runs"
        )
        lines = check_rules(args.scenario, agent, seeds=args.check_seeds)
        for line in lines:
            print("  " + line)
        # machine-readable: the smoke test asserts no KPI differs (tests/test_benchmark_smoke.py)
        print(f"rule_check_kpis: {len(lines) - 1}")
        print(f"rule_check_differs: {sum('<-- differs' in line for line in lines)}")
    print(f"{_load()} at end")
    for n, r in results.items():
        print(f"cpu_customer_days_per_s[{n}]: {r['cpu_rate']:.0f}")
    print(f"per_agent_customer_days_per_s[{agent['customers']}]: {agent['rate']:.0f}")
    print(f"cpu_per_agent_customer_days_per_s[{agent['customers']}]: {agent['cpu_rate']:.0f}")
    print(f"like_for_like_customer_days_per_s[{like['customers']}]: {like['rate']:.0f}")
    print(f"cpu_like_for_like_customer_days_per_s[{like['customers']}]: {like['cpu_rate']:.0f}")
    print(f"like_for_like_days: {like['days']}")
    print(f"cpu_ratio_vs_per_agent_mesa: {like['cpu_rate'] / agent['cpu_rate']:.2f}")
    for n, r in results.items():
        print(f"customer_days_per_s[{n}]: {r['rate']:.0f}")
    print(f"ratio_vs_per_agent_mesa: {like['rate'] / agent['rate']:.2f}")
    # not in the rates (neither side's): what a fresh process pays before its first model
    print(f"import_s[engine]: {like['import_s']:.2f}")
    print(f"import_s[per_agent]: {agent['import_s']:.2f}")
    for n, r in results.items():
        print(f"peak_rss_mb[{n}]: {r['peak_rss_mb']:.1f}")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s.replace("_", "")) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--sizes: expected comma-separated integers, got {text!r}"
        ) from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"--sizes: sizes must be positive, got {text!r}")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="comma-separated customer counts (default 10000,100000,1000000)",
    )
    p.add_argument(
        "--quick", action="store_true", help="sizes 10000,100000 and the per-agent run over 20 days"
    )
    p.add_argument("--days", type=_positive, default=365, help="simulated days (default 365)")
    p.add_argument(
        "--agent-customers",
        type=_positive,
        default=10_000,
        help="customers in the per-agent Mesa run (default 10000)",
    )
    p.add_argument(
        "--agent-days",
        type=_positive,
        default=None,
        help="days of the per-agent Mesa run (default --days, 20 with --quick)",
    )
    p.add_argument("--scenario", default=str(DEFAULT_SCENARIO), help="scenario YAML")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        help="runs per measurement, the fastest kept (default 1)",
    )
    p.add_argument("--no-check", action="store_true", help="skip the per-agent vs engine KPIs")
    p.add_argument(
        "--check-seeds",
        type=_positive,
        default=3,
        help="per-agent runs averaged in the KPI check (default 3)",
    )
    p.add_argument("--worker", choices=("engine", "per_agent"), help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.worker:
        measure = measure_engine if args.worker == "engine" else measure_per_agent
        print(json.dumps(measure(args.scenario, args.sizes[0], args.days, args.seed)))
        return
    if not Path(args.scenario).is_file():
        parser().error(f"--scenario: no such file: {args.scenario}")
    if args.sizes is None:
        args.sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    if args.agent_days is None:
        args.agent_days = 20 if args.quick else args.days
    sys.path.insert(0, str(HERE))
    run(args)


if __name__ == "__main__":
    main()
