"""What a plan search suggests, and how one trial's values become scenario overrides.

Without ``by_period`` every decision of the scenario's ``decisions:`` block is one Optuna
parameter, set at its path. With ``by_period="month"`` a decision on a channel's budget lever
(``channels.tmall.budget.paid``) becomes one parameter per calendar month of the horizon
(``channels.tmall.budget.paid@2026-01``, same range), and a trial's months are written into the
scenario as the channel's ``budget.periods``, exactly as ``optimize budget --by-period month``
writes its answer: real plans flight their spend (a pre-sale burst, always-on between), and one
number per lever cannot say when the money works best.

``total`` (CNY/day) caps the mean daily spend over the horizon of the budget decisions (a
month's decision weighs by its days), the budget optimiser's ``--total``: without it a search
simply buys every profitable yuan; with it, it must choose where and when.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"horizon.days": 59,
    ...     "decisions": [{"path": "channels.jd.budget.paid", "low": 0, "high": 9000}]})
    >>> space = search_space(sc, by_period="month", total=5000)
    >>> [d.path for d in space.decisions]
    ['channels.jd.budget.paid@2026-01', 'channels.jd.budget.paid@2026-02']
    >>> params = {"channels.jd.budget.paid@2026-01": 6000, "channels.jd.budget.paid@2026-02": 0}
    >>> space.overrides(params)["channels.jd.budget.periods"][0]
    {'start': '2026-01-01', 'end': '2026-01-31', 'paid': 6000.0}
    >>> round(space.spend(params), 1)  # 6000 × 31 / 59 days
    3152.5
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optimizers.response import Lever, spend_overrides
from optimizers.response import by_period as split_by_period
from sim.scenario import LEVERS, Decision, Scenario

#: A decision on a channel's daily budget lever: the ones ``by_period`` and ``total`` act on.
BUDGET_PATH = re.compile(r"^channels\.([^.]+)\.budget\.(" + "|".join(LEVERS) + r")$")


@dataclass(frozen=True)
class SearchSpace:
    """The parameters Optuna suggests (``decisions``; ``path`` is the parameter's name) and the
    budget levers among them, by parameter name."""

    decisions: tuple[Decision, ...]
    levers: Mapping[str, Lever] = field(default_factory=dict)
    days: int = 1
    total: float | None = None
    by_period: str | None = None

    def overrides(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``--set`` overrides of one trial: period parameters grouped into each channel's
        ``budget.periods``, every other parameter at its own path."""
        periodic = [k for k in params if k in self.levers and self.levers[k].period]
        out = {k: v for k, v in params.items() if k not in periodic}
        out.update(
            spend_overrides([self.levers[k] for k in periodic], [params[k] for k in periodic])
        )
        return out

    def spend(self, params: Mapping[str, Any]) -> float:
        """Mean CNY/day over the horizon of the budget parameters (a month weighs by its days)."""
        return float(sum(lv.weight(self.days) * float(params[k]) for k, lv in self.levers.items()))


def search_space(
    scenario: Scenario, *, by_period: str | None = None, total: float | None = None
) -> SearchSpace:
    """The search's parameters; ``ValueError`` naming ``by_period``, ``total`` or
    ``decisions`` when the scenario's decisions cannot be searched that way."""
    if total is not None and not total > 0:
        raise ValueError(f"total: must be > 0 CNY/day, got {total:g}")
    channels = {c.id: c for c in scenario.channels}
    budget: dict[int, Lever] = {}
    for i, d in enumerate(scenario.decisions):
        m = BUDGET_PATH.match(d.path)
        if m and m.group(1) in channels:
            ch = channels[m.group(1)]
            budget[i] = Lever(ch.id, m.group(2), ch.family, ch.core)
    if (by_period or total is not None) and not budget:
        flag = "by_period" if by_period else "total"
        raise ValueError(
            f"{flag}: no decision is a channel budget (channels.ID.budget."
            f"{'|'.join(LEVERS)}); add one to the decisions: block"
        )
    _check_flighting(scenario, budget, by_period)
    decisions: list[Decision] = []
    levers: dict[str, Lever] = {}
    for i, d in enumerate(scenario.decisions):
        if i not in budget:
            decisions.append(d)
        elif not by_period:
            decisions.append(d)
            levers[d.path] = budget[i]
        else:
            for lv in split_by_period(scenario, [budget[i]], by_period):
                name = f"{d.path}@{lv.period}"
                decisions.append(d.model_copy(update={"path": name}))
                levers[name] = lv
    return SearchSpace(tuple(decisions), levers, scenario.horizon.days, total, by_period)


def _check_flighting(scenario: Scenario, budget: dict[int, Lever], by_period: str | None) -> None:
    """A constant decision on a flighted lever would be overridden on its periods' days; a
    monthly one replaces the channel's ``budget.periods``, so the periods of levers the search
    does not set would be lost. Both are refused, naming the lever."""
    decided = {(lv.channel, lv.lever) for lv in budget.values()}
    if decided and scenario.spend_file and not by_period:
        raise ValueError(
            "decisions: the scenario's spend_file sets daily spends that override the budget "
            "decisions on its days; remove spend_file to search budgets"
        )
    problems = []
    for c in scenario.channels:
        for lever in LEVERS:
            flighted = any(getattr(p, lever) is not None for p in c.budget.periods)
            if not flighted:
                continue
            mine = (c.id, lever) in decided
            if mine and not by_period:
                problems.append(
                    f"channels.{c.id}.budget.{lever} varies over time (budget.periods): a "
                    "constant decision would be overridden on those days; search it by period "
                    "(--by-period month)"
                )
            elif not mine and by_period and any(ch == c.id for ch, _ in decided):
                problems.append(
                    f"channels.{c.id}.budget.{lever} varies over time (budget.periods) and would "
                    "lose its periods when the searched months are written back; add it to the "
                    "decisions: block"
                )
    if problems:
        raise ValueError("decisions: " + "; ".join(problems))
