"""The report's decisions section: what the scenarios' review rules decided, and when.

Read from ``decisions.csv`` (one row per lever a rule set, per replication; :mod:`sim.rules`).
The first replication's decisions are listed as they happened (what the rule saw, what it set);
across replications, each rule's decisions are counted — how many replications it fired in, how
often per replication, and the mean net change it made — because a policy, unlike a fixed split,
can decide differently in each replication. A figure shows the levers the rules set, day by day,
with each decision of the first replication as a vertical line (the same days are dotted on the
revenue figure).
"""

from __future__ import annotations

import pandas as pd

from sim.reports.format import fmt
from sim.reports.sections.blocks import TITLES, Block, Figure, Table, empty
from sim.reports.store import Stored

#: At most this many first-replication decisions are listed per scenario (all are in the CSV).
MAX_ROWS = 40
LOG_COLUMNS = ["scenario", "day", "date", "rule", "kind", "target", "lever", "before → after"]
LOG_COLUMNS += ["seen", "note"]
PAID_LABEL = "paid budget (CNY per day)"
COUNT_COLUMNS = [
    "scenario",
    "rule",
    "kind",
    "target",
    "lever",
    "replications it fired in",
    "decisions per replication",
    "mean net change per replication",
]


def decisions_block(st: Stored) -> Block:
    d = st.decisions
    if d is None or d.empty:
        return empty(
            "decisions",
            "These plans have no review rules (no rules: block), or their rules decided nothing.",
        )
    d = d.assign(target=d["target"] if "target" in d.columns else d["channel"]).fillna(
        {"target": "", "seen": "", "note": ""}
    )
    if "replication" not in d.columns:
        d = d.assign(replication=0)
    first = d[d["replication"] == d.groupby("scenario")["replication"].transform("min")]
    log_rows, cut = [], []
    for name in st.names:
        rows = first[first["scenario"] == name]
        if len(rows) > MAX_ROWS:
            cut.append(f"{name}: {len(rows)}")
        log_rows += [_log_row(r) for _, r in rows.head(MAX_ROWS).iterrows()]
    counts = [_count_row(st, key, g) for key, g in _groups(d)]
    intro = (
        "A rule decides on what the simulated team would see: the ledger (or the warehouse's "
        "records) up to yesterday, less the rule's reporting lag. The first table lists the "
        "first replication's decisions as taken; the second counts every rule's decisions "
        "over all replications (a policy may decide differently in each). Budgets in CNY per "
        "day, safety factors as k, promotion ends as day numbers. decisions.csv has them all."
    )
    if cut:
        intro += f" First {MAX_ROWS} decisions shown per scenario ({', '.join(cut)} in all)."
    tables = [
        Table(LOG_COLUMNS, log_rows, "first replication"),
        Table(COUNT_COLUMNS, counts, "over all replications"),
    ]
    return Block("decisions", TITLES["decisions"], intro, tables, _figures(st, first))


def _groups(d: pd.DataFrame):
    return d.groupby(["scenario", "rule", "kind", "target", "lever"], sort=False)


def _log_row(r: pd.Series) -> list[str]:
    return [
        str(r["scenario"]),
        str(int(r["day"])),
        str(r["date"])[:10],
        str(r["rule"]),
        str(r["kind"]),
        str(r["target"]),
        str(r["lever"]),
        f"{fmt(float(r['before']))} → {fmt(float(r['after']))}",
        str(r["seen"]),
        str(r["note"]),
    ]


def _count_row(st: Stored, key: tuple, g: pd.DataFrame) -> list[str]:
    scenario = str(key[0])
    reps = st.reps(scenario)
    fired = g["replication"].nunique()
    change = float((g["after"] - g["before"]).sum()) / reps
    return [
        *(str(k) for k in key),
        f"{fired} of {reps}",
        fmt(len(g) / reps),
        fmt(change),
    ]


def _figures(st: Stored, first: pd.DataFrame) -> list[Figure]:
    """The paid budgets the rules set (first replication, from the daily table) — or, without
    budget decisions, the safety factors — with every decision of that replication marked."""
    if st.daily is None or "replication" not in st.daily.columns:
        return []
    from sim.reports import figures as F

    series, marks = {}, {}
    for name in st.names:
        rows = first[first["scenario"] == name]
        if rows.empty:
            continue
        daily = st.daily_of(name)
        daily = daily[daily["replication"] == daily["replication"].min()]
        chans = sorted(set(rows.loc[rows["lever"] == "paid", "channel"].dropna()) - {""})
        if chans:
            paid = daily[daily["channel"].isin(chans)]
            frame = paid.pivot_table(index="date", columns="channel", values="spend_paid")
            series[name] = (frame.rename(columns=lambda c: f"{c} paid budget"), PAID_LABEL)
        else:
            dates = pd.DatetimeIndex(sorted(pd.to_datetime(daily["date"].unique())))
            series[name] = (_levels(rows, dates), "level set (safety factor k, or last day)")
        label = rows["kind"] + " " + rows["target"].astype(str)
        marks[name] = (
            pd.DataFrame({"date": pd.to_datetime(rows["date"]), "label": label.str.strip()})
            .groupby("date", as_index=False)["label"]
            .agg(lambda x: ", ".join(dict.fromkeys(x)))  # one label per day, in order
        )
    if not series:
        return []
    reading = (
        "Lines: each channel's paid budget (CNY per day) in the first replication, for channels "
        "a rule moved (without budget decisions: each SKU's safety factor k, or a promotion's "
        "last day, as the rules set them); dotted lines: every decision of that replication, "
        "labelled with the rule's kind and what it set."
    )
    png = F.decisions_over_time(series, marks)
    return [Figure("decisions", "Review-rule decisions over time", png, reading)]


def _levels(rows: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Each target's level day by day, from its decisions alone: its first ``before`` until
    the first decision, then each decision's ``after`` from its date on."""
    out = {}
    for (target, lever), g in rows.groupby(["target", "lever"], sort=False):
        level = pd.Series(float(g["before"].iloc[0]), index=dates)
        for _, r in g.iterrows():
            level[level.index >= pd.Timestamp(r["date"])] = float(r["after"])
        out[f"{target} {lever}"] = level
    return pd.DataFrame(out, index=dates)
