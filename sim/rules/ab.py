"""A/B tests inside the simulation: split customers into two arms, read the result as a team
would, roll out the winner.

The test enrols ``enrolled`` simulated customers — those with the smallest hash of their index and
the test's name (:func:`sim.core.streams.hash_uniforms`), not chosen by the seed — and puts
``round(share_b × enrolled)`` of them, by a second hash, in arm B: a plan and its baseline — and
every replication — enrol and split the same customer slots (the customers in them are drawn anew
each replication, so the split is still a random one). Each enrolled simulated customer is one test
subject in the team's statistic, so the test's size, power and error rates are those of a test on
``enrolled`` real customers whatever ``market.customers`` (the resolution) is. From the test's first
day, arm B's customers see ``b``'s price multiplier at the test's channels, arm A's ``a``'s, and
customers not enrolled the plan's (:class:`sim.levers.arms.ArmBook`). On the first day after the
test the team reads its metric from the enrolled customers' orders it has seen — logged at checkout,
only those of days before ``today − lag_days`` — never the customers' hidden state; runs the
two-sided test of :mod:`sim.rules.ab_stats`; and from that day on everyone sees the winner's setting
(A's when no arm wins, or with ``rollout: none``). The decision joins the rules' decision log, and
one row per test joins ``ledger.extra["ab_tests"]`` (:data:`AB_COLUMNS`), from which the report
counts, across replications, how often B won, A won, or neither, and states the test's power.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.core.streams import decision_id, hash_uniforms
from sim.rules.ab_stats import Result, two_proportion_z, welch
from sim.scenario.rules import AbTest, rule_day

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket
    from sim.rules.engine import RuleEngine

#: Columns of ``ledger.extra["ab_tests"]``: one row per A/B test decided in the run.
AB_COLUMNS: tuple[str, ...] = (
    "rule",
    "metric",
    "test",
    "alpha",
    "start_day",
    "decision_day",
    "days_seen",
    "n_a",
    "n_b",
    "value_a",
    "value_b",
    "sd_a",
    "sd_b",
    "statistic",
    "p_value",
    "winner",
    "price_a",
    "price_b",
    "price_after",
    "min_effect",
)


def arm_of(name: str, n: int, share_b: float, enrolled: int | None = None) -> np.ndarray:
    """Arm codes (0 = A, 1 = B, 2 = not enrolled) of customers ``0 … n−1`` in test ``name``:
    the ``enrolled`` customers (default: all ``n``) with the smallest hash of their index and
    the name, ``round(share_b × enrolled)`` of them — the smallest by a second hash — in B.
    The same in every run, seed and replication; a pure function of index and name, so the
    arms never depend on the run's random numbers."""
    enrolled = n if enrolled is None else enrolled
    if not 0 < enrolled <= n:
        raise ValueError(f"enrolled: {enrolled} customers, but there are {n}")
    u = hash_uniforms(np.arange(n), decision_id(f"ab_test:{name}"))
    chosen = np.argsort(u, kind="stable")[:enrolled]
    v = hash_uniforms(chosen, decision_id(f"ab_test:{name}:arm"))
    in_b = chosen[np.argsort(v, kind="stable")[: round(share_b * enrolled)]]
    arm = np.full(n, 2, dtype=np.int8)
    arm[chosen] = 0
    arm[in_b] = 1
    return arm


