"""The customer rules of :mod:`sim.core`, written the idiomatic Mesa 3 way: one agent per customer.

This is the *baseline* the vectorised engine is measured against (``benchmarks/bench_engine.py``);
it never belongs in the product. Each customer is a :class:`Customer` (``mesa.Agent``) holding
Python scalars, and its :meth:`Customer.step` runs the same day as
:meth:`sim.core.model.ChannelMarket.step` does for everybody at once:

1. exposure — paid ads and seeding posts (one draw per lever; channels split [0, 1) into
   intervals of width = their reach, as in :mod:`sim.core.phases.exposure`), adstock decay, private
   touches for pool members;
2. needs — a prospect's hazard ``1 − exp(−(organic + q·F + paid adstock + seeding adstock))``
   (Bass), attributed by the position of the draw; a customer's renewal clock runs out;
3. choice — multinomial logit over the selling channels (affinity, loyalty, price, service,
   landing bonus, private-pool bonus; private channels closed to non-members not landed there);
4. purchase — conversion × ``exp(−sensitivity × max(price / reservation − 1, 0))``, geometric
   basket, lognormal renewal gap;
5. post-purchase — satisfaction, joining the private pool, referring a friend;
6. churn and lapse.

Channels are :class:`Channel` agents (a subclass of :class:`sim.core.agents.ChannelAgent`, so reach,
join probability and service score come from the very same code). Randomness comes from the
model's ``random.Random`` (``self.random``), one draw where the rule needs it — the natural way to
write an agent, not the engine's fixed-size blocks, so the two versions agree in distribution,
not draw for draw. Only the rules the baseline scenario uses are covered (no promotions, no
inventory).

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 500})
    >>> model = PerAgentMarket(sc, seed=1)
    >>> for _ in range(5):
    ...     model.step()
    >>> model.summary()["days"]
    5
"""

from __future__ import annotations

import math

import mesa

from sim.core.agents import ChannelAgent
from sim.scenario import FAMILIES, SOURCES, Scenario
from sim.scenario import Channel as ChannelSpec

PROSPECT, INTERESTED, CUSTOMER, CHURNED = 0, 1, 2, 3
NO_CHANNEL = -1
PAID, ORGANIC, SEEDING, PRIVATE, REFERRAL = (
    SOURCES.index(s) for s in ("paid", "organic", "seeding", "private", "referral")
)
TALLIES = (
    "visits",
    "sessions",
    "orders",
    "units",
    "revenue",
    "new_customers",
    "repeat_orders",
    "satisfied_orders",
    "joined_private",
    "referrals",
)


class Channel(ChannelAgent):
    """A channel agent that also keeps its own running tallies (in simulated units)."""

    def __init__(self, model: PerAgentMarket, spec: ChannelSpec, index: int):
        super().__init__(model, spec, index)
        m = model.scenario.market
        svc = m.service
        self.price = self.unit_price(m.guide_price)
        self.conversion = spec.base_conversion / (
            1.0 + spec.service.reply_minutes / svc.reply_tolerance_minutes
        )
        self.satisfaction_p = svc.base_satisfaction * math.exp(
            -(
                svc.delivery_penalty * spec.service.delivery_days
                + svc.resolution_penalty * spec.service.resolution_hours / 24.0
                + svc.reply_penalty * spec.service.reply_minutes / 60.0
            )
        )
        self.referral_p = spec.response.referral_rate if self.family == "private" else 0.0
        self.is_private = self.family == "private"
        self.tally = dict.fromkeys(TALLIES, 0.0)
        self.spend = 0.0

    def step(self) -> None:
        """Pay today's budgets and service."""
        self.spend += sum(self.daily_spend()) + self.spec.service.cost_per_day


