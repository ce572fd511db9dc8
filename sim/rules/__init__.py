"""Review rules inside the simulation: the plan as a policy the team follows while it runs.

:class:`RuleEngine` applies a scenario's ``rules:`` (:mod:`sim.scenario.rules`) at the start of
each day. A rule sees what the team would see — the ledger recorder's arrays up to yesterday,
less its reporting lag — never the customers' hidden state, and changes the model's day ×
channel × lever budget from today on. Every decision is logged (``ledger.extra["decisions"]``).
"""

from sim.rules.engine import DECISION_COLUMNS, RuleEngine

__all__ = ["DECISION_COLUMNS", "RuleEngine"]
