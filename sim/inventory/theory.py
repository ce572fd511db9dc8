"""Exact inventory theory for periodic review under i.i.d. Poisson demand with backorders.

These closed forms are the yardstick the simulator is held to (``tests/test_inventory.py``) and
the exact reference the inventory optimiser reports next to its simulated answer.

Timing convention (standard textbook, e.g. Zipkin 2000 ch. 6, Zheng & Federgruen 1991; the
engine in :mod:`sim.inventory.engine` follows it step for step). In every period (day) ``t``:

1. orders placed ``L`` periods ago arrive at the start of the period and fill backorders first;
2. review: inventory position ``IP = on_hand - backorders + on_order``; an (s, S) policy orders
   ``S - IP`` when ``IP <= s`` (fixed cost ``K`` per order); an order placed at ``t`` arrives at
   the start of ``t + L``, so with ``L = 0`` it is available for this period's demand;
3. the period's demand is served from on-hand stock, the rest is backordered;
4. costs are charged on the end-of-period net inventory: ``h`` per unit on hand, ``p`` per unit
   backordered (per period).

With this convention the order placed at ``t`` (inventory position after ordering ``y``) is the
last one to influence the end-of-period net inventory of ``t + L``, which is ``y - D[t..t+L]``:
the sum of ``L + 1`` periods of demand. Hence the one-period cost charged to position ``y`` is
``G(y) = h E[(y - D_{L+1})^+] + p E[(D_{L+1} - y)^+]`` and the long-run average cost of (s, S)
is the renewal-reward ratio ``c(s, S)`` below (Zheng & Federgruen 1991, eq. 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = [
    "PoissonCosts",
    "base_stock_cost",
    "base_stock_fill_rate",
    "expected_period_cost",
    "ip_distribution",
    "optimal_base_stock",
    "poisson_excess",
    "poisson_shortfall",
    "renewal_function",
    "ss_cost",
    "ss_fill_rate",
    "zheng_federgruen",
]


@dataclass(frozen=True)
class PoissonCosts:
    """One stationary single-item instance: demand rate and cost rates per period."""

    mean: float
    lead_time: int = 0
    order_cost: float = 0.0
    holding: float = 1.0
    backorder: float = 1.0


def poisson_excess(y: np.ndarray | int, mu: float) -> np.ndarray:
    """``E[(y - D)^+]`` for ``D ~ Poisson(mu)``, exact for integer ``y`` (zero for ``y <= 0``).

    Uses ``E[(y - D)^+] = sum_{j<y} P(D <= j)``: a finite sum, so no truncation error.
    """
    y = np.asarray(y, dtype=np.int64)
    top = int(max(y.max(initial=0), 1))
    cdf = stats.poisson.cdf(np.arange(top), mu) if mu > 0 else np.ones(top)
    cum = np.concatenate(([0.0], np.cumsum(cdf)))
    return cum[np.clip(y, 0, top)]


def poisson_shortfall(y: np.ndarray | int, mu: float) -> np.ndarray:
    """``E[(D - y)^+]`` for ``D ~ Poisson(mu)`` (first-order loss function), exact."""
    y = np.asarray(y, dtype=np.int64)
    return mu - y + poisson_excess(y, mu)


def expected_period_cost(y: np.ndarray | int, inst: PoissonCosts) -> np.ndarray:
    """``G(y)``: expected holding + backorder cost of the period in which an order with
    inventory position ``y`` after ordering takes effect (``L + 1`` periods of demand)."""
    mu = inst.mean * (inst.lead_time + 1)
    return inst.holding * poisson_excess(y, mu) + inst.backorder * poisson_shortfall(y, mu)


@lru_cache(maxsize=64)
def _renewal_table(mean: float, n: int) -> np.ndarray:
    p = stats.poisson.pmf(np.arange(n), mean)
    m = np.zeros(n)
    inv = 1.0 / (1.0 - p[0])
    m[0] = inv
    for j in range(1, n):
        # m(j) = sum_{l=1..j} p_l m(j-l) / (1 - p_0): expected number of periods in which the
        # cumulative demand since the last order equals exactly j.
        m[j] = inv * float(np.dot(p[1 : j + 1], m[j - 1 :: -1]))
    return m


def renewal_function(mean: float, n: int) -> np.ndarray:
    """``m(0..n-1)`` of Zheng & Federgruen: expected periods with cumulative demand exactly j."""
    size = max(64, 1 << int(np.ceil(np.log2(max(n, 1)))))
    return _renewal_table(float(mean), size)[:n]


def ss_cost(s: int, big_s: int, inst: PoissonCosts) -> float:
    """Exact long-run average cost per period of the periodic-review (s, S) policy.

    ``c(s, S) = (K + sum_{j=0}^{S-s-1} m(j) G(S-j)) / M(S-s)``: one renewal cycle starts
    each time the position is raised to S and ends when cumulative demand reaches S - s.
    """
    if big_s <= s:
        raise ValueError(f"need s < S, got s={s}, S={big_s}")
    n = big_s - s
    m = renewal_function(inst.mean, n)
    g = expected_period_cost(big_s - np.arange(n), inst)
    return float((inst.order_cost + m @ g) / m.sum())


def ip_distribution(s: int, big_s: int, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Stationary distribution of the inventory position after ordering, on ``s+1..S``.

    ``P(Y = S - j) = m(j) / M(S - s)`` (renewal-reward); returns ``(levels, probabilities)``.
    """
    n = big_s - s
    m = renewal_function(mean, n)
    return big_s - np.arange(n), m / m.sum()


