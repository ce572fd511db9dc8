"""Comparison reports: a results directory on disk, rendered as ``report.html`` and ``report.md``.

:func:`write_comparison` stores a :class:`~sim.experiments.comparison.Comparison` as plain files and then
renders the report *from those files*, so ``channelsim report RESULTS_DIR`` (:func:`write_report`)
re-renders exactly the same report later without simulating anything.

Files of a comparison run::

    manifest.json    seed, replications, scenario names + hashes, code version, versions, command
    summary.json     per scenario: kpis {mean, ci_low, ci_high}, targets, paired_diffs
    scenarios.json   every resolved scenario (what the differences section is computed from)
    kpis.csv/.parquet  one row per scenario × replication
    daily.parquet    the tidy daily ledger of every replication, with a ``scenario`` column
    flows.csv        family → family moves per replication (sim.core.ledger.family_flows)
    cohorts.csv      repurchase by cohort per replication (sim.core.ledger.cohort_repurchase)
    inventory.csv    day × SKU inventory records per replication (only when the runs have them)
    figures/*.png    the report's figures (also embedded in report.html as base64)
    report.html      one self-contained file (no script, no external resource)
    report.md        the same tables and readings in Markdown

    >>> SECTIONS[0]
    'targets'
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.comparison import HEADLINE, Comparison, scenario_differences
from sim.reports.results import atomic_dir, versions, write_json, write_table

#: Section ids of the report, in order (HTML ``<section id=...>``; Markdown headings).
SECTIONS: tuple[str, ...] = (
    "targets",
    "kpis",
    "revenue",
    "flow",
    "private-pool",
    "cohorts",
    "spend-roi",
    "inventory",
    "differences",
    "manifest",
)
TITLES = {
    "targets": "Targets",
    "kpis": "KPIs and paired differences vs the baseline",
    "revenue": "Revenue by channel family over time",
    "flow": "Customer flow between families",
    "private-pool": "Private pool and tiers",
    "cohorts": "Repurchase by cohort",
    "spend-roi": "Spend and ROI by channel and lever",
    "inventory": "Stock and stockouts",
    "differences": "What each plan changes",
    "manifest": "Manifest",
}
INVENTORY_HINTS = ("stockout", "on_hand", "stock", "inventory", "lost", "backorder")
#: lever → (its cost column, the revenue attributed to it) in the daily table; rows appear when
#: the cost column exists (promotions and coupons come with the levers engine).
LEVERS = {
    "paid": ("spend_paid", "revenue_paid"),
    "seeding": ("spend_seeding", "revenue_seeding"),
    "private_ops": ("spend_private_ops", "revenue_private"),
    "promotions (discount given)": ("discount", "promo_revenue"),
    "coupons": ("coupon_cost", ""),
}


# --------------------------------------------------------------------------------------------
# Writing a comparison
# --------------------------------------------------------------------------------------------
def write_comparison(cmp: Comparison, out: str | Path, **manifest_extra: Any) -> Path:
    """Write ``cmp`` and its report into ``out`` atomically; returns ``out``."""
    from sim.experiments.cache import code_version

    out = Path(out)
    evs = cmp.evaluations
    with atomic_dir(out) as tmp:
        write_json(
            tmp / "manifest.json",
            {
                "command_name": "compare",
                "baseline": cmp.baseline,
                "plans": cmp.plans,
                "seed": cmp.seed,
                "replications": cmp.replications,
                "scenarios": {
                    n: {
                        "scenario": ev.scenario.name,
                        "hash": ev.scenario.content_hash(),
                        "extends": ev.scenario.extends,
                        "replications": ev.replications,
                        "errors": ev.errors,
                    }
                    for n, ev in evs.items()
                },
                "precision": cmp.precision,
                "cache_hits": cmp.cache_hits,
                "code_version": code_version(),
                "versions": versions(),
                **manifest_extra,
            },
        )
        write_json(tmp / "summary.json", cmp.summary())
        write_json(
            tmp / "scenarios.json",
            {n: ev.scenario.model_dump(mode="json") for n, ev in evs.items()},
        )
        write_table(tmp, "kpis", _stack({n: ev.kpis for n, ev in evs.items()}))
        if all(ev.daily is not None for ev in evs.values()):
            _stack({n: ev.daily for n, ev in evs.items()}).to_parquet(
                tmp / "daily.parquet", index=False
            )
        for table in ("flows", "cohorts", "inventory"):
            frames = {n: getattr(ev, table) for n, ev in evs.items()}
            if all(f is not None for f in frames.values()):
                _stack(frames).to_csv(tmp / f"{table}.csv", index=False)
        write_report(tmp)
    return out


def _stack(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(scenario=n) for n, f in frames.items()], ignore_index=True)


# --------------------------------------------------------------------------------------------
# Reading a results directory
# --------------------------------------------------------------------------------------------
@dataclass
class Stored:
    """What a report is rendered from: the files of a results directory."""

    manifest: dict[str, Any]
    summary: dict[str, Any]
    scenarios: dict[str, dict[str, Any]]
    daily: pd.DataFrame | None
    flows: pd.DataFrame | None
    cohorts: pd.DataFrame | None
    inventory: pd.DataFrame | None = None  # day × SKU inventory records (inventory.csv)

    @property
    def names(self) -> list[str]:
        return [self.summary["baseline"], *self.summary["plans"]]


def load_results(directory: str | Path) -> Stored:
    """Read a comparison results directory (``FileNotFoundError`` / ``ValueError`` if it is
    not one)."""
    d = Path(directory)
    for name in ("manifest.json", "summary.json", "scenarios.json"):
        if not (d / name).is_file():
            raise FileNotFoundError(f"{d}: no {name} (not a `channelsim compare` results dir)")
    summary = json.loads((d / "summary.json").read_text())
    if "scenarios" not in summary or "baseline" not in summary:
        raise ValueError(f"{d / 'summary.json'}: not a comparison summary")

    def opt_csv(name: str) -> pd.DataFrame | None:
        return pd.read_csv(d / name) if (d / name).is_file() else None

    daily = pd.read_parquet(d / "daily.parquet") if (d / "daily.parquet").is_file() else None
    return Stored(
        manifest=json.loads((d / "manifest.json").read_text()),
        summary=summary,
        scenarios=json.loads((d / "scenarios.json").read_text()),
        daily=daily,
        flows=opt_csv("flows.csv"),
        cohorts=opt_csv("cohorts.csv"),
        inventory=opt_csv("inventory.csv"),
    )


def write_report(directory: str | Path) -> tuple[Path, Path]:
    """(Re-)render ``report.html``, ``report.md`` and ``figures/`` from stored files."""
    d = Path(directory)
    stored = load_results(d)
    blocks = build(stored)
    figs = d / "figures"
    figs.mkdir(exist_ok=True)
    for b in blocks:
        for fig in b.figures:
            (figs / f"{fig.slug}.png").write_bytes(fig.png)
    title = (
        f"Plan comparison: {' vs '.join(stored.names[1:]) or 'baseline'} against {stored.names[0]}"
    )
    for name, text in (
        ("report.html", render_html(title, stored, blocks)),
        ("report.md", render_md(title, stored, blocks)),
    ):
        tmp = d / f".{name}.tmp"  # atomic: a reader never sees half a report
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, d / name)
    return d / "report.html", d / "report.md"


# --------------------------------------------------------------------------------------------
# Report content: sections of tables, figures and readings (format-neutral)
# --------------------------------------------------------------------------------------------
@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Figure:
    slug: str
    title: str
    png: bytes
    reading: str


@dataclass
class Block:
    id: str
    title: str
    intro: str
    tables: list[Table]
    figures: list[Figure]


def build(st: Stored) -> list[Block]:
    """Every section of the report, in :data:`SECTIONS` order."""
    makers = {
        "targets": _targets,
        "kpis": _kpis,
        "revenue": _revenue,
        "flow": _flow,
        "private-pool": _pool,
        "cohorts": _cohorts,
        "spend-roi": _spend,
        "inventory": _inventory,
        "differences": _differences,
        "manifest": _manifest,
    }
    return [makers[s](st) for s in SECTIONS]


def fmt(x: Any, *, pct: bool = False) -> str:
    """Numbers for people: thousands separators for big values, 4 significant digits else."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    x = float(x)
    if pct:
        return f"{x * 100:+.1f} %"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _ci(lo: Any, hi: Any) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]"


