"""Exact (s, S) optima where the theory applies, so the optimiser never settles for a simulation.

The theory (:mod:`sim.inventory`: :func:`~sim.inventory.ss_cost`,
:func:`~sim.inventory.ss_fill_rate`, :func:`~sim.inventory.zheng_federgruen`) is exact for
i.i.d. Poisson demand with backorders, a fixed lead time ``L ≥ 0`` and daily review (lead-time
demand is Poisson(λ(L + 1)) under the engine's periodic-review timing). There:

* **without a service target** the Zheng–Federgruen algorithm returns the optimal (s, S);
* **with a fill-rate target** the constrained optimum is found by enumerating the order size
  ``q = S − s``. For a fixed ``q`` the cost ``c(s, s + q)`` is a fixed mix of the convex period
  cost ``G`` (the stationary position is ``S − j`` with weights that depend on ``q`` only), so it
  is convex in ``s``; the fill rate increases with ``s``. The best feasible ``s`` for that ``q``
  is therefore ``max(argmin cost, smallest feasible s)``, both found by walking from the previous
  ``q``'s answer. ``q`` runs from 1 until it is more than twice the best ``q`` found and at
  least 4 × the larger of the Zheng–Federgruen order size and the EOQ.

    >>> from sim.inventory import PoissonCosts
    >>> exact_policy(PoissonCosts(25, 0, 64, 1.0, 9.0), None)[:2]
    (19, 56)
"""

from __future__ import annotations

import math

from sim.inventory import PoissonCosts, ss_cost, ss_fill_rate, zheng_federgruen

__all__ = ["exact_policy"]


def exact_policy(inst: PoissonCosts, target_fill: float | None) -> tuple[int, int, float, str]:
    """The optimal ``(s, S, cost per period, method)`` of one exact instance.

    ``target_fill`` (a fill rate in (0, 1)) makes it the cheapest policy whose exact fill rate
    meets it; ``method`` says which algorithm answered.
    """
    zs, zbig, zc = zheng_federgruen(inst)
    if target_fill is None or ss_fill_rate(zs, zbig, inst) >= target_fill:
        return zs, zbig, zc, "exact: Zheng-Federgruen"
    eoq = math.sqrt(2 * inst.order_cost * inst.mean / inst.holding) if inst.order_cost else 1.0
    q_floor = 4 * max(zbig - zs, math.ceil(eoq), 5)
    best: tuple[float, int, int] | None = None
    s_cost, s_fill = zs, zs
    q = 1
    while q <= max(q_floor, 2 * (best[2] - best[1] if best else 0)):
        s_cost = _argmin_cost(inst, q, s_cost)
        s_fill = _least_feasible(inst, q, s_fill, target_fill)
        s = max(s_cost, s_fill)
        c = ss_cost(s, s + q, inst)
        if best is None or c < best[0] - 1e-12:
            best = (c, s, s + q)
        q += 1
    assert best is not None
    return best[1], best[2], best[0], "exact: fill-rate constrained enumeration"


def _argmin_cost(inst: PoissonCosts, q: int, s: int) -> int:
    """``argmin_s c(s, s + q)``: a convex function of ``s``, so walk downhill from ``s``."""
    c = ss_cost(s, s + q, inst)
    for step in (-1, 1):
        while (nxt := ss_cost(s + step, s + step + q, inst)) < c - 1e-12:
            s, c = s + step, nxt
    return s


def _least_feasible(inst: PoissonCosts, q: int, s: int, target: float) -> int:
    """Smallest ``s`` with ``fill(s, s + q) ≥ target`` (the fill rate increases with ``s``)."""
    if ss_fill_rate(s, s + q, inst) >= target:
        while ss_fill_rate(s - 1, s - 1 + q, inst) >= target:
            s -= 1
        return s
    while ss_fill_rate(s, s + q, inst) < target:
        s += 1
    return s
