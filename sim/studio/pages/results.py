"""The results browser: every results directory with its date, scenarios and verdicts, a link to
its report, and two of them side by side.

Reports are served read-only from the results folder by the studio's server
(``/studio/results/NAME/report.html``, :mod:`sim.studio.server`).
"""

from __future__ import annotations

import html
from urllib.parse import quote

import solara

from sim.errors import UsageError
from sim.studio.pages import session
from sim.studio.pages.widgets import CSS, Hint, Table, kpi_text
from sim.studio.results_index import list_results, side_by_side

__all__ = ["ResultsPage", "report_url"]

#: Where the server serves files of the results folder (see sim.studio.server).
RESULTS_URL = "/studio/results"


def report_url(name: str) -> str:
    return f"{RESULTS_URL}/{quote(name)}/report.html"


@solara.component
def ResultsPage() -> None:
    solara.Style(CSS)
    roots = session.roots()
    version, set_version = solara.use_state(0)
    entries = solara.use_memo(lambda: list_results(roots.results), [version])
    left, set_left = solara.use_state(entries[1].name if len(entries) > 1 else None)
    right, set_right = solara.use_state(entries[0].name if entries else None)
    with solara.Card(f"Results under {roots.results}"):
        solara.Button("Refresh", on_click=lambda: set_version(version + 1), outlined=True)
        if not entries:
            Hint("no results yet: run `channelsim run` or `compare`, or save a plan and run it")
        rows = []
        for e in entries:
            link = (
                f'<a href="{html.escape(report_url(e.name))}" target="_blank">report</a>'
                if e.has_report
                else "—"
            )
            rows.append(
                [
                    html.escape(e.name),
                    html.escape(e.kind),
                    html.escape(e.created.replace("T", " ")),
                    html.escape(", ".join(e.scenarios) or "—"),
                    html.escape(e.verdict_text() or "—"),
                    link,
                    html.escape("; ".join(e.notes)),
                ]
            )
        headers = ["directory", "kind", "date", "scenarios", "verdicts", "report", "notes"]
        Table(headers, rows, raw=True)
    if len(entries) >= 1:
        names = [e.name for e in entries]
        with solara.Card("Side by side"):
            with solara.Row():
                solara.Select("left", values=names, value=left, on_value=set_left)
                solara.Select("right", values=names, value=right, on_value=set_right)
            if left and right:
                Compared(left, right)


@solara.component
def Compared(left: str, right: str) -> None:
    roots = session.roots()
    try:
        roots.result(left), roots.result(right)  # names come from the page: confine them
        table = side_by_side(roots.results, left, right)
    except UsageError as exc:
        solara.Error(str(exc))
        return
    if table.empty:
        Hint("neither directory has KPI means in its summary.json")
        return
    rows = [
        [k, *(kpi_text(k, v) if v == v else "—" for v in r)]  # NaN: not in that directory
        for k, r in zip(table.index, table.to_numpy(), strict=True)
    ]
    Table(["KPI", *table.columns], rows)
