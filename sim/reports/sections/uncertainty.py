"""The report's uncertainty section: how much of each headline KPI's spread comes from the
parameters (what the history could not pin down) and how much from customer-level luck.

Read from ``summary.json`` (``spread_sources`` per scenario, written by
:func:`sim.experiments.uncertainty.spread_sources`); a run whose parameters were fixed says so.
"""

from __future__ import annotations

from sim.reports.format import fmt
from sim.reports.sections.blocks import TITLES, Block, Table, empty
from sim.reports.store import Stored

COLUMNS = ["scenario", "KPI", "sd", "from parameters", "from luck", "interval × (see text)"]


def uncertainty_block(st: Stored) -> Block:
    rows, draws = [], []
    for name in st.names:
        src = st.summary["scenarios"][name].get("spread_sources")
        if not src:
            continue
        how = (
            "regression on the drawn values"
            if src.get("method") == "regression"
            else "random-effects ANOVA"
        )
        draws.append(
            f"{name}: {src['replications']} replications on {src['draws']} parameter draws "
            f"({src['replications_per_draw']} per draw; split by {how})"
        )
        for kpi, e in src["kpis"].items():
            share = e.get("parameter_share")
            rows.append(
                [
                    name,
                    kpi,
                    "—" if e.get("sd") is None else fmt(e["sd"]),
                    "—" if share is None else f"{share:.0%}",
                    "—" if share is None else f"{1 - share:.0%}",
                    "—" if e.get("interval_widening") is None else f"{e['interval_widening']:.2f}",
                ]
            )
    if not draws:
        return empty(
            "uncertainty",
            "The parameters were fixed in these runs (no uncertainty.draws, or "
            "--no-parameter-uncertainty): every interval is customer-level luck only.",
        )
    intro = (
        "Each replication ran on one posterior draw of the uncertain parameters (second-order "
        "Monte Carlo; a plan and its baseline share the draw). The spread of each KPI is split "
        "by the law of total variance: with two or more replications per draw by a one-way "
        "random-effects ANOVA over draws, with one by the variance the drawn values explain in "
        "a linear regression (adjusted R², a lower bound if the response is curved). The share "
        "from parameters is what the history could not pin down: more replications will not "
        "shrink it. The share from luck is which customers happened to buy. Replications "
        "sharing a draw are not independent: intervals computed as if they were are too narrow "
        "by the factor in the last column (1 with one replication per draw). A dash means too "
        "few draws or replications to "
        "split. " + "; ".join(draws) + "."
    )
    return Block("uncertainty", TITLES["uncertainty"], intro, [Table(COLUMNS, rows)], [])