def _targets(st: Stored) -> Block:
    rows = []
    for name in st.names:
        for t in st.summary["scenarios"][name]["targets"]:
            op = "≥" if t["bound"] == "at_least" else "≤"
            rel = " × baseline" if t["relative_to"] else ""
            win = f", days [{t['window'][0]}, {t['window'][1]})" if t["window"] else ""
            what = f"{t['kpi']} {op} {t['threshold']:g}{rel}{win}"
            rows.append(
                [
                    name,
                    t["label"] or what,
                    what,
                    fmt(t["estimate"]),
                    _ci(t["ci_low"], t["ci_high"]),
                    f"{fmt(t['probability'])} {_ci(t['prob_ci_low'], t['prob_ci_high'])}",
                    t["verdict"],
                ]
            )
    intro = (
        "Estimate: mean over replications (relative targets: mean of the paired ratio "
        "plan ÷ baseline, same seeds and window) with its 95 % t interval. P(meet): share "
        "of replications meeting the target, with its 95 % Wilson interval. Verdict: met if "
        "P ≥ 0.8, missed if P ≤ 0.2, otherwise at risk."
    )
    if not rows:
        intro = "No scenario states targets. " + intro
    cols = [
        "scenario",
        "target",
        "definition",
        "estimate",
        "95 % CI",
        "P(meet) [95 % CI]",
        "verdict",
    ]
    return Block("targets", TITLES["targets"], intro, [Table(cols, rows)], [])


