"""The rule engine: each morning, the due rules read the ledger so far and move levers.

What a rule may read is cut here, once: :meth:`RuleEngine.seen` sums a recorder measure over
days before ``today − lag_days`` only, so no rule can look at today, the future, or anything the
recorder does not hold (the population's hidden state is never passed in). What a rule may
write is the model's paid budget from today on (``model.budget[day:, channel, 0]``); the
channel agents read that array, so tomorrow's exposure follows the decision.

Of the budgets only the paid lever moves: the private-ops budget also sets the pool's join
probability, which the model precomputes per day, so rules leave it alone. Stock rules
(:mod:`sim.rules.stock`) read the warehouse's daily records to yesterday and set a SKU's safety
factor; promotion rules (:mod:`sim.rules.promotion`) read the ledger's orders and move a
promotion's end day.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.rules.ab import AbTests
from sim.rules.promotion import decision_day, extend_promotion
from sim.rules.reporting import report_noise
from sim.rules.stock import stock_review
from sim.scenario.rules import WEEKDAYS, ExtendPromotion, Pilot, Reallocate, Stock, rule_day

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

#: Columns of ``ledger.extra["decisions"]``: one row per budget a decision set (or kept).
DECISION_COLUMNS: tuple[str, ...] = (
    "day",
    "date",
    "rule",
    "kind",
    "channel",
    "lever",
    "target",
    "seen",
    "metric",
    "before",
    "after",
    "note",
)
PAID = 0  # the paid lever's index on the budget's last axis (sim.scenario.budget_fields.LEVERS)


def _noted(noise_cv: float) -> str:
    """What the decision log adds when the figures were read with reporting noise."""
    return f" (as reported, noise CV {noise_cv:g})" if noise_cv > 0 else ""


class RuleEngine:
    """The scenario's rules, applied by :meth:`review` at the start of every day."""

    def __init__(self, model: ChannelMarket):
        sc = model.scenario
        self.scale = sc.market.scale
        self.start = sc.horizon.start
        self.days = sc.horizon.days
        self.index = dict(model.channel_index)
        self.rules = [(r.name or f"rules[{i}]", r) for i, r in enumerate(sc.rules)]
        self.rows: list[dict] = []
        self.ab = AbTests(self)  # A/B tests: arms, reading, rollout (sim.rules.ab)
        for name, r in self.rules:  # a pilot's budget is part of the plan from day 0
            if isinstance(r, Pilot):
                first = rule_day(r.start, self.start)
                last = min(first + 7 * r.weeks, self.days)
                ch = self.index[r.channel]
                before = float(model.budget[first, ch, PAID])
                model.budget[first:last, ch, PAID] = r.budget
                self.note_decision(
                    first, name, r, r.channel, "", np.nan, before, r.budget, "pilot starts"
                )

    # ---- what the team sees -----------------------------------------------------------------
    def seen(
        self,
        model: ChannelMarket,
        measure: str,
        days: int,
        lag: int,
        first: int = 0,
        noise_cv: float = 0.0,
    ) -> tuple[np.ndarray, int, int]:
        """Per-channel sum of ``measure`` (real units) over the last ``days`` visible days, no
        earlier than ``first``: days ``[lo, hi)`` with ``hi = today − lag``. Returns the sums
        and ``(lo, hi)``. With ``noise_cv`` each day × channel figure is read with a
        multiplicative reporting error (:func:`report_noise`); the team's own spend is exact."""
        hi = max(model.day - lag, 0)
        lo = max(hi - days, first, 0)
        rec = model.recorder
        if measure in rec.spend:
            return rec.spend[measure][lo:hi].sum(axis=0), lo, hi
        daily = rec.flow[measure][lo:hi]
        if noise_cv > 0 and hi > lo:
            daily = daily * report_noise(model, measure, lo, hi, noise_cv)
        return daily.sum(axis=0) * self.scale, lo, hi

    # ---- the day ----------------------------------------------------------------------------
    def review(self, model: ChannelMarket) -> None:
        """Apply every rule due today (before the day's exposure)."""
        for name, r in self.rules:
            if isinstance(r, Reallocate):
                if self._due(r, model.day):
                    self._reallocate(model, name, r)
            elif isinstance(r, Pilot):
                if model.day == rule_day(r.start, self.start) + 7 * r.weeks:
                    self._pilot(model, name, r)
            elif isinstance(r, Stock):
                if model.day > 0 and model.day % r.every_days == 0:
                    stock_review(self, model, name, r)
            elif isinstance(r, ExtendPromotion):
                if model.day == decision_day(model, r):
                    extend_promotion(self, model, name, r)
            elif r.kind == "ab_test":
                self.ab.review(model, name, r)

    def _due(self, r: Reallocate, day: int) -> bool:
        if day == 0:
            return False
        if r.every_days is not None:
            return day % r.every_days == 0
        return (self.start + dt.timedelta(days=day)).weekday() == WEEKDAYS.index(r.weekday)

    def _reallocate(self, model: ChannelMarket, name: str, r: Reallocate) -> None:
        # ad_channel: the revenue of paid-sourced orders by the channel whose ad reached the
        # buyer (the ad platform's report); order_channel: by the channel they ordered in
        measure = "revenue_paid_ad" if r.attribution == "ad_channel" else "revenue_paid"
        revenue, lo, hi = self.seen(model, measure, r.window_days, r.lag_days, noise_cv=r.noise_cv)
        spend, _, _ = self.seen(model, "spend_paid", r.window_days, r.lag_days)
        if hi <= lo:
            return  # nothing reported yet
        chans = [c for c in r.channels if spend[self.index[c]] > 0]
        if len(chans) < 2:
            return
        roi = {c: revenue[self.index[c]] / spend[self.index[c]] for c in chans}
        worst, best = min(chans, key=roi.__getitem__), max(chans, key=roi.__getitem__)
        if roi[worst] == roi[best]:
            return
        day, budget = model.day, model.budget
        w, b = self.index[worst], self.index[best]
        w_before, b_before = float(budget[day, w, PAID]), float(budget[day, b, PAID])
        w_min = r.bounds.get(worst, (0.0, np.inf))[0]
        b_max = r.bounds.get(best, (0.0, np.inf))[1]
        amount = max(min(r.share * w_before, w_before - w_min, b_max - b_before), 0.0)
        seen = (
            f"paid ROI ({r.attribution}) days {lo}-{hi - 1}: "
            + ", ".join(f"{c}={roi[c]:.3g}" for c in chans)
            + _noted(r.noise_cv)
        )
        note = "at bounds: nothing moved" if amount == 0 else f"moved {amount:.6g}/day"
        budget[day:, w, PAID] = w_before - amount
        budget[day:, b, PAID] = b_before + amount
        self.note_decision(day, name, r, worst, seen, roi[worst], w_before, w_before - amount, note)
        self.note_decision(day, name, r, best, seen, roi[best], b_before, b_before + amount, note)

    def _pilot(self, model: ChannelMarket, name: str, r: Pilot) -> None:
        if model.day >= self.days:
            return
        first = rule_day(r.start, self.start)
        ch = self.index[r.channel]
        spend, lo, hi = self.seen(model, "spend_paid", 7 * r.weeks, r.lag_days, first)
        new, _, _ = self.seen(model, "new_customers", 7 * r.weeks, r.lag_days, first, r.noise_cv)
        cac = spend[ch] / new[ch] if new[ch] > 0 else np.inf
        passed = bool(cac <= r.max_cac)
        after = r.scale_to if passed else 0.0
        before = float(model.budget[model.day, ch, PAID])
        model.budget[model.day :, ch, PAID] = after
        seen = f"CAC days {lo}-{hi - 1}: {spend[ch]:.6g} / {new[ch]:.6g} new customers"
        seen += _noted(r.noise_cv)
        note = f"CAC {cac:.4g} {'≤' if passed else '>'} {r.max_cac:g}: " + (
            "scale" if passed else "stop"
        )
        self.note_decision(model.day, name, r, r.channel, seen, cac, before, after, note)

    # ---- the log ----------------------------------------------------------------------------
    def note_decision(
        self, day, name, rule, channel, seen, metric, before, after, note, lever="paid", target=""
    ) -> None:
        """One decision row; ``target`` (default: ``channel``) is what it set: a channel's
        budget, a SKU's safety factor or a promotion's end day."""
        self.rows.append(
            {
                "day": day,
                "date": pd.Timestamp(self.start + dt.timedelta(days=day)),
                "rule": name,
                "kind": rule.kind,
                "channel": channel,
                "lever": lever,
                "target": target or channel,
                "seen": seen,
                "metric": float(metric),
                "before": float(before),
                "after": float(after),
                "note": note,
            }
        )

    def log(self) -> pd.DataFrame:
        """Every decision taken, one row per budget set, in the order taken."""
        log = pd.DataFrame(self.rows, columns=list(DECISION_COLUMNS))
        return log.astype({"date": "datetime64[ns]", "day": "int64"})  # as the ledger's tables
