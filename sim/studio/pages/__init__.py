"""The studio's pages as a Solara app: the plan editor and its runs, the results browser, and
the model day by day (Mesa's SolaraViz, :mod:`sim.studio.app`).

``channelsim studio`` serves this module (``SOLARA_APP=sim.studio.pages``); Solara builds the
navigation from :data:`routes`.
"""

from __future__ import annotations

import solara

from sim.studio.pages.editor import PlanPage
from sim.studio.pages.results import ResultsPage

__all__ = ["Layout", "ModelPage", "routes"]


@solara.component
def ModelPage() -> None:
    from sim.studio.app import Page  # Mesa's visualisation loads only when this page opens

    Page()


@solara.component
def Layout(children: list | None = None) -> None:
    """Solara's app layout with the pages as buttons in the app bar, named by their labels."""
    route, all_routes = solara.use_route()
    router = solara.use_router()

    def go(path: str) -> None:
        router.push("/" if path == "/" else f"/{path}")

    with solara.AppLayout(title="channelsim studio", navigation=False, sidebar_open=True):
        with solara.Column(style="width: 100%"):  # one child: no drawer of its own
            with solara.AppBar():
                for r in all_routes:
                    solara.Button(
                        r.label,
                        on_click=lambda p=r.path: go(p),
                        text=r is not route,
                        outlined=r is route,
                        style="color: white; margin-left: 8px",
                    )
            solara.Column(children=children or [], style="width: 100%")


routes = [
    solara.Route(path="/", component=PlanPage, label="Plan", layout=Layout),
    solara.Route(path="results", component=ResultsPage, label="Results"),
    solara.Route(path="model", component=ModelPage, label="Model day by day"),
]
