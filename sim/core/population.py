"""The customers: a struct of numpy arrays, one slot per simulated customer.

A Python object per customer cannot reach a million customers over a year in seconds, so the
population keeps each attribute as one array. Every customer still has its own
state and its own random decisions; the phases in :mod:`sim.phases` update the arrays in bulk.
Memory is about 60 bytes per customer plus ``4 × friends`` for the social graph.
"""

from __future__ import annotations

import numpy as np

from sim.scenario import FAMILIES, SOURCES, Scenario

# Life-cycle stages
PROSPECT, INTERESTED, CUSTOMER, CHURNED = 0, 1, 2, 3
NO_CHANNEL = -1
PRIVATE_FAMILY = FAMILIES.index("private")
SOURCE_CODE = {name: i for i, name in enumerate(SOURCES)}


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
        self.source = np.full(n, SOURCE_CODE["organic"], dtype=np.int8)  # why interested
        self.next_need = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)
        self.n_orders = np.zeros(n, dtype=np.int32)
        self.spend = np.zeros(n, dtype=np.float32)
        self.first_day = np.full(n, -1, dtype=np.int32)
        self.last_channel = np.full(n, NO_CHANNEL, dtype=np.int8)
        self.channels_mask = np.zeros(n, dtype=np.uint32)
        self.satisfaction = np.full(n, 0.8, dtype=np.float32)
        self.friends = rng.integers(0, n, size=(n, m.friends), dtype=np.int32)
        self._seed_existing_customers(scenario, rng)

    def _seed_existing_customers(self, scenario: Scenario, rng: np.random.Generator) -> None:
        """The status quo: some customers bought before day 0 and will need the product again."""
        m = scenario.market
        existing = rng.random(self.n) < m.initial_customers
        self.stage[existing] = CUSTOMER
        self.n_orders[existing] = 1
        self.first_day[existing] = -1
        cycle = self.seg_cycle[self.segment[existing]]
        self.next_need[existing] = (rng.random(existing.sum()) * cycle).astype(np.int32)
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

    # ---- counts used by the phases and the record -------------------------------------------
    def adopter_share(self) -> float:
        """Share of the population that has bought at least once (Bass's F)."""
        return float(np.count_nonzero(self.stage >= CUSTOMER)) / self.n

    def pool_size(self) -> int:
        return int(np.count_nonzero(self.in_private))

    def nbytes(self) -> int:
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))
