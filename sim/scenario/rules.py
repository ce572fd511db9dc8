"""The ``rules:`` block: review rules the simulated team applies while the plan runs.

A seed plan is a policy, not a fixed split ("adjust promptly according to the data", "test with
a pilot, then scale"); these models state such a policy so the simulator can evaluate it.
:mod:`sim.rules` applies them day by day, seeing only the ledger up to yesterday.

    >>> r = Reallocate(kind="reallocate", channels=["tmall", "jd"], every_days=7, share=0.2)
    >>> r.window_days, r.lag_days
    (14, 0)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.budget_fields import DayOrDate

WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", description="label in the decision log (default: rules[i])")
    lag_days: int = Field(
        default=0, ge=0, le=60, description="reporting lag: the last days the team cannot see yet"
    )


class Reallocate(_Rule):
    """Every ``every_days`` (or each ``weekday``), move ``share`` of the paid budget of the
    channel with the lowest paid ROI over the last ``window_days`` to the one with the highest,
    keeping each channel's paid budget within ``bounds``."""

    kind: Literal["reallocate"]
    channels: list[str] = Field(min_length=2, description="channels whose paid budgets move")
    every_days: int | None = Field(default=None, ge=1, description="review period in days")
    weekday: Literal[WEEKDAYS] | None = Field(  # type: ignore[valid-type]
        default=None, description="review each week on this day"
    )
    window_days: int = Field(default=14, ge=1, description="days of data the ROI is taken over")
    share: float = Field(gt=0, le=1, description="share of the worst channel's paid budget moved")
    bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="channel: [min, max] paid currency per day"
    )

    @model_validator(mode="after")
    def _schedule(self) -> Reallocate:
        if (self.every_days is None) == (self.weekday is None):
            raise ValueError("reallocate: give exactly one of every_days, weekday")
        for cid, (lo, hi) in self.bounds.items():
            if not 0 <= lo <= hi:
                raise ValueError(f"bounds.{cid}: needs 0 ≤ min ≤ max, got [{lo}, {hi}]")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels: repeated ids in {self.channels}")
        return self


class Pilot(_Rule):
    """Run ``channel``'s paid traffic at ``budget`` a day from ``start`` for ``weeks``; then scale
    it to ``scale_to`` if its CAC (paid spend / new customers over the pilot) is at most
    ``max_cac``, otherwise stop it (0). The decision falls on the first day after the pilot."""

    kind: Literal["pilot"]
    channel: str
    start: DayOrDate = 0
    weeks: int = Field(ge=1, le=52)
    budget: float = Field(ge=0, description="paid currency per day during the pilot")
    scale_to: float = Field(ge=0, description="paid currency per day after a passed pilot")
    max_cac: float = Field(ge=0, description="currency per new customer to pass")


Rule = Annotated[Reallocate | Pilot, Field(discriminator="kind")]


def rule_day(x: DayOrDate, start: dt.date) -> int:
    """A day number from ``horizon.start`` (dates and day numbers, as budget periods)."""
    return (x - start).days if isinstance(x, dt.date) else int(x)


def rule_problems(
    rules: list[Reallocate | Pilot], channels: dict[str, str], start: dt.date, days: int
) -> list[str]:
    """Rules naming unknown channels, or pilots outside the horizon; each names its field.
    ``channels`` maps id → family."""
    problems: list[str] = []
    known = sorted(channels)
    for i, r in enumerate(rules):
        where = f"rules[{i}]({r.kind})"
        named = r.channels + list(r.bounds) if isinstance(r, Reallocate) else [r.channel]
        for cid in named:
            if cid not in channels:
                problems.append(f"{where}: unknown channel '{cid}' (known: {known})")
        if isinstance(r, Pilot):
            first = rule_day(r.start, start)
            if not 0 <= first < days:
                problems.append(
                    f"{where}.start: {r.start} is outside the horizon (days 0 to {days - 1})"
                )
    return problems
