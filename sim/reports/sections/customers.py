"""Report sections on customers: moves between channel families, the private pool, and
repurchase by cohort.

Counts are real customers / orders, mean per replication.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.reports.format import fmt
from sim.reports.sections.blocks import TITLES, Block, Figure, Table, empty
from sim.reports.store import Stored

#: The pool's daily series in words (figure legends).
POOL_WORDS = {
    "private_pool": "all pool members",
    "tier_new": "tier: new",
    "tier_potential": "tier: potential",
    "tier_high_value": "tier: high value",
    "subscribers": "subscribers",
}
FLOW_INTRO = (
    "Each order is a move from where its customer last bought (or how a new customer "
    "arrived) to the family it was placed in; joins to the private pool are moves to "
    "'private pool'. Real customers/orders, mean per replication."
)


# ---- flows between families --------------------------------------------------------------------
def flow_block(st: Stored) -> Block:
    if st.flows is None:
        return empty("flow", "No flow table was stored.")
    from sim.reports import figures as F

    mats = {name: _flow_matrix(st, name) for name in st.names}
    tables = [
        Table(
            ["from \\ to", *map(str, m.columns)],
            [[str(i), *(fmt(v) for v in r)] for i, r in m.iterrows()],
            caption=f"{name}: moves per horizon (mean over replications)",
        )
        for name, m in mats.items()
    ]
    moves = [_moves_text(name, m) for name, m in mats.items()]
    return Block(
        "flow",
        TITLES["flow"],
        FLOW_INTRO,
        tables,
        [
            Figure(
                "customer_flow",
                "Customer flow between families",
                F.flow_matrices(mats),
                "; ".join(moves) + ".",
            )
        ],
    )


def _flow_matrix(st: Stored, name: str) -> pd.DataFrame:
    """origin × destination moves of scenario ``name``, mean per replication."""
    f = st.flows[st.flows["scenario"] == name]
    return f.pivot_table(
        index="origin", columns="destination", values="count", aggfunc="sum", fill_value=0.0
    ) / st.reps(name)


def _moves_text(name: str, m: pd.DataFrame) -> str:
    pub_priv = _cell(m, "public", "private") + _cell(m, "public", "private pool")
    social = sum(m.loc["new via social"].to_numpy()) if "new via social" in m.index else 0.0
    return (
        f"{name}: {fmt(pub_priv)} public → private moves (orders + pool joins), "
        f"{fmt(social)} first orders from social seeding"
    )


def _cell(m: pd.DataFrame, i: str, j: str) -> float:
    return float(m.loc[i, j]) if i in m.index and j in m.columns else 0.0


# ---- private pool ------------------------------------------------------------------------------
def pool_block(st: Stored) -> Block:
    if st.market is None or "private_pool" not in st.market.columns:
        return empty("private-pool", "No private-pool series was stored (market table).")
    from sim.reports import figures as F

    tiers = [
        c
        for c in st.market.columns
        if (c.startswith(("tier_", "pool_")) or c == "subscribers")
        and float(st.market[c].abs().sum()) > 0
    ]  # all-zero: the scenarios have no tiers
    series = {n: _market_series(st, n, ["private_pool", *tiers]) for n in st.names}
    ends = ", ".join(f"{n} {fmt(s['private_pool'].iloc[-1])}" for n, s in series.items())
    intro = "Members of the private pool at the end of each day (real customers)." + (
        f" Also recorded: {', '.join(POOL_WORDS.get(t, t) for t in tiers)}."
        if tiers
        else " The daily table records no tier sizes for these scenarios."
    )
    rows = [
        [n, fmt(s["private_pool"].iloc[0]), fmt(s["private_pool"].iloc[-1])]
        for n, s in series.items()
    ]
    return Block(
        "private-pool",
        TITLES["private-pool"],
        intro,
        [Table(["scenario", "first day", "last day"], rows)],
        [
            Figure(
                "private_pool",
                "Private pool over time",
                F.private_pool(series, POOL_WORDS),
                f"Pool at the end of the horizon: {ends}.",
            )
        ],
    )


def _market_series(st: Stored, name: str, cols: list[str]) -> pd.DataFrame:
    """The market table's ``cols`` of scenario ``name`` per date, mean over replications."""
    d = st.market[st.market["scenario"] == name]
    return d.groupby(pd.to_datetime(d["date"]))[cols].mean()


# ---- cohorts -----------------------------------------------------------------------------------
def cohorts_block(st: Stored) -> Block:
    if st.cohorts is None or st.cohorts.empty:
        return empty("cohorts", "No cohort table was stored.")
    from sim.reports import figures as F

    within = int(st.cohorts["within_days"].iloc[0])
    rate = _repurchase_rates(st)
    rows = [
        [str(i), *(f"{v:.1%}" if math.isfinite(v) else "n/a" for v in r)]
        for i, r in rate.iterrows()
    ]
    reading = (
        f"Over the cohorts observable for {within} days, the share who bought again: "
        + ", ".join(
            f"{n} {v:.1%}" if math.isfinite(v) else f"{n} n/a"
            for n, v in _overall_rates(st).items()
        )
        + "."
    )
    intro = (
        f"New customers grouped by the month of their first-ever order; the share who "
        f"ordered again within {within} days (cohorts that started less than {within} days "
        "before the end cannot be observed and show n/a)."
    )
    return Block(
        "cohorts",
        TITLES["cohorts"],
        intro,
        [Table(["cohort", *rate.columns], rows)],
        [
            Figure(
                "cohort_repurchase",
                "Repurchase by cohort",
                F.cohort_repurchase(rate.fillna(0.0), within),
                reading,
            )
        ],
    )


def _repurchase_rates(st: Stored) -> pd.DataFrame:
    """cohort × scenario: share of observable new customers who bought again."""
    g = st.cohorts.groupby(["scenario", "cohort"])[
        ["new_customers", "observable", "repurchased"]
    ].sum()
    rate = (g["repurchased"] / g["observable"].where(g["observable"] > 0)).unstack("scenario")
    return rate[[n for n in st.names if n in rate.columns]]


def _overall_rates(st: Stored) -> dict[str, float]:
    """Per scenario: the same share over every observable cohort."""
    tot = st.cohorts.groupby("scenario")[["observable", "repurchased"]].sum()
    return {
        n: tot.loc[n, "repurchased"] / tot.loc[n, "observable"]
        if n in tot.index and tot.loc[n, "observable"]
        else float("nan")
        for n in st.names
    }
