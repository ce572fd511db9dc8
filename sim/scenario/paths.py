"""Dotted paths into scenario data: ``extends`` merging, ``--set a.b=3`` overrides, lookups.

List items that carry an ``id`` (channels, segments) are addressed and merged by id.
"""

from __future__ import annotations

import copy
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.yaml_io import parse_value


def merge(base: Any, change: Any) -> Any:
    """Deep merge: mappings recursively, lists of id'd items by id, anything else replaced."""
    if isinstance(base, dict) and isinstance(change, dict):
        out = dict(base)
        for key, value in change.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if _is_id_list(base) and _is_id_list(change):
        out = [copy.deepcopy(item) for item in base]
        index = {item["id"]: i for i, item in enumerate(out)}
        for item in change:
            if item.get("remove") is True:
                out = [o for o in out if o["id"] != item["id"]]
                index = {o["id"]: i for i, o in enumerate(out)}
            elif item["id"] in index:
                out[index[item["id"]]] = merge(out[index[item["id"]]], item)
            else:
                out.append(copy.deepcopy(item))
                index[item["id"]] = len(out) - 1
        return out
    return copy.deepcopy(change)


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and "id" in v for v in value)


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested data; list items are addressed by ``id`` (or by index)."""
    parts = dotted.split(".")
    node: Any = data
    walked: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            idx = _list_index(node, part)
            if idx is None:
                raise KeyError(_unknown_item(dotted, part, ".".join(walked), node))
            if last:
                node[idx] = value
                return
            node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            if node.get(part) is None:  # an absent or off (null) section: start it
                if parts[i + 1].isdigit():  # ... unless it is addressed as a list (rules.0)
                    raise KeyError(
                        _unknown_item(dotted, parts[i + 1], ".".join(walked + [part]), [])
                    )
                node[part] = {}
            node = node[part]
        else:
            raise KeyError(f"{dotted}: '{'.'.join(walked)}' is a value, not a section")
        walked.append(part)


def resolve_path(data: dict[str, Any], dotted: str) -> Any:
    """The value at ``a.b.c`` (list items by ``id`` or index); ``KeyError`` names the unknown."""
    node: Any = data
    walked: list[str] = []
    for part in dotted.split("."):
        where = ".".join(walked) or "(scenario)"
        if isinstance(node, list):
            idx = _list_index(node, part)
            if idx is None:
                raise KeyError(_unknown_item(dotted, part, where, node))
            node = node[idx]
        elif isinstance(node, dict):
            if part not in node:
                raise KeyError(f"{dotted}: unknown key '{part}' in {where} (known: {sorted(node)})")
            node = node[part]
        else:
            raise KeyError(f"{dotted}: '{where}' is a value, not a section")
        walked.append(part)
    return node


def _unknown_item(dotted: str, part: str, where: str, items: list[Any]) -> str:
    """Why ``part`` names no item of ``items``: the ids it could be, or, for items without
    ids (``rules``), the indices that exist."""
    known = [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]
    if known:
        return f"{dotted}: unknown id '{part}' in {where} (known: {known})"
    have = f"indices 0 to {len(items) - 1}" if items else "no items"
    return f"{dotted}: no item '{part}' in {where} (it has {have})"


def _list_index(items: list[Any], key: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, dict) and str(item.get("id")) == key:
            return i
    if key.isdigit() and int(key) < len(items):
        return int(key)
    return None


def parse_set_options(pairs: list[str]) -> dict[str, Any]:
    """``["a.b=3", "c=x"]`` → ``{"a.b": 3, "c": "x"}`` (values parsed as YAML scalars)."""
    out: dict[str, Any] = {}
    problems = []
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            problems.append(f"--set {pair!r}: expected PATH=VALUE")
            continue
        try:  # no aliases, no deep nesting, dates stay text for the schema to check
            out[key.strip()] = parse_value(text, f"--set {key.strip()}")
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    return out