def _kpis(st: Stored) -> Block:
    base, plans = st.names[0], st.names[1:]
    sc = st.summary["scenarios"]
    cols = ["KPI", f"{base} (baseline) mean [95 % CI]"]
    for p in plans:
        cols += [
            f"{p} mean [95 % CI]",
            f"{p} − baseline, paired [95 % CI]",
            f"{p} − baseline, unpaired (Welch) [95 % CI]",
        ]
    rows = []
    names = [k for k in HEADLINE if k in sc[base]["kpis"]]
    for k in names:
        b = sc[base]["kpis"][k]
        row = [k, f"{fmt(b['mean'])} {_ci(b['ci_low'], b['ci_high'])}"]
        for p in plans:
            v = sc[p]["kpis"].get(k, {})
            d = sc[p]["paired_diffs"].get(k, {})
            row += [
                f"{fmt(v.get('mean'))} {_ci(v.get('ci_low'), v.get('ci_high'))}",
                f"{fmt(d.get('diff'))} ({fmt(d.get('relative'), pct=True)}) "
                f"{_ci(d.get('paired_low'), d.get('paired_high'))}",
                f"{_ci(d.get('welch_low'), d.get('welch_high'))}",
            ]
        rows.append(row)
    figures = []
    diffs = pd.DataFrame(
        [
            {"plan": p, "kpi": k, **sc[p]["paired_diffs"][k]}
            for p in plans
            for k in names
            if k in sc[p]["paired_diffs"]
        ]
    )
    if len(diffs):
        diffs = diffs.astype(
            {
                c: float
                for c in (
                    "relative",
                    "baseline",
                    "paired_low",
                    "paired_high",
                    "welch_low",
                    "welch_high",
                )
            }
        )
        from sim.reports import figures as F

        pw = (diffs["paired_high"] - diffs["paired_low"]).to_numpy(dtype=float)
        ww = (diffs["welch_high"] - diffs["welch_low"]).to_numpy(dtype=float)
        ok = np.isfinite(pw) & np.isfinite(ww) & (pw > 0)
        ratio = float(np.median(ww[ok] / pw[ok])) if ok.any() else float("nan")
        figures.append(
            Figure(
                "paired_differences",
                "Plan − baseline with paired and unpaired intervals",
                F.diff_forest(diffs),
                f"Pairing replications (common random numbers) makes the 95 % "
                f"intervals a median {fmt(ratio)}× narrower than unpaired ones.",
            )
        )
    intro = (
        f"{st.summary['replications']} replications per scenario, seed "
        f"{st.summary['seed']}, 95 % intervals. Paired differences are the mean of "
        "plan_r − baseline_r over replications r run on the same random streams."
    )
    if st.summary.get("precision"):
        pr = st.summary["precision"]
        intro += (
            f" Adaptive precision {pr['precision']:.1%}: {pr['stopped_because']} after "
            f"{pr['replications']} replications (worst headline KPI "
            f"{pr['worst_kpi']} of {pr['worst_scenario']}: half-width "
            f"{pr['worst_relative_half_width']:.2%} of its mean)."
        )
    return Block("kpis", TITLES["kpis"], intro, [Table(cols, rows)], figures)


