"""The run panel: the comparison in the background, its progress, verdicts and differences.

A run is a :class:`~sim.studio.background.ComparisonRun`; the page follows it from a thread
that waits for each new snapshot. Starting another run keeps the last one as *previous*: the
verdicts are shown side by side, and the paired difference between the two plans (same seed,
so common random numbers) says what the change between them did.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import solara

from sim.errors import ScenarioError
from sim.scenario import Scenario, apply_overrides
from sim.studio.background import ComparisonRun, Snapshot, lever_effect
from sim.studio.levers import kpi_unit
from sim.studio.pages import session
from sim.studio.pages.widgets import Heading, Hint, Table, kpi_text, number, signed, verdict_html
from sim.studio.plans import changes

__all__ = ["RunPanel"]


@solara.component
def RunPanel(baseline: Scenario | None, plan: Scenario | None, data: dict) -> None:
    error, set_error = solara.use_state("")
    record = session.current.value

    def start() -> None:
        roots = session.roots()
        small = {"market.customers": session.customers.value} if session.customers.value else {}
        try:
            base_sc, plan_sc = apply_overrides(baseline, small), apply_overrides(plan, small)
            run = ComparisonRun(
                base_sc,
                plan_sc,
                replications=int(session.replications.value),
                workers=roots.workers,
                cache_dir=roots.results / ".cache",
            )
        except (ScenarioError, ValueError) as exc:
            set_error("; ".join(getattr(exc, "problems", [str(exc)])))
            return
        set_error("")
        old = session.current.value
        if old is not None:
            old.run.cancel()
            session.previous.set(old)
        settings = f"{run.replications} replications, seed {run.seed}"
        if small:
            settings += f", {session.customers.value:,} simulated customers"
        session.run_count.set(session.run_count.value + 1)
        session.current.set(session.RunRecord(run.start(), data, settings, session.run_count.value))

    with solara.Card("Run the comparison"):
        with solara.Row():
            solara.InputInt("replications", value=session.replications, dense=True)
            solara.InputInt(
                "simulated customers (0: as in the files)", value=session.customers, dense=True
            )
        with solara.Row():
            solara.Button(
                "Run comparison",
                on_click=start,
                color="primary",
                disabled=baseline is None or plan is None,
            )
            if record is not None:
                solara.Button("Cancel", on_click=record.run.cancel, outlined=True)
        if plan is None:
            Hint("the edited plan does not validate: fix it to run", error=True)
        if error:
            solara.Error(error)
        if record is not None:
            RunView(record, session.previous.value).key(f"run-{record.key}")


@solara.component
def RunView(record: session.RunRecord, previous: session.RunRecord | None) -> None:
    snap, set_snap = solara.use_state(record.run.snapshot())

    def follow(cancel: threading.Event) -> None:
        seen = record.run.snapshot()
        set_snap(seen)
        while not seen.finished and not cancel.is_set():
            seen = record.run.wait_change(seen, timeout=0.5)
            set_snap(seen)

    solara.use_thread(follow, dependencies=[record.key], intrusive_cancel=False)
    share = snap.done / snap.total if snap.total else 0
    solara.ProgressLinear(100 * share if not snap.finished else 100)
    solara.Text(
        f"run {record.number} · {snap.state}: {snap.done} of {snap.total} replications "
        f"({record.settings}) · {snap.elapsed:.0f} s",
        classes=["run-status"],
    )
    if snap.message:
        solara.Error(snap.message)
    before = previous.run.snapshot() if previous is not None else None
    TargetTable(snap, before)
    HeadlineTable(snap)
    if previous is not None and before is not None and before.done and snap.finished:
        LeverEffect(previous, record)


def _estimate(t: Any) -> str:
    low, high = (number(x) if x == x else "—" for x in (t.ci_low, t.ci_high))  # NaN: one rep
    if t.relative_to:
        return f"× {number(t.estimate)} [{low}, {high}]"
    return f"{kpi_text(t.kpi, t.estimate)} [{low}, {high}]"


@solara.component
def TargetTable(snap: Snapshot, before: Snapshot | None) -> None:
    if not snap.targets:
        Hint("the plan states no targets" if snap.done else "waiting for the first replications")
        return
    old = {(t.kpi, t.window): t.verdict for t in (before.targets if before else ())}
    rows = []
    for t in snap.targets:
        bound = "≥" if t.bound == "at_least" else "≤"
        unit = "× baseline" if t.relative_to else ""
        rows.append(
            [
                f"{t.label or t.kpi} ({t.kpi} {bound} {t.threshold:g}{' ' + unit if unit else ''})",
                _estimate(t),
                f"{100 * t.probability:.0f} % [{100 * t.prob_ci_low:.0f}, "
                f"{100 * t.prob_ci_high:.0f}]",
                verdict_html(t.verdict),
                verdict_html(old.get((t.kpi, t.window))) if before else "—",
            ]
        )
    headers = ["target", "estimate [95 %]", "P(meet)", "verdict", "previous run"]
    Heading("Targets")
    Table(headers, _escaped(rows, keep=(3, 4)), raw=True)


def _escaped(rows: list[list[str]], keep: tuple[int, ...]) -> list[list[str]]:
    return [[c if i in keep else html.escape(str(c)) for i, c in enumerate(r)] for r in rows]


def _interval(kpi: str, low: float, high: float) -> str:
    if not (low == low and high == high):  # NaN: fewer than two replications
        return "—"
    if kpi_unit(kpi) == "share":  # a difference of shares, in percentage points
        return f"[{100 * low:+.1f}, {100 * high:+.1f}] points"
    return f"[{number(low)}, {number(high)}]"


@solara.component
def HeadlineTable(snap: Snapshot) -> None:
    if snap.headline.empty:
        return
    rows = []
    for r in snap.headline.itertuples():
        rel = f"{100 * r.relative:+.1f} %" if r.relative == r.relative else "—"
        interval = _interval(r.kpi, r.paired_low, r.paired_high)
        rows.append(
            [
                r.kpi,
                kpi_text(r.kpi, r.baseline),
                kpi_text(r.kpi, r.value),
                signed(r.kpi, r.diff),
                rel,
                interval,
            ]
        )
    Heading("Headline differences (plan − baseline, paired over replications)")
    Table(["KPI", "baseline", "plan", "difference", "relative", "95 % interval"], rows)


@solara.component
def LeverEffect(previous: session.RunRecord, current: session.RunRecord) -> None:
    """What changed between the previous run's plan and this one, and what it did."""
    changed = changes(previous.plan_data, current.plan_data)
    effect = lever_effect(previous.run, current.run)
    with solara.Card("What the change since the previous run did", margin=0):
        if not changed:
            Hint("the plan is the same as in the previous run (only the run settings differ)")
        else:
            rows = [[c.path, number(c.baseline), number(c.plan)] for c in changed[:12]]
            Table(["changed", "previous run", "this run"], rows)
        if effect.empty:
            Hint("the runs cannot be paired (different seeds)")
            return
        rows = [
            [
                r.kpi,
                kpi_text(r.kpi, r.baseline),
                kpi_text(r.kpi, r.value),
                signed(r.kpi, r.diff),
                _interval(r.kpi, r.paired_low, r.paired_high),
            ]
            for r in effect.itertuples()
            if r.diff == r.diff and r.diff != 0
        ]
        Table(["KPI", "previous plan", "this plan", "difference", "95 % interval"], rows)
