"""Report sections on channels: revenue by channel family over time, spend and ROI.

Totals are means per replication over the horizon, in CNY, from the stored daily table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.reports.format import fmt, mcny
from sim.reports.sections.blocks import TITLES, Block, Figure, Table, empty
from sim.reports.store import Stored

#: lever → (its cost column, the revenue attributed to it) in the daily table; rows appear when
#: the cost column exists (promotions and coupons come with the levers engine).
LEVERS = {
    "paid": ("spend_paid", "revenue_paid"),
    "seeding": ("spend_seeding", "revenue_seeding"),
    "private_ops": ("spend_private_ops", "revenue_private"),
    "promotions (discount given)": ("discount", "promo_revenue"),
    "coupons": ("coupon_cost", ""),
}
#: Cost columns of the daily table shown per channel, when present.
COSTS = (
    "spend_paid",
    "spend_seeding",
    "spend_private_ops",
    "service_cost",
    "coupon_cost",
    "inventory_cost",
)
#: Cost columns of the daily table in words.
COST_WORDS = {
    "spend_paid": "paid traffic",
    "spend_seeding": "seeding",
    "spend_private_ops": "private operations",
    "service_cost": "customer service",
    "coupon_cost": "coupons redeemed",
    "inventory_cost": "inventory costs",
}
AD_COLUMNS = {"revenue_paid_ad"}  # absent from results stored before ad attribution
SPEND_INTRO = (
    "Totals over the horizon, mean per replication, in M CNY (million CNY). Channel ROI = "
    "channel revenue ÷ channel marketing spend (a social channel that only seeds has no "
    "revenue of its own: its orders land on the channel it links to, see the lever table). "
    "Lever ROI = revenue of orders from that source ÷ that lever's spend. Paid ROI is shown "
    "two ways: by the channel where the paid-sourced customer ordered, and by the channel whose "
    "paid ad reached them (what the channel's ad report shows, and what review rules read by "
    "default); the two have the same total and differ in how they split it."
)


# ---- revenue -----------------------------------------------------------------------------------
def revenue_block(st: Stored) -> Block:
    if st.daily is None:
        return empty("revenue", "No daily table was stored.")
    from sim.reports import figures as F

    weekly, shares = {}, {}
    for name in st.names:
        weekly[name], shares[name] = _weekly_revenue(st, name)
    promos = {n: promotion_spans(st.scenarios.get(n, {})) for n in st.names}
    decided = {n: decision_dates(st, n) for n in st.names}
    fams = sorted({f for s in shares.values() for f in s.index})
    reading = "Share of revenue by family — " + "; ".join(
        f"{n}: " + ", ".join(f"{f} {shares[n].get(f, 0.0):.0%}" for f in fams) for n in st.names
    )
    totals = {n: st.daily_of(n).groupby("family")["revenue"].sum() / st.reps(n) for n in st.names}
    rows = [[n, *(mcny(totals[n].get(f, 0.0)) for f in fams)] for n in st.names]
    return Block(
        "revenue",
        TITLES["revenue"],
        _revenue_intro(sum(len(v) for v in promos.values()))
        + (
            " Dotted vertical lines: days a review rule decided something (first replication;"
            " see the decisions section)."
            if any(decided.values())
            else ""
        ),
        [Table(["scenario", *(f"{f} revenue (M CNY)" for f in fams)], rows)],
        [
            Figure(
                "revenue_by_family",
                "Weekly revenue by channel family",
                F.revenue_by_family(weekly, promos, decided),
                reading,
            )
        ],
    )


def decision_dates(st: Stored, name: str) -> list[pd.Timestamp]:
    """The days review rules decided something in scenario ``name``'s first replication."""
    d = st.decisions
    if d is None or d.empty:
        return []
    d = d[d["scenario"] == name]
    if "replication" in d.columns and len(d):
        d = d[d["replication"] == d["replication"].min()]
    return sorted(pd.to_datetime(d["date"]).unique())


