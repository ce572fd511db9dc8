"""Peak memory of reading a large order export (``sim.calibration.orders.read_orders``).

Writes a synthetic export into a temporary directory (deleted afterwards, never committed):
``order_id, customer_id, order_date, amount, channel`` with N rows, N/4 customers, 540 days and
4 channels, about 42 bytes a row (2 M rows ≈ 85 MB). It then reads the export in a fresh
subprocess (the export is written by another one) and reports that process's peak RSS
(``ru_maxrss``) before and after reading. Ends with lines a script can read::

    file_mb: 84.8
    base_rss_mb: 192.0
    peak_rss_mb: 445.1
    read_over_file: 2.98

Example (a few seconds)::

    python benchmarks/bench_orders_memory.py --rows 200000

``--dates month-first`` writes the dates as a US spreadsheet does (``1/13/2025 10:07``, with a
time of day to the minute): the reader then looks at the date column a second time, chunk by
chunk, to decide the order (``sim.calibration.order_dates.YearLastOrder``); add
``--date-format '%m/%d/%Y %H:%M'`` to read the same file without that.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = {"customer": "customer_id", "date": "order_date", "order_id": "order_id"}


def write_export(path: Path, rows: int, seed: int = 0, dates: str = "iso") -> None:
    """A plausible export: ids, dates in order (ISO, or month first with a time of day),
    amounts around four price points."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, 540, rows))
    price = rng.choice([120.0, 150.0, 240.0, 300.0], rows) * rng.uniform(0.9, 1.1, rows)
    when = (np.datetime64("2025-01-01") + days.astype("timedelta64[D]")).astype(str)
    if dates == "month-first":
        day = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(540), unit="D")
        label = np.array([f"{d.month}/{d.day}/{d.year} " for d in day], dtype=object)
        minute = np.array([f"{m // 60}:{m % 60:02d}" for m in range(1440)], dtype=object)
        when = label[days] + minute[rng.integers(0, 1440, rows)]
    pd.DataFrame(
        {
            "order_id": [f"O{i:08d}" for i in range(rows)],
            "customer_id": [f"C{c:07d}" for c in rng.integers(0, rows // 4, rows)],
            "order_date": when,
            "amount": np.round(price, 2),
            "channel": np.array(["tmall", "jd", "douyin", "wecom"])[rng.integers(0, 4, rows)],
        }
    ).to_csv(path, index=False)


def measure(path: str, date_format: str | None = None) -> dict:
    """Inside the subprocess: read the export and report RSS before and after."""
    from sim.calibration.orders import read_orders

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    orders = read_orders(path, columns=COLUMNS, date_format=date_format)
    return {
        "rows": len(orders.table),
        "notes": orders.notes,
        "seconds": time.perf_counter() - t0,
        "base_rss_mb": base,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--dates", choices=["iso", "month-first"], default="iso")
    p.add_argument("--date-format", default=None, help="passed to read_orders (no inference)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--write", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.date_format)))
        return 0
    if args.write:
        write_export(Path(args.write), args.rows, dates=args.dates)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        # written by a child too: a process forked from a big parent inherits its peak RSS
        cmd = [sys.executable, __file__, "--rows", str(args.rows), "--write", str(path)]
        cmd += ["--dates", args.dates]
        subprocess.run(cmd, check=True)
        file_mb = path.stat().st_size / 2**20
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path)]
            + (["--date-format", args.date_format] if args.date_format else []),
            capture_output=True,
            text=True,
            check=True,
        )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    grown = r["peak_rss_mb"] - r["base_rss_mb"]
    print(
        f"{r['rows']:,} rows, {file_mb:.1f} MB: read in {r['seconds']:.1f} s, peak RSS "
        f"{r['peak_rss_mb']:.0f} MB ({r['base_rss_mb']:.0f} MB before reading: "
        f"+{grown:.0f} MB = {grown / file_mb:.2f} × the file)"
    )
    for note in r["notes"]:
        print(f"note: {note}")
    print(f"file_mb: {file_mb:.1f}")
    print(f"base_rss_mb: {r['base_rss_mb']:.1f}")
    print(f"peak_rss_mb: {r['peak_rss_mb']:.1f}")
    print(f"read_over_file: {grown / file_mb:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
