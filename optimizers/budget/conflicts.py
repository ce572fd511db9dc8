"""When no split is feasible: :class:`InfeasibleError` naming the constraints that clash.

An elastic LP (:class:`~optimizers.budget.lp.LP` in ``elastic`` mode) finds the cheapest
relaxation; its relaxed and binding constraints are the conflict. :func:`precheck` runs this on
the linear constraints alone, before any simulation.
"""

from __future__ import annotations

import pulp

from optimizers.budget.lp import LP, Model
from optimizers.budget.problem import Problem


class InfeasibleError(ValueError):
    """No split satisfies every constraint; ``conflicts`` names the ones that clash."""

    def __init__(self, message: str, conflicts: list[str]):
        self.conflicts = conflicts
        super().__init__(message)


def precheck(prob: Problem, solver: pulp.LpSolver) -> None:
    """Raise :class:`InfeasibleError` when the linear constraints alone cannot all hold."""
    if LP(prob, None).solve(solver) is None:
        raise infeasible(prob, None, solver, "linear constraints, before any simulation")


def infeasible(
    prob: Problem, model: Model | None, solver: pulp.LpSolver, where: str
) -> InfeasibleError:
    """The error to raise: the conflicting constraints found by elastic solves."""
    lp = LP(prob, model, mode="elastic")
    if lp.solve(solver) is None:
        return InfeasibleError(f"budget: no split satisfies the constraints ({where})", [])
    names, text = lp.conflicts()
    # The cheapest relaxation names one side of a conflict; make those constraints hard and
    # relax again to name the other side too.
    again = LP(prob, model, mode="elastic", hard=frozenset(lp.relaxed()))
    if again.solve(solver) is not None:
        more, more_text = again.conflicts()
        extra = [n for n in more if n not in names]
        names += extra
        text += "".join(
            "\n" + line for line in more_text.splitlines() if any(f"- {n}:" in line for n in extra)
        )
    msg = (
        f"budget: no split satisfies every constraint ({where}). These constraints conflict "
        f"(relax any of them):\n{text}"
    )
    return InfeasibleError(msg, names)
