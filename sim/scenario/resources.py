"""What a run of a scenario needs from the machine, checked when the scenario is loaded.

A scenario whose simulated population cannot fit in memory would pass validation and then fail
minutes into ``run`` (``Unable to allocate 7.28 TiB``, or a ``MemoryError`` after taking every
GB the machine has). The estimate below refuses it at load time, with the figure.

One replication holds the interpreter and the imported libraries, a fixed part (tables per day
and channel) and, per simulated customer, the struct-of-arrays state, the day's random blocks and
the order log. ``python benchmarks/bench_memory.py`` measures it (peak RSS of one whole
replication as ``channelsim run`` does it, baseline with stock, one process per size): 192 MB
before the replication; 225 / 266 / 355 MB at 0.1 / 0.4 / 1 M customers × 90 days,
238 / 283 / 371 MB × 365 days and 651 MB at 3 M × 90 days: ≈ 155 bytes per extra customer
whatever the horizon, and ≈ 20-30 MB fixed. The constants round these up.

    >>> run_memory_bytes(1_000_000) / 2**20 < 500
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BYTES_PER_CUSTOMER = 190  # measured ≈ 155 B marginal (≈ 188 B all-in at 1 M × 365 days)
FIXED_BYTES = 256 * 2**20  # interpreter + libraries (192 MB measured) + per-day tables
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def run_memory_bytes(customers: int) -> int:
    """Estimated peak memory (bytes) of one replication with ``customers`` simulated."""
    return FIXED_BYTES + int(customers) * BYTES_PER_CUSTOMER


def machine_memory_bytes() -> int | None:
    """Physical memory, or the container's limit when that is lower (None if unknown)."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        pass
    for limit in CGROUP_LIMITS:
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # "max" / a huge number: no limit
            sizes.append(int(text))
    return min(sizes) if sizes else None


def memory_problems(scenario: Any) -> list[str]:
    """A problem naming ``market.customers`` when one replication cannot fit in this
    machine's memory; empty otherwise."""
    customers = scenario.market.customers
    need, have = run_memory_bytes(customers), machine_memory_bytes()
    if have is None or need <= have:
        return []
    return [
        f"market.customers: {customers:,} simulated customers need ≈ {_gb(need)} of memory "
        f"for one replication (≈ {BYTES_PER_CUSTOMER} bytes each + {_gb(FIXED_BYTES)}); this "
        f"machine has {_gb(have)}. Simulate fewer agents: market.customers is the resolution, "
        "market.real_customers the market"
    ]


def _gb(n: int) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"
