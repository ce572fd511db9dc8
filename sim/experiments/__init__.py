"""Experiments: replications with common random numbers on any executor, the result cache,
target verdicts, plan-vs-baseline comparisons, sweep designs, sweeps and their analysis, and
how much of a KPI's spread comes from parameter draws vs customer-level luck
(:mod:`sim.experiments.uncertainty`).

Everything here works on KPIs (:mod:`sim.kpis`) of replications, never on the model's state.
"""

from sim.experiments.comparison import HEADLINE, Comparison, compare, diff_table
from sim.experiments.design import Design, load_design
from sim.experiments.evaluation import (
    Evaluation,
    check_workers,
    collect,
    evaluate,
    make_executor,
    summarise,
)
from sim.experiments.replication import Replication, run_replication
from sim.experiments.sweep import run_sweep
from sim.experiments.targets import (
    REQUIRED_PROBABILITY,
    VERDICTS,
    TargetResult,
    evaluate_targets,
    judge,
    replications_to_decide,
    verdict,
    windows_for,
)
from sim.experiments.uncertainty import decompose, spread_sources
from sim.experiments.undefined import kpi_entries, undefined_reason

__all__ = [
    "HEADLINE",
    "REQUIRED_PROBABILITY",
    "VERDICTS",
    "Comparison",
    "Design",
    "Evaluation",
    "Replication",
    "TargetResult",
    "check_workers",
    "collect",
    "compare",
    "decompose",
    "diff_table",
    "evaluate",
    "evaluate_targets",
    "judge",
    "kpi_entries",
    "load_design",
    "make_executor",
    "replications_to_decide",
    "run_replication",
    "run_sweep",
    "spread_sources",
    "summarise",
    "undefined_reason",
    "verdict",
    "windows_for",
]
