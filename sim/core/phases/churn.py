"""Phase 6, churn and lapse: customers leave for good; shoppers who did not buy give up.

Churn hazard = base × (1 + dissatisfied_churn × (1 − satisfaction)) × (private_retention for
pool members). An in-market customer who did not buy today gives up with ``interest_lapse``:
a prospect goes back to unaware (their adstock remains), a customer skips this cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.population import CHURNED, CUSTOMER, INTERESTED, PROSPECT, STAGE

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket


def churn(model: ChannelMarket) -> None:
    pop, day, m = model.pop, model.day, model.scenario.market

    # No hazard exceeds the least satisfied customer's: only draws below it (plus a margin for
    # float32 rounding) can churn anyone, so exact hazards are computed for those few.
    least = float(np.minimum.reduce(pop.satisfaction))  # ndarray.min without its wrapper
    worst = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - least))
    worst *= pop.max_churn_multiplier  # 1.0 unless customers carry their own hazard
    customers = (pop.stage == STAGE[CUSTOMER]).nonzero()[0]  # (np.flatnonzero without its wrapper)
    # Both decisions hashed in one pass (the same numbers as two calls): lapse for everyone in
    # the market now; those who churn below leave the market and are dropped from it.
    in_market = pop.in_market.nonzero()[0]
    u_churn, u_lapse = model.draws.many((("churn.churn", customers), ("churn.lapse", in_market)))
    close = pop.churn_candidates(u_churn < worst * 1.0001, customers, model.today)
    customers, u_churn = customers[close], u_churn[close]
    hazard = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - pop.satisfaction[customers]))
    hazard = np.where(pop.in_private[customers], hazard * m.private_retention, hazard)
    hazard = pop.own_hazard(customers, hazard, m, model.today)  # spread, dropout
    gone = customers[u_churn < hazard]
    pop.stage[gone] = CHURNED
    pop.in_private[gone] = False
    pop.in_market[gone] = False
    model.recorder.journey(day, gone, "churned", ordered=True)

    still = pop.in_market[in_market]  # only ``gone`` left the market since
    lapse = in_market[still & (u_lapse < m.interest_lapse)]
    stage = pop.stage[lapse]  # (those set back to prospects below were not customers)
    prospects = lapse[stage == STAGE[INTERESTED]]
    pop.stage[prospects] = PROSPECT
    pop.in_market[lapse] = False
    repeaters = lapse[stage == STAGE[CUSTOMER]]
    cycle = pop.retry_wait(repeaters, model.draws)  # own cycle; exponential if so stated
    pop.next_need[repeaters] = pop.next_need_after(repeaters, day, cycle, rounded=False)
