"""Numbers for people, as every report prints them.

>>> fmt(1234567.8), fmt(0.012345), fmt(0.05, pct=True), fmt(None)
('1,234,568', '0.01235', '+5.0 %', 'n/a')
"""

from __future__ import annotations

import math
from typing import Any


def fmt(x: Any, *, pct: bool = False) -> str:
    """Numbers for people: thousands separators for big values, 4 significant digits else."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    x = float(x)
    if pct:
        return f"{x * 100:+.1f} %"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def ci(lo: Any, hi: Any) -> str:
    """An interval, ``[low, high]``, both ends through :func:`fmt`."""
    return f"[{fmt(lo)}, {fmt(hi)}]"
