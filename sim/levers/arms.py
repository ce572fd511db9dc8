"""Arms of A/B tests: which customers are in which arm, the price each arm sees, and the orders
of arm customers the team reads.

The A/B rule (:mod:`sim.rules.ab`) decides; this book only holds its state where the price
hooks of :class:`sim.levers.state.Levers` can read it. A test's arms are a per-customer code
(0 = A, 1 = B, 2 = not enrolled) and a 3 × channels table of price multipliers the rule
rewrites when the test starts (customers not enrolled: 1, the plan's) and when it is decided
(all rows the same: everyone sees one setting). The multiplier acts on the price a customer
sees in choice and conversion and pays at checkout, so the arms' customers — and only they,
while the test runs — behave and pay differently.

    >>> import numpy as np
    >>> book = ArmBook(n_channels=2)
    >>> k = book.add(np.array([0, 1, 1, 2], dtype=np.int8))
    >>> book.set(k, a=np.array([2.0, 1.0]), b=np.array([0.5, 1.0]))
    >>> book.factor(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 0])).tolist()
    [2.0, 0.5, 1.0, 1.0]
"""

from __future__ import annotations

import numpy as np


class ArmBook:
    """Arm codes, price tables and the order log of every A/B test of one run."""

    def __init__(self, n_channels: int):
        self.n_channels = n_channels
        self.arms: list[np.ndarray] = []  # per test: int8 per customer, 0 = A, 1 = B, 2 = out
        self.tables: list[np.ndarray] = []  # per test: (3, channels) price multipliers
        self.recording = False  # the rule sets it while a test runs
        self._orders: list[tuple[int, np.ndarray, np.ndarray]] = []  # (day, customer, revenue)

    def add(self, arm: np.ndarray) -> int:
        """A new test with arm codes ``arm``; everyone sees the plan's prices until :meth:`set`."""
        self.arms.append(arm.astype(np.int8))
        self.tables.append(np.ones((3, self.n_channels)))
        return len(self.arms) - 1

    def set(self, k: int, *, a: np.ndarray, b: np.ndarray, rest: np.ndarray | None = None) -> None:
        """Price multipliers per channel for arm A, arm B and the customers not enrolled
        (``rest``; default 1, the plan's prices) of test ``k`` from now on."""
        rest = np.ones(self.n_channels) if rest is None else rest
        self.tables[k] = np.stack([a, b, rest]).astype(float)

    def factor(self, who: np.ndarray, channel: np.ndarray) -> np.ndarray | float:
        """The product of every test's multiplier for customers ``who`` at ``channel`` (1-D:
        one channel each; 2-D: customers × channels)."""
        f: np.ndarray | float = 1.0
        for arm, table in zip(self.arms, self.tables, strict=True):
            g = arm[who]
            f = f * table[g[:, None] if channel.ndim == 2 else g, channel]
        return f

    # ---- the team's order log --------------------------------------------------------------
    def record(self, day: int, buyers: np.ndarray, revenue: np.ndarray) -> None:
        """Keep today's orders (buyer, revenue in CNY) while a test runs."""
        if self.recording and len(buyers):
            self._orders.append((day, buyers.copy(), np.asarray(revenue, dtype=float).copy()))

    def orders(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Buyers and revenue of the orders logged on days ``[lo, hi)``."""
        parts = [(c, r) for d, c, r in self._orders if lo <= d < hi]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate([c for c, _ in parts]), np.concatenate([r for _, r in parts])