class Segment:
    """Plain-attribute copy of a scenario segment (attribute access on pydantic is slower)."""

    def __init__(self, spec, selling: list[Channel], model: PerAgentMarket):
        m = model.scenario.market
        self.sensitivity = spec.price_sensitivity
        self.units = spec.basket_units
        self.cycle = spec.purchase_cycle_days
        self.sigma = math.sqrt(math.log1p(spec.cycle_cv**2))
        self.content = spec.content_response
        self.referral = spec.referral_response
        self.q_units = 1.0 - 1.0 / max(self.units, 1.0 + 1e-9)
        # The part of each channel's utility that depends on the segment only.
        self.base_util = [
            spec.affinity.get(ch.family, 0.0)
            - m.price_weight * spec.price_sensitivity * (ch.price / m.guide_price - 1.0)
            + m.service_weight * ch.service_score()
            for ch in selling
        ]


class Customer(mesa.Agent):
    """One simulated customer, its state in plain Python attributes."""

    def __init__(self, model: PerAgentMarket, segment: Segment, reservation: float):
        super().__init__(model)
        self.seg = segment
        self.reservation = reservation
        self.stage = PROSPECT
        self.in_market = False
        self.in_private = False
        self.touched = False
        self.interest_paid = 0.0
        self.interest_seed = 0.0
        self.landing = NO_CHANNEL
        self.landing_source = PAID
        self.source = ORGANIC
        self.next_need = 2**31 - 1
        self.n_orders = 0
        self.last_channel = NO_CHANNEL
        self.satisfaction = 0.8
        self.friends: list[Customer] = []

    # ---- the day ---------------------------------------------------------------------------
    def step(self) -> None:
        model = self.model
        rand = self.random.random
        self.expose(rand)
        self.need(rand)
        if self.in_market:
            channel = self.choose(rand())
            channel.tally["visits"] += 1
            channel.tally["sessions"] += 1
            if self.buy(channel, rand):
                self.after_purchase(channel, rand)
        self.churn_or_lapse(rand, model)

    def expose(self, rand) -> None:
        model = self.model
        self.interest_paid *= model.decay
        self.interest_seed *= model.decay
        self.landing = NO_CHANNEL
        self.touched = False
        if self.stage == CHURNED:
            return
        for slots, paid in ((model.paid_slots, True), (model.seeding_slots, False)):
            u = rand()
            for lo, hi, ch, impact, land, click in slots:
                if lo <= u < hi:
                    if paid:
                        self.interest_paid += impact * self.seg.content
                    else:
                        self.interest_seed += impact * self.seg.content
                    if land != NO_CHANNEL:
                        self.landing = land
                        self.landing_source = PAID if paid else SEEDING
                    if u - lo < click:
                        ch.tally["visits"] += 1
                    break
        if self.in_private:
            u = rand()
            for lo, hi, ch in model.touch_slots:
                if lo <= u < hi:
                    self.touched = True
                    self.landing = ch.index
                    self.landing_source = PRIVATE
                    break

    def need(self, rand) -> None:
        if self.stage == PROSPECT:
            paid, seed = self.interest_paid, self.interest_seed
            total = self.model.organic_today + paid + seed
            hazard = -math.expm1(-total)
            u = rand()
            if u < hazard:
                position = u / hazard * total
                self.source = (
                    PAID if position < paid else (SEEDING if position < paid + seed else ORGANIC)
                )
                self.stage = INTERESTED
                self.in_market = True
        elif self.stage == CUSTOMER and not self.in_market and self.next_need <= self.model.day:
            self.in_market = True

    def choose(self, u: float) -> Channel:
        """Multinomial logit over the channels open to this customer."""
        model, m = self.model, self.model.market
        options = []
        for k, ch in enumerate(model.selling):
            landed = self.landing == ch.index
            if ch.is_private and not (self.in_private or landed):
                continue  # private channels are closed to non-members not landed there
            util = self.seg.base_util[k]
            if self.last_channel == ch.index:
                util += m.loyalty
            if landed:
                util += m.landing_bonus
            if ch.is_private and self.in_private:
                util += m.private_bonus + (m.touch_bonus if self.touched else 0.0)
            options.append((util, ch))
        top = max(util for util, _ in options)
        weights = [math.exp(util - top) for util, _ in options]
        target, acc = u * sum(weights), 0.0
        for w, (_, ch) in zip(weights, options, strict=True):
            acc += w
            if target <= acc:
                return ch
        return options[-1][1]

    def buy(self, channel: Channel, rand) -> bool:
        model, seg = self.model, self.seg
        over = max(channel.price / self.reservation - 1.0, 0.0)
        if rand() >= channel.conversion * math.exp(-seg.sensitivity * over):
            return False
        units = max(1, math.ceil(math.log1p(-rand()) / math.log(seg.q_units)))
        revenue = units * channel.price
        first = self.n_orders == 0
        if first:
            model.adopters += 1
            channel.tally["new_customers"] += 1
            source = self.source
        else:
            channel.tally["repeat_orders"] += 1
            source = self.landing_source if self.landing == channel.index else ORGANIC
        channel.tally["orders"] += 1
        channel.tally["units"] += units
        channel.tally["revenue"] += revenue
        model.orders_by_source[source] += 1
        self.n_orders += 1
        self.stage = CUSTOMER
        self.last_channel = channel.index
        self.in_market = False
        gap = seg.cycle * self.random.lognormvariate(-(seg.sigma**2) / 2, seg.sigma)
        self.next_need = model.day + max(1, round(gap))
        return True

    def after_purchase(self, channel: Channel, rand) -> None:
        model = self.model
        satisfied = rand() < channel.satisfaction_p
        self.satisfaction = 0.7 * self.satisfaction + 0.3 * satisfied
        if satisfied:
            channel.tally["satisfied_orders"] += 1
        if not self.in_private and rand() < model.join_p:
            self.in_private = True
            model.pool += 1
            channel.tally["joined_private"] += 1
        p_ref = channel.referral_p * self.seg.referral
        if satisfied and p_ref > 0:
            u = rand()
            if u < p_ref:
                # The position of the draw inside the hit interval picks the friend.
                friend = self.friends[
                    min(int(u / p_ref * len(self.friends)), len(self.friends) - 1)
                ]
                if friend.stage == PROSPECT:
                    friend.stage = INTERESTED
                    friend.in_market = True
                    friend.source = REFERRAL
                    if not friend.in_private:
                        friend.in_private = True
                        model.pool += 1
                    channel.tally["referrals"] += 1

    def churn_or_lapse(self, rand, model: PerAgentMarket) -> None:
        m = model.market
        if self.stage == CUSTOMER:
            hazard = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - self.satisfaction))
            if self.in_private:
                hazard *= m.private_retention
            if rand() < hazard:
                self.stage = CHURNED
                self.in_market = False
                if self.in_private:
                    self.in_private = False
                    model.pool -= 1
                return
        if self.in_market and rand() < m.interest_lapse:
            self.in_market = False
            if self.stage == INTERESTED:
                self.stage = PROSPECT
            elif self.stage == CUSTOMER:
                self.next_need = model.day + max(1, int(self.seg.cycle))


