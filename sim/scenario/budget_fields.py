"""Budget fields that go beyond one constant amount a day: flighted periods, the spend range a
history observed, and the posterior draws of uncertain parameters.

A real plan flights its spend (a pre-sale burst before 618 and Double 11, always-on between),
and a response curve is only known where the history's spend moved; these models let a
scenario say both. :mod:`sim.scenario.spend` turns them into the day × channel × lever budget
the model reads.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The budget levers, in the order of the last axis of :func:`sim.scenario.spend.daily_budget`.
LEVERS: tuple[str, ...] = ("paid", "seeding", "private_ops")

Spend = Annotated[float, Field(ge=0)]
DayOrDate = dt.date | Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetPeriod(_Frozen):
    """Daily amounts that override the channel's constant budget from ``start`` to ``end``.

    Both ends are included, as ISO dates or day numbers from ``horizon.start`` (the one date
    rule of target windows and promotions). A lever the period leaves out keeps the constant
    amount.
    """

    start: DayOrDate
    end: DayOrDate
    paid: Spend | None = Field(default=None, description="currency per day in the period")
    seeding: Spend | None = None
    private_ops: Spend | None = None

    @model_validator(mode="after")
    def _some_lever(self) -> BudgetPeriod:
        if all(getattr(self, lever) is None for lever in LEVERS):
            raise ValueError(f"a period sets at least one of {', '.join(LEVERS)}")
        return self


SpendRange = Annotated[tuple[Spend, Spend], Field(description="[min, max] currency per day")]


class ObservedRange(_Frozen):
    """The daily spend range a history covered, per lever (``calibrate --spend`` fills it).

    The response curves are fitted only inside it: the budget optimiser keeps each lever within
    a stated multiple of its maximum and marks a recommendation outside it as extrapolated.
    """

    paid: SpendRange | None = None
    seeding: SpendRange | None = None
    private_ops: SpendRange | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ObservedRange:
        for lever in LEVERS:
            rng = getattr(self, lever)
            if rng is not None and rng[0] > rng[1]:
                raise ValueError(f"{lever}: min {rng[0]:g} must be ≤ max {rng[1]:g}")
        return self


class Uncertainty(_Frozen):
    """Parameter uncertainty: a CSV of posterior draws, one column per dotted scenario path
    (``channels.tmall.response.paid_reach_max``) and one row per draw.

    Replication ``r`` uses one row, chosen by the seed and ``r`` alone, so a plan and its
    baseline share the draw as they share the luck. With ``replications_per_draw`` ≥ 2
    consecutive replications share a row, which lets a report split the spread into parameters
    and customer-level luck exactly (:mod:`sim.experiments.uncertainty`).
    """

    draws: str | None = Field(default=None, description="CSV path, relative to the scenario")
    enabled: bool = True
    replications_per_draw: int = Field(
        default=1,
        ge=1,
        le=100,
        description="1: independent replications (honest intervals), split by regression; "
        "≥ 2: an exact split (ANOVA), intervals too narrow by the factor the report states",
    )

    @model_validator(mode="after")
    def _draws_when_enabled(self) -> Uncertainty:
        if self.enabled and not self.draws:
            raise ValueError("draws: a CSV of parameter draws is needed while enabled is true")
        return self