def _reps(st: Stored, name: str) -> int:
    return max(1, int(st.summary["scenarios"][name]["replications"]))


def _daily_of(st: Stored, name: str) -> pd.DataFrame:
    return st.daily[st.daily["scenario"] == name]


def _revenue(st: Stored) -> Block:
    if st.daily is None:
        return _empty("revenue", "No daily table was stored.")
    from sim.reports import figures as F

    weekly, shares = {}, {}
    for name in st.names:
        d = _daily_of(st, name)
        week = pd.to_datetime(d["date"]) - pd.to_timedelta(d["day"] % 7, unit="D")
        w = d.assign(week=week).groupby(["week", "family"])["revenue"].sum().unstack("family")
        days = d.assign(week=week).groupby("week")["day"].nunique()  # last week may be short
        weekly[name] = w.fillna(0.0).div(days, axis=0) / _reps(st, name)
        tot = w.sum()
        shares[name] = tot / tot.sum() if tot.sum() else tot
    promos = {n: promotion_spans(st.scenarios.get(n, {})) for n in st.names}
    fams = sorted({f for s in shares.values() for f in s.index})
    reading = "Share of revenue by family — " + "; ".join(
        f"{n}: " + ", ".join(f"{f} {shares[n].get(f, 0.0):.0%}" for f in fams) for n in st.names
    )
    n_promo = sum(len(v) for v in promos.values())
    intro = (
        "Revenue per day (CNY, weekly means, mean over replications) per channel family; "
        "the table gives totals over the horizon."
    ) + (
        f" {n_promo} promotion periods from the scenarios' calendars are shaded."
        if n_promo
        else " The scenarios have no promotion calendar."
    )
    totals = {
        n: _daily_of(st, n).groupby("family")["revenue"].sum() / _reps(st, n) for n in st.names
    }
    rows = [[n, *(fmt(totals[n].get(f, 0.0)) for f in fams)] for n in st.names]
    return Block(
        "revenue",
        TITLES["revenue"],
        intro,
        [Table(["scenario", *(f"{f} revenue (CNY)" for f in fams)], rows)],
        [
            Figure(
                "revenue_by_family",
                "Weekly revenue by channel family",
                F.revenue_by_family(weekly, promos),
                reading,
            )
        ],
    )