class AbTests:
    """The A/B tests of one run: started and decided by :meth:`review`."""

    def __init__(self, engine: RuleEngine):
        self.engine = engine
        self.slot: dict[int, int] = {}  # id(test rule) → its index in the model's ArmBook
        self.rows: list[dict] = []

    def review(self, model: ChannelMarket, name: str, r: AbTest) -> None:
        """Start test ``name`` on its first day; decide it on its first day after."""
        first = rule_day(r.start, self.engine.start)
        if model.day == first:
            self._start(model, name, r)
        elif model.day == first + r.days and id(r) in self.slot:
            self._decide(model, name, r, first)

    def _scope(self, model: ChannelMarket, r: AbTest, value: float) -> np.ndarray:
        """Per-channel multipliers: ``value`` at the test's channels, 1 elsewhere."""
        chans = model.scenario.channels
        ids = r.channels or [c.id for c in chans if c.sells]
        row = np.ones(len(chans))
        row[[model.channel_index[c] for c in ids]] = value
        return row

    def _start(self, model: ChannelMarket, name: str, r: AbTest) -> None:
        book = model.levers.arms
        arm = arm_of(name, model.pop.n, r.share_b, r.enrolled)
        k = self.slot[id(r)] = book.add(arm)
        book.set(k, a=self._scope(model, r, r.a.price), b=self._scope(model, r, r.b.price))
        book.recording = True
        n_a, n_b = int((arm == 0).sum()), int((arm == 1).sum())
        note = (
            f"test starts: arm A ({n_a} customers) price ×{r.a.price:g}, "
            f"arm B ({n_b}) ×{r.b.price:g} (the other {arm.size - n_a - n_b} customers keep "
            f"the plan's), for {r.days} days at "
            + ", ".join(r.channels or ["every selling channel"])
        )
        for arm_name, price in (("arm A", r.a.price), ("arm B", r.b.price)):  # from the plan's
            self.engine.note_decision(
                model.day, name, r, "", "", np.nan, 1.0, price, note, "price", arm_name
            )

    def read(self, model: ChannelMarket, r: AbTest, first: int) -> tuple[Result, int, int, int]:
        """The test as the team reads it today: its metric per arm from the orders logged on
        test days before ``today − lag_days``. Returns the result, arm sizes and days seen."""
        book, n = model.levers.arms, model.pop.n
        arm = book.arms[self.slot[id(r)]]
        hi = min(model.day - r.lag_days, first + r.days)
        buyers, revenue = book.orders(first, hi)
        in_a, in_b = arm == 0, arm == 1  # customers not enrolled (2) are not read
        n_a, n_b = int(in_a.sum()), int(in_b.sum())
        if r.metric == "conversion":
            value = np.zeros(n)
            value[buyers] = 1.0
        else:
            value = np.bincount(buyers, weights=revenue, minlength=n)
        if min(n_a, n_b) < 2:  # too few customers in an arm to test anything
            res = Result(*[np.nan] * 5, p_value=1.0)
        elif r.statistic == "z":
            x_a, x_b = int(value[in_a].sum()), int(value[in_b].sum())
            res = two_proportion_z(x_a, n_a, x_b, n_b)
        else:
            res = welch(value[in_a], value[in_b])
        return res, n_a, n_b, hi - first

    def _decide(self, model: ChannelMarket, name: str, r: AbTest, first: int) -> None:
        res, n_a, n_b, seen_days = self.read(model, r, first)
        winner = res.winner(r.alpha)
        after = r.b.price if (winner == "B" and r.rollout == "winner") else r.a.price
        book = model.levers.arms
        k = self.slot[id(r)]
        row = self._scope(model, r, after)
        book.set(k, a=row, b=row, rest=row)
        last = max(rule_day(t.start, self.engine.start) + t.days for t in self._tests())
        book.recording = model.day < last  # another test still running
        fmt = ".4g"
        seen = (
            f"{r.metric} days {first}-{first + seen_days - 1}: A {res.value_a:{fmt}} "
            f"(n={n_a}), B {res.value_b:{fmt}} (n={n_b}); {r.statistic} = {res.statistic:.3f}"
        )
        verdict = {"B": "B wins", "A": "A wins", "none": "no significant difference"}[winner]
        note = f"{verdict} (p = {res.p_value:.3g}, alpha {r.alpha:g}): price ×{after:g} for all"
        for arm_name, before in (("arm A", r.a.price), ("arm B", r.b.price)):
            self.engine.note_decision(
                model.day, name, r, "", seen, res.p_value, before, after, note, "price", arm_name
            )
        self.rows.append(
            {
                "rule": name,
                "metric": r.metric,
                "test": r.statistic,
                "alpha": r.alpha,
                "start_day": first,
                "decision_day": model.day,
                "days_seen": seen_days,
                "n_a": n_a,
                "n_b": n_b,
                "value_a": res.value_a,
                "value_b": res.value_b,
                "sd_a": res.sd_a,
                "sd_b": res.sd_b,
                "statistic": res.statistic,
                "p_value": res.p_value,
                "winner": winner,
                "price_a": r.a.price,
                "price_b": r.b.price,
                "price_after": after,
                "min_effect": np.nan if r.min_effect is None else r.min_effect,
            }
        )

    def _tests(self) -> list[AbTest]:
        return [r for _, r in self.engine.rules if isinstance(r, AbTest)]

    def table(self) -> pd.DataFrame:
        """One row per test decided in the run (:data:`AB_COLUMNS`)."""
        return pd.DataFrame(self.rows, columns=list(AB_COLUMNS))
