"""Comparison reports: a results directory on disk, rendered as ``report.html`` and ``report.md``.

:func:`write_comparison` stores a :class:`~sim.experiments.comparison.Comparison` as plain files
(:mod:`sim.reports.store`, which lists them) and then renders the report *from those files*, so
``channelsim report RESULTS_DIR`` (:func:`write_report`) re-renders exactly the same report later
without simulating anything. The report's content is built section by section in
:mod:`sim.reports.sections` and rendered by :mod:`sim.reports.render`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sim.experiments.comparison import Comparison
from sim.reports.render import render_html, render_md
from sim.reports.sections import build
from sim.reports.store import Stored, load_results, store_comparison
from sim.results.directories import atomic_dir


def write_comparison(cmp: Comparison, out: str | Path, **manifest_extra: Any) -> Path:
    """Write ``cmp`` and its report into ``out`` atomically; returns ``out``."""
    out = Path(out)
    with atomic_dir(out) as tmp:
        store_comparison(cmp, tmp, **manifest_extra)
        write_report(tmp)
    return out


def write_report(directory: str | Path) -> tuple[Path, Path]:
    """(Re-)render ``report.html``, ``report.md`` and ``figures/`` from stored files."""
    d = Path(directory)
    stored = load_results(d)
    blocks = build(stored)
    figs = d / "figures"
    figs.mkdir(exist_ok=True)
    for b in blocks:
        for fig in b.figures:
            (figs / f"{fig.slug}.png").write_bytes(fig.png)
    title, subtitle = report_title(stored)
    for name, text in (
        ("report.html", render_html(title, stored, blocks, subtitle)),
        ("report.md", render_md(title, stored, blocks, subtitle)),
    ):
        tmp = d / f".{name}.tmp"  # atomic: a reader never sees half a report
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, d / name)
    return d / "report.html", d / "report.md"


def report_title(st: Stored) -> tuple[str, str]:
    """The plan's own name and description (the scenarios' ``name``/``description``), not file
    names: ``six_schemes against baseline`` and the plans' descriptions as the subtitle."""
    names = st.names
    titled = [str(st.scenarios.get(n, {}).get("name") or n) for n in names]
    if len(names) == 1:
        title = f"{titled[0]}: {st.summary.get('replications', '?')} replications"
    else:
        title = f"{' and '.join(titled[1:])} against {titled[0]}"
    described = names[1:] or names
    desc = [
        " ".join(str(st.scenarios.get(n, {}).get("description") or "").split()) for n in described
    ]
    subtitle = " ".join(
        (f"{t}: {d}" if len(described) > 1 else d)
        for t, d in zip(described, desc, strict=True)
        if d
    )
    return title, subtitle
