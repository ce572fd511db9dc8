"""ChannelMarket: the Mesa model that simulates customers across channels, day by day.

>>> from sim.scenario import load_scenario
>>> from sim.core.model import ChannelMarket
>>> sc = load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 2000,
...                                                          "horizon.days": 30})
>>> ledger = ChannelMarket(sc, seed=1).run()
>>> int(ledger.daily["day"].max())
29

It keeps Mesa's model contract, so Mesa's own tools work on it: ``running`` turns False at the
end of the horizon, and :func:`mesa.batch_run` can vary any dotted scenario path:

>>> import mesa
>>> rows = mesa.batch_run(ChannelMarket, {"scenario": "scenarios/baseline.yaml", "seed": 1,
...     "market.customers": [1000, 2000], "horizon.days": 20}, display_progress=False)
>>> [(r["market.customers"], r["Step"]) for r in rows]
[(1000, 19), (2000, 19)]
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from sim.core.agents import ChannelAgent
from sim.core.collector import DailyCollector, daily_reporters  # (the latter for sim.studio)
from sim.core.day import Today
from sim.core.ledger import Ledger, LedgerRecorder
from sim.core.phases.choice import choice
from sim.core.phases.churn import churn
from sim.core.phases.exposure import ExposurePlan, exposure
from sim.core.phases.needs import needs
from sim.core.phases.post_purchase import post_purchase
from sim.core.phases.purchase import purchase
from sim.core.population import (
    CHURNED,
    CUSTOMER,
    INTERESTED,
    PRIVATE_FAMILY,
    STAGE,
    CustomerPopulation,
)
from sim.core.streams import Draws, phase_streams
from sim.inventory.warehouse import Warehouse
from sim.levers.follow_up import follow_up
from sim.levers.promote import promote
from sim.levers.state import Levers
from sim.rules import RuleEngine
from sim.scenario import FAMILIES, Scenario, apply_overrides, load_scenario
from sim.scenario.spend import daily_budget


class HorizonError(RuntimeError):
    """The model was stepped past the end of its horizon."""


class ChannelMarket(mesa.Model):
    """Customers moving between public, private and social channels under a plan's levers."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        seed: int | None = None,
        replication: int = 0,
        **overrides: Any,
    ):
        """``scenario`` is a :class:`Scenario` or a path to a scenario file; ``overrides`` are
        dotted scenario paths (``**{"market.customers": 5000}``), as :func:`mesa.batch_run`
        passes its parameters."""
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, overrides=overrides)
        elif overrides:
            scenario = apply_overrides(scenario, overrides)
        seed = scenario.seed if seed is None else seed
        self.streams = phase_streams(seed, replication)
        super().__init__(rng=self.streams["mesa"])
        self.scenario = scenario
        self.scale = scenario.market.scale  # real customers per agent (a property: computed)
        self.day = 0
        self.today = Today()
        # days × channels × levers: flighting, spend files; the agents read views of it and
        # review rules (sim.rules) write it from the day they decide on
        self.budget = budget = daily_budget(scenario)
        for i, spec in enumerate(scenario.channels):
            ChannelAgent(self, spec, i, budget[:, i, :])
        self.channel_agents: list[ChannelAgent] = sorted(
            self.agents_by_type[ChannelAgent], key=lambda a: a.index
        )
        self.channel_index = {a.spec.id: a.index for a in self.channel_agents}
        self._channel_arrays()
        self.rules = RuleEngine(self) if scenario.rules else None  # pilots write their budget
        self.exposure_plan = ExposurePlan(self)  # spend and reach slices per budget row
        self.pop = CustomerPopulation(scenario, self.streams["init"])
        # every decision's uniforms: u = f(seed, replication, decision, day, customer)
        self.draws = Draws(seed, replication, self.pop.n)
        self.recorder = LedgerRecorder(scenario)
        self.levers = Levers(self)  # promotions, coupons, subscription, tiers, levels
        inv = scenario.inventory  # customers feel the stock only when the scenario has some
        self.warehouse = None if inv is None else Warehouse(self, inv)
        self.datacollector = DailyCollector(model_reporters=daily_reporters())

    @classmethod
    def from_file(
        cls, path: str | Path, *, seed: int | None = None, replication: int = 0, **overrides: Any
    ) -> ChannelMarket:
        """The model of the scenario file at ``path``, with dotted-path ``overrides``."""
        return cls(path, seed=seed, replication=replication, **overrides)

    def _channel_arrays(self) -> None:
        """Per-channel constants the vectorised phases index by channel number."""
        agents, m = self.channel_agents, self.scenario.market
        svc = m.service
        self.selling = np.array([a.index for a in agents if a.spec.sells], dtype=np.int64)
        self.family_index = np.array([a.family_index for a in agents])
        fams = range(len(FAMILIES))
        self.family_channels = [np.flatnonzero(self.family_index == f) for f in fams]
        self.private_selling = self.family_index[self.selling] == PRIVATE_FAMILY
        self.has_private_seller = bool(self.private_selling.any())
        self.choice_base: tuple[bytes, np.ndarray] | None = None  # sim.core.phases.choice
        self.choice_table: tuple | None = None  # sim.core.phases.choice
        self.segment_constants: tuple[np.ndarray, ...] | None = None  # phases.purchase
        self.commission = np.array([a.spec.commission for a in agents])
        self.service_score = np.array([a.service_score() for a in agents])
        self.list_price = np.array([a.unit_price(m.guide_price) for a in agents])
        self.conversion_today = np.array(
            [
                a.spec.base_conversion
                / (1.0 + a.spec.service.reply_minutes / svc.reply_tolerance_minutes)
                for a in agents
            ]
        )
        self.satisfaction_p = np.array(
            [
                svc.base_satisfaction
                * math.exp(
                    -(
                        svc.delivery_penalty * a.spec.service.delivery_days
                        + svc.resolution_penalty * a.spec.service.resolution_hours / 24.0
                        + svc.reply_penalty * a.spec.service.reply_minutes / 60.0
                    )
                )
                for a in agents
            ]
        )
        self.referral_p = np.array(
            [a.spec.response.referral_rate if a.family == "private" else 0.0 for a in agents]
        )
        self.refresh_joining()
        self.price_today = self.list_price.copy()

    def refresh_joining(self) -> None:
        """The private pool's daily joining chance, from today's ``budget``.

        Several private channels act on one pool: a buyer stays outside only if every one
        fails. Per day, as private-ops budgets may move (exposure sets ``join_p`` each
        morning); call again after replacing ``budget`` wholesale (a spend history)."""
        private = [a for a in self.channel_agents if a.family == "private"]
        self.join_p_by_day = np.array(
            [
                1.0 - math.prod(1.0 - a.join_probability(d) for a in private) if private else 0.0
                for d in range(self.scenario.horizon.days)
            ]
        )
        self.join_p = float(self.join_p_by_day[0])

    # ---- the day ---------------------------------------------------------------------------
    def step(self) -> None:
        """One day: (warehouse opens) → exposure → promotions → needs → choice → purchase
        (and fulfilment) → post-purchase → lever follow-up → churn → (warehouse closes) →
        record."""
        if not self.running:
            raise HorizonError(
                f"the horizon ({self.scenario.horizon.days} days) is over: day {self.day} "
                "is past its end; build a new model (or a longer horizon) to go on"
            )
        self.draws.set_day(self.day)
        self.today = Today()  # what the phases hand each other; nothing outlives the day
        # (today's shelf prices are set by promote, before any phase reads them)
        if self.rules is not None:
            self.rules.review(self)  # sees the ledger to yesterday; moves budgets from today
        if self.warehouse is not None:
            self.warehouse.begin_day(self.day)  # arrivals, reviews, replenishment orders
        exposure(self)
        promote(self)  # today's prices; deposits, pulls, reminders
        needs(self)
        choice(self)
        purchase(self)
        post_purchase(self)
        follow_up(self)  # coupons, subscriptions, groups, tiers
        churn(self)
        if self.warehouse is not None:
            self.warehouse.end_day(self.day)  # transfers; costs on the end-of-day stock
        self.record()
        self.day += 1
        self.running = self.day < self.scenario.horizon.days

    def record(self) -> None:
        stage, day, market = self.pop.stage, self.day, self.recorder.market
        market["private_pool"][day] = self.pop.pool_size()
        # count_nonzero, not bincount: bincount copies the int8 stages into an 8-byte array.
        market["interested"][day] = np.count_nonzero(stage == STAGE[INTERESTED])
        market["customers"][day] = np.count_nonzero(stage == STAGE[CUSTOMER])
        market["churned"][day] = np.count_nonzero(stage == STAGE[CHURNED])
        self.datacollector.collect(self)  # (notes the day: see sim.core.collector)

    def run(self) -> Ledger:
        """Simulate the (rest of the) horizon and return the ledger."""
        while self.running:
            self.step()
        records = None if self.warehouse is None else self.warehouse.charge_costs(self.recorder)
        ledger = self.recorder.finish()
        if records is not None:
            ledger.extra["inventory"] = records
        if self.rules is not None:
            ledger.extra["decisions"] = self.rules.log()
            if self.rules.ab.rows:  # A/B tests decided in this run (sim.rules.ab)
                ledger.extra["ab_tests"] = self.rules.ab.table()
        return ledger


def simulate(scenario: Scenario, *, seed: int | None = None, replication: int = 0) -> Ledger:
    """Run one replication of ``scenario`` and return its :class:`~sim.core.ledger.Ledger`."""
    return ChannelMarket(scenario, seed=seed, replication=replication).run()