class PerAgentMarket(mesa.Model):
    """The same market as :class:`sim.core.model.ChannelMarket`, one ``mesa.Agent`` per customer."""

    def __init__(self, scenario: Scenario, *, seed: int | None = None):
        super().__init__(seed=scenario.seed if seed is None else seed)
        self.scenario = scenario
        self.market = m = scenario.market
        self.day = 0
        self.decay = m.interest_decay
        self.channels = [Channel(self, spec, i) for i, spec in enumerate(scenario.channels)]
        self.selling = [ch for ch in self.channels if ch.spec.sells]
        by_id = {ch.spec.id: ch.index for ch in self.channels}
        self.paid_slots = self._slots(lambda ch: ch.paid_reach(), "paid", by_id)
        self.seeding_slots = self._slots(lambda ch: ch.seeding_reach(), "seeding", by_id)
        self.touch_slots = self._touch_slots()
        private = [ch for ch in self.channels if ch.is_private]
        self.join_p = (
            1.0 - math.prod(1.0 - ch.join_probability() for ch in private) if private else 0.0
        )
        self.orders_by_source = [0] * len(SOURCES)
        self.pool = 0
        self.adopters = 0
        self.organic_today = m.organic_interest
        self._populate()
        self.customers = self.agents_by_type[Customer]
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "private_pool": "pool",
                "orders": lambda mdl: sum(ch.tally["orders"] for ch in mdl.channels),
            }
        )

    def _slots(self, reach_of, lever: str, by_id: dict[str, int]) -> list[tuple]:
        """Consecutive [lo, hi) intervals of today's draw, one per channel with reach."""
        slots, lo = [], 0.0
        for ch in self.channels:
            r = min(reach_of(ch), 1.0 - lo)
            if r <= 0:
                continue
            resp = ch.spec.response
            if lever == "paid":
                impact, land = resp.paid_impact, ch.index
            else:
                impact, land = resp.seeding_impact, by_id.get(ch.spec.links_to, NO_CHANNEL)
            slots.append((lo, lo + r, ch, impact, land, r * resp.click_through))
            lo += r
        return slots

    def _touch_slots(self) -> list[tuple]:
        slots, lo = [], 0.0
        for ch in self.channels:
            r = min(ch.touch_share(), 1.0 - lo)
            if r <= 0 or not ch.is_private:
                continue
            slots.append((lo, lo + r, ch))
            lo += r
        return slots

    def _populate(self) -> None:
        """Customers with the population's initial state (see sim.core.population)."""
        m, rnd = self.market, self.random
        segments = [Segment(s, self.selling, self) for s in m.segments]
        weights = [s.share for s in m.segments]
        people = []
        for _ in range(m.customers):
            k = rnd.choices(range(len(segments)), weights)[0]
            spec = m.segments[k]
            reservation = (
                m.guide_price
                * spec.reservation_price
                * math.exp(spec.reservation_spread * rnd.gauss(0.0, 1.0))
            )
            c = Customer(self, segments[k], reservation)
            if rnd.random() < m.initial_customers:  # bought before day 0
                c.stage, c.n_orders = CUSTOMER, 1
                c.next_need = int(rnd.random() * segments[k].cycle)
                c.in_private = rnd.random() < m.initial_private
                self.pool += c.in_private
                self.adopters += 1
                affinity = [spec.affinity.get(ch.family, 0.0) for ch in self.selling]
                top = max(affinity)
                c.last_channel = rnd.choices(self.selling, [math.exp(a - top) for a in affinity])[
                    0
                ].index
            people.append(c)
        for c in people:
            c.friends = [people[rnd.randrange(len(people))] for _ in range(m.friends)]

    def step(self) -> None:
        """One day: channels pay, then every customer lives its day in random order."""
        m = self.market
        self.organic_today = m.organic_interest + m.word_of_mouth * self.adopters / m.customers
        self.agents_by_type[Channel].do("step")
        self.customers.shuffle_do("step")
        self.datacollector.collect(self)
        self.day += 1

    def summary(self) -> dict[str, float]:
        """Per-day averages in simulated units (comparable with the engine's ledger ÷ scale)."""
        days = max(self.day, 1)
        out: dict[str, float] = {"days": self.day}
        for name in TALLIES:
            out[f"{name}_per_day"] = sum(ch.tally[name] for ch in self.channels) / days
        for fam in FAMILIES:
            out[f"orders_per_day.{fam}"] = (
                sum(ch.tally["orders"] for ch in self.channels if ch.family == fam) / days
            )
        out["private_pool_end"] = float(self.pool)
        out["adopters_end"] = float(self.adopters)
        return out


def engine_summary(ledger, days: int) -> dict[str, float]:
    """The same per-day averages from a :class:`sim.core.ledger.Ledger` of the vectorised engine."""
    d, scale = ledger.daily, ledger.scale
    out: dict[str, float] = {"days": days}
    for name in TALLIES:
        out[f"{name}_per_day"] = float(d[name].sum()) / scale / days
    for fam in FAMILIES:
        orders = float(d.loc[d["family"] == fam, "orders"].sum())
        out[f"orders_per_day.{fam}"] = orders / scale / days
    last = ledger.market.iloc[-1]  # market-wide stocks: one row per day
    out["private_pool_end"] = float(last["private_pool"]) / scale
    out["adopters_end"] = float(last["customers"] + last["churned"]) / scale
    return out
