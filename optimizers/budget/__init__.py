"""Budget split by LP/MILP over simulated response curves, judged by re-simulation.

:func:`optimize_budget` splits a daily budget across channel × lever spends (paid traffic on
public channels, seeding on social ones, private operations on private ones) to maximise revenue
or profit over the horizon, subject to

* the total (Σ spend + fixed costs of active channels ≤ ``total`` CNY/day),
* per-lever and per-channel ``bounds``,
* paid-traffic ROI ≥ ``roi_floor`` on every public channel that spends,
* ``cost_share`` ≤ ``cost_share_max``, core channels' share of spend ≥ ``core_min_share``,
* optional activation binaries with ``fixed_costs`` and at most ``max_active`` channels (MILP).

The loop (a trust region): simulate every lever at a few spend levels around the current point
(other spends at that point, common random numbers), fit a concave saturating curve per lever
and KPI (:mod:`optimizers.response`), solve the piecewise-linear LP with PuLP, re-simulate its
answer, keep it if the simulated objective improved (shrink the region if not), and repeat
around the kept point. Every iteration is recorded.

The modules, in the order a run uses them:

* :mod:`optimizers.budget.split` — :func:`optimize_budget` and :class:`BudgetResult`;
* :mod:`optimizers.budget.problem` — the checked arguments (levers, limits, settings);
* :mod:`optimizers.budget.metrics` — a simulated point: metrics, objective, constraints;
* :mod:`optimizers.budget.lp` — the piecewise-linear LP/MILP, built and solved with PuLP;
* :mod:`optimizers.budget.conflicts` — :class:`InfeasibleError` naming clashing constraints;
* :mod:`optimizers.budget.loop` — the trust-region loop and its history;
* :mod:`optimizers.budget.choice` — :func:`verify_budget`: the best *verified* plan among the
  start and every accepted candidate, and what it says about them.

The scenario's targets are constraints by default (``target_constraints=False`` drops them).
``by_period="month"`` makes one decision per lever and calendar month (written back as
``budget.periods``); a lever with a ``budget.observed`` spend range stays within
``observed_multiple`` × its observed maximum, and :meth:`BudgetResult.extrapolated` lists
recommendations outside that range.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={
    ...     "market.customers": 1500, "horizon.days": 45, "market.scale": 1000})
    >>> res = optimize_budget(sc, levers=["tmall.paid", "douyin.paid"], total=60_000,
    ...                       roi_floor=None, replications=2, seed=1, workers=1, max_iter=2)
    >>> round(sum(res.spend.values())) <= 60_000
    True
"""

from optimizers.budget.choice import BudgetChoice, verify_budget
from optimizers.budget.conflicts import InfeasibleError
from optimizers.budget.loop import FIRST_LEVELS, TR_LEVELS
from optimizers.budget.lp import make_solver
from optimizers.budget.metrics import check_constraints, objective_value, point_metrics
from optimizers.budget.problem import MARGIN, Objective
from optimizers.budget.split import BudgetResult, optimize_budget

__all__ = [
    "FIRST_LEVELS",
    "MARGIN",
    "TR_LEVELS",
    "BudgetChoice",
    "BudgetResult",
    "InfeasibleError",
    "Objective",
    "check_constraints",
    "make_solver",
    "objective_value",
    "optimize_budget",
    "point_metrics",
    "verify_budget",
]
