"""Stock: the inventory schema, the engine (allocation, replenishment, costs), exact inventory
theory to check it against, the warehouse agent and how customers feel the stock (fulfilment).

Modules: :mod:`~sim.inventory.schema` (the ``inventory:`` section, :class:`InventorySpec`) and
:mod:`~sim.inventory.specs` (its parts); :mod:`~sim.inventory.engine` (:class:`Inventory`, the day
loop) built from :mod:`~sim.inventory.stock`, :mod:`~sim.inventory.replenishment`,
:mod:`~sim.inventory.allocation`, :mod:`~sim.inventory.transfers`,
:mod:`~sim.inventory.clearance`, :mod:`~sim.inventory.forecast`, :mod:`~sim.inventory.draws` and
:mod:`~sim.inventory.records`; :mod:`~sim.inventory.exogenous` (verification mode runs) and
:mod:`~sim.inventory.kpis` (KPIs of the daily records); :mod:`~sim.inventory.theory`.

The names below are the package's public API (the optimisers use these only). The warehouse
agent (:mod:`sim.inventory.warehouse`) and the fulfilment hooks (:mod:`sim.inventory.fulfilment`)
belong to the model and are imported from their modules by :mod:`sim.core`.
"""

from sim.inventory.allocation import BACKORDER, LOST, OUTCOMES, SERVED, SWITCH, FulfilResult
from sim.inventory.engine import Inventory
from sim.inventory.exogenous import run_exogenous, simulate_exogenous
from sim.inventory.kpis import (
    backorders,
    days_of_supply,
    delivery_days,
    fill_rate,
    holding_cost,
    inventory_kpis,
    inventory_turnover,
    lost_sales,
    stockout_rate,
)
from sim.inventory.schema import InventorySpec
from sim.inventory.specs import (
    ClearanceSpec,
    CostSpec,
    DemandSpec,
    LeadTimeSpec,
    LocationSpec,
    PolicySpec,
    SkuDemandSpec,
    SkuSpec,
    StockoutSpec,
    TransferSpec,
)
from sim.inventory.theory import PoissonCosts, ss_cost, ss_fill_rate, zheng_federgruen

__all__ = [
    "BACKORDER",
    "LOST",
    "OUTCOMES",
    "SERVED",
    "SWITCH",
    "ClearanceSpec",
    "CostSpec",
    "DemandSpec",
    "FulfilResult",
    "Inventory",
    "InventorySpec",
    "LeadTimeSpec",
    "LocationSpec",
    "PoissonCosts",
    "PolicySpec",
    "SkuDemandSpec",
    "SkuSpec",
    "StockoutSpec",
    "TransferSpec",
    "backorders",
    "days_of_supply",
    "delivery_days",
    "fill_rate",
    "holding_cost",
    "inventory_kpis",
    "inventory_turnover",
    "lost_sales",
    "run_exogenous",
    "simulate_exogenous",
    "ss_cost",
    "ss_fill_rate",
    "stockout_rate",
    "zheng_federgruen",
]
