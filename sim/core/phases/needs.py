"""Phase 2, needs: prospects become interested; customers need the product again.

A prospect's daily hazard of becoming interested is ``organic + q·F + paid adstock + seeding
adstock`` (F = share who have bought): with constant exposure this is the Bass model. Which
influence made them interested is read off the position of their uniform inside the hazard,
so orders carry their source without another draw. Customers need the product again when their
renewal clock (set at their last purchase, with spread) runs out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.kernels import interested, need_again
from sim.core.population import CUSTOMER, INTERESTED, PROSPECT, SOURCE_CODE, STAGE

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

_CUSTOMER = int(STAGE[CUSTOMER])
_CODES = (INTERESTED, *(SOURCE_CODE[s] for s in ("paid", "seeding", "organic")))


def _interest(pop) -> tuple:
    """What :func:`sim.core.kernels.interested` reads and sets."""
    return pop.interest_paid, pop.interest_seed, pop.stage, pop.in_market, pop.source


def needs(model: ChannelMarket) -> None:
    pop, day, m = model.pop, model.day, model.scenario.market
    u = model.draws.everyone("needs.interest")  # prospects are most of the market

    organic = m.organic_interest + m.word_of_mouth * pop.adopter_share()
    # 1 − e^(−x) ≤ x: only prospects drawing below their total rate can be hit, so the exact
    # hazard is computed for those few instead of the whole (mostly prospect) market.
    total_all = organic + pop.interest_paid + pop.interest_seed
    prospects = ((u < total_all) & (pop.stage == STAGE[PROSPECT])).nonzero()[0]
    total = total_all[prospects]
    hazard = -np.expm1(-total)
    new = interested(prospects, u, hazard, total, _interest(pop), _CODES)
    model.recorder.journey(day, new, "interested", ordered=True)

    need_again(pop.stage, pop.next_need, pop.in_market, _CUSTOMER, day)  # renewal clocks run out
