"""Phase 6, churn and lapse: customers leave for good; shoppers who did not buy give up.

Churn hazard = base × (1 + dissatisfied_churn × (1 − satisfaction)) × (private_retention for
pool members). An in-market customer who did not buy today gives up with ``interest_lapse``:
a prospect goes back to unaware (their adstock remains), a customer skips this cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.population import CHURNED, CUSTOMER, INTERESTED, PROSPECT

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def churn(model: ChannelMarket, rng: np.random.Generator) -> None:
    pop, day, m = model.pop, model.day, model.scenario.market
    u_churn, u_lapse = model.uniforms(rng, 2)

    # No hazard exceeds the least satisfied customer's: only draws below it (plus a margin for
    # float32 rounding) can churn anyone, so exact hazards are computed for those few.
    worst = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - float(pop.satisfaction.min())))
    customers = np.flatnonzero((u_churn < worst * 1.0001) & (pop.stage == CUSTOMER))
    hazard = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - pop.satisfaction[customers]))
    hazard = np.where(pop.in_private[customers], hazard * m.private_retention, hazard)
    gone = customers[u_churn[customers] < hazard]
    pop.stage[gone] = CHURNED
    pop.in_private[gone] = False
    pop.in_market[gone] = False
    model.recorder.journey(day, gone, "churned")

    shopping = np.flatnonzero(pop.in_market)
    lapse = shopping[u_lapse[shopping] < m.interest_lapse]
    prospects = lapse[pop.stage[lapse] == INTERESTED]
    pop.stage[prospects] = PROSPECT
    pop.in_market[lapse] = False
    repeaters = lapse[pop.stage[lapse] == CUSTOMER]
    cycle = pop.seg_cycle[pop.segment[repeaters]]
    pop.next_need[repeaters] = day + np.maximum(1, cycle).astype(np.int32)
