"""What the team reads is not the ledger itself: reporting errors on the figures rules see.

A rule's ``noise_cv`` puts a mean-one lognormal error on each day × channel figure it reads
(revenue, orders, new customers — not the team's own spend, which it knows exactly). The
errors are fixed by the run, not drawn anew at each reading, as a real report's figures are:
a day re-read next week reads the same.

    >>> import numpy as np
    >>> from scipy.special import ndtri
    >>> cv = 0.2; sigma = np.sqrt(np.log1p(cv * cv))
    >>> z = ndtri(np.linspace(0.0005, 0.9995, 1000))
    >>> f = np.exp(sigma * z - sigma**2 / 2)
    >>> round(float(f.mean()), 2), round(float(f.std() / f.mean()), 2)
    (1.0, 0.2)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def report_noise(model: ChannelMarket, measure: str, lo: int, hi: int, cv: float) -> np.ndarray:
    """Mean-one lognormal factors with coefficient of variation ``cv``, one per day × channel
    cell of days ``[lo, hi)``. Each cell's factor is fixed by (seed, replication, measure, day,
    channel) — not by the day it is read, nor by the plan — so a figure re-read next week is
    the same figure, and a plan and its baseline see the same reporting errors."""
    n_ch = len(model.channel_index)
    cells = np.arange(lo * n_ch, hi * n_ch, dtype=np.int64)
    u = model.draws.fixed(f"report_noise:{measure}", cells).astype(np.float64)
    sigma = np.sqrt(np.log1p(cv * cv))
    z = ndtri(u + 2.0**-25)  # the uniforms sit on a 2^-24 grid from 0: centre them, never 0
    return np.exp(sigma * z - sigma * sigma / 2).reshape(hi - lo, n_ch)
