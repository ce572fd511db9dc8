"""The ledger: everything the model records, and nothing it does not.

Four tables, all tidy:

``daily`` — one row per day × channel:
    day, date, channel, family, core, then the daily measures in real units (× ``scale``):
    visits (ad clicks + shopping sessions), sessions (in-market customers who came), orders,
    units, revenue (net of discounts, currency), cogs, commission, discount, spend_paid,
    spend_seeding, spend_private_ops, spend (sum of the three), service_cost, new_customers,
    repeat_orders, satisfied_orders, joined_private, referrals, orders_<source> and
    revenue_<source> for each order source (paid, organic, seeding, private, referral),
    orders_paid_ad and revenue_paid_ad (the paid-sourced ones by the last paid ad's channel);
    the levers' measures (:mod:`sim.levers.state`): promo_revenue, coupon_cost,
    coupons_issued, coupons_redeemed, subscription_orders, reminders, group_invites, and the
    unscaled per-channel levels price (shelf price today) and band_violation (0/1); with an
    ``inventory:`` section (sim.inventory.warehouse) also stockouts, lost_orders, switched_orders,
    backordered_orders (orders) and inventory_cost (currency, cash inventory costs).
``market`` — one row per day: day, date and the market-wide end-of-day stocks (real units):
    private_pool, interested, customers, churned, subscribers, tier_new, tier_potential,
    tier_high_value (not on the channel rows of ``daily``, where a sum would count them once
    per channel).
``orders`` — one row per simulated order (sim units; each stands for ``scale`` real ones):
    day, customer, channel, units, revenue, source, satisfied, first, tier (private tier
    index in sim.levers.tiers.TIER_IDS at the start of the day, −1 outside the pool).
``journeys`` — every event of the first ``journey_sample`` customers:
    day, customer, event, channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.scenario import SOURCES, Scenario

FLOW_MEASURES: tuple[str, ...] = (
    "visits",
    "sessions",
    "orders",
    "units",
    "revenue",
    "cogs",
    "commission",
    "discount",
    "new_customers",
    "repeat_orders",
    "satisfied_orders",
    "joined_private",
    "referrals",
    *(f"orders_{s}" for s in SOURCES),
    *(f"revenue_{s}" for s in SOURCES),
    # the plans' levers (sim.levers.follow_up)
    "promo_revenue",
    "coupon_cost",
    "coupons_issued",
    "coupons_redeemed",
    "subscription_orders",
    "reminders",
    "group_invites",
    "samples",
    # paid-sourced orders credited to the last paid ad's channel (sim.core.phases.purchase)
    "orders_paid_ad",
    "revenue_paid_ad",
)
SPEND_MEASURES: tuple[str, ...] = (
    "spend_paid",
    "spend_seeding",
    "spend_private_ops",
    "service_cost",
)
MARKET_MEASURES: tuple[str, ...] = (
    "private_pool",
    "interested",
    "customers",
    "churned",
    "subscribers",
    "tier_new",
    "tier_potential",
    "tier_high_value",
)
#: Per day × channel levels, not scaled: today's shelf price and the price-band flag.
LEVEL_MEASURES: tuple[str, ...] = ("price", "band_violation")
EVENTS: tuple[str, ...] = ("interested", "visit", "order", "joined_private", "referred", "churned")


@dataclass
class Ledger:
    """What one simulation run recorded. KPIs (:mod:`sim.kpis`) are pure functions of it."""

    daily: pd.DataFrame
    orders: pd.DataFrame
    journeys: pd.DataFrame
    scale: float
    days: int
    channels: pd.DataFrame  # id, family, core, sells
    extra: dict = field(default_factory=dict)  # e.g. inventory records
    #: Market-wide end-of-day measures, one row per day (day, date, MARKET_MEASURES): their own
    #: table, as a sum over the channel rows of ``daily`` would count them once per channel.
    market: pd.DataFrame = field(default_factory=pd.DataFrame)


class LedgerRecorder:
    """Preallocated arrays the phases write into during the run."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.days = scenario.horizon.days
        n_ch = len(scenario.channels)
        self.flow: dict[str, np.ndarray] = {}
        self._flows = np.zeros((0, self.days, n_ch))  # measure × day × channel; flow[m] views it
        self._row: dict[str, int] = {}
        self._rows_of: dict[tuple[str, ...], np.ndarray] = {}
        self._bins_of: dict[tuple[str, ...], np.ndarray] = {}  # (bins_of)
        self._same_rows: dict[tuple[str, ...], np.ndarray | slice] = {}  # (add_same)
        self._add_flows(FLOW_MEASURES)
        # SPEND_MEASURES × day × channel, ``spend[m]`` views of it: exposure writes a day's
        # four rows in one call (set_spend); costs registered later are arrays of their own
        self._spend = np.zeros((len(SPEND_MEASURES), self.days, n_ch))
        self.spend = {m: self._spend[i] for i, m in enumerate(SPEND_MEASURES)}
        self.market = {m: np.zeros(self.days) for m in MARKET_MEASURES}
        self.level = {m: np.zeros((self.days, n_ch)) for m in LEVEL_MEASURES}
        self._orders: list[dict[str, np.ndarray]] = []
        # (day, event code, customers, channels): the day and event columns are spread over
        # the rows in finish(), not built per call (two calls fewer on most days)
        self._journeys: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self.journey_sample = scenario.market.journey_sample

    def register(self, *, flows: tuple[str, ...] = (), costs: tuple[str, ...] = ()) -> None:
        """Add measures an optional part of the model records (e.g. the warehouse's stockouts):
        ``flows`` are scaled counts like ``orders``, ``costs`` unscaled currency like spend."""
        n_ch = len(self.scenario.channels)
        self._add_flows(flows)
        self.spend.update({m: np.zeros((self.days, n_ch)) for m in costs})

    def _add_flows(self, names) -> None:
        """Grow the measure × day × channel block; ``flow[m]`` stay views of it, so one
        fancy-indexed ``+=`` writes many measures at once (:meth:`add_many`)."""
        new = [m for m in names if m not in self._row]
        if not new:
            return
        old = self._flows
        self._flows = np.zeros((len(old) + len(new), *old.shape[1:]))
        self._flows[: len(old)] = old
        self._row.update({m: len(old) + i for i, m in enumerate(new)})
        self.flow = {m: self._flows[i] for m, i in self._row.items()}

    # ---- writing --------------------------------------------------------------------------
    def add(self, measure: str, day: int, channel: np.ndarray, weights: np.ndarray | None = None):
        """Add per-customer contributions to ``measure`` grouped by channel index."""
        if len(channel) == 0:
            return
        n_ch = self._flows.shape[2]
        self.flow[measure][day] += np.bincount(channel, weights=weights, minlength=n_ch)

    def add_many(
        self, day: int, channel: np.ndarray, measures: tuple[str, ...], weights: np.ndarray
    ) -> None:
        """Add ``weights[j]`` (a measures × orders array) to ``measures[j]`` by channel, with
        one ``bincount`` and one write for all of them (a day's ~20 separate ``add`` calls cost
        more than the counting at small populations)."""
        if len(channel) == 0:
            return
        n_ch = self._flows.shape[2]
        rows = [self._row[m] for m in measures]
        keys = np.arange(len(rows))[:, None] * n_ch + channel[None, :]
        sums = np.bincount(keys.ravel(), weights=weights.ravel(), minlength=len(rows) * n_ch)
        self._flows[rows, day] += sums.reshape(len(rows), n_ch)

    def add_by(
        self,
        day: int,
        channel: np.ndarray,
        group: np.ndarray,
        measures: tuple[str, ...],
        weights=None,
    ) -> None:
        """Add to ``measures[group[i]]`` (e.g. ``orders_<source>`` by each order's source code)
        with one ``bincount``."""
        if len(channel) == 0:
            return
        n_ch = self._flows.shape[2]
        rows = [self._row[m] for m in measures]
        sums = np.bincount(group * n_ch + channel, weights=weights, minlength=len(rows) * n_ch)
        self._flows[rows, day] += sums.reshape(len(rows), n_ch)

    def rows_of(self, measures: tuple[str, ...]) -> np.ndarray:
        """Row numbers of ``measures`` in the measure × day × channel block (look them up
        once per run, not once per day)."""
        rows = self._rows_of.get(measures)
        if rows is None:
            rows = self._rows_of[measures] = np.array([self._row[m] for m in measures], np.intp)
        return rows

    def bins_of(self, measures: tuple[str, ...]) -> np.ndarray:
        """The first bin of each of ``measures`` in the measure × channel block of a day
        (``row × channels``: add a channel to get its bin), for writes into
        :meth:`day_block` (looked up once per run, not once per day)."""
        bins = self._bins_of.get(measures)
        if bins is None:
            bins = self._bins_of[measures] = self.rows_of(measures) * self._flows.shape[2]
        return bins

    def day_block(self, day: int) -> np.ndarray:
        """The day's measure × channel block of the flow measures (a view: writes land in the
        ledger), for a phase that records several measures at once
        (:func:`sim.core.kernels.record_orders`)."""
        return self._flows[:, day]

    def add_same(self, day: int, measures: tuple[str, ...], values: np.ndarray) -> None:
        """Add the same per-channel ``values`` to each of ``measures`` in one write (choice's
        sessions, which are also visits); measures on consecutive rows are a basic slice."""
        rows = self._same_rows.get(measures)
        if rows is None:
            rows = self.rows_of(measures)
            if np.array_equal(np.sort(rows), np.arange(rows.min(), rows.max() + 1)):
                rows = slice(int(rows.min()), int(rows.max()) + 1)  # (the same rows, any order)
            self._same_rows[measures] = rows
        self._flows[rows, day] += values

    def set_spend(self, day: int, rows: np.ndarray) -> None:
        """Set day ``day`` of every one of SPEND_MEASURES: ``rows`` is measures × channels."""
        self._spend[:, day] = rows

    def add_orders(self, day: int, **columns: np.ndarray) -> None:
        if len(columns["customer"]):
            self._orders.append(
                {"day": np.full(len(columns["customer"]), day, np.int32), **columns}
            )

    def tag_orders(self, day: int, column: str, values: np.ndarray) -> None:
        """Set ``column`` on the orders added today (same order as :meth:`add_orders`)."""
        last = self._orders[-1] if self._orders else None
        if last is not None and last["day"][0] == day and len(last["day"]) == len(values):
            last[column] = values

    def journey(
        self,
        day: int,
        customers: np.ndarray,
        event: str,
        channel: np.ndarray | int = -1,
        *,
        ordered: bool = False,
    ):
        """Keep events of the first ``journey_sample`` customers only (cheap to filter).

        ``ordered``: ``customers`` ascend, so the sampled ones are a prefix, found by one
        search (most days at a small population nobody in the sample acts: one call, not two).
        """
        if ordered:  # (nobody sampled if the first, smallest, is not: no search then)
            if len(customers) == 0 or customers[0] >= self.journey_sample:
                return
            k = int(customers.searchsorted(self.journey_sample))
            keep: slice | np.ndarray = slice(k)
        else:
            keep = customers < self.journey_sample
            if not keep.any():
                return
        ids = customers[keep].copy()  # a slice would be a view of the caller's array
        if isinstance(channel, np.ndarray) and channel.shape == customers.shape:
            ch = channel[keep]
        else:
            ch = np.broadcast_to(np.asarray(channel), customers.shape)[keep]
        self._journeys.append((day, EVENTS.index(event), ids, ch.astype(np.int16)))

    # ---- reading --------------------------------------------------------------------------
    def finish(self) -> Ledger:
        sc = self.scenario
        scale = sc.market.scale
        n_ch = len(sc.channels)
        start = np.datetime64(sc.horizon.start)
        days = np.repeat(np.arange(self.days), n_ch)
        # All columns first, then one DataFrame: inserting ~45 columns one by one costs more
        # than the rest of a small run's ledger.
        columns = {
            "day": days,
            "date": (start + days.astype("timedelta64[D]")).astype("datetime64[ns]"),
            "channel": np.tile([c.id for c in sc.channels], self.days),
            "family": np.tile([c.family for c in sc.channels], self.days),
            "core": np.tile([c.core for c in sc.channels], self.days),
        }
        for m, arr in self.flow.items():
            columns[m] = arr.ravel() * scale
        for m, arr in self.spend.items():
            columns[m] = arr.ravel()
        columns["spend"] = columns["spend_paid"] + columns["spend_seeding"]
        columns["spend"] += columns["spend_private_ops"]
        for m, arr in self.level.items():
            columns[m] = arr.ravel()
        daily = pd.DataFrame(columns)
        market = pd.DataFrame(
            {
                "day": np.arange(self.days),
                "date": (start + np.arange(self.days).astype("timedelta64[D]")).astype(
                    "datetime64[ns]"
                ),
                **{m: arr * scale for m, arr in self.market.items()},
            }
        )
        order_cols = [
            "day",
            "customer",
            "channel",
            "units",
            "revenue",
            "source",
            "satisfied",
            "first",
            "tier",
        ]
        if self._orders:
            orders = pd.DataFrame(
                {c: np.concatenate([o[c] for o in self._orders]) for c in order_cols}
            )
        else:
            orders = pd.DataFrame({c: np.array([], dtype=np.int32) for c in order_cols})
        if self._journeys:
            days, events, ids, chans = zip(*self._journeys, strict=True)
            rows = [len(i) for i in ids]
            cols = [np.repeat(days, rows), np.concatenate(ids), np.repeat(events, rows)]
            cols.append(np.concatenate(chans))
            journeys = pd.DataFrame(
                {
                    "day": cols[0],
                    "customer": cols[1],
                    "event": np.asarray(EVENTS)[cols[2]],
                    "channel": [sc.channels[i].id if i >= 0 else "" for i in cols[3]],
                }
            )
        else:
            journeys = pd.DataFrame(columns=["day", "customer", "event", "channel"])
        channels = pd.DataFrame(
            {
                "id": [c.id for c in sc.channels],
                "family": [c.family for c in sc.channels],
                "core": [c.core for c in sc.channels],
                "sells": [c.sells for c in sc.channels],
            }
        )
        return Ledger(
            daily=daily,
            orders=orders,
            journeys=journeys,
            scale=scale,
            days=self.days,
            channels=channels,
            market=market,
        )


