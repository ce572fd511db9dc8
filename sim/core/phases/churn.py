"""Phase 6, churn and lapse: customers leave for good; shoppers who did not buy give up.

Churn hazard = base × (1 + dissatisfied_churn × (1 − satisfaction)) × (private_retention for
pool members). An in-market customer who did not buy today gives up with ``interest_lapse``:
a prospect goes back to unaware (their adstock remains), a customer skips this cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.kernels import churn_draws, leave
from sim.core.population import CHURNED, CUSTOMER, INTERESTED, PROSPECT, STAGE

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

CHURN_DRAWS = ("churn.churn", "churn.lapse")
_CUSTOMER = int(STAGE[CUSTOMER])
_CODES = (CHURNED, INTERESTED, PROSPECT, CUSTOMER)


def churn(model: ChannelMarket) -> None:
    pop, day, m = model.pop, model.day, model.scenario.market

    # No hazard exceeds the least satisfied customer's: only draws below it (plus a margin for
    # float32 rounding) can churn anyone, so exact hazards are computed for those few.
    least = float(np.minimum.reduce(pop.satisfaction))  # ndarray.min without its wrapper
    worst = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - least))
    worst *= pop.max_churn_multiplier  # 1.0 unless customers carry their own hazard
    # Both decisions' draws, the few customers close enough to churn and the shoppers who
    # lapse unless they churn, in one compiled pass (the same numbers as NumPy's calls); today's
    # repeat buyers are candidates too when customers can drop out after a purchase.
    keys = model.draws.day_keys(CHURN_DRAWS)
    below, lapse_p = np.float32(worst * 1.0001), np.float32(m.interest_lapse)
    also = pop.repeat_buyers(model.today)
    customers, u_churn, lapse = churn_draws(
        pop.stage, pop.in_market, _CUSTOMER, keys, below, lapse_p, also
    )
    hazard = m.churn * (1.0 + m.dissatisfied_churn * (1.0 - pop.satisfaction[customers]))
    hazard = np.where(pop.in_private[customers], hazard * m.private_retention, hazard)
    hazard = pop.own_hazard(customers, hazard, m, model.today)  # spread, dropout
    gone, repeaters = leave(customers, u_churn, hazard, lapse, _states(pop), _CODES)
    model.recorder.journey(day, gone, "churned", ordered=True)
    cycle = pop.retry_wait(repeaters, model.draws)  # own cycle; exponential if so stated
    pop.next_need[repeaters] = pop.next_need_after(repeaters, day, cycle, rounded=False)


def _states(pop) -> tuple:
    """What :func:`sim.core.kernels.leave` reads and sets."""
    return pop.stage, pop.in_private, pop.in_market
