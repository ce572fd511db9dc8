"""The report's opening: the one-minute summary (:mod:`sim.reports.summary`) and what every KPI
name means (plain words, unit, code name) for the KPIs the report shows."""

from __future__ import annotations

from sim.experiments.comparison import HEADLINE
from sim.reports.sections.blocks import TITLES, Block, Table
from sim.reports.store import Stored
from sim.reports.summary import change_rows, sentences, verdict_counts
from sim.scenario.kpi_labels import label, meaning, unit

CHANGE_COLUMNS = ["KPI", "code name", "baseline", "plan", "change (plan − baseline)", "95 % CI"]


def summary_block(st: Stored) -> Block:
    """Targets met / undecided / missed, the largest changes and what each plan costs."""
    s = st.summary
    tables = [
        Table(
            ["scenario", "targets", "met", "undecided", "missed", "undefined"],
            [_count_row(n, s["scenarios"][n].get("targets", [])) for n in st.names],
            caption="Targets",
        )
    ]
    for p in st.names[1:]:
        tables.append(
            Table(
                list(CHANGE_COLUMNS),
                change_rows(s, p),
                caption=f"{p} against {st.names[0]}: largest changes, revenue, profit and spend "
                "(totals over the horizon, mean per replication)",
            )
        )
    intro = " ".join(sentences(s))
    return Block("summary", TITLES["summary"], intro, tables, [])


def _count_row(name: str, targets: list) -> list[str]:
    c = verdict_counts(targets)
    return [
        name,
        str(len(targets)),
        *(str(c[v]) for v in ("met", "undecided", "missed", "undefined")),
    ]


def glossary_block(st: Stored) -> Block:
    """Every KPI the report's tables name, in plain words with its unit."""
    rows = [[k, label(k), unit(k), meaning(k)] for k in HEADLINE]
    extra = sorted(
        {t["kpi"] for n in st.names for t in st.summary["scenarios"][n].get("targets", [])}
        - set(HEADLINE)
    )
    rows += [[k, label(k), unit(k), meaning(k)] for k in extra]
    return Block(
        "glossary",
        TITLES["glossary"],
        "The KPIs this report names, in plain words. Money is in CNY (totals in M CNY = million "
        "CNY); rates are shown as percentages and their changes in percentage points (pts). "
        "Every column of the results files is described in columns.csv.",
        [Table(["code name", "in words", "unit", "how it is computed"], rows)],
        [],
    )