def _fill_rate_at(y: np.ndarray, inst: PoissonCosts) -> np.ndarray:
    # New demand of a period short at once: (D_{L+1} - y)^+ - (D_L - y)^+ (backorders first).
    lam, lead = inst.mean, inst.lead_time
    short = poisson_shortfall(y, lam * (lead + 1))
    if lead > 0:
        short = short - poisson_shortfall(y, lam * lead)
    else:
        short = short - np.maximum(-np.asarray(y), 0)
    return 1.0 - short / lam


def base_stock_fill_rate(level: int, inst: PoissonCosts) -> float:
    """Fill rate (fraction of demand served from stock at once) of base-stock ``level``.

    ``beta = 1 - (E[(D_{L+1} - S)^+] - E[(D_L - S)^+]) / lambda``: the stock available to a
    period's demand is ``S`` minus the demand of the ``L`` previous periods.
    """
    return float(_fill_rate_at(np.asarray([level]), inst)[0])


def ss_fill_rate(s: int, big_s: int, inst: PoissonCosts) -> float:
    """Exact fill rate of (s, S): the base-stock formula averaged over the stationary position."""
    levels, prob = ip_distribution(s, big_s, inst.mean)
    return float(prob @ _fill_rate_at(levels, inst))


def base_stock_cost(level: int, inst: PoissonCosts) -> float:
    """Long-run cost per period of base-stock ``level`` (an order whenever demand was > 0)."""
    p_order = 1.0 - float(np.exp(-inst.mean))
    return float(inst.order_cost * p_order + expected_period_cost(level, inst))


def optimal_base_stock(inst: PoissonCosts) -> int:
    """Newsvendor level: smallest ``y`` with ``P(D_{L+1} <= y) >= p / (p + h)``."""
    ratio = inst.backorder / (inst.backorder + inst.holding)
    return int(stats.poisson.ppf(ratio, inst.mean * (inst.lead_time + 1)))


def _argmin_g(inst: PoissonCosts) -> int:
    y = optimal_base_stock(inst)
    # G is convex in y; the newsvendor level is its minimiser, check neighbours for float ties.
    cand = np.arange(y - 2, y + 3)
    return int(cand[np.argmin(expected_period_cost(cand, inst))])


def zheng_federgruen(inst: PoissonCosts) -> tuple[int, int, float]:
    """Optimal (s, S) and its cost by the Zheng & Federgruen (1991) algorithm.

    Convention as in :func:`ss_cost`: order when ``IP <= s`` up to ``S``.
    Returns ``(s, S, cost)``.
    """
    if inst.order_cost <= 0:
        y = _argmin_g(inst)
        return y - 1, y, float(expected_period_cost(y, inst))

    def g(y: int) -> float:
        return float(expected_period_cost(y, inst))

    y_star = _argmin_g(inst)
    s, s_up = y_star - 1, y_star
    while ss_cost(s, s_up, inst) > g(s):
        s -= 1
    c0 = ss_cost(s, s_up, inst)
    big_s = s_up + 1
    while g(big_s) <= c0:
        if ss_cost(s, big_s, inst) < c0:
            s_up = big_s
            while ss_cost(s, s_up, inst) <= g(s + 1):
                s += 1
            c0 = ss_cost(s, s_up, inst)
        big_s += 1
    return s, s_up, c0
