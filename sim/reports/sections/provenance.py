"""Report sections on where the numbers come from: what each plan changes, and the manifest."""

from __future__ import annotations

import json
from typing import Any

from sim.experiments.differences import scenario_differences
from sim.reports.sections.blocks import TITLES, Block, Table
from sim.reports.store import Stored

#: Manifest fields shown first, in this order, when present.
MANIFEST_FIELDS = ("seed", "replications", "code_version", "cache_hits", "command", "created")


def differences_block(st: Stored) -> Block:
    base = st.names[0]
    tables = []
    for p in st.names[1:]:
        diffs = scenario_differences(st.scenarios[base], st.scenarios[p])
        rows = [
            [path, _value(old), _value(new), unit_of(path)]
            for path0, old0, new0 in diffs
            for path, old, new in flatten(path0, old0, new0)
        ]
        tables.append(
            Table(
                ["setting (path in the scenario file)", f"{base}", f"{p}", "unit"],
                rows,
                caption=f"{p} vs {base}: {len(rows)} settings differ",
            )
        )
    intro = (
        "Every setting a plan changes against the baseline (resolved scenarios, one row per "
        "value; list items are named by their id). '—' means absent or off in that scenario."
    )
    if len(st.names) == 1:
        intro = "A single scenario: nothing to compare it with."
    return Block("differences", TITLES["differences"], intro, tables, [])


#: Units of a setting, by the last part of its path (first match wins).
UNITS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("paid", "seeding", "private_ops", "cost_per_day"), "CNY / day"),
    (("price_index",), "× guide price"),
    (("reply_minutes",), "minutes"),
    (("resolution_hours",), "hours"),
    (("price", "value", "spend", "reduce", "min_spend", "unit_cost", "guide_price"), "CNY"),
    (("s", "S", "Q", "level", "capacity"), "units"),
    (("customers", "real_customers"), "customers"),
)
SHARE_WORDS = ("discount", "share", "rate", "commission", "conversion", "_max", "_base", "redeem")
SHARE_WORDS += ("uptake", "pull", "cancel", "reserve", "to_full", "ship_success")


def unit_of(path: str) -> str:
    """The unit of a setting, from the last part of its dotted path ('' when unitless)."""
    parts = path.split(".")
    last = parts[-1].split("[")[0]
    for keys, unit in UNITS:
        if last in keys:
            return unit
    if last.endswith("days") or last in ("window",):
        return "days"
    if "reserve" in parts or any(last.endswith(w) for w in SHARE_WORDS):
        return "share (0–1)"
    return ""


def flatten(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """One (path, old, new) per leaf value that differs: a section switched on shows each of
    its values (against '—'), lists of items are keyed by their id, targets are sentences."""
    if path == "targets" or path.endswith(".targets"):
        a = {_target(t): t for t in old or []}
        b = {_target(t): t for t in new or []}
        keys = [k for k in dict.fromkeys([*a, *b]) if (k in a) != (k in b)]
        return [
            (f"{path}[{i}]", k if k in a else None, k if k in b else None)
            for i, k in enumerate(keys)
        ]
    if _leaf(old) and _leaf(new):
        return [] if old == new else [(path, old, new)]
    a, b = _keyed(old), _keyed(new)
    out = []
    for k in dict.fromkeys([*a, *b]):
        if k == "id" and path.rsplit(".", 1)[-1].strip("[]") in (a.get(k), b.get(k)):
            continue  # the item's id is already its path
        out += flatten(f"{path}.{k}", a.get(k), b.get(k))
    return out


def _leaf(v: Any) -> bool:
    """A value shown in one cell: a scalar, or a list of scalars."""
    if isinstance(v, list):
        return all(not isinstance(x, dict | list) for x in v)
    return not isinstance(v, dict)


def _target(t: dict[str, Any]) -> str:
    """A target in words: ``label: revenue.online ≥ 1.4 × baseline, days 90–179``."""
    op, bound = (
        ("≥", t.get("at_least")) if t.get("at_least") is not None else ("≤", t.get("at_most"))
    )
    rel = " × baseline" if t.get("relative_to") else ""
    win = t.get("window")
    days = f", days {win[0]}–{win[1]}" if isinstance(win, list) and len(win) == 2 else ""
    text = f"{t.get('kpi')} {op} {bound:g}{rel}{days}" if bound is not None else str(t.get("kpi"))
    return f"{t['label']}: {text}" if t.get("label") else text


def _keyed(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return {str(k): x for k, x in v.items()}
    if isinstance(v, list):
        out = {}
        for i, x in enumerate(v):
            key = _item_key(x, i)
            out[key if key not in out else f"{key}#{i}"] = x
        return out
    return {}


def _item_key(x: Any, i: int) -> str:
    if isinstance(x, dict):
        named = [str(x[k]) for k in ("id", "kpi", "sku", "location") if x.get(k) is not None]
        if named:
            return "[" + " ".join(named) + "]"
    return f"[{i}]"


def _value(v: Any) -> str:
    """A setting's value for people: '—' when absent, yes/no, numbers with separators."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.6g}"
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v) or "(none)"
    return str(v)


def _show(v: Any) -> str:
    return "—" if v is None else json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v


def manifest_block(st: Stored) -> Block:
    m = st.manifest
    rows = [[k, _show(m.get(k))] for k in MANIFEST_FIELDS if k in m]
    for n, s in m.get("scenarios", {}).items():
        rows.append(
            [
                f"scenario {n}",
                f"{s.get('scenario')} · sha256 {s.get('hash', '')[:16]} · "
                f"{s.get('replications')} replications"
                + (f" · {len(s['errors'])} failed" if s.get("errors") else ""),
            ]
        )
    for pkg, v in m.get("versions", {}).items():
        rows.append([f"version {pkg}", str(v)])
    rows += _reproduce_rows(m.get("reproduce") or {})
    return Block(
        "manifest",
        TITLES["manifest"],
        "How this report was produced. manifest.json holds all of it (with the version of every "
        "installed distribution) and scenarios.json every resolved scenario: run the command "
        "below from the working directory shown, on the commit shown, to get the same numbers.",
        [Table(["field", "value"], rows)],
        [],
    )


def _reproduce_rows(r: dict[str, Any]) -> list[list[str]]:
    """The ``reproduce`` block of the manifest (:mod:`sim.results.provenance`) as rows."""
    if not r:
        return []
    git = r.get("git")
    py = r.get("python") or {}
    plat = r.get("platform") or {}
    return [
        ["full command", str(r.get("command", ""))],
        ["working directory", str(r.get("cwd", ""))],
        [
            "git commit",
            "not run from a git checkout"
            if not git
            else f"{git['commit']}" + (" (with uncommitted changes)" if git.get("dirty") else ""),
        ],
        ["code hash (sim + optimizers sources, sha256)", str(r.get("code_hash", ""))],
        ["Python", str(py.get("version", ""))],
        ["platform", str(plat.get("platform", ""))],
        ["installed distributions", f"{len(r.get('distributions') or {})} (see manifest.json)"],
    ]