def promotion_spans(scenario: dict[str, Any]) -> list[tuple[pd.Timestamp, pd.Timestamp, str]]:
    """Dated promotion periods found in a scenario's ``promotions`` section (any shape with
    ``date``/``start`` and optional ``days``/``end``/``presale_days``); [] if there is none."""
    spans: list[tuple[pd.Timestamp, pd.Timestamp, str]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            start = node.get("date", node.get("start"))
            try:
                s = pd.Timestamp(start) if isinstance(start, str) else None
            except ValueError:
                s = None
            if s is not None:
                end = node.get("end")
                e = (
                    pd.Timestamp(end)
                    if isinstance(end, str)
                    else s + pd.Timedelta(days=int(node.get("days", 1) or 1))
                )
                s -= pd.Timedelta(days=int(node.get("presale_days", 0) or 0))
                spans.append((s, e, str(node.get("id", node.get("name", "")))))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(scenario.get("promotions"))
    return spans


def _flow(st: Stored) -> Block:
    if st.flows is None:
        return _empty("flow", "No flow table was stored.")
    from sim.reports import figures as F

    mats, tables, moves = {}, [], []
    for name in st.names:
        f = st.flows[st.flows["scenario"] == name]
        m = f.pivot_table(
            index="origin", columns="destination", values="count", aggfunc="sum", fill_value=0.0
        ) / _reps(st, name)
        mats[name] = m
        tables.append(
            Table(
                ["from \\ to", *map(str, m.columns)],
                [[str(i), *(fmt(v) for v in r)] for i, r in m.iterrows()],
                caption=f"{name}: moves per horizon (mean over replications)",
            )
        )
        pub_priv = _cell(m, "public", "private") + _cell(m, "public", "private pool")
        social = sum(m.loc["new via social"].to_numpy()) if "new via social" in m.index else 0.0
        moves.append(
            f"{name}: {fmt(pub_priv)} public → private moves (orders + pool joins), "
            f"{fmt(social)} first orders from social seeding"
        )
    intro = (
        "Each order is a move from where its customer last bought (or how a new customer "
        "arrived) to the family it was placed in; joins to the private pool are moves to "
        "'private pool'. Real customers/orders, mean per replication."
    )
    return Block(
        "flow",
        TITLES["flow"],
        intro,
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


def _cell(m: pd.DataFrame, i: str, j: str) -> float:
    return float(m.loc[i, j]) if i in m.index and j in m.columns else 0.0


def _market_series(st: Stored, name: str, cols: list[str]) -> pd.DataFrame:
    d = _daily_of(st, name)
    # market-wide measures are repeated on every channel row: average them per date
    return d.groupby(pd.to_datetime(d["date"]))[cols].mean()


def _pool(st: Stored) -> Block:
    if st.daily is None or "private_pool" not in st.daily.columns:
        return _empty("private-pool", "No private-pool series was stored.")
    from sim.reports import figures as F

    tiers = [
        c
        for c in st.daily.columns
        if (c.startswith(("tier_", "pool_")) or c == "subscribers")
        and float(st.daily[c].abs().sum()) > 0
    ]  # all-zero: the scenarios have no tiers
    series = {n: _market_series(st, n, ["private_pool", *tiers]) for n in st.names}
    ends = ", ".join(f"{n} {fmt(s['private_pool'].iloc[-1])}" for n, s in series.items())
    intro = "Members of the private pool at the end of each day (real customers)." + (
        f" Tier sizes recorded: {', '.join(tiers)}."
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
                F.private_pool(series),
                f"Pool at the end of the horizon: {ends}.",
            )
        ],
    )


