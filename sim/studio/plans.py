"""A plan as the studio edits and saves it: the baseline plus what changed, and nothing else.

The editor works on the plan's *resolved* data (its ``extends`` chain merged, as
:func:`sim.scenario.load_raw` returns it). Saving writes a file that says ``extends:
BASELINE`` and states only the differences, found by :func:`plan_diff` by dotted path the way
:func:`sim.scenario.merge` will put them back: mappings key by key, lists of items with an
``id`` (channels, segments, promotions) item by item (a dropped item becomes ``{id: x, remove:
true}``), any other value whole. Before a file is written it is read back and validated, and its
scenario must have the edited plan's content hash — so what the studio saves runs from the CLI
as the studio ran it.

    >>> base = {"name": "b", "channels": [{"id": "tmall", "budget": {"paid": 40000, "seeding": 0}},
    ...                                   {"id": "jd", "budget": {"paid": 20000}}]}
    >>> plan = {"name": "p", "channels": [{"id": "tmall", "budget": {"paid": 50000, "seeding": 0}}]}
    >>> plan_diff(base, plan)["channels"]
    [{'id': 'tmall', 'budget': {'paid': 50000}}, {'id': 'jd', 'remove': True}]
    >>> from sim.scenario import merge
    >>> merge(base, plan_diff(base, plan)) == plan
    True
"""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError, UsageError
from sim.scenario import Scenario, build_scenario, load_scenario

__all__ = ["Change", "PlanDiffError", "SavedPlan", "changes", "plan_diff", "plan_yaml", "save_plan"]

_NOTHING = object()


class PlanDiffError(ValueError):
    """The edit cannot be stated as a change to the baseline (``merge`` cannot delete a key of a
    free mapping, e.g. one segment's ``affinity`` entry)."""


@dataclass(frozen=True)
class Change:
    """One changed value: its dotted path (list items by id), the baseline's and the plan's."""

    path: str
    baseline: Any
    plan: Any


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    text: str
    content_hash: str


def plan_diff(base: dict[str, Any], edited: dict[str, Any], *, fallback: Any = None) -> dict:
    """The smallest change with ``merge(base, change) == edited`` (``extends`` ignored).

    A key the baseline has and the edit lacks cannot be deleted by a merge; it is written with
    its value in ``fallback`` (the edited scenario's full dump, where every field has its
    default), or :class:`PlanDiffError` names it.
    """
    base = {k: v for k, v in base.items() if k != "extends"}
    edited = {k: v for k, v in edited.items() if k != "extends"}
    out = _diff(base, edited, (), fallback)
    return {} if out is _NOTHING else out


def _diff(base: Any, edited: Any, loc: tuple[str, ...], fallback: Any) -> Any:
    if _same(base, edited):
        return _NOTHING
    if isinstance(base, dict) and isinstance(edited, dict):
        out: dict[str, Any] = {}
        for key, value in edited.items():
            sub = _child(fallback, key)
            d = _diff(base[key], value, (*loc, str(key)), sub) if key in base else value
            if d is not _NOTHING:
                out[key] = copy.deepcopy(d)
        for key in base:
            if key not in edited:
                sub = _child(fallback, key)  # dropped: the edit has the default there
                if sub is _NOTHING:
                    where = ".".join((*loc, str(key)))
                    raise PlanDiffError(
                        f"{where}: the plan drops this entry, which a plan file that extends the "
                        "baseline cannot say; set it to a value instead"
                    )
                d = _diff(base[key], sub, (*loc, str(key)), sub)
                if d is not _NOTHING:
                    out[key] = copy.deepcopy(d)
        return out or _NOTHING
    if _is_id_list(base) and _is_id_list(edited):
        return _diff_items(base, edited, loc, fallback)
    return copy.deepcopy(edited)


def _diff_items(base: list, edited: list, loc: tuple[str, ...], fallback: Any) -> Any:
    """Items by id: changed ones as their own diff, new ones whole, dropped ones removed. If the
    edit reorders the baseline's items (a merge keeps the baseline's order) or changes an item in
    a way a merge cannot state, every item is removed and re-added in the edited order."""
    old = {item["id"]: item for item in base}
    kept = [item["id"] for item in base if item["id"] in {e["id"] for e in edited}]
    new_ids = [e["id"] for e in edited]
    restate = [{"id": i, "remove": True} for i in old] + copy.deepcopy(edited)
    if new_ids != kept + [i for i in new_ids if i not in old]:
        return restate
    out = []
    for item in edited:
        if item["id"] in old:
            sub = _item(fallback, item["id"])
            try:
                d = _diff(old[item["id"]], item, (*loc, str(item["id"])), sub)
            except PlanDiffError:  # e.g. a key of a free mapping dropped: restate the list
                return restate
            if d is not _NOTHING:
                out.append({"id": item["id"], **d})
        else:
            out.append(copy.deepcopy(item))
    out += [{"id": i, "remove": True} for i in old if i not in new_ids]
    return out or _NOTHING


