"""What one browser session of the studio holds: the chosen files, the edits, the runs.

Solara gives every browser session (every tab) its own value of a module-level
``solara.reactive``, so two people on a shared studio do not see each other's edits or runs;
files they save are shared, as files are.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import solara

from sim.studio.background import ComparisonRun
from sim.studio.roots import Roots

_ids = itertools.count(1)


@dataclass(frozen=True)
class RunRecord:
    """A run started from the page, with the plan data it ran (to say what the next run
    changed) and a number to tell runs apart."""

    run: ComparisonRun
    plan_data: dict[str, Any]
    settings: str
    number: int = 0  # the session's run number, shown on the page
    key: int = field(default_factory=lambda: next(_ids))


baseline_name: solara.Reactive[str | None] = solara.reactive(None)
plan_name: solara.Reactive[str | None] = solara.reactive(None)
edits: solara.Reactive[dict[str, Any]] = solara.reactive({})
toggles: solara.Reactive[dict[tuple[str, str], bool]] = solara.reactive({})
replications: solara.Reactive[int] = solara.reactive(5)
customers: solara.Reactive[int] = solara.reactive(0)
current: solara.Reactive[RunRecord | None] = solara.reactive(None)
previous: solara.Reactive[RunRecord | None] = solara.reactive(None)
save_name: solara.Reactive[str] = solara.reactive("")
overwrite: solara.Reactive[bool] = solara.reactive(False)
save_message: solara.Reactive[tuple[bool, str]] = solara.reactive((True, ""))
files_version: solara.Reactive[int] = solara.reactive(0)
run_count: solara.Reactive[int] = solara.reactive(0)


def roots() -> Roots:
    return Roots.from_env()


def choose(which: solara.Reactive[str | None], name: str | None) -> None:
    """A new baseline or plan: the edits were for the old one, so they go."""
    if which.value != name:
        which.set(name)
        edits.set({})
        toggles.set({})
        save_message.set((True, ""))


def set_edit(path: str, value: Any, original: Any) -> None:
    """Record an edit; a value put back to the plan's own is no edit."""
    new = dict(edits.value)
    if value == original and type(value) is type(original):
        new.pop(path, None)
    else:
        new[path] = value
    edits.set(new)


def set_toggle(section: str, entry_id: str, on: bool, original: bool) -> None:
    new = dict(toggles.value)
    if on == original:
        new.pop((section, entry_id), None)
    else:
        new[(section, entry_id)] = on
    toggles.set(new)
