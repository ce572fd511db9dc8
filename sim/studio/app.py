"""The model as Mesa shows it: a SolaraViz page that steps :class:`sim.ChannelMarket` day by day.

Mesa's convention — an ``app.py`` whose page is a :class:`mesa.visualization.SolaraViz` of the
model, with sliders for its parameters and live plots from its ``DataCollector``. Run it alone
with ``solara run sim/studio/app.py`` (from the repository root), or open *Model day by day* in
``channelsim studio``. The sliders are the main levers, as multipliers of the chosen scenario's
own values so they mean the same on any plan: paid-traffic, seeding and private-operations
budgets, and the price index; ``customers`` and ``days`` set the resolution and the horizon.
Plots: daily orders by channel family, the private pool, and units on hand per SKU when the
scenario has stock (all in real units, as the ledger).

    >>> m = StudioMarket("baseline.yaml", customers=1000, days=20, paid=2.0)
    >>> m.scenario.channels[0].budget.paid  # the baseline's 40 000 CNY/day, doubled
    80000.0
    >>> while m.running:
    ...     m.step()
    >>> frame = m.datacollector.get_model_vars_dataframe()
    >>> len(frame), "stock_serum" in frame
    (20, True)
"""

from __future__ import annotations

from typing import Any

import mesa
import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.user_param import Slider
from mesa.visualization.utils import update_counter

from sim.core.model import ChannelMarket, daily_reporters
from sim.scenario import load_scenario
from sim.studio.roots import Roots, scenario_files

__all__ = ["Page", "StudioMarket", "model_params"]

BUDGETS = ("paid", "seeding", "private_ops")


class StudioMarket(ChannelMarket):
    """:class:`ChannelMarket` built from slider values (Mesa's visualisation passes them as
    keyword arguments) and recording units on hand per SKU as well."""

    def __init__(
        self,
        scenario: str = "baseline.yaml",
        customers: int = 2000,
        days: int = 120,
        paid: float = 1.0,
        seeding: float = 1.0,
        private_ops: float = 1.0,
        price: float = 1.0,
        seed: int = 1,
        **kwargs: Any,
    ) -> None:
        path = Roots.from_env().scenario(scenario)
        # the market as the file states it, fewer agents and days for a quick look; targets off
        # (a target window may lie past a shortened horizon)
        small = {"market.customers": int(customers), "horizon.days": int(days), "targets": []}
        sc = load_scenario(path, overrides=small)
        levers = {"paid": paid, "seeding": seeding, "private_ops": private_ops}
        overrides: dict[str, Any] = dict(kwargs)
        for ch in sc.channels:
            for lever, factor in levers.items():
                spend = getattr(ch.budget, lever)
                if spend and factor != 1.0:
                    overrides[f"channels.{ch.id}.budget.{lever}"] = spend * factor
            if price != 1.0:
                overrides[f"channels.{ch.id}.price_index"] = ch.price_index * price
        super().__init__(sc, seed=int(seed), **overrides)
        reporters = daily_reporters()
        if self.warehouse is not None:
            for i, sku in enumerate(self.warehouse.inventory.sku_ids):
                reporters[f"stock_{sku}"] = _on_hand(i)
        self.datacollector = mesa.DataCollector(model_reporters=reporters)


def _on_hand(sku: int):
    """Units of SKU number ``sku`` on hand at every location at the end of the day."""
    return lambda m: float(m.warehouse.inventory.on_hand[sku].sum())


@solara.component
def StockPlot(model: ChannelMarket) -> None:
    """Units on hand per SKU, day by day (a message where the scenario has no stock)."""
    update_counter.get()
    frame = model.datacollector.get_model_vars_dataframe()
    columns = [c for c in frame.columns if c.startswith("stock_")]
    if not columns:
        solara.Text("This scenario has no inventory section: no stock to show.")
        return
    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    for c in columns:
        ax.plot(frame.index, frame[c], label=c.removeprefix("stock_"))
    ax.set_title("units on hand (all locations)")
    ax.set_xlabel("day")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    solara.FigureMatplotlib(fig, format="png")


def _orders_axes(ax) -> None:
    ax.set_title("orders per day by channel family")
    ax.set_xlabel("day")


def _pool_axes(ax) -> None:
    ax.set_title("private-pool members (people)")
    ax.set_xlabel("day")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")


COMPONENTS = [
    make_plot_component(
        {"orders_public": "#1f77b4", "orders_private": "#2ca02c", "orders_social": "#d62728"},
        post_process=_orders_axes,
    ),
    make_plot_component("private_pool", post_process=_pool_axes),
    (StockPlot, 0),
]


def model_params(roots: Roots | None = None) -> dict[str, Any]:
    """The sliders (and the scenario to start from), for :class:`SolaraViz`."""
    roots = roots or Roots.from_env()
    files = scenario_files(roots.scenarios) or ["baseline.yaml"]
    first = "baseline.yaml" if "baseline.yaml" in files else files[0]
    return {
        "scenario": {"type": "Select", "value": first, "values": files, "label": "scenario"},
        "customers": Slider("simulated customers (resolution)", 2000, 500, 20000, 500),
        "days": Slider("days", 120, 10, 365, 5),
        "paid": Slider("paid-traffic budgets (× scenario)", 1.0, 0.0, 3.0, 0.1),
        "seeding": Slider("seeding budgets (× scenario)", 1.0, 0.0, 3.0, 0.1),
        "private_ops": Slider("private-operations budgets (× scenario)", 1.0, 0.0, 3.0, 0.1),
        "price": Slider("price index (× scenario)", 1.0, 0.8, 1.2, 0.01),
        "seed": Slider("random seed", 1, 0, 100, 1),
    }


@solara.component
def Page() -> None:
    """The SolaraViz page; each browser session steps its own model."""
    params = solara.use_memo(model_params, [])
    start = {k: (v.value if isinstance(v, Slider) else v["value"]) for k, v in params.items()}
    model = solara.use_memo(lambda: StudioMarket(**start), [])
    SolaraViz(model, components=COMPONENTS, model_params=params, name="channelsim: day by day")
