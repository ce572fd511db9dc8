"""What a process pays for the engine's compiled kernels (``sim/core/kernels.py``, numba).

The kernels are compiled once per machine into numba's on-disk cache and loaded at import. In
fresh interpreters, with a cache directory of this script's own (``NUMBA_CACHE_DIR``), it
runs ``python -X importtime -c "import sim"`` with an empty cache (compiling every kernel) and
then with the cache that run wrote (loading them), ``--repeat`` times each, and prints from
Python's own import timings the seconds spent importing ``numba`` and ``sim.core.kernels``
(numba included: what the kernels add to a process) and the whole ``import sim`` (everything
a command imports before its first model)::

    python benchmarks/kernel_startup.py
    numba_import_s: 0.2
    kernels_import_compiling_s: 7.1
    kernels_import_cached_s: 0.5
    sim_import_s: 2.4
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def import_times(cache: str) -> dict[str, float]:
    """Cumulative import seconds of ``numba``, ``sim.core.kernels`` and ``sim`` in a fresh
    interpreter importing ``sim`` with numba's cache in ``cache``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-X", "importtime", "-c", "import sim"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    times = {}
    for line in out.stderr.splitlines():  # "import time: self | cumulative | name" (µs)
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] in ("numba", "sim.core.kernels", "sim"):
            times[parts[2]] = int(parts[1]) / 1e6
    return times


def measure(repeat: int) -> dict[str, list[float]]:
    """Seconds per fresh interpreter, ``repeat`` times (a new empty cache each time)."""
    out: dict[str, list[float]] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = import_times(cache), import_times(cache)
        for name, value in (
            ("numba_import_s", warm["numba"]),
            ("kernels_import_compiling_s", cold["sim.core.kernels"]),
            ("kernels_import_cached_s", warm["sim.core.kernels"]),
            ("sim_import_s", warm["sim"]),
        ):
            out.setdefault(name, []).append(value)
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
