"""Fingerprints of the shipped scenarios' ledgers, to show a speed change changed no number.

``record FILE`` runs every shipped scenario at 3 000 customers (seed 1) and 20 000 customers
(seed 7), plus the baseline (as the benchmark runs it), six_schemes, multichannel, flighted and
uplift_plan without stock, and writes a SHA-1 per column of the daily, market, orders,
journeys and channels tables and of Mesa's DataCollector table (and one of each table's
column names, dtypes and index); ``compare FILE`` runs them again and names every column that
differs. Run ``record`` on the code before a change and ``compare`` after it::

    python benchmarks/ledger_hashes.py record /tmp/before.json   # on the old code
    python benchmarks/ledger_hashes.py compare /tmp/before.json  # on the new code
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("daily", "market", "orders", "journeys", "channels")
SCENARIOS = (
    "baseline",
    "six_schemes",
    "weekly_review",
    "multichannel",
    "flighted",
    "uplift_plan",
)
RUNS = ((3000, 1), (20_000, 7))
NO_STOCK = ("six_schemes", "multichannel", "flighted", "uplift_plan")


def _column_hash(values: np.ndarray) -> str:
    if values.dtype == object:
        raw = "\x00".join(map(str, values)).encode()
    else:
        raw = np.ascontiguousarray(values).tobytes() + str(values.dtype).encode()
    return hashlib.sha1(raw).hexdigest()[:16]


def fingerprints() -> dict[str, dict[str, dict[str, str]]]:
    """``{run: {table: {column: hash}}}`` for every scenario and size."""
    from sim.core.model import ChannelMarket
    from sim.scenario import load_scenario

    cases = [(name, name, {}) for name in SCENARIOS]
    cases.insert(1, ("baseline_nostock", "baseline", {"inventory": None, "targets": []}))
    # without stock the day takes other paths (choice hashes the per-buyer draws, ...): with
    # levers (six_schemes, uplift_plan), more channels (multichannel) and flighted spend too
    for name in NO_STOCK:
        cases.append((f"{name}_nostock", name, {"inventory": None, "targets": []}))
    out = {}
    for label, name, extra in cases:
        for customers, seed in RUNS:
            sc = load_scenario(
                ROOT / "scenarios" / f"{name}.yaml",
                overrides={"market.customers": customers, **extra},
            )
            model = ChannelMarket(sc, seed=seed)
            ledger = model.run()
            run = out[f"{label}@{customers}/seed{seed}"] = {}
            for table in (*TABLES, "datacollector"):
                if table == "datacollector":  # Mesa's DataCollector's daily model variables
                    frame = model.datacollector.get_model_vars_dataframe()
                else:
                    frame = getattr(ledger, table)
                cols = {c: _column_hash(frame[c].to_numpy()) for c in frame.columns}
                cols["__layout__"] = ",".join(f"{c}:{t}" for c, t in frame.dtypes.items())
                cols["__layout__"] += f"|{frame.index!r}"
                run[table] = cols
            print(f"{label} at {customers} customers, seed {seed}: done", file=sys.stderr)
    return out


def compare(before: dict, now: dict) -> list[str]:
    """Lines naming each column that differs or went missing (new columns are listed apart)."""
    lines = []
    for run, tables in before.items():
        for table, cols in tables.items():
            current = now.get(run, {}).get(table, {})
            for col, value in cols.items():
                if current.get(col) is None:
                    lines.append(f"missing: {run} {table}.{col}")
                elif current[col] != value:
                    lines.append(f"differs: {run} {table}.{col}")
            for col in sorted(set(current) - set(cols)):
                lines.append(f"new column: {run} {table}.{col}")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("record", "compare"))
    p.add_argument("file", type=Path)
    args = p.parse_args(argv)
    if args.action == "compare" and not args.file.is_file():
        p.error(f"file: no such file: {args.file}")
    now = fingerprints()
    if args.action == "record":
        args.file.write_text(json.dumps(now, indent=1))
        print(f"recorded {len(now)} runs in {args.file}")
        return
    lines = compare(json.loads(args.file.read_text()), now)
    print("\n".join(lines))
    differ = [line for line in lines if not line.startswith("new column")]
    print("every ledger bit-identical" if not differ else f"{len(differ)} columns differ")
    if differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
