"""The statistics an A/B test's team uses: the two-sided tests and their power.

Pure functions of per-customer values, so the tests can check them against scipy and against
simulated binomial draws, apart from the simulation.

* :func:`two_proportion_z` — pooled two-proportion z-test (conversion: buyers ÷ customers);
* :func:`welch` — Welch's t-test on per-customer values (revenue per customer, zeros included);
* :func:`power_z` / :func:`power_welch` — the chance a two-sided test at level ``alpha`` finds a
  true difference ``delta`` with the planned arm sizes (normal approximation, closed form);
* :func:`detectable` — the smallest difference found with a given power (root of the above).

    >>> round(two_proportion_z(50, 1000, 80, 1000).p_value, 4)
    0.0065
    >>> round(power_z(0.05, 0.02, 2000, 2000, 0.05), 3)
    0.759
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class Result:
    """One test's reading: arm values (B − A is the effect), statistic and two-sided p-value."""

    value_a: float
    value_b: float
    sd_a: float
    sd_b: float
    statistic: float
    p_value: float

    def winner(self, alpha: float) -> str:
        """``"B"`` or ``"A"`` (higher metric wins) when ``p < alpha``, else ``"none"``."""
        if not self.p_value < alpha:
            return "none"
        return "B" if self.value_b > self.value_a else "A"


def two_proportion_z(x_a: int, n_a: int, x_b: int, n_b: int) -> Result:
    """Pooled two-proportion z-test of ``x_b / n_b`` against ``x_a / n_a`` (two-sided)."""
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    z = (p_b - p_a) / se if se > 0 else 0.0
    sd_a, sd_b = math.sqrt(p_a * (1 - p_a)), math.sqrt(p_b * (1 - p_b))
    return Result(p_a, p_b, sd_a, sd_b, z, float(2.0 * stats.norm.sf(abs(z))))


def welch(a: np.ndarray, b: np.ndarray) -> Result:
    """Welch's two-sided t-test of mean(b) against mean(a); p = 1 when both arms are constant."""
    sd_a, sd_b = float(np.std(a, ddof=1)), float(np.std(b, ddof=1))
    if sd_a == 0 and sd_b == 0:
        t, p = 0.0, 1.0
    else:
        res = stats.ttest_ind(b, a, equal_var=False)
        t, p = float(res.statistic), float(res.pvalue)
    return Result(float(np.mean(a)), float(np.mean(b)), sd_a, sd_b, t, p)


def power_z(p_a: float, delta: float, n_a: int, n_b: int, alpha: float) -> float:
    """Power of the pooled two-sided two-proportion z-test when arm A converts at ``p_a`` and
    arm B at ``p_a + delta`` (the textbook closed form: the statistic's null spread uses the
    pooled rate, its spread under the alternative each arm's own)."""
    p_b = min(max(p_a + delta, 0.0), 1.0)
    pooled = (n_a * p_a + n_b * p_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    se1 = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    if se1 == 0:
        return 1.0 if delta != 0 else alpha
    z = stats.norm.ppf(1 - alpha / 2)
    d = abs(p_b - p_a)
    return float(stats.norm.cdf((d - z * se0) / se1) + stats.norm.cdf((-d - z * se0) / se1))


def power_welch(sd_a: float, sd_b: float, delta: float, n_a: int, n_b: int, alpha: float) -> float:
    """Power of the two-sided Welch test for a mean difference ``delta`` (normal approximation:
    arms of hundreds of customers, where t and normal quantiles agree)."""
    se = math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)
    if se == 0:
        return 1.0 if delta != 0 else alpha
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(abs(delta) / se - z) + stats.norm.cdf(-abs(delta) / se - z))


def detectable(power_of, target: float = 0.8, upper: float = 1e9) -> float:
    """The smallest ``delta > 0`` with ``power_of(delta) ≥ target`` (bisection on a monotone
    power curve); NaN when even ``upper`` is not enough."""
    if power_of(upper) < target:
        return math.nan
    return float(optimize.brentq(lambda d: power_of(d) - target, 1e-12, upper, xtol=1e-12))
