"""Stock: the inventory schema, the engine (allocation, replenishment, costs), exact inventory
theory to check it against, the warehouse agent and how customers feel the stock (fulfilment).

The names below are the package's public API (the optimisers use these only). The warehouse
agent (:mod:`sim.inventory.warehouse`) and the fulfilment hooks (:mod:`sim.inventory.fulfilment`)
belong to the model and are imported from their modules by :mod:`sim.core`.
"""

from sim.inventory.engine import (
    Inventory,
    InventorySpec,
    LeadTimeSpec,
    PolicySpec,
    inventory_kpis,
    run_exogenous,
    simulate_exogenous,
)
from sim.inventory.theory import PoissonCosts, ss_cost, ss_fill_rate, zheng_federgruen

__all__ = [
    "Inventory",
    "InventorySpec",
    "LeadTimeSpec",
    "PolicySpec",
    "PoissonCosts",
    "inventory_kpis",
    "run_exogenous",
    "simulate_exogenous",
    "ss_cost",
    "ss_fill_rate",
    "zheng_federgruen",
]
