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
        tables.append(
            Table(
                ["setting (dotted path)", f"{base}", f"{p}"],
                [[path, _show(old), _show(new)] for path, old, new in diffs],
                caption=f"{p} vs {base}: {len(diffs)} settings differ",
            )
        )
    intro = "Every setting a plan changes against the baseline (resolved scenarios)."
    return Block("differences", TITLES["differences"], intro, tables, [])


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
    return Block(
        "manifest",
        TITLES["manifest"],
        "How this report was produced.",
        [Table(["field", "value"], rows)],
        [],
    )
