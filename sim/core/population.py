"""The customers: a struct of numpy arrays, one slot per simulated customer.

A Python object per customer cannot reach a million customers over a year in seconds, so the
population keeps each attribute as one array. Every customer still has its own
state and its own random decisions; the phases in :mod:`sim.phases` update the arrays in bulk.
Memory is about 61 bytes per customer plus ``4 × friends`` for the social graph, and 4 more
for each kind of spread a segment states (own rate, own hazard, own dropout; none by default).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from sim.scenario import FAMILIES, SOURCES, Scenario

# Life-cycle stages
PROSPECT, INTERESTED, CUSTOMER, CHURNED = 0, 1, 2, 3
# The stages as 0-d int8 arrays, to compare ``stage`` arrays with: a ufunc takes a 0-d array of
# the array's own type in ≈ 0.25 µs and a Python int in ≈ 0.65 µs (it converts the int on every
# call), and a day makes a dozen such comparisons; the result is the same.
STAGE = tuple(np.array(s, dtype=np.int8) for s in (PROSPECT, INTERESTED, CUSTOMER, CHURNED))
for _code in STAGE:
    _code.flags.writeable = False  # shared by every run
NO_CHANNEL = -1
_NOBODY = np.zeros(0, dtype=bool)  # (repeat_buyers without dropout)
PRIVATE_FAMILY = FAMILIES.index("private")
SOURCE_CODE = {name: i for i, name in enumerate(SOURCES)}


NEVER_DAYS = 1e8  # a customer whose rate is (almost) zero needs again after this many days


def _gamma_multipliers(segment, segs, field: str, rng) -> np.ndarray | None:
    """Per-customer Gamma(shape, 1/shape) multipliers (mean 1) for segments that set
    ``field``; 1 for the others; None (no array, no draw) when no segment sets it."""
    if all(getattr(s, field) is None for s in segs):
        return None
    out = np.ones(len(segment), dtype=np.float32)
    for j, s in enumerate(segs):
        shape = getattr(s, field)
        if shape is not None:
            idx = np.flatnonzero(segment == j)
            b = getattr(s, "rate_beta", None) if field == "rate_shape" else None
            if b is None:
                out[idx] = rng.gamma(shape, 1.0 / shape, size=len(idx))
            else:  # Beta(a, b) daily chances scaled to mean 1 (the purchase-day models')
                out[idx] = rng.beta(shape, b, size=len(idx)) * ((shape + b) / shape)
    return out


class CustomerPopulation:
    """Per-customer state. Segment parameters are broadcast through ``segment`` indices."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        m = scenario.market
        n = m.customers
        self.n = n
        seg_share = np.array([s.share for s in m.segments])
        self.segment = rng.choice(len(seg_share), size=n, p=seg_share).astype(np.int8)

        # Per-segment parameters, looked up by segment index.
        segs = m.segments
        self.seg_sensitivity = np.array([s.price_sensitivity for s in segs], dtype=np.float32)
        self.seg_units = np.array([s.basket_units for s in segs], dtype=np.float32)
        # a first order's own basket only when some segment states one (else None: no work)
        first = [
            s.basket_units if s.first_basket_units is None else s.first_basket_units for s in segs
        ]
        self.seg_first_units = (
            np.array(first, dtype=np.float32)
            if any(s.first_basket_units is not None for s in segs)
            else None
        )
        self.seg_cycle = np.array([s.purchase_cycle_days for s in segs], dtype=np.float32)
        self.seg_cycle_cv = np.array([s.cycle_cv for s in segs], dtype=np.float32)
        self.seg_content = np.array([s.content_response for s in segs], dtype=np.float32)
        self.seg_referral = np.array([s.referral_response for s in segs], dtype=np.float32)
        self.seg_affinity = np.array(
            [[s.affinity.get(f, 0.0) for f in FAMILIES] for s in segs], dtype=np.float32
        )

        res_median = np.array([s.reservation_price for s in segs])[self.segment]
        res_sigma = np.array([s.reservation_spread for s in segs])[self.segment]
        noise = rng.standard_normal(n)
        self.reservation = (m.guide_price * res_median * np.exp(res_sigma * noise)).astype(
            np.float32
        )

        self.stage = np.full(n, PROSPECT, dtype=np.int8)
        self.in_market = np.zeros(n, dtype=bool)
        self.in_private = np.zeros(n, dtype=bool)
        self.touched = np.zeros(n, dtype=bool)
        self.interest_paid = np.zeros(n, dtype=np.float32)  # adstock from paid ads
        self.interest_seed = np.zeros(n, dtype=np.float32)  # adstock from seeding content
        self.landing = np.full(n, NO_CHANNEL, dtype=np.int8)  # where today's ad/link lands
        self.landing_source = np.zeros(n, dtype=np.int8)
        # the channel of the last paid ad that reached each customer (an ad platform's
        # last-touch credit; kept across days, unlike ``landing``): revenue_paid_ad's channel
        self.landing_channel = np.full(n, NO_CHANNEL, dtype=np.int8)
        self.source = np.full(n, SOURCE_CODE["organic"], dtype=np.int8)  # why interested
        self.next_need = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)
        self.n_orders = np.zeros(n, dtype=np.int32)
        self.spend = np.zeros(n, dtype=np.float32)
        self.first_day = np.full(n, -1, dtype=np.int32)
        self.last_channel = np.full(n, NO_CHANNEL, dtype=np.int8)
        self.channels_mask = np.zeros(n, dtype=np.uint32)
        self.satisfaction = np.full(n, 0.8, dtype=np.float32)
        self.friends = rng.integers(0, n, size=(n, m.friends), dtype=np.int32)
        self._draw_spread(segs, rng)
        self._seed_existing_customers(scenario, rng)

    def _draw_spread(self, segs, rng: np.random.Generator) -> None:
        """Each customer's own purchase rate, churn hazard and dropout chance, drawn once from
        the init stream, and only for segments that state a spread (none: no array and no
        draw, so a homogeneous scenario runs exactly as before)."""
        self.seg_exponential = np.array([s.cycle_distribution == "exponential" for s in segs])
        self.any_exponential = bool(self.seg_exponential.any())  # (asked every day)
        self.rate_mult = _gamma_multipliers(self.segment, segs, "rate_shape", rng)
        self.churn_mult = _gamma_multipliers(self.segment, segs, "churn_shape", rng)
        self.dropout_p = None
        if any(s.dropout_a is not None for s in segs):
            self.dropout_p = np.zeros(self.n, dtype=np.float32)
            for j, s in enumerate(segs):
                if s.dropout_a is not None:
                    idx = np.flatnonzero(self.segment == j)
                    self.dropout_p[idx] = rng.beta(s.dropout_a, s.dropout_b, size=len(idx))
        self.max_churn_multiplier = 1.0 if self.churn_mult is None else float(self.churn_mult.max())
        # drawn last, so scenarios that state the other spreads keep their draws
        self.basket_mult = _gamma_multipliers(self.segment, segs, "basket_shape", rng)
        self.seg_basket_spread = np.array([s.basket_shape is not None for s in segs])

    def _seed_existing_customers(self, scenario: Scenario, rng: np.random.Generator) -> None:
        """The status quo: some customers bought before day 0 and will need the product again."""
        m = scenario.market
        existing = rng.random(self.n) < m.initial_customers
        self.stage[existing] = CUSTOMER
        self.n_orders[existing] = 1
        self.first_day[existing] = -1
        idx = np.flatnonzero(existing)
        self.next_need[existing] = self._first_need(idx, rng.random(len(idx)))
        self.in_private[existing] = rng.random(existing.sum()) < m.initial_private
        # Where they bought last follows their family affinity over selling channels.
        selling = [i for i, c in enumerate(scenario.channels) if c.sells]
        fam_idx = [FAMILIES.index(scenario.channels[i].family) for i in selling]
        util = self.seg_affinity[self.segment[existing]][:, fam_idx]
        prob = np.exp(util - util.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        pick = (prob.cumsum(axis=1) < rng.random((existing.sum(), 1))).sum(axis=1)
        pick = np.minimum(pick, len(selling) - 1)
        chosen = np.asarray(selling)[pick]
        self.last_channel[existing] = chosen
        self.channels_mask[existing] = (1 << chosen).astype(np.uint32)

    # ---- each customer's own cycle and hazard (segments with spread) -------------------------
    def _first_need(self, idx: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Days to the first need of customers ``idx`` who bought before day 0, from uniforms
        ``u``: the time left of a cycle they are somewhere inside. For exponential segments
        that is an exponential wait with their mean (Poisson needs have no memory): a uniform
        point of one mean cycle would bring every first need forward and made a calibrated
        CDNOW baseline buy 9 % more than its own model over 39 weeks (1 806 ± 15 against
        1 632 ± 14 orders in 40 runs; the model's own 1 653)."""
        cycle = self.cycle_of(idx)
        expo = self.seg_exponential[self.segment[idx]]
        if expo.any():
            cycle = np.where(expo, cycle * -np.log1p(-u), u * cycle)
            return np.minimum(cycle, NEVER_DAYS).astype(np.int32)
        return (u * cycle).astype(np.int32)

    def set_first_order(self, idx: np.ndarray, day: int, channel: np.ndarray, z) -> None:
        """Customers ``idx`` made their first order on ``day`` in ``channel`` outside the
        simulation (a replayed order history): the state the purchase phase leaves a first
        buyer in, their next need one own gap later (standard normal draws ``z``, as the
        purchase phase draws it). Their first order is not in the ledger."""
        seg = self.segment[idx]
        sigma = np.sqrt(np.log1p(self.seg_cycle_cv[seg] ** 2))
        self.stage[idx] = CUSTOMER
        self.n_orders[idx] = 1
        self.first_day[idx] = day
        self.last_channel[idx] = channel
        self.channels_mask[idx] |= np.uint32(1) << channel.astype(np.uint32)
        gap = self.need_gap(idx, seg, np.asarray(z), sigma)
        self.next_need[idx] = day + np.maximum(1, np.rint(gap)).astype(np.int32)

    def basket_mean(self, idx: np.ndarray, seg: np.ndarray, units=None) -> np.ndarray:
        """Mean units per order of customers ``idx`` whose segments state a basket spread:
        1 + (``units`` − 1) × their own multiplier, ``units`` the segment's ``basket_units``
        by default (call only when ``basket_mult`` is set; the other customers keep ``units``
        exactly)."""
        units = self.seg_units[seg] if units is None else units
        own = 1.0 + (units - 1.0) * self.basket_mult[idx]
        return np.where(self.seg_basket_spread[seg], own, units).astype(np.float32)

    def cycle_of(self, idx: np.ndarray) -> np.ndarray:
        """Mean days between needs of customers ``idx``: the segment's cycle ÷ their own rate."""
        cycle = self.seg_cycle[self.segment[idx]]
        if self.rate_mult is None:
            return cycle
        return np.minimum(cycle / np.maximum(self.rate_mult[idx], 1e-30), NEVER_DAYS)

    def need_gap(self, idx: np.ndarray, seg: np.ndarray, z: np.ndarray, sigma) -> np.ndarray:
        """Days to the next need of customers ``idx`` (segments ``seg``) from standard normal
        draws ``z``: lognormal around their cycle (spread ``sigma``), or exponential (the same
        draw through the normal CDF) for segments with ``cycle_distribution: exponential``."""
        if self.rate_mult is None and not self.any_exponential:
            return self.seg_cycle[seg] * np.exp(sigma * z - sigma**2 / 2)
        cycle = self.cycle_of(idx)
        expo = self.seg_exponential[seg]
        gap = np.where(expo, cycle * -log_ndtr(-z), cycle * np.exp(sigma * z - sigma**2 / 2))
        return np.minimum(gap, NEVER_DAYS)

    def next_need_after(self, idx: np.ndarray, day: int, gap, *, rounded: bool = True):
        """The day of the next need of customers ``idx``, who bought (``gap`` rounded to the
        nearest day) or gave up (``rounded=False``: whole days) today, ``gap`` days on.
        Clockwork segments count from today (the jar is opened when bought), at least a day on.
        Exponential segments count from the day the need they served arrived, to the nearest
        day, 0 allowed (a need that came meanwhile is due at once): Poisson needs come in
        calendar time whatever the shopping. Counting from today, at least a day on, made a
        buyer who needs every 10 days buy 5 % slower than the rate the calibration maps, every
        5 days 9 % (``benchmarks/repeat_rate_bias.py``)."""
        if not self.any_exponential:
            return day + np.maximum(1, np.rint(gap) if rounded else gap).astype(np.int32)
        expo = self.seg_exponential[self.segment[idx]]
        start = np.where(expo, np.minimum(self.next_need[idx], day), day)
        clock = np.maximum(1, np.rint(gap) if rounded else gap)
        return start + np.where(expo, np.rint(gap), clock).astype(np.int32)

    def retry_wait(self, idx: np.ndarray, draws) -> np.ndarray:
        """Days until customers ``idx``, who gave up shopping today, need again: one own cycle,
        or for exponential segments an exponential wait with that mean (then a need that lapses
        and comes back is still a Poisson need, and purchases stay Poisson: the BG/NBD and
        Pareto/NBD hold exactly). The extra draw is made only for exponential segments."""
        cycle = self.cycle_of(idx)
        if not self.any_exponential:
            return cycle
        expo = self.seg_exponential[self.segment[idx]]
        u = draws.u("churn.retry", idx[expo]).astype(np.float64)
        cycle = cycle.astype(np.float64)
        cycle[expo] = np.minimum(cycle[expo] * -np.log1p(-u), NEVER_DAYS)
        return cycle

    def repeat_buyers(self, today) -> np.ndarray:
        """When customers can drop out after a purchase, a mask over all customers of today's
        repeat buyers (churn checks their draw whatever it is); else an empty mask."""
        if self.dropout_p is None:
            return _NOBODY
        return self._repeat_buyers(today)

    def _repeat_buyers(self, today) -> np.ndarray:
        """A mask over all customers: who made a repeat purchase today."""
        mask = np.zeros(self.n, dtype=bool)
        mask[today.buyers[~today.first]] = True
        return mask

    def own_hazard(self, idx: np.ndarray, hazard: np.ndarray, market, today) -> np.ndarray:
        """Today's churn probability of customers ``idx``: the market's ``hazard`` (with the
        levers' multipliers) × their own churn multiplier, and, for today's repeat buyers,
        their dropout chance, scaled by the same lever multipliers (service, private pool)."""
        if self.churn_mult is not None:
            hazard = hazard * self.churn_mult[idx]
        if self.dropout_p is not None:
            levers = (1.0 + market.dissatisfied_churn * (1.0 - self.satisfaction[idx])) * np.where(
                self.in_private[idx], market.private_retention, 1.0
            )
            bought = self._repeat_buyers(today)[idx]
            p = np.where(bought, np.minimum(self.dropout_p[idx] * levers, 1.0), 0.0)
            hazard = 1.0 - (1.0 - hazard) * (1.0 - p)
        return hazard

    # ---- counts used by the phases and the record -------------------------------------------
    def adopter_share(self) -> float:
        """Share of the population that has bought at least once (Bass's F)."""
        return float(np.count_nonzero(self.stage >= STAGE[CUSTOMER])) / self.n

    def pool_size(self) -> int:
        return int(np.count_nonzero(self.in_private))

    def nbytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))
