"""The editor's model, without the page: load the two files, apply the edits, validate.

An edit is a ``--set`` path and a value (``channels.tmall.budget.paid: 60000``); a calendar
toggle switches a promotion entry off (dropped from the plan) or on (the baseline's entry put
back). Edits apply to the plan's resolved data (:func:`sim.scenario.load_raw`), and the result
is validated by :func:`sim.scenario.build_scenario`, which raises the same
:class:`~sim.errors.ScenarioError` messages ``channelsim validate`` prints.

    >>> roots = Roots.make("scenarios", "results")
    >>> base, plan = load(roots, "baseline.yaml"), load(roots, "six_schemes.yaml")
    >>> data = apply_edits(plan.raw, {"channels.tmall.budget.paid": -5.0}, {}, base.raw)
    >>> check(data)[1]
    ['channels[0](tmall).budget.paid: Input should be greater than or equal to 0, got -5']
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError, UsageError
from sim.scenario import Scenario, build_scenario, load_raw, set_path
from sim.scenario.kinds import file_kind, inventory_only_problems
from sim.studio.roots import Roots

__all__ = ["Loaded", "apply_edits", "check", "load", "tidy_number"]


@dataclass(frozen=True)
class Loaded:
    """A scenario file as the editor sees it: resolved data and the validated scenario, or the
    problems that stop it validating."""

    name: str
    path: Path
    raw: dict[str, Any] = field(default_factory=dict)
    scenario: Scenario | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def dump(self) -> dict[str, Any]:
        return self.scenario.model_dump(mode="json") if self.scenario is not None else {}


def load(roots: Roots, name: str) -> Loaded:
    """The scenario file ``name`` under the scenarios root (confined to it)."""
    try:
        path = roots.scenario(name)
    except UsageError as exc:
        return Loaded(name, Path(name), problems=[str(exc)])
    try:
        raw = load_raw(path)
        if file_kind(raw) == "inventory":
            raise ScenarioError(inventory_only_problems(raw))
        scenario = build_scenario(raw)
    except ScenarioError as exc:
        return Loaded(name, path, problems=list(exc.problems))
    return Loaded(name, path, raw, scenario)


def tidy_number(value: Any) -> Any:
    """A whole float as an int (``60000.0`` → ``60000``), so saved files read naturally."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def apply_edits(
    plan_raw: dict[str, Any],
    edits: dict[str, Any],
    toggles: dict[tuple[str, str], bool],
    base_raw: dict[str, Any],
) -> dict[str, Any]:
    """The plan's data with calendar ``toggles`` ((section, id) → on) and ``edits`` (path →
    value) applied; ``extends`` dropped (the data is already resolved). An edit to an entry
    switched off is skipped."""
    data = copy.deepcopy(plan_raw)
    data.pop("extends", None)
    for (section, entry_id), on in toggles.items():
        promos = data.setdefault("promotions", {})
        items = promos.setdefault(section, [])
        present = any(i.get("id") == entry_id for i in items)
        if on and not present:  # the baseline's entry, put back
            spare = (base_raw.get("promotions") or {}).get(section, [])
            items += [copy.deepcopy(i) for i in spare if i.get("id") == entry_id]
        elif not on and present:
            promos[section] = [i for i in items if i.get("id") != entry_id]
    for path, value in edits.items():
        try:
            set_path(data, path, tidy_number(value))
        except KeyError:
            continue
    return data


def check(data: dict[str, Any]) -> tuple[Scenario | None, list[str]]:
    """(the validated scenario, []) or (None, every problem as ``validate`` words it)."""
    try:
        return build_scenario(data), []
    except ScenarioError as exc:
        return None, list(exc.problems)
