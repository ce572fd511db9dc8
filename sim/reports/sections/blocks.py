"""What a report is made of, before it is rendered: blocks of tables, figures and readings.

One :class:`Block` per section, in :data:`SECTIONS` order; the renderers
(:mod:`sim.reports.render`) turn them into HTML or Markdown.

    >>> SECTIONS[0]
    'summary'
"""

from __future__ import annotations

from dataclasses import dataclass

#: Section ids of the report, in order (HTML ``<section id=...>``; Markdown headings).
SECTIONS: tuple[str, ...] = (
    "summary",
    "targets",
    "kpis",
    "revenue",
    "flow",
    "private-pool",
    "cohorts",
    "spend-roi",
    "inventory",
    "ab-tests",
    "decisions",
    "uncertainty",
    "differences",
    "glossary",
    "manifest",
)
TITLES = {
    "summary": "In one minute",
    "targets": "Targets",
    "kpis": "KPIs and paired differences vs the baseline",
    "revenue": "Revenue by channel family over time",
    "flow": "Customer flow between families",
    "private-pool": "Private pool and tiers",
    "cohorts": "Repurchase by cohort",
    "spend-roi": "Spend and ROI by channel and lever",
    "inventory": "Stock and stockouts",
    "ab-tests": "A/B tests: who won, how often the wrong arm did, power",
    "decisions": "What the review rules decided, and when",
    "uncertainty": "Where the spread comes from: parameters vs luck",
    "differences": "What each plan changes",
    "glossary": "What the KPI names mean",
    "manifest": "Manifest: how to reproduce these results",
}


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Figure:
    slug: str  # file name under figures/, without .png
    title: str
    png: bytes
    reading: str  # what the figure shows, in words (its caption)


@dataclass
class Block:
    id: str  # one of SECTIONS
    title: str
    intro: str
    tables: list[Table]
    figures: list[Figure]


def empty(sid: str, text: str) -> Block:
    """A section with nothing to show but ``text`` (why there is nothing)."""
    return Block(sid, TITLES[sid], text, [], [])
