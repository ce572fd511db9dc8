"""The sections of a comparison report, built from a stored results directory.

:func:`build` returns one format-neutral :class:`~sim.reports.sections.blocks.Block` per section
id of :data:`SECTIONS`, each made by the module that knows its subject:

* :mod:`~sim.reports.sections.overview` — the one-minute summary; what the KPI names mean;
* :mod:`~sim.reports.sections.headline` — targets and their verdicts; KPIs and paired differences;
* :mod:`~sim.reports.sections.channels` — revenue by channel family, spend and ROI;
* :mod:`~sim.reports.sections.customers` — flows between families, private pool, cohorts;
* :mod:`~sim.reports.sections.stock` — stock and stockouts;
* :mod:`~sim.reports.sections.ab_tests` — A/B tests: winners, wrong winners, power;
* :mod:`~sim.reports.sections.decisions` — the review rules' decisions, on the time series;
* :mod:`~sim.reports.sections.uncertainty` — spread from parameter draws vs customer luck;
* :mod:`~sim.reports.sections.provenance` — what each plan changes, and the manifest.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.reports.sections.ab_tests import ab_tests_block
from sim.reports.sections.blocks import SECTIONS, Block
from sim.reports.sections.channels import promotion_spans, revenue_block, spend_block
from sim.reports.sections.customers import cohorts_block, flow_block, pool_block
from sim.reports.sections.decisions import decisions_block
from sim.reports.sections.headline import kpis_block, targets_block
from sim.reports.sections.overview import glossary_block, summary_block
from sim.reports.sections.provenance import differences_block, manifest_block
from sim.reports.sections.stock import inventory_block, sku_classes
from sim.reports.sections.uncertainty import uncertainty_block
from sim.reports.store import Stored

MAKERS: dict[str, Callable[[Stored], Block]] = {
    "summary": summary_block,
    "targets": targets_block,
    "kpis": kpis_block,
    "revenue": revenue_block,
    "flow": flow_block,
    "private-pool": pool_block,
    "cohorts": cohorts_block,
    "spend-roi": spend_block,
    "inventory": inventory_block,
    "ab-tests": ab_tests_block,
    "decisions": decisions_block,
    "uncertainty": uncertainty_block,
    "differences": differences_block,
    "glossary": glossary_block,
    "manifest": manifest_block,
}


def build(st: Stored) -> list[Block]:
    """Every section of the report, in :data:`SECTIONS` order."""
    return [MAKERS[s](st) for s in SECTIONS]


__all__ = ["SECTIONS", "Block", "build", "promotion_spans", "sku_classes"]
