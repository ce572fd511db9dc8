"""The warehouse: a Mesa agent that owns the inventory engine inside the customer model.

:class:`Warehouse` wraps :class:`sim.inventory.engine.Inventory` for ``demand.mode: customers``: the
customers' orders are its demand (:mod:`sim.inventory.fulfilment`). Quantities in the scenario's
``inventory:`` section are *real* units: a simulated order of ``u`` units stands for ``scale``
real orders and asks the engine for ``round(u × scale)`` units, so stock levels, costs and the
inventory KPIs are in real units and currency, like the rest of the ledger.

    >>> from sim.scenario import load_scenario
    >>> from sim.core.model import ChannelMarket
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 2000,
    ...                                                          "horizon.days": 30})
    >>> m = ChannelMarket(sc, seed=1)
    >>> m.warehouse.inventory.sku_ids
    ['serum', 'essence', 'cream', 'mask_set']
    >>> ledger = m.run()
    >>> sorted(ledger.extra["inventory"].columns[:3])
    ['day', 'location', 'sku']
"""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd

from sim.inventory.engine import Inventory
from sim.inventory.schema import InventorySpec
from sim.scenario import ScenarioError

#: Daily per-channel counts (simulated orders, scaled to real ones in the ledger).
INVENTORY_FLOWS: tuple[str, ...] = (
    "stockouts",
    "lost_orders",
    "switched_orders",
    "backordered_orders",
)
#: Engine cost fields that are cash costs (profit subtracts them); lost margin is not one.
CASH_COSTS: tuple[str, ...] = ("holding_cost", "ordering_cost", "transfer_cost", "backorder_cost")


class Warehouse(mesa.Agent):
    """Stock of every SKU at every location, felt by the customers of ``model``.

    Randomness: the reserved ``inventory`` stream of :mod:`sim.core.streams`. A spawned child drives
    the engine (lead times, drawn for the whole horizon at once); the customers' SKU choice,
    stockout outcome and service order are counter-based uniforms of the model's ``draws``
    (:mod:`sim.inventory.fulfilment`), so a plan and its baseline keep common random numbers.
    """

    def __init__(self, model: mesa.Model, spec: InventorySpec) -> None:
        super().__init__(model)
        sc = model.scenario
        if spec.demand.mode != "customers":
            raise ScenarioError(
                [
                    "inventory.demand.mode: 'exogenous' demand replaces the "
                    "customers and runs with sim.inventory.run_exogenous (the "
                    "verification mode), not in the customer model; use "
                    "mode: customers here"
                ]
            )
        channel_ids = [c.id for c in sc.channels]
        if problems := spec.check_channels(channel_ids):
            raise ScenarioError([f"inventory.{p}" for p in problems])
        self.stream = model.streams["inventory"]
        self.inventory = Inventory(spec, channel_ids, sc.horizon.days, self.stream.spawn(1)[0])
        self.scale = sc.market.scale
        n, n_ch, days = model.pop.n, len(channel_ids), sc.horizon.days
        inv = self.inventory
        # SKU choice: cumulative shares per (channel, segment), restricted to the assortment.
        shares = np.array([inv.demand_shares(seg.id) for seg in sc.market.segments])
        listed = inv.assortment[:, None, :] * shares[None, :, :]  # channel × segment × SKU
        total = listed.sum(2, keepdims=True)
        self.cum_share = np.cumsum(listed / np.where(total > 0, total, 1.0), axis=2)
        #: (channel × segment) True where the channel lists no SKU the segment asks for:
        #: closed to those shoppers in the choice (an empty shelf is not a place to buy).
        self.closed = total[:, :, 0] <= 0
        self.sku_factor = inv.prices / sc.market.guide_price  # SKU price vs the guide price
        self.unit_costs = inv.unit_costs
        # A backorder waits about one replenishment lead time at the channel's first location.
        first = [inv._route[c, 0] for c in range(n_ch)]
        self.backorder_wait = np.array(
            [
                [_lead(spec, sku, spec.locations[first[c]].id) for sku in spec.skus]
                for c in range(n_ch)
            ]
        )
        self.delivery = np.array([loc.delivery_days for loc in spec.locations])
        self.first_delivery = self.delivery[first]
        self.channel_delivery = np.array([c.service.delivery_days for c in sc.channels])
        self.sku_of = np.zeros(n, dtype=np.int16)  # today's SKU per shopper
        self.sku_of_orders = np.zeros(0, dtype=np.int64)  # SKU of today's orders that count
        self.avoid_channel = np.full(n, -1, dtype=np.int8)  # channel a switcher avoids ...
        self.avoid_until = np.zeros(n, dtype=np.int32)  # ... until this day (exclusive)
        self.demand_units = np.zeros((days, n_ch))  # real units asked, to share the costs
        model.recorder.register(flows=INVENTORY_FLOWS, costs=("inventory_cost",))

    def begin_day(self, day: int) -> None:
        """Morning: arrivals, reviews and replenishment orders (the textbook timing)."""
        self.inventory.begin_day(day)

    def end_day(self, day: int) -> None:
        """Evening: rebalancing transfers and the end-of-day stock the costs are charged on."""
        self.inventory.end_day(day)

    def records(self) -> pd.DataFrame:
        return self.inventory.records()

    def charge_costs(self, recorder) -> pd.DataFrame:
        """Write the daily cash inventory cost into the ledger, shared among channels by the
        units they asked for that day (equally on a day without demand); return the records."""
        recs = self.records()
        cost = recs.groupby("day")[list(CASH_COSTS)].sum().sum(axis=1).to_numpy()
        asked = self.demand_units[: len(cost)]
        tot = asked.sum(1, keepdims=True)
        n_ch = asked.shape[1]
        share = np.where(tot > 0, asked / np.where(tot > 0, tot, 1.0), 1.0 / n_ch)
        recorder.spend["inventory_cost"][: len(cost)] += cost[:, None] * share
        return recs


def _lead(spec: InventorySpec, sku, location: str) -> float:
    pol = spec.policy_for(sku, location)
    return pol.lead.mean_days() if pol is not None and pol.type != "none" else 0.0
