"""``channelsim optimize budget|search|inventory SCENARIO``: optimise, verify, write a results dir.

Every sub-command ends the same way: the recommendation is re-evaluated with full replications
against the baseline and the plan it started from (:func:`sim.experiments.compare`; the
compare-style report goes to ``verification/``), and the results directory gets
``manifest.json``, ``summary.json``, the optimiser's tables, ``figures/*.png`` and ``report.md``.

:func:`register` is the ``channelsim.commands`` entry point; one module per sub-command
(:mod:`~optimizers.commands.budget`, :mod:`~optimizers.commands.search`,
:mod:`~optimizers.commands.inventory`) and what they share (:mod:`~optimizers.commands.common`).
"""

from __future__ import annotations

from optimizers.commands import budget, inventory, search
from optimizers.commands.budget import run_budget
from optimizers.commands.inventory import run_inventory
from optimizers.commands.search import run_search

__all__ = ["register", "run_budget", "run_inventory", "run_search"]


def register(sub) -> None:
    p = sub.add_parser("optimize", help="optimise a plan: budget split, plan search, inventory")
    osub = p.add_subparsers(dest="optimizer", required=True, metavar="OPTIMIZER")
    budget.add_parser(osub)
    search.add_parser(osub)
    inventory.add_parser(osub)
