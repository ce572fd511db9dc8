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
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.errors import ScenarioError
from sim.scenario.kinds import file_kind, inventory_only_problems
from sim.scenario.market import state_market_size
from sim.scenario.paths import merge, set_path
from sim.scenario.resources import memory_problems
from sim.scenario.schema import Scenario
from sim.scenario.yaml_io import read_yaml


def load_scenario(path: str | Path, *, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario file.

    Raises :class:`ScenarioError` listing every problem by its path.
    """
    raw = load_raw(path)
    if file_kind(raw) == "inventory":  # the verification mode's files: say what they are
        raise ScenarioError([f"{path}: {p}" for p in inventory_only_problems(raw)])
    return build_scenario(raw, overrides=overrides)


def build_scenario(raw: dict[str, Any], *, overrides: dict[str, Any] | None = None) -> Scenario:
    """Validate a resolved scenario dict (after applying dotted-path ``overrides``)."""
    data = copy.deepcopy(raw)
    notes = state_market_size(data, overrides or {})  # the file fixes the market, not --set
    problems: list[str] = []
    for key, value in (overrides or {}).items():
        if key.split(".")[0] == "extends":
            problems.append(
                f"{key}: cannot be overridden (`extends` is resolved when the file is read); "
                "write a plan file that says `extends: BASE.yaml` instead"
            )
            continue
        try:
            set_path(data, key, value)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
    if problems:
        raise ScenarioError(problems)
    problems = _non_finite(data, data)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        flagged = {p.split(":")[0] for p in problems}
        raise ScenarioError(
            problems + [p for p in _format_errors(exc, data) if p.split(":")[0] not in flagged]
        ) from None
    except RecursionError:  # yaml_io caps nesting; this guards dicts built in Python
        raise ScenarioError(["(scenario): nested too deeply"]) from None
    problems += _bools_as_numbers(scenario, data, data)
    problems += _non_finite(scenario.model_dump(), data)
    problems += memory_problems(scenario)
    if problems:
        raise ScenarioError(sorted(set(problems), key=problems.index))
    problems = scenario.lever_problems() + scenario.kpi_problems()
    if problems:
        raise ScenarioError(problems)
    scenario._notes = notes  # shown by Scenario.warnings() (channelsim validate)
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
    data = read_yaml(path)  # refuses non-UTF-8, aliases, deep nesting, repeated keys
    if not isinstance(data, dict):
        raise ScenarioError([f"{path}: a scenario must be a mapping, got {type(data).__name__}"])
    _data_paths_from(data, path.parent)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    base_path = (path.parent / str(base_name)).resolve()
    merged = merge(load_raw(base_path, (*_seen, path)), data)
    merged["extends"] = str(base_path)
    return merged


def _data_paths_from(data: dict[str, Any], folder: Path) -> None:
    """Data files a scenario names (``spend_file``, ``uncertainty.draws``) are relative to the
    file that names them, as ``extends`` is: resolved here, before files merge."""
    unc = data.get("uncertainty")
    for node, key in ((data, "spend_file"), (unc if isinstance(unc, dict) else {}, "draws")):
        value = node.get(key)
        if isinstance(value, str) and value and not Path(value).is_absolute():
            node[key] = str((folder / value).resolve())


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


def _non_finite(value: Any, data: Any, loc: tuple[Any, ...] = ()) -> list[str]:
    """``.inf`` / ``.nan`` anywhere: no setting means infinity, and NaN passes every bound
    check (``nan <= 1`` is False, so is ``nan > 1``) only to turn results into nulls."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{_format_loc(loc, data)}: must be a finite number, got {value}"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, data, (*loc, k))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _non_finite(v, data, (*loc, i))]
    return []


def _bools_as_numbers(model: Any, raw: Any, data: Any, loc: tuple[Any, ...] = ()) -> list[str]:
    """Fields that pydantic turned from ``true``/``false`` into 1/0: a number field given a
    yes/no is a mistake (``customers: true`` would simulate one customer). Walks the validated
    model alongside the raw data; where a validator reshaped the data, that branch is skipped."""
    if isinstance(raw, bool):
        if isinstance(model, int | float) and not isinstance(model, bool):
            return [f"{_format_loc(loc, data)}: must be a number, got {str(raw).lower()}"]
        return []
    if isinstance(model, BaseModel) and isinstance(raw, dict):
        pairs = [(getattr(model, k), raw[k], k) for k in type(model).model_fields if k in raw]
    elif isinstance(model, dict) and isinstance(raw, dict):
        pairs = [(v, raw[k], k) for k, v in model.items() if k in raw]
    elif isinstance(model, list | tuple) and isinstance(raw, list | tuple):
        pairs = [(m, r, i) for i, (m, r) in enumerate(zip(model, raw, strict=False))]
    else:
        return []
    return [p for m, r, k in pairs for p in _bools_as_numbers(m, r, data, (*loc, k))]


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
