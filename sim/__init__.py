"""channelsim: an agent-based sandbox for online sales-channel plans.

The public API — what a notebook, the optimisers and the studio import. Data flows one way::

    scenario ─► model (ChannelMarket) ─► ledger ─► KPIs ─► targets ─► experiments ─► reports

Compare a plan with its baseline on common random numbers:

    >>> import sim
    >>> base = sim.load_scenario("scenarios/baseline.yaml",
    ...                          overrides={"market.customers": 2000, "horizon.days": 60})
    >>> ledger = sim.simulate(base, seed=1)
    >>> kpis = sim.compute_kpis(ledger)
    >>> kpis["revenue"] > 0
    True
    >>> ev = sim.evaluate(base, replications=2, seed=1, workers=1)
    >>> list(ev.kpis["replication"])
    [0, 1]

Subpackages, in the order data flows through them: :mod:`sim.scenario`, :mod:`sim.core`
(model, agents, population, phases, ledger), :mod:`sim.levers`, :mod:`sim.inventory`,
:mod:`sim.kpis`, :mod:`sim.experiments`, :mod:`sim.reports`, :mod:`sim.calibration`,
:mod:`sim.commands` (the CLI).
"""

from sim.core.ledger import Ledger
from sim.core.model import ChannelMarket, simulate
from sim.errors import ScenarioError, UsageError
from sim.experiments.comparison import Comparison, compare
from sim.experiments.design import Design, load_design
from sim.experiments.evaluation import Evaluation, evaluate
from sim.experiments.sweep import run_sweep
from sim.experiments.targets import TargetResult, evaluate_targets
from sim.kpis import compute_kpis
from sim.reports.report import write_comparison, write_report
from sim.scenario import Scenario, apply_overrides, load_scenario

__all__ = [
    "ChannelMarket",
    "Comparison",
    "Design",
    "Evaluation",
    "Ledger",
    "Scenario",
    "ScenarioError",
    "TargetResult",
    "UsageError",
    "apply_overrides",
    "compare",
    "compute_kpis",
    "evaluate",
    "evaluate_targets",
    "load_design",
    "load_scenario",
    "run_sweep",
    "simulate",
    "write_comparison",
    "write_report",
]
