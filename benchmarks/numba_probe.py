"""What a compiled kernel would buy a small day, and what it would cost a process (issue 17).

The engine is NumPy only. At 10 000 customers a day is ~400 NumPy calls on a few hundred
customers each, so its time is calls, not arithmetic (docs/performance.md); the way left to the
issue's ratio of 50 is compiled code. This probe measures, with numba (not a dependency of the
project: ``pip install numba`` to run it; without it the probe says so and exits 0):

* what a process pays before the first compiled call: ``import numba``, and the first call of
  a kernel compiled afresh and loaded from numba's on-disk cache (each in a fresh interpreter,
  with a cache directory of its own);
* one piece of a day, compiled: churn's selection (the customers, the in-market shoppers, both
  decisions' counter-based uniforms, the few customers whose draw can churn them, the shoppers
  whose draw lapses) as one kernel against the phase's NumPy calls, on the population of a
  10 000-customer baseline after 180 days — checked to give the same customers and the same
  numbers, since the hash is integer arithmetic;
* for scale: the whole-population PCG64 block that exposure and needs read, and the same count
  of counter-based uniforms from a compiled loop.

Prints µs per call (best of ``--repeat`` timings of ``--number`` calls) and the lines::

    numba_import_s: 0.275
    numba_first_call_compiled_s: 0.875
    numba_first_call_cached_s: 0.559
    churn_selection_numpy_us: 28.9
    churn_selection_compiled_us: 11

Example::

    pip install numba && python benchmarks/numba_probe.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import textwrap
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The kernel, as source: written to a module of its own so that numba's cache (keyed by the
# file) can be measured cold and warm in fresh interpreters.
KERNEL = textwrap.dedent(
    '''
    import numpy as np
    from numba import njit

    LOW = np.uint64(0xFFFFFFFF)
    GOLDEN, M1, M2 = np.uint64(0x9E3779B1), np.uint64(0x85EBCA6B), np.uint64(0xC2B2AE35)
    S8, S13, S16 = np.uint64(8), np.uint64(13), np.uint64(16)
    SCALE = np.float32(2.0**-24)


    @njit(cache=True, inline="always")
    def _fmix32(x):
        x ^= x >> S16
        x = (x * M1) & LOW
        x ^= x >> S13
        x = (x * M2) & LOW
        x ^= x >> S16
        return x


    @njit(cache=True, inline="always")
    def uniform(i, lo, hi):
        """sim.core.streams.keyed_uniforms for one index (uint32 arithmetic held in uint64)."""
        x = ((np.uint64(i) & LOW) ^ lo) * GOLDEN & LOW
        x = _fmix32(_fmix32(x) ^ hi)
        return np.float32(x >> S8) * SCALE


    @njit(cache=True)
    def churn_selection(stage, in_market, customer, lo_c, hi_c, lo_l, hi_l, below, lapse_p):
        """Customers (stage == customer) whose churn draw is below ``below``, with their
        draws, and in-market shoppers whose lapse draw is below ``lapse_p``, ascending."""
        n = stage.size
        close, lapse = np.empty(n, np.int64), np.empty(n, np.int64)
        u_close = np.empty(n, np.float32)
        k = m = 0
        lc, hc, ll, hl = np.uint64(lo_c), np.uint64(hi_c), np.uint64(lo_l), np.uint64(hi_l)
        for i in range(n):
            if stage[i] == customer:
                u = uniform(i, lc, hc)
                if u < below:
                    close[k], u_close[k] = i, u
                    k += 1
            if in_market[i] and uniform(i, ll, hl) < lapse_p:
                lapse[m] = i
                m += 1
        return close[:k], u_close[:k], lapse[:m]


    @njit(cache=True)
    def uniforms(n, lo, hi, out):
        """Counter-based uniforms of customers 0 … n − 1."""
        lo, hi = np.uint64(lo), np.uint64(hi)
        for i in range(n):
            out[i] = uniform(i, lo, hi)
    '''
)

FIRST_CALL = textwrap.dedent(
    """
    import sys, time
    t = time.perf_counter()
    import numpy as np
    import numba_probe_kernel as k
    t_import = time.perf_counter()
    k.churn_selection(np.zeros(8, np.int8), np.zeros(8, bool), np.int8(2), 1, 2, 3, 4,
                      np.float32(0.5), np.float32(0.5))
    print(t_import - t, time.perf_counter() - t_import)
    """
)


def _fresh(code: str, kernel_dir: str, cache_dir: str) -> str:
    env = {**os.environ, "PYTHONPATH": kernel_dir, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout.strip()


def process_costs(kernel_dir: str) -> dict[str, float]:
    """Seconds a fresh interpreter spends on ``import numba`` and on the first kernel call,
    compiling (empty cache) and then loading it from the cache the first run wrote."""
    with tempfile.TemporaryDirectory() as cache:
        code = "import time; t = time.perf_counter(); import numba; print(time.perf_counter() - t)"
        imp = float(_fresh(code, kernel_dir, cache))
        compiled = float(_fresh(FIRST_CALL, kernel_dir, cache).split()[1])
        cached = float(_fresh(FIRST_CALL, kernel_dir, cache).split()[1])
    return {
        "numba_import_s": imp,
        "numba_first_call_compiled_s": compiled,
        "numba_first_call_cached_s": cached,
    }


def _population(customers: int, days: int):
    """A baseline market after ``days`` days (stock and targets left out, as bench_engine)."""
    from sim.core.model import ChannelMarket
    from sim.scenario import load_scenario

    overrides = {"market.customers": customers, "horizon.days": days + 1}
    sc = load_scenario(
        str(ROOT / "scenarios" / "baseline.yaml"),
        overrides={**overrides, "inventory": None, "targets": []},
    )
    model = ChannelMarket(sc, seed=1)
    for _ in range(days):
        model.step()
    return model


def _best_us(fn, number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def day_pieces(kernel, customers: int, days: int, number: int, repeat: int) -> dict[str, float]:
    """µs per call of churn's selection (NumPy as the phase does it; compiled) and of a
    whole-population block (PCG64; compiled counter-based), after checking the selection."""
    import numpy as np

    from sim.core.population import CUSTOMER, STAGE

    model = _population(customers, days)
    pop, draws, m = model.pop, model.draws, model.scenario.market
    below = np.float32(m.churn * (1.0 + m.dissatisfied_churn) * 1.0001)  # a least-satisfied bound
    lapse_p = np.float32(m.interest_lapse)
    (lo_c,), (hi_c,) = draws._halves("churn.churn")
    (lo_l,), (hi_l,) = draws._halves("churn.lapse")

    def numpy_selection():
        cust = (pop.stage == STAGE[CUSTOMER]).nonzero()[0]
        shoppers = pop.in_market.nonzero()[0]
        u_c, u_l = draws.many((("churn.churn", cust), ("churn.lapse", shoppers)))
        close = u_c < below
        return cust[close], u_c[close], shoppers[u_l < lapse_p]

    def compiled_selection():
        return kernel.churn_selection(
            pop.stage, pop.in_market, STAGE[CUSTOMER], lo_c, hi_c, lo_l, hi_l, below, lapse_p
        )

    for a, b in zip(numpy_selection(), compiled_selection(), strict=True):
        if not np.array_equal(a, b):
            raise SystemExit("the compiled selection differs from the NumPy one")
    n = pop.n
    out = np.empty(n, dtype=np.float32)
    block = draws._entry("probe.block")[0].bit_generator
    return {
        "customers_in_state": int(np.count_nonzero(pop.stage == STAGE[CUSTOMER])),
        "shoppers_in_state": int(np.count_nonzero(pop.in_market)),
        "churn_selection_numpy_us": _best_us(numpy_selection, number, repeat),
        "churn_selection_compiled_us": _best_us(compiled_selection, number, repeat),
        "pcg64_block_us": _best_us(lambda: block.random_raw(n // 2), number, repeat),
        "compiled_uniforms_us": _best_us(
            lambda: kernel.uniforms(n, lo_c, hi_c, out), number, repeat
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--days", type=int, default=180, help="days simulated before measuring")
    p.add_argument("--number", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    if importlib.util.find_spec("numba") is None:
        print("numba is not installed (not a dependency of channelsim): pip install numba")
        return 0
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as kernel_dir:
        Path(kernel_dir, "numba_probe_kernel.py").write_text(KERNEL)
        figures = process_costs(kernel_dir)
        sys.path.insert(0, kernel_dir)
        os.environ["NUMBA_CACHE_DIR"] = str(Path(kernel_dir, "cache"))
        import numba_probe_kernel as kernel

        figures.update(day_pieces(kernel, args.customers, args.days, args.number, args.repeat))
    print(f"{args.customers} customers after {args.days} days (baseline.yaml, seed 1)")
    for name, value in figures.items():
        print(f"{name}: {value:.3g}" if isinstance(value, float) else f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
