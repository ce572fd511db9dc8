"""Scenario files: YAML in, a validated and frozen :class:`Scenario` out.

A scenario states the market, the channels with their levers, and the targets of one plan.
A plan usually ``extends`` the baseline and states only what it changes; lists of items that
carry an ``id`` (channels, segments) are merged by id, everything else is replaced.

Every problem in a file is reported at once, each with its path and the value found::

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 2000})
    >>> sc.market.customers
    2000
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.scenario.paths import merge, set_path
from sim.scenario.schema import Scenario


def load_scenario(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario file.

    Raises :class:`ScenarioError` listing every problem by its path.
    """
    raw = load_raw(path)
    return build_scenario(raw, overrides=overrides)


def build_scenario(raw: dict[str, Any], *, overrides: dict[str, Any] | None = None) -> Scenario:
    """Validate a resolved scenario dict (after applying dotted-path ``overrides``)."""
    data = copy.deepcopy(raw)
    problems: list[str] = []
    for key, value in (overrides or {}).items():
        try:
            set_path(data, key, value)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
    if problems:
        raise ScenarioError(problems)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, data)) from None
    problems = scenario.lever_problems()
    if problems:
        raise ScenarioError(problems)
    return scenario


def apply_overrides(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """A new scenario with dotted-path overrides applied (what optimisers and sweeps use)."""
    if not overrides:
        return scenario
    return build_scenario(scenario.model_dump(mode="json"), overrides=overrides)


def load_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML file and resolve its ``extends`` chain into one plain dict."""
    path = Path(path).resolve()
    if path in _seen:
        raise ScenarioError([f"{path}: extends loops back to itself"])
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read file ({exc.strerror or exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError([f"{path}: not valid YAML ({exc})"]) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{path}: a scenario must be a mapping, got {type(data).__name__}"])
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    base_path = (path.parent / str(base_name)).resolve()
    merged = merge(load_raw(base_path, (*_seen, path)), data)
    merged["extends"] = str(base_path)
    return merged


def _format_errors(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    problems = []
    for err in exc.errors():
        path = _format_loc(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (is it misspelt?)"
        got = err.get("input")
        quiet = err["type"] == "missing" or isinstance(got, dict | list)
        shown = "" if quiet else f", got {got!r}"
        problems.append(f"{path}: {msg}{shown}")
    return problems


def _format_loc(loc: tuple[Any, ...], data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            if isinstance(node, list) and part < len(node):
                item = node[part]
                if isinstance(item, dict) and "id" in item:
                    label = f"[{part}]({item['id']})"
                node = item
            else:
                node = None
            out += label
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(scenario)"
