"""Scenario files: YAML in, a validated and frozen :class:`Scenario` out.

A scenario states the market, the channels with their levers, and the targets of one plan.
A plan usually ``extends`` the baseline and states only what it changes; lists of items that
carry an ``id`` (channels, segments) are merged by id, everything else is replaced.

* :mod:`sim.scenario.schema` — the pydantic models (what a scenario may say);
* :mod:`sim.scenario.market` — the market: segments, service, its real size and the resolution;
* :mod:`sim.scenario.kpi_names` — the KPI names a scenario produces (targets are checked on load);
* :mod:`sim.scenario.loading` — YAML → merged dict → overrides → validated :class:`Scenario`;
* :mod:`sim.scenario.paths` — dotted paths (``--set market.customers=5000``), ``extends`` merging;
* :mod:`sim.scenario.yaml_io` — reading YAML from others: no aliases, deep nesting, repeated keys;
* :mod:`sim.scenario.resources` — the memory a run needs (a population too big is refused);
* :mod:`sim.scenario.budget_fields`, :mod:`sim.scenario.spend` — budgets over time (periods, a
  spend file) as one day × channel × lever array; :mod:`sim.scenario.draws` — parameter draws.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"horizon.days": 30})
    >>> sc.horizon.days
    30
"""

from sim.errors import ScenarioError
from sim.scenario.budget_fields import LEVERS, BudgetPeriod, ObservedRange, Uncertainty
from sim.scenario.draws import draw_row, parameter_draw
from sim.scenario.kpi_names import kpi_names
from sim.scenario.loading import apply_overrides, build_scenario, load_raw, load_scenario
from sim.scenario.market import Market, Segment, Service
from sim.scenario.paths import merge, parse_set_options, resolve_path, set_path
from sim.scenario.schema import (
    FAMILIES,
    ONLINE_FAMILIES,
    SOURCES,
    Budget,
    Channel,
    Decision,
    Horizon,
    Response,
    Scenario,
    ServiceLevel,
    Target,
)
from sim.scenario.spend import daily_budget, is_flighted, period_days

__all__ = [
    "FAMILIES",
    "LEVERS",
    "ONLINE_FAMILIES",
    "SOURCES",
    "Budget",
    "BudgetPeriod",
    "Channel",
    "Decision",
    "Horizon",
    "Market",
    "ObservedRange",
    "Response",
    "Scenario",
    "ScenarioError",
    "Segment",
    "Service",
    "ServiceLevel",
    "Target",
    "Uncertainty",
    "apply_overrides",
    "build_scenario",
    "daily_budget",
    "draw_row",
    "is_flighted",
    "kpi_names",
    "load_raw",
    "load_scenario",
    "merge",
    "parameter_draw",
    "parse_set_options",
    "period_days",
    "resolve_path",
    "set_path",
]