def _cohorts(st: Stored) -> Block:
    if st.cohorts is None or st.cohorts.empty:
        return _empty("cohorts", "No cohort table was stored.")
    from sim.reports import figures as F

    c = st.cohorts
    within = int(c["within_days"].iloc[0])
    g = c.groupby(["scenario", "cohort"])[["new_customers", "observable", "repurchased"]].sum()
    rate = (g["repurchased"] / g["observable"].where(g["observable"] > 0)).unstack("scenario")
    rate = rate[[n for n in st.names if n in rate.columns]]
    tot = c.groupby("scenario")[["observable", "repurchased"]].sum()
    overall = {
        n: tot.loc[n, "repurchased"] / tot.loc[n, "observable"]
        if n in tot.index and tot.loc[n, "observable"]
        else float("nan")
        for n in st.names
    }
    rows = [
        [str(i), *(f"{v:.1%}" if math.isfinite(v) else "n/a" for v in r)]
        for i, r in rate.iterrows()
    ]
    reading = (
        f"Over the cohorts observable for {within} days, the share who bought again: "
        + ", ".join(f"{n} {v:.1%}" if math.isfinite(v) else f"{n} n/a" for n, v in overall.items())
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


def _spend(st: Stored) -> Block:
    if st.daily is None:
        return _empty("spend-roi", "No daily table was stored.")
    from sim.reports import figures as F

    levers = [
        c
        for c in (
            "spend_paid",
            "spend_seeding",
            "spend_private_ops",
            "service_cost",
            "coupon_cost",
            "inventory_cost",
        )
        if c in st.daily.columns
    ]
    by_channel, lever_rows, totals = [], [], []
    stacked = {}
    for name in st.names:
        d = _daily_of(st, name)
        s = d.groupby("channel", sort=False)[
            [*levers, "revenue", "revenue_paid", "spend"]
        ].sum() / _reps(st, name)
        for ch, r in s.iterrows():
            stacked[(name, ch)] = r[levers]
            by_channel.append(
                [
                    name,
                    str(ch),
                    *(fmt(r[c]) for c in levers),
                    fmt(r["revenue"]),
                    fmt(_div(r["revenue"], r["spend"])),
                    fmt(_div(r["revenue_paid"], r["spend_paid"])),
                ]
            )
        tot = d[
            [
                c
                for c in d.columns
                if c.startswith(("spend_", "revenue_"))
                or c in ("discount", "promo_revenue", "coupon_cost")
            ]
        ].sum() / _reps(st, name)
        for lever, (sp, rev) in LEVERS.items():
            if sp in tot.index:
                lever_rows.append(
                    [
                        name,
                        lever,
                        fmt(tot[sp]),
                        fmt(tot.get(rev, float("nan"))),
                        fmt(_div(tot.get(rev, float("nan")), tot[sp])),
                    ]
                )
        totals.append(
            f"{name} {fmt(d['spend'].sum() / _reps(st, name))} CNY "
            f"(ROI {fmt(_div(d['revenue'].sum(), d['spend'].sum()))})"
        )
    spend = pd.DataFrame(stacked).T
    spend = spend.loc[:, spend.sum() > 0] if len(spend) else spend
    intro = (
        "Totals over the horizon, mean per replication, CNY. Channel ROI = channel revenue "
        "÷ channel marketing spend (a social channel that only seeds has no revenue of its "
        "own: its orders land on the channel it links to, see the lever table). Lever ROI = "
        "revenue of orders from that source ÷ that lever's spend."
    )
    return Block(
        "spend-roi",
        TITLES["spend-roi"],
        intro,
        [
            Table(
                [
                    "scenario",
                    "channel",
                    *(f"{c} (CNY)" for c in levers),
                    "revenue (CNY)",
                    "ROI (revenue ÷ spend)",
                    "paid ROI",
                ],
                by_channel,
                caption="By channel",
            ),
            Table(
                ["scenario", "lever", "spend (CNY)", "attributed revenue (CNY)", "ROI"],
                lever_rows,
                caption="By lever",
            ),
        ],
        [
            Figure(
                "spend_by_channel",
                "Spend by channel and lever",
                F.spend_by_channel(spend),
                "Marketing spend over the horizon: " + "; ".join(totals) + ".",
            )
        ],
    )


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def _inventory(st: Stored) -> Block:
    if st.inventory is not None and not st.inventory.empty:
        return _inventory_records(st)
    cols = (
        []
        if st.daily is None
        else [
            c
            for c in st.daily.columns
            if any(h in c for h in INVENTORY_HINTS) and pd.api.types.is_numeric_dtype(st.daily[c])
        ]
    )
    if not cols:
        return _empty(
            "inventory",
            "These scenarios record no inventory (no stock or stockout "
            "columns in the daily table): nothing to show yet.",
        )
    from sim.reports import figures as F

    figures, rows = [], []
    for col in cols[:3]:
        series = {}
        for name in st.names:
            d = _daily_of(st, name)
            by = [pd.to_datetime(d["date"])] + (["sku_class"] if "sku_class" in d.columns else [])
            s = d.groupby(by)[col].sum() / _reps(st, name)
            series[name] = s.unstack() if "sku_class" in d.columns else s.to_frame(col)
            rows.append([name, col, fmt(float(s.sum())), fmt(float(s.mean()))])
        figures.append(
            Figure(
                f"inventory_{col}",
                f"{col} over time",
                F.inventory(series, col, f"{col} (units / day)"),
                f"{col} summed over the horizon: "
                + ", ".join(f"{r[0]} {r[2]}" for r in rows if r[1] == col)
                + ".",
            )
        )
    return Block(
        "inventory",
        TITLES["inventory"],
        "Inventory measures recorded in the daily table (mean over replications; per "
        "SKU class where the table has one).",
        [Table(["scenario", "measure", "total", "mean per day"], rows)],
        figures,
    )


def sku_classes(scenario: dict[str, Any]) -> dict[str, str]:
    """SKU id → class (hot / regular / slow …) from a scenario's ``inventory.skus``."""
    skus = (scenario.get("inventory") or {}).get("skus") or []
    return {
        str(s.get("id")): str(s.get("klass", s.get("class", "all")))
        for s in skus
        if isinstance(s, dict)
    }


def _inventory_records(st: Stored) -> Block:
    """Stock on hand and stockouts per SKU class from the inventory engine's daily records."""
    from sim.reports import figures as F

    inv = st.inventory
    rows, on_hand, lost = [], {}, {}
    for name in st.names:
        d = inv[inv["scenario"] == name]
        if d.empty:
            continue
        start = pd.Timestamp(st.scenarios[name]["horizon"]["start"])
        d = d.assign(
            sku_class=d["sku"]
            .astype(str)
            .map(sku_classes(st.scenarios[name]))
            .fillna("unclassified"),
            date=start + pd.to_timedelta(d["day"], unit="D"),
        )
        per = d.groupby(["date", "sku_class"])
        reps = _reps(st, name)
        if "on_hand" in d.columns:
            on_hand[name] = per["on_hand"].sum().unstack() / reps
        if "lost" in d.columns:
            lost[name] = per["lost"].sum().unstack() / reps
        tot = d.groupby("sku_class").sum(numeric_only=True) / reps
        for cls, r in tot.iterrows():
            demand, served = r.get("demand", float("nan")), r.get("served", float("nan"))
            rows.append(
                [
                    name,
                    str(cls),
                    fmt(demand),
                    fmt(served),
                    fmt(r.get("lost")),
                    f"{1 - served / demand:.1%}" if demand else "n/a",
                    fmt(r.get("on_hand", float("nan")) / max(1, d["day"].nunique())),
                ]
            )
    figures = []
    if on_hand:
        figures.append(
            Figure(
                "inventory_on_hand",
                "Stock on hand by SKU class",
                F.inventory(on_hand, "on_hand", "units on hand (end of day)"),
                "Stock on hand per SKU class; stockout rates are in the table.",
            )
        )
    if lost:
        figures.append(
            Figure(
                "inventory_lost",
                "Lost sales by SKU class",
                F.inventory(lost, "lost", "units lost / day"),
                "Units demanded but not served from stock (lost), per SKU class.",
            )
        )
    return Block(
        "inventory",
        TITLES["inventory"],
        "From the inventory engine's daily records, summed over SKUs of a class and "
        "locations, mean per replication. Stockout rate = 1 − served at once ÷ demanded.",
        [
            Table(
                [
                    "scenario",
                    "SKU class",
                    "demand (units)",
                    "served at once (units)",
                    "lost (units)",
                    "stockout rate",
                    "mean on hand (units)",
                ],
                rows,
            )
        ],
        figures,
    )


def _differences(st: Stored) -> Block:
    base = st.names[0]
    tables = []
    for p in st.names[1:]:
        diffs = scenario_differences(st.scenarios[base], st.scenarios[p])
        tables.append(
            Table(
                ["setting (dotted path)", f"{base}", f"{p}"],
                [[path, _show(old), _show(new)] for path, old, new in diffs],
                caption=f"{p} vs {base}: {len(diffs)} settings differ",
            )
        )
    intro = "Every setting a plan changes against the baseline (resolved scenarios)."
    return Block("differences", TITLES["differences"], intro, tables, [])


def _show(v: Any) -> str:
    return "—" if v is None else json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def _manifest(st: Stored) -> Block:
    m = st.manifest
    rows = [
        [k, _show(m.get(k))]
        for k in ("seed", "replications", "code_version", "cache_hits", "command", "created")
        if k in m
    ]
    for n, s in m.get("scenarios", {}).items():
        rows.append(
            [
                f"scenario {n}",
                f"{s.get('scenario')} · sha256 {s.get('hash', '')[:16]} · "
                f"{s.get('replications')} replications"
                + (f" · {len(s['errors'])} failed" if s.get("errors") else ""),
            ]
        )
    for pkg, v in m.get("versions", {}).items():
        rows.append([f"version {pkg}", str(v)])
    return Block(
        "manifest",
        TITLES["manifest"],
        "How this report was produced.",
        [Table(["field", "value"], rows)],
        [],
    )


def _empty(sid: str, text: str) -> Block:
    return Block(sid, TITLES[sid], text, [], [])


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem}h1{font-size:1.5rem}h2{border-bottom:1px solid #ccc;padding-top:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}caption{text-align:left;font-weight:600;padding:.25rem 0}
figure{margin:1rem 0}img{max-width:100%}figcaption{font-style:italic;color:#444}
.met{background:#d9f2d9}.at-risk{background:#fff2cc}.missed{background:#f8d0d0}
nav a{margin-right:.8rem}
"""


def render_html(title: str, st: Stored, blocks: list[Block]) -> str:
    """One self-contained page: inline CSS, base64 PNGs, every text HTML-escaped, no script."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        "<nav>" + "".join(f'<a href="#{b.id}">{e(b.title)}</a>' for b in blocks) + "</nav>",
    ]
    for b in blocks:
        out.append(f'<section id="{b.id}"><h2>{e(b.title)}</h2><p>{e(b.intro)}</p>')
        for t in b.tables:
            out.append(_html_table(t))
        for f in b.figures:
            data = base64.b64encode(f.png).decode("ascii")
            out.append(
                f'<figure><img alt="{e(f.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{e(f.reading)}</figcaption></figure>"
            )
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _html_table(t: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in t.columns)
    body = []
    for r in t.rows:
        cells = []
        for c, v in zip(t.columns, r, strict=True):
            cls = f' class="{v.replace(" ", "-")}"' if c == "verdict" else ""
            cells.append(f"<td{cls}>{e(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{e(t.caption)}</caption>" if t.caption else ""
    empty = "" if t.rows else f'<tr><td colspan="{len(t.columns)}">(none)</td></tr>'
    return (
        f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}{empty}</tbody></table>"
    )


def render_md(title: str, st: Stored, blocks: list[Block]) -> str:
    """The same report in Markdown (figures linked from ``figures/``)."""
    out = [f"# {_md(title)}", ""]
    for b in blocks:
        out += [f"## {b.title}", "", _md(b.intro), ""]
        for t in b.tables:
            if t.caption:
                out += [f"**{_md(t.caption)}**", ""]
            out.append("| " + " | ".join(_md(c) for c in t.columns) + " |")
            out.append("|" + "---|" * len(t.columns))
            out += ["| " + " | ".join(_md(str(v)) for v in r) + " |" for r in t.rows]
            out.append("")
        for f in b.figures:
            out += [f"![{_md(f.title)}](figures/{f.slug}.png)", "", f"*{_md(f.reading)}*", ""]
    return "\n".join(out)


def _md(text: str) -> str:
    """Markdown-safe text: HTML-escaped (a renderer may allow raw HTML) and pipes escaped."""
    return html.escape(text).replace("|", "\\|").replace("\n", " ")
