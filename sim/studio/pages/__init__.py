"""The studio's pages as a Solara app: the plan editor and its runs, the results browser, and
the model day by day (Mesa's SolaraViz, :mod:`sim.studio.app`).

``channelsim studio`` serves this module (``SOLARA_APP=sim.studio.pages``); Solara builds the
navigation from :data:`routes`.
"""

from __future__ import annotations

import solara
import solara.lab

from sim.studio.pages.editor import PlanPage
from sim.studio.pages.results import ResultsPage

__all__ = ["Layout", "ModelPage", "routes"]


@solara.component
def ModelPage() -> None:
    from sim.studio.app import Page  # Mesa's visualisation loads only when this page opens

    Page()


@solara.component
def Layout(children: list | None = None) -> None:
    """Solara's app layout with tabs named after the pages (its own tabs show the paths)."""
    route, all_routes = solara.use_route()
    router = solara.use_router()
    index = all_routes.index(route) if route in all_routes else 0

    def go(i: int) -> None:
        path = all_routes[i].path
        router.push("/" if path == "/" else f"/{path}")

    with solara.AppLayout(title="channelsim studio", navigation=False, sidebar_open=False):
        solara.Title("channelsim studio")
        with solara.AppBar():
            with solara.lab.Tabs(value=index, on_value=go, align="center"):
                for r in all_routes:
                    solara.lab.Tab(r.label)
        solara.Column(children=children or [], style="width: 100%")


routes = [
    solara.Route(path="/", component=PlanPage, label="Plan", layout=Layout),
    solara.Route(path="results", component=ResultsPage, label="Results"),
    solara.Route(path="model", component=ModelPage, label="Model day by day"),
]