def family_flows(ledger: Ledger) -> pd.DataFrame:
    """Moves between channel families: ``origin, destination, count`` (real units).

    Each order is a move from where its customer last bought (the family of their previous
    order in the horizon; ``new via social`` / ``new (other)`` for a first-ever order, by its
    source; ``earlier customer`` for a customer who bought before day 0) to the family it was
    placed in. Joins to the private pool add moves from the buying family to ``private pool``.
    """
    fam = ledger.channels["family"].to_numpy().astype(object)
    o = ledger.orders.sort_values(["customer", "day"], kind="stable")
    dest = fam[o["channel"].to_numpy()]
    prev = np.roll(dest, 1)
    same = np.roll(o["customer"].to_numpy(), 1) == o["customer"].to_numpy()
    if len(o):
        same[0] = False
    seeded = o["source"].to_numpy() == SOURCES.index("seeding")
    first = o["first"].to_numpy()
    origin = np.where(
        same,
        prev,
        np.where(first, np.where(seeded, "new via social", "new (other)"), "earlier customer"),
    )
    moves = pd.DataFrame(
        {"origin": origin.astype(str), "destination": dest.astype(str), "count": ledger.scale}
    )
    joins = ledger.daily.groupby("family", as_index=False)["joined_private"].sum()
    joins = pd.DataFrame(
        {
            "origin": joins["family"].astype(str),
            "destination": "private pool",
            "count": joins["joined_private"].to_numpy(dtype=float),
        }
    )
    out = pd.concat([moves, joins], ignore_index=True)
    return out.groupby(["origin", "destination"], as_index=False)["count"].sum()


