"""What a process pays for the engine's compiled kernels (``sim/core/kernels.py``, numba).

The kernels are compiled once per machine into numba's on-disk cache and loaded at import. In
fresh interpreters, with a cache directory of this script's own (``NUMBA_CACHE_DIR``), it
times ``import numba``, ``import sim.core.kernels`` with an empty cache (compiling every
kernel) and then with the cache that import wrote (loading them), and ``import sim`` (every
import a command makes before its first model) with the warm cache, ``--repeat`` times each::

    python benchmarks/kernel_startup.py
    numba_import_s: 0.28
    kernels_import_compiling_s: 9.1
    kernels_import_cached_s: 0.55
    sim_import_s: 2.6
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMED = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"


def _seconds(module: str, cache: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    code = TIMED.format(module)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def measure(repeat: int) -> dict[str, list[float]]:
    """Seconds per fresh interpreter, ``repeat`` times each (a new empty cache each time the
    compiling import is timed)."""
    out: dict[str, list[float]] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            timed = (
                ("numba_import_s", "numba"),
                ("kernels_import_compiling_s", "sim.core.kernels"),  # (the cache is empty)
                ("kernels_import_cached_s", "sim.core.kernels"),
                ("sim_import_s", "sim"),
            )
            for name, module in timed:
                out.setdefault(name, []).append(_seconds(module, cache))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    for name, values in measure(args.repeat).items():
        print(f"{name}: {min(values):.2f}  (each run: {', '.join(f'{v:.2f}' for v in values)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
