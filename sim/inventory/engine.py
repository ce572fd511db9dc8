"""The inventory engine: stock of every SKU at every location, day by day.

:class:`Inventory` puts together the parts, each in its own module, around one shared
:class:`~sim.inventory.stock.Stock`: replenishment (:mod:`sim.inventory.replenishment`),
allocation of orders (:mod:`sim.inventory.allocation`), rebalancing transfers
(:mod:`sim.inventory.transfers`), clearance (:mod:`sim.inventory.clearance`), forecasts
(:mod:`sim.inventory.forecast`) and the daily records with their costs
(:mod:`sim.inventory.records`). The state is arrays over SKUs x locations (no Python object per
order).

Timing convention (the standard periodic-review textbook one, identical to the exact formulas in
:mod:`sim.inventory.theory`, so simulated long-run costs can be compared with published results).
Each day ``d``:

1. ``begin_day(d)``: replenishment orders and transfers due on ``d`` arrive; arrivals fill the
   location's backorders first. Then the review: every (SKU, location) whose review period falls
   on ``d`` looks at its inventory position ``IP = on_hand - backorders + on_order`` and orders
   (an order placed on ``d`` with lead time ``L`` arrives at the start of ``d + L``; ``L = 0``
   arrives at once, before demand). Stock reservations for core channels are set.
2. ``fulfil(...)`` (customer mode, any number of calls) or the exogenous demand: served from
   on-hand stock; what cannot be served is lost, switched or backordered.
3. ``end_day(d)``: rebalancing transfers are shipped, then costs are charged on the end-of-day
   state: holding per unit on hand (x volume), backorder penalty per unit backordered, lost margin
   per lost unit; ordering / purchase / transfer costs were charged when the order was placed.

Continuous review is daily review (``review_period: 1``): within a day the engine cannot react
faster than the next morning, which is the discrete-time version of continuous review.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.inventory.allocation import Allocator, FulfilResult
from sim.inventory.clearance import Clearance
from sim.inventory.draws import draw_demand, draw_lead_times, streams
from sim.inventory.forecast import DemandHistory
from sim.inventory.records import DayRecords, F
from sim.inventory.replenishment import _FC, Policies, Replenisher
from sim.inventory.schema import InventorySpec
from sim.inventory.stock import Stock
from sim.inventory.transfers import Rebalancer

__all__ = ["Inventory"]


class Inventory:
    """Stock of every SKU at every location, replenished by policies, day by day.

    ``Inventory(spec, channel_ids, days, rng)``; then per day ``begin_day(d)``, any number of
    ``fulfil(...)`` calls, ``end_day(d)``. Randomness comes only from ``rng`` (two child streams:
    lead times and exogenous demand), drawn as one fixed-size block per day, whatever the policy
    does, so a plan and its baseline run with the same seed see the same luck.

    ``record=False`` keeps only running totals (long verification runs); ``warmup`` excludes
    the first days from :meth:`totals` / :meth:`costs`. ``crn_columns`` (advanced, used by the
    optimiser) makes SKU ``k`` draw its lead times and demand from column ``crn_columns[k]``,
    so copies of one SKU under different policies see exactly the same luck.
    """

    def __init__(
        self,
        spec: InventorySpec,
        channel_ids: Sequence[str],
        days: int,
        rng: np.random.Generator,
        *,
        record: bool = True,
        warmup: int = 0,
        crn_columns: np.ndarray | None = None,
    ) -> None:
        if days < 1:
            raise ValueError(f"days: must be >= 1, got {days}")
        if problems := spec.check_channels(list(channel_ids)):
            raise ValueError("inventory: " + "; ".join(problems))
        self.spec, self.days, self.warmup, self.record = spec, days, warmup, record
        self.sku_ids = [s.id for s in spec.skus]
        self.location_ids = [loc.id for loc in spec.locations]
        self.channel_ids = list(channel_ids)
        self.n_skus, self.n_locations = len(self.sku_ids), len(self.location_ids)
        self.n_channels = len(self.channel_ids)
        cols = np.arange(self.n_skus) if crn_columns is None else np.asarray(crn_columns)
        if cols.shape != (self.n_skus,):
            raise ValueError("crn_columns: need one column per SKU")
        self._crn = cols
        self._lt_rng, self._dem_rng = streams(rng)
        self.prices = np.array([s.price for s in spec.skus])
        self.unit_costs = np.array([s.unit_cost for s in spec.skus])
        self._setup_exogenous()
        self._build()
        self._next_day, self._open = 0, False

    def _setup_exogenous(self) -> None:
        """Where exogenous demand hits (``demand.location``, else the first central location)
        and each SKU's distribution; None in customer mode."""
        dem = self.spec.demand
        self.exogenous = dem.mode == "exogenous"
        central = [i for i, loc in enumerate(self.spec.locations) if loc.kind == "central"]
        self._exo_loc = (
            self.location_ids.index(dem.location) if dem.location else (central or [0])[0]
        )
        self._exo = [dem.resolve(s.id) for s in self.spec.skus] if self.exogenous else None

    def _build(self) -> None:
        """The parts, sharing one stock, one record row and one demand history."""
        spec, days = self.spec, self.days
        exo_means = [d.mean for d in self._exo] if self._exo is not None else None
        self._policies = Policies(
            spec, self.location_ids, self.unit_costs, exo_means, self._exo_loc
        )
        lead = draw_lead_times(self._policies.rules, self._lt_rng, self._crn, days)
        # The pipeline must hold the latest arrival: an order on the last day with the longest
        # lead time (or transfer).
        tr_lt = max((t.lead_time for t in spec.transfers), default=0)
        horizon = days + max(int(lead.max()), tr_lt) + 2
        self._stock = Stock(self._policies.initial_stock(spec), horizon)
        self._records = DayRecords(spec, self.location_ids, days, self.record, self.warmup)
        needs_hist = self._policies.has_forecast or spec.transfers or spec.clearance
        self._history = DemandHistory(self.n_skus, self.n_locations, days, bool(needs_hist))
        parts = (self._stock, self._records, self._history)
        self._replenisher = Replenisher(self._policies, lead, *parts)
        self._allocator = Allocator(spec, self.channel_ids, *parts, self._exo_loc)
        self._rebalancer = Rebalancer(spec.transfers, self.sku_ids, self.location_ids, *parts)
        self._clearance = Clearance(spec, self.channel_ids, days, self._history)
        self.assortment = self._allocator.assortment
        self._route = self._allocator.route  # read by sim.inventory.warehouse

    # ---- the day ----------------------------------------------------------------------------
    def begin_day(self, day: int) -> None:
        """Receive today's arrivals, review and order (textbook timing), set reservations."""
        if self._open or day != self._next_day:
            raise RuntimeError(
                f"begin_day({day}): expected begin_day({self._next_day})"
                + (" after end_day" if self._open else "")
            )
        self._open, self._day = True, day
        self._records.open(day)
        self._history.open()
        row = self._records.row
        if self._policies.internal_at.any():  # sub-stocks draw on their source's fresh arrivals
            self._stock.receive(day, row)
        self._replenisher.review(day)
        # Arrivals (zero lead time included) come before demand; IP is unchanged by them.
        self._stock.receive(day, row)
        if self._allocator.has_reservations:
            self._allocator.reserve()
        self._clearance.open(day, row)

    def end_day(self, day: int) -> None:
        """Ship rebalancing transfers, record the end-of-day state (costs on it: see
        :meth:`sim.inventory.records.DayRecords.derive`)."""
        if not self._open or day != self._day:
            raise RuntimeError(f"end_day({day}): day {day} was not begun")
        self._records.row[F["requested"]] = self._history.signal
        self._history.close(day)
        self._rebalancer.run(day)
        stock = self._stock
        if self.spec.clearance:
            self._clearance.update(day, stock.on_hand)
        self._records.close(day, stock.on_hand, stock.on_order, stock.back)
        self._next_day, self._open = day + 1, False

    def fulfil(
        self, channel: np.ndarray, sku: np.ndarray, units: np.ndarray, u: np.ndarray
    ) -> FulfilResult:
        """Serve orders in the given (already random) order, each in full from one location.

        An order goes to the first location serving its channel (channel sub-stock, then
        regional, then central) that can cover it: its free stock plus the channel's own
        reservation. It is never split across locations and stock never goes negative. An
        unserved order is lost / switched / backordered by ``u`` against the channel's stockout
        probabilities; a backordered order takes what its first location can give now and
        waits for the rest (its units count as not served at once).
        """
        if not self._open:
            raise RuntimeError("fulfil: call begin_day first")
        return self._allocator.fulfil(channel, sku, units, u)

    def fulfil_units(self, demand: np.ndarray) -> None:
        """Exogenous mode: today's demand per SKU at the demand location, served unit by unit;
        the shortfall is backordered (``demand.backorders``) or lost."""
        if not self._open:
            raise RuntimeError("fulfil_units: call begin_day first")
        self._allocator.fulfil_units(demand)

    def draw_exogenous_demand(self) -> np.ndarray:
        """Daily demand (days x SKUs) of the exogenous mode: one block of uniforms per day from
        the demand stream, turned into demand by each SKU's inverse CDF."""
        if not self.exogenous:
            raise ValueError("draw_exogenous_demand: inventory.demand.mode is not exogenous")
        return draw_demand(self._exo, self._dem_rng, self._crn, self.days)

    # ---- what the customer model reads ------------------------------------------------------
    def price_multiplier(self, day: int) -> np.ndarray:
        """(channels x SKUs) price multiplier from clearance (1 = no discount) for ``day``.

        Known from the end of the previous day, so it may be read before ``begin_day(day)``.
        """
        if day == self._next_day and not self._open:
            return self._clearance.next.copy()
        if not 0 <= day < self._next_day + self._open:
            raise ValueError(f"price_multiplier({day}): only days up to {self._next_day}")
        return self._clearance.history[day].copy()

    def active_bundles(self) -> list[tuple[int, int, float]]:
        """(slow SKU, hot SKU, discount) of bundle clearances active now."""
        return self._clearance.bundles()

    def demand_shares(self, segment: str | None = None) -> np.ndarray:
        """Share of customer demand per SKU (equal when the scenario gives none)."""
        skus = self.spec.skus
        if all(s.demand_share is None for s in skus):
            return np.full(self.n_skus, 1 / self.n_skus)
        return np.array(
            [s.share(segment if isinstance(s.demand_share, dict) else None) for s in skus]
        )

    @property
    def on_hand(self) -> np.ndarray:
        """(SKUs x locations) units on hand now (a copy)."""
        return self._stock.on_hand.copy()

    @property
    def backorders(self) -> np.ndarray:
        return self._stock.back.copy()

    @property
    def on_order(self) -> np.ndarray:
        return self._stock.on_order.copy()

    @property
    def reserved(self) -> np.ndarray:
        """(SKUs x locations x channels) units still reserved for each core channel today."""
        return self._allocator.reserved.copy()

    # ---- what review rules read and set (sim.rules) -----------------------------------------
    def recorded(self, fields: Sequence[str], lo: int, hi: int) -> np.ndarray:
        """(fields x SKUs) sums over locations of the daily records of days ``[lo, hi)``; only
        days already closed (a rule reads the past, never today)."""
        if not 0 <= lo <= hi <= self._next_day:
            raise ValueError(f"recorded: days [{lo}, {hi}) are not all closed ({self._next_day})")
        return self._records.window(fields, lo, hi)

    def safety_factor(self, sku: str) -> float:
        """The safety factor ``k`` of ``sku``'s forecast policies (the largest over locations)."""
        row = self.sku_ids.index(sku)
        fc = self._policies.kind[row] == _FC
        return float(self._policies.k[row, fc].max()) if fc.any() else float("nan")

    def set_safety_factor(self, sku: str, k: float) -> None:
        """Set ``k`` of ``sku``'s forecast policies at every location, from the next review on
        (the order-up-to level ``mu (L + R) + safety`` is recomputed at each review from ``k``).
        Only forecast policies have a safety factor; ``(s, S)`` and the others have none."""
        if sku not in self.sku_ids:
            raise ValueError(f"set_safety_factor: unknown SKU '{sku}' (known: {self.sku_ids})")
        if not k >= 0:
            raise ValueError(f"set_safety_factor: k must be >= 0, got {k}")
        row = self.sku_ids.index(sku)
        fc = self._policies.kind[row] == _FC
        if not fc.any():
            raise ValueError(f"set_safety_factor: SKU '{sku}' has no forecast policy")
        self._policies.k[row, fc] = k

    # ---- outputs ----------------------------------------------------------------------------
    def records(self) -> pd.DataFrame:
        """Tidy daily table: one row per (day, SKU, location) for the days simulated so far."""
        return self._records.frame(self._next_day)

    def totals(self) -> pd.DataFrame:
        """Sums of the daily fields per (SKU, location) over days >= warmup, plus ``days``."""
        return self._records.totals(self._next_day)

    def costs(self) -> dict[str, float]:
        """Total inventory costs over days >= warmup; ``total`` excludes purchases (COGS)."""
        return self._records.costs()
