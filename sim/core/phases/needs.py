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

from sim.core.kernels import need_again
from sim.core.population import CUSTOMER, INTERESTED, PROSPECT, SOURCE_CODE, STAGE

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

_CUSTOMER = int(STAGE[CUSTOMER])


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
    up = u[prospects]
    hit = up < hazard
    new = prospects[hit]
    position = up[hit] / hazard[hit] * total[hit]  # uniform on [0, total): attribution
    paid, seed = pop.interest_paid[new], pop.interest_seed[new]  # (of the new ones only)
    source = np.where(
        position < paid,
        SOURCE_CODE["paid"],
        np.where(position < paid + seed, SOURCE_CODE["seeding"], SOURCE_CODE["organic"]),
    )
    pop.stage[new] = INTERESTED
    pop.in_market[new] = True
    pop.source[new] = source
    model.recorder.journey(day, new, "interested", ordered=True)

    need_again(pop.stage, pop.next_need, pop.in_market, _CUSTOMER, day)  # renewal clocks run out
