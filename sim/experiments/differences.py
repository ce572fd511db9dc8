"""What a plan changes: every dotted path whose value differs from the baseline's.

The report's "What each plan changes" section lists these, so a reader sees the levers a plan
pulls before its results.

    >>> scenario_differences({"a": {"b": 1}, "name": "x"}, {"a": {"b": 2}, "name": "y"})
    [('a.b', 1, 2)]
"""

from __future__ import annotations

from typing import Any

from sim.scenario import Scenario


def scenario_differences(
    base: Scenario | dict, plan: Scenario | dict
) -> list[tuple[str, Any, Any]]:
    """``(dotted.path, old, new)`` for every value the plan changes (lists of id'd items are
    compared by id, so ``channels.tmall.budget.paid``); ``name``/``description`` excluded.
    Takes scenarios or their ``model_dump(mode="json")`` dicts."""
    skip = {"extends", "name", "description"}
    a, b = (
        {
            k: v
            for k, v in (s.model_dump(mode="json") if isinstance(s, Scenario) else s).items()
            if k not in skip
        }
        for s in (base, plan)
    )
    out: list[tuple[str, Any, Any]] = []
    _walk(a, b, "", out)
    return out


_MISSING = object()


def _walk(a: Any, b: Any, path: str, out: list) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            _walk(a.get(k, _MISSING), b.get(k, _MISSING), f"{path}.{k}" if path else str(k), out)
        return
    if _id_list(a) and _id_list(b) and (a or b):  # [] vs items: item by item, by id
        ia, ib = {x["id"]: x for x in a}, {x["id"]: x for x in b}
        for k in list(ia) + [k for k in ib if k not in ia]:
            _walk(ia.get(k, _MISSING), ib.get(k, _MISSING), f"{path}.{k}", out)
        return
    if a != b:
        out.append((path, None if a is _MISSING else a, None if b is _MISSING else b))


def _id_list(x: Any) -> bool:
    return isinstance(x, list) and all(isinstance(i, dict) and "id" in i for i in x)
