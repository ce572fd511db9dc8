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


def _empty(dtype) -> np.ndarray:
    a = np.zeros(0, dtype=dtype)
    a.flags.writeable = False  # shared by every day's record: nothing may write into it
    return a


# A fresh record every morning should not cost eight array allocations (≈ 4 µs of a small day):
# the fields start as these shared empty arrays until a phase sets them.
_INTS, _FLOATS, _BOOLS, _INT8S = (_empty(d) for d in (np.int64, np.float64, bool, np.int8))


def _ints() -> np.ndarray:
    return _INTS


@dataclass(slots=True)
class Today:
    """Arrays shared by the day's phases. Order fields are aligned with ``buyers``."""

    shoppers: np.ndarray = field(default_factory=_ints)  # in-market customers (choice)
    channel: np.ndarray = field(default_factory=_ints)  # the channel each shopper visits
    buyers: np.ndarray = field(default_factory=_ints)  # customers whose order counts (purchase)
    buy_channel: np.ndarray = field(default_factory=_ints)  # channel of each order
    units: np.ndarray = field(default_factory=_ints)  # units per order
    price: np.ndarray = field(default_factory=lambda: _FLOATS)  # unit price paid, CNY
    first: np.ndarray = field(default_factory=lambda: _BOOLS)  # first order?
    order_source: np.ndarray = field(default_factory=lambda: _INT8S)
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
    # per shopper, sim.core.phases.purchase.BUYER_DRAWS (rows × shoppers; purchase keeps the
    # buyers' columns), when choice hashed them with its own (small days, no stock)
    u_buyers: np.ndarray | None = None
    # exposure's private-touch slices, when exposure left the touch to choice's hashing pass
    touch: tuple | None = None