def _same(a: Any, b: Any) -> bool:
    """Equal as a scenario reads them (``1`` and ``1.0`` are the same number, ``True`` and ``1``
    are not)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _is_id_list(value: Any) -> bool:  # the rule sim.scenario.merge applies
    return isinstance(value, list) and all(isinstance(v, dict) and "id" in v for v in value)


def _child(node: Any, key: Any) -> Any:
    return node[key] if isinstance(node, dict) and key in node else _NOTHING


def _item(node: Any, item_id: Any) -> Any:
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and item.get("id") == item_id:
                return item
    return _NOTHING


def changes(base: dict[str, Any], edited: dict[str, Any]) -> list[Change]:
    """Every changed value by dotted path (list items by id), the baseline's beside the plan's:
    what a reader of the plan wants to see. A list item the plan drops shows ``"(removed)"``,
    a key it drops ``"(dropped)"``; a new item or key has the baseline value ``None``."""
    out: list[Change] = []
    _walk(
        {k: v for k, v in base.items() if k != "extends"},
        {k: v for k, v in edited.items() if k != "extends"},
        (),
        out,
    )
    return out


def _walk(base: Any, edited: Any, loc: tuple[str, ...], out: list[Change]) -> None:
    here = ".".join(loc)
    if _same(base, edited):
        return
    if isinstance(base, dict) and isinstance(edited, dict):
        for key in [*edited, *(k for k in base if k not in edited)]:
            if key not in edited:
                out.append(Change(f"{here}.{key}".lstrip("."), base[key], "(dropped)"))
            elif key not in base:
                out.append(Change(f"{here}.{key}".lstrip("."), None, edited[key]))
            else:
                _walk(base[key], edited[key], (*loc, str(key)), out)
        return
    if _is_id_list(base) and _is_id_list(edited):
        old = {item["id"]: item for item in base}
        new = {item["id"]: item for item in edited}
        for item_id, item in new.items():
            if item_id in old:
                _walk(old[item_id], item, (*loc, str(item_id)), out)
            else:
                out.append(Change(f"{here}.{item_id}", None, item))
        out += [Change(f"{here}.{i}", old[i], "(removed)") for i in old if i not in new]
        return
    out.append(Change(here, base, edited))


def plan_yaml(
    baseline_raw: dict[str, Any], edited_raw: dict[str, Any], *, extends: str, note: str = ""
) -> str:
    """The text of a plan file: ``name`` first, ``extends``, then only what differs from the
    baseline. Raises :class:`ScenarioError` (the edited plan is invalid) or
    :class:`PlanDiffError`."""
    scenario = build_scenario({k: v for k, v in edited_raw.items() if k != "extends"})
    change = plan_diff(baseline_raw, edited_raw, fallback=scenario.model_dump(mode="json"))
    doc: dict[str, Any] = {"name": scenario.name}
    if "description" in change:
        doc["description"] = change.pop("description")
    doc["extends"] = extends
    doc.update((k, v) for k, v in change.items() if k != "name")
    header = "# Saved by channelsim studio: this plan states only what it changes.\n"
    if note:
        header += "".join(f"# {line}\n" for line in note.splitlines())
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def save_plan(
    target: Path,
    *,
    baseline_path: Path,
    baseline_raw: dict[str, Any],
    edited_raw: dict[str, Any],
    overwrite: bool = False,
    note: str = "",
) -> SavedPlan:
    """Write the edited plan to ``target`` as a file that extends ``baseline_path``.

    The text is first written beside ``target`` under a temporary name and loaded back with
    :func:`sim.scenario.load_scenario`; only if it validates and has the edited plan's content
    hash is it renamed into place, so a failed save leaves any existing file untouched. An
    existing ``target`` is replaced only with ``overwrite``; the baseline itself never.
    """
    target, baseline_path = Path(target), Path(baseline_path).resolve()
    if target.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{target.name}: a plan file name ends in .yaml")
    if target.resolve() == baseline_path:
        raise UsageError(f"{target.name}: that is the baseline; save the plan under another name")
    if target.exists() and not overwrite:
        raise UsageError(f"{target.name}: exists; tick 'overwrite' to replace it")
    edited = build_scenario({k: v for k, v in edited_raw.items() if k != "extends"})
    target.parent.mkdir(parents=True, exist_ok=True)
    extends = Path(os.path.relpath(baseline_path, target.parent.resolve())).as_posix()
    text = plan_yaml(baseline_raw, edited_raw, extends=extends, note=note)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".yaml", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _check_round_trip(tmp, edited)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return SavedPlan(target, text, edited.content_hash())


def _check_round_trip(path: Path, edited: Scenario) -> None:
    try:
        loaded = load_scenario(path)
    except ScenarioError as exc:  # a bug here, not the user's: say so plainly
        raise PlanDiffError(
            "the saved text does not validate: " + "; ".join(exc.problems)
        ) from None
    if loaded.content_hash() != edited.content_hash():
        raise PlanDiffError("the saved text loads into another scenario than the edited plan")
