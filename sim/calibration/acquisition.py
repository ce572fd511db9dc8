"""Acquisition: the market size and the adoption hazard from the days of first orders.

Daily first orders ~ Poisson(M·(e^{−kd} − e^{−k(d+1)})), the adoption curve of a market of M
customers who each adopt with daily hazard k; the calibration maps M to the scenario's market
size and k to ``organic_interest``.

    >>> import numpy as np
    >>> m, k = fit_arrivals(np.zeros(50, int), 100)  # everyone arrived on day 0
    >>> round(m)
    50
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize


def fit_arrivals(
    first_day: np.ndarray, days: int, *, max_multiple: float = 20.0
) -> tuple[float, float]:
    """(market size M, daily adoption hazard k) from the day index of each first order.

    Poisson MLE of daily first orders M(e^{−kd} − e^{−k(d+1)}); M is profiled out. With no
    visible depletion M is capped at ``max_multiple`` × the customers seen.
    """
    first_day = np.asarray(first_day)
    n = len(first_day)
    sum_d = float(first_day.sum())

    def nll(logk):
        k = math.exp(logk)
        return -(-k * sum_d + n * math.log(-math.expm1(-k)) - n * math.log(-math.expm1(-k * days)))

    res = optimize.minimize_scalar(nll, bounds=(math.log(1e-7), math.log(0.5)), method="bounded")
    k = math.exp(res.x)
    m = n / -math.expm1(-k * days)
    if m > max_multiple * n:  # flat arrivals: the market size is not identified
        m = max_multiple * n
        k = -math.log1p(-n / m) / days
    return float(m), float(k)