def _weekly_revenue(st: Stored, name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Revenue per day (weekly means) per family, and each family's share of the total."""
    d = st.daily_of(name)
    week = pd.to_datetime(d["date"]) - pd.to_timedelta(d["day"] % 7, unit="D")
    w = d.assign(week=week).groupby(["week", "family"])["revenue"].sum().unstack("family")
    days = d.assign(week=week).groupby("week")["day"].nunique()  # last week may be short
    tot = w.sum()
    share = tot / tot.sum() if tot.sum() else tot
    return w.fillna(0.0).div(days, axis=0) / st.reps(name), share


def _revenue_intro(n_promo: int) -> str:
    return (
        "Revenue per day (CNY, weekly means, mean over replications) per channel family; "
        "the table gives totals over the horizon."
    ) + (
        f" {n_promo} promotion periods from the scenarios' calendars are shaded."
        if n_promo
        else " The scenarios have no promotion calendar."
    )


def promotion_spans(scenario: dict[str, Any]) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Dated promotion periods found in a scenario's ``promotions`` section (any shape with
    ``date``/``start`` and optional ``days``/``end``/``presale_days``); [] if there is none."""
    spans: list[tuple[pd.Timestamp, pd.Timestamp, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            span = _span(node)
            if span is not None:
                spans.append(span)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(scenario.get("promotions"))
    return spans


def _span(node: dict[str, Any]) -> tuple[pd.Timestamp, pd.Timestamp, str] | None:
    """The dated period ``node`` describes (presale included), or None if it has no date."""
    start = node.get("date", node.get("start"))
    try:
        s = pd.Timestamp(start) if isinstance(start, str) else None
    except ValueError:
        s = None
    if s is None:
        return None
    end = node.get("end")
    e = (
        pd.Timestamp(end)
        if isinstance(end, str)
        else s + pd.Timedelta(days=int(node.get("days", 1) or 1))
    )
    s -= pd.Timedelta(days=int(node.get("presale_days", 0) or 0))
    return s, e, str(node.get("id", node.get("name", "")))


# ---- spend and ROI -----------------------------------------------------------------------------
def spend_block(st: Stored) -> Block:
    if st.daily is None:
        return empty("spend-roi", "No daily table was stored.")
    from sim.reports import figures as F

    costs = [c for c in COSTS if c in st.daily.columns]
    by_channel, lever_rows, totals = [], [], []
    stacked = {}
    for name in st.names:
        s = st.daily_of(name).groupby("channel", sort=False)[
            [*costs, *AD_COLUMNS.intersection(st.daily.columns), "revenue", "revenue_paid", "spend"]
        ].sum() / st.reps(name)
        for ch, r in s.iterrows():
            stacked[(name, ch)] = r[costs]
            by_channel.append(_channel_row(name, str(ch), r, costs))
        lever_rows += _lever_rows(st, name)
        totals.append(_total_text(st, name))
    spend = pd.DataFrame(stacked).T.rename(columns=COST_WORDS)
    spend = spend.loc[:, spend.sum() > 0] if len(spend) else spend
    return Block(
        "spend-roi",
        TITLES["spend-roi"],
        SPEND_INTRO,
        _spend_tables(costs, by_channel, lever_rows),
        [
            Figure(
                "spend_by_channel",
                "Spend by channel and lever",
                F.spend_by_channel(spend),
                "Marketing spend over the horizon: " + "; ".join(totals) + ".",
            )
        ],
    )


def _channel_row(name: str, ch: str, r: pd.Series, costs: list[str]) -> list[str]:
    return [
        name,
        ch,
        *(mcny(r[c]) for c in costs),
        mcny(r["revenue"]),
        fmt(_div(r["revenue"], r["spend"])),
        fmt(_div(r["revenue_paid"], r["spend_paid"])),
        fmt(_div(r.get("revenue_paid_ad", float("nan")), r["spend_paid"])),
    ]


def _lever_rows(st: Stored, name: str) -> list[list[str]]:
    d = st.daily_of(name)
    tot = d[
        [
            c
            for c in d.columns
            if c.startswith(("spend_", "revenue_"))
            or c in ("discount", "promo_revenue", "coupon_cost")
        ]
    ].sum() / st.reps(name)
    return [
        [
            name,
            lever,
            mcny(tot[sp]),
            mcny(tot.get(rev, float("nan"))),
            fmt(_div(tot.get(rev, float("nan")), tot[sp])),
        ]
        for lever, (sp, rev) in LEVERS.items()
        if sp in tot.index
    ]


def _total_text(st: Stored, name: str) -> str:
    d = st.daily_of(name)
    return (
        f"{name} {mcny(d['spend'].sum() / st.reps(name))} M CNY "
        f"(ROI {fmt(_div(d['revenue'].sum(), d['spend'].sum()))})"
    )


def _spend_tables(
    costs: list[str], by_channel: list[list[str]], lever_rows: list[list[str]]
) -> list[Table]:
    return [
        Table(
            [
                "scenario",
                "channel",
                *(f"{COST_WORDS.get(c, c)} (M CNY)" for c in costs),
                "revenue (M CNY)",
                "ROI (revenue ÷ spend)",
                "paid ROI (by order channel)",
                "paid ROI (by ad channel)",
            ],
            by_channel,
            caption="By channel",
        ),
        Table(
            ["scenario", "lever", "spend (M CNY)", "attributed revenue (M CNY)", "ROI"],
            lever_rows,
            caption="By lever",
        ),
    ]


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")
