"""Resolution vs precision: what fewer simulated agents cost in interval width, and save in time.

    python benchmarks/resolution.py                       # the README's table
    python benchmarks/resolution.py --agents 2000 5000 --replications 4 --days 90   # quick

The scenario states its real market once (``market.real_customers``, 2 M people in the
baseline); ``market.customers`` is how many agents simulate it. For each agent count this runs
``--replications`` replications of the scenario (one process, one worker, seed ``--seed``) and
prints, per KPI, the mean and the half-width of its 95 % t interval (as a share of the mean),
plus the wall time per replication. The means should agree across rows within their intervals
— the resolution is not the market — and the half-widths fall roughly like 1/sqrt(agents).

Columns: revenue, paid ROI (``roi_paid``), CAC, the online revenue of days 90–179 (the
six-schemes plan's "online sales" target window), and the fill rate: with an ``inventory:``
section each agent's order reaches the stock as one lump of ``basket × scale`` real units, so
the stock sees lumpier demand at coarse resolutions and the fill rate (and the sales stockouts
lose) is biased, not only noisier. ``--no-stock`` drops the section to show the rest alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
WINDOW = (90, 180)  # days 90 … 179, both included (half-open for the KPI functions)
COLUMNS = (
    ("revenue", "revenue (M CNY)", 1e-6),
    ("roi_paid", "paid ROI", 1.0),
    ("cac", "CAC (CNY)", 1.0),
    ("target", "online revenue d90–179 (M CNY)", 1e-6),
    ("fill_rate", "fill rate", 1.0),
)


def measure(path: Path, agents: int, days: int, replications: int, seed: int, stock: bool):
    """Per-replication KPIs at ``agents`` agents and the wall time per replication."""
    from sim import evaluate, load_scenario

    over = {"market.customers": agents, "horizon.days": days, "targets": []}
    if not stock:
        over["inventory"] = None
    sc = load_scenario(path, overrides=over)
    t = time.perf_counter()
    ev = evaluate(sc, replications=replications, seed=seed, workers=1, windows=[WINDOW])
    per_rep = (time.perf_counter() - t) / replications
    values = {k: ev.kpis[k].to_numpy(float) for k, _, _ in COLUMNS if k in ev.kpis}
    values["target"] = ev.window_kpis[WINDOW]["revenue.online"].to_numpy(float)
    return sc.market.real_customers, values, per_rep


def interval(x: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95 % t interval."""
    n = len(x)
    return float(x.mean()), float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    ap.add_argument("--agents", type=int, nargs="+", default=[2000, 5000, 10000, 20000, 50000])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-stock", action="store_true", help="drop the inventory: section")
    args = ap.parse_args()
    if args.days < WINDOW[1]:
        ap.error(f"--days: the target window needs ≥ {WINDOW[1]} days")
    rows = []
    for n in args.agents:
        real, values, per_rep = measure(
            Path(args.scenario), n, args.days, args.replications, args.seed, not args.no_stock
        )
        rows.append((n, real, values, per_rep))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{Path(args.scenario).name}, {args.days} days, {args.replications} replications, "
        f"seed {args.seed}, stock {'off' if args.no_stock else 'on'}; {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), load {load:.1f}, one process"
    )
    heads = [h for k, h, _ in COLUMNS if k in rows[0][2]]
    print("\n| agents | real per agent | " + " | ".join(heads) + " | s / replication |")
    print("|---" * (len(heads) + 3) + "|")
    for n, real, values, per_rep in rows:
        cells = []
        for k, _, unit in COLUMNS:
            if k not in values:
                continue
            mean, hw = interval(values[k])
            digits = 1 if unit != 1.0 else (3 if k == "fill_rate" else 2)
            share = f" ({hw / abs(mean):.1%})" if mean else ""
            cells.append(f"{mean * unit:,.{digits}f} ± {hw * unit:,.{digits}f}{share}")
        print(
            f"| {n:,} | {real / n:,.0f} | " + " | ".join(cells) + f" | {per_rep:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