def cohort_repurchase(ledger: Ledger, *, within: int = 60) -> pd.DataFrame:
    """Per month of first-ever order: new customers and the share who bought again ``within``
    days (only customers whose first order is at least ``within`` days before the end count)."""
    o = ledger.orders
    # dtype=bool: a run without orders has an empty int column, which would select columns
    first = o[o["first"].to_numpy(dtype=bool)].drop_duplicates("customer")
    start = pd.Timestamp(ledger.daily["date"].iloc[0]) if len(ledger.daily) else pd.Timestamp(0)
    nxt = o.merge(first[["customer", "day"]], on="customer", suffixes=("", "_first"))
    nxt = nxt[(nxt["day"] > nxt["day_first"]) & (nxt["day"] <= nxt["day_first"] + within)]
    again = set(nxt["customer"].to_numpy().tolist())
    cohort = (start + pd.to_timedelta(first["day"].to_numpy(), unit="D")).strftime("%Y-%m")
    frame = pd.DataFrame(
        {
            "cohort": np.asarray(cohort, dtype=str),
            "observable": (first["day"].to_numpy() + within < ledger.days),
            "again": first["customer"].isin(again).to_numpy(),
        }
    )
    frame["again"] &= frame["observable"]
    out = frame.groupby("cohort", as_index=False).agg(
        new_customers=("again", "size"),
        observable=("observable", "sum"),
        repurchased=("again", "sum"),
    )
    out[["new_customers", "observable", "repurchased"]] *= ledger.scale
    out["within_days"] = within
    return out


def horizon_dates(start: dt.date, days: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=days, freq="D")
