"""What the phases of one day hand to each other: a typed record, made fresh every morning.

Choice fills ``shoppers`` and ``channel``; purchase fills the order fields (``buyers``,
``buy_channel``, ``units``, ``price``, ``first``, ``order_source``); fulfilment, when the
scenario has stock, adds the per-order ``sat_p`` and ``unit_cost``; the levers mark per-order
``sample`` and ``reduced``; post-purchase names who referred whom. Nothing in it outlives the day,
so no phase can read yesterday's orders by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _ints() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(slots=True)
class Today:
    """Arrays shared by the day's phases. Order fields are aligned with ``buyers``."""

    shoppers: np.ndarray = field(default_factory=_ints)  # in-market customers (choice)
    channel: np.ndarray = field(default_factory=_ints)  # the channel each shopper visits
    buyers: np.ndarray = field(default_factory=_ints)  # customers whose order counts (purchase)
    buy_channel: np.ndarray = field(default_factory=_ints)  # channel of each order
    units: np.ndarray = field(default_factory=_ints)  # units per order
    price: np.ndarray = field(default_factory=lambda: np.zeros(0))  # unit price paid, CNY
    first: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # first order?
    order_source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    # With stock (sim.inventory.fulfilment): satisfaction probability and unit cost per order.
    sat_p: np.ndarray | None = None
    unit_cost: np.ndarray | None = None
    # Levers (sim.levers.state): the order was a trial sample / got a full-reduction cut.
    sample: np.ndarray | None = None
    reduced: np.ndarray | None = None
    # Post-purchase: satisfied private buyers who referred a friend, and the friends.
    referrers: np.ndarray | None = None
    referred: np.ndarray | None = None
    # Uniforms hashed ahead, in one pass with an earlier decision about the same customers
    # (sim.core.streams.Draws.rows; the same numbers): purchase.conversion per shopper (drawn
    # in choice) and the post-purchase rows per buyer (drawn in purchase, without stock).
    u_conversion: np.ndarray | None = None
    u_post: np.ndarray | None = None
