"""The plan page: pick a baseline and a plan, edit the levers, run, save.

Each lever is a field labelled in the plan's words (``Tmall flagship store · paid traffic``)
with its unit, its valid range from the schema and the baseline's value beside it; the edited
plan is validated on every change and ``validate``'s messages appear under the field they
name (the rest above the form).
"""

from __future__ import annotations

import json
from typing import Any

import solara

from sim.scenario import resolve_path
from sim.scenario.yaml_io import read_yaml
from sim.studio.editing import Loaded, apply_edits, check, load
from sim.studio.levers import GROUPS, Entry, Lever, calendar_entries, field_problems, plan_levers
from sim.studio.pages import session
from sim.studio.pages.run import RunPanel
from sim.studio.pages.save import SavePanel
from sim.studio.pages.widgets import CSS, Hint, Table, number
from sim.studio.plans import changes

__all__ = ["PlanPage", "default_baseline", "default_plan"]
from sim.studio.roots import Roots, scenario_files


def default_baseline(files: list[str]) -> str | None:
    return "baseline.yaml" if "baseline.yaml" in files else (files[0] if files else None)


def default_plan(roots: Roots, files: list[str], baseline: str | None) -> str | None:
    """The first file that extends the baseline, else the first other file."""
    others = [f for f in files if f != baseline]
    if baseline is None:
        return others[0] if others else None
    target = roots.scenarios / baseline
    for name in others:
        try:
            ext = read_yaml(roots.scenarios / name).get("extends")
            if ext and ((roots.scenarios / name).parent / str(ext)).resolve() == target.resolve():
                return name
        except Exception:  # noqa: BLE001, S112 - a file that does not read is just not a match
            continue
    return others[0] if others else None


@solara.component
def PlanPage() -> None:
    solara.Style(CSS)
    roots = session.roots()
    version = session.files_version.value
    files = solara.use_memo(lambda: scenario_files(roots.scenarios), [version])
    baseline = session.baseline_name.value or default_baseline(files)
    plan = session.plan_name.value or default_plan(roots, files, baseline)
    base = solara.use_memo(lambda: load(roots, baseline) if baseline else None, [baseline, version])
    mine = solara.use_memo(lambda: load(roots, plan) if plan else None, [plan, version])
    with solara.Card("Baseline and plan", margin=0):
        if not files:
            solara.Error(f"No scenario files under {roots.scenarios}")
        with solara.Row():
            solara.Select(
                "baseline",
                values=files,
                value=baseline,
                on_value=lambda v: session.choose(session.baseline_name, v),
                style="max-width: 24em",
            )
            solara.Select(
                "plan",
                values=files,
                value=plan,
                on_value=lambda v: session.choose(session.plan_name, v),
                style="max-width: 24em",
            )
        with solara.Row(style="align-items: center"):
            Hint(f"scenario files under {roots.scenarios}")
            solara.Button(
                "Reload files",
                on_click=lambda: session.files_version.set(version + 1),
                text=True,
            )
    for label, loaded in (("baseline", base), ("plan", mine)):
        if loaded is not None and loaded.problems:
            solara.Error(f"{label} {loaded.name} does not load:")
            for p in loaded.problems:
                Hint(p, error=True)
    if base is not None and mine is not None and not base.problems and not mine.problems:
        Editor(base, mine)


@solara.component
def Editor(base: Loaded, plan: Loaded) -> None:
    edits, toggles = session.edits.value, session.toggles.value
    data = solara.use_memo(
        lambda: apply_edits(plan.raw, edits, toggles, base.raw), [plan, base, edits, toggles]
    )
    edited, problems = solara.use_memo(lambda: check(data), [data])
    with solara.Columns([2, 3]):
        with solara.Column():
            LeverForm(base, plan, edited.model_dump(mode="json") if edited else None, problems)
        with solara.Column():
            RunPanel(base.scenario, edited, data)
            SavePanel(base, edited, data)
            ChangeList(base.raw, data)


@solara.component
def LeverForm(base: Loaded, plan: Loaded, edited: dict | None, problems: list[str]) -> None:
    off = {key for key, on in session.toggles.value.items() if not on}
    levers = plan_levers(edited or plan.dump, base.dump)
    levers = [lv for lv in levers if not _switched_off(lv.path, off)]
    on_field, general = field_problems(problems, [lv.path for lv in levers])
    if problems:
        solara.Error(f"The edited plan does not validate ({len(problems)} problem(s)).")
        for p in general:
            Hint(p, error=True)
    entries = calendar_entries(plan.dump, base.dump)
    for group in GROUPS:
        mine = [lv for lv in levers if lv.group == group]
        if not mine and not (group == GROUPS[2] and entries):
            continue
        with solara.Card(group, margin=0, classes=["my-2"]):
            if group == GROUPS[2]:
                CalendarSwitches(entries)
            for lv in mine:
                LeverField(lv, _original(plan.dump, lv.path), on_field.get(lv.path, []))


def _switched_off(path: str, off: set[tuple[str, str]]) -> bool:
    parts = path.split(".")
    return len(parts) > 3 and parts[0] == "promotions" and (parts[1], parts[2]) in off


def _original(dump: dict, path: str) -> Any:
    try:
        return resolve_path(dump, path)
    except KeyError:
        return None


@solara.component
def CalendarSwitches(entries: list[Entry]) -> None:
    toggles = session.toggles.value
    with solara.Row(style="flex-wrap: wrap"):
        for e in entries:
            on = toggles.get((e.section, e.id), e.on)
            where = "" if e.in_baseline else " (not in baseline)"
            solara.Checkbox(
                label=f"{e.label}{where}",
                value=on,
                on_value=lambda v, e=e: session.set_toggle(e.section, e.id, v, e.on),
            )


@solara.component
def LeverField(lever: Lever, original: Any, problems: list[str]) -> None:
    edits = session.edits.value
    value = edits.get(lever.path, lever.value)

    def on_value(v: Any) -> None:
        session.set_edit(lever.path, v, original)

    with solara.Div(classes=["studio-field"]):
        common = {"on_value": on_value}
        if lever.kind == "int":
            solara.InputInt(lever.label, value=value, optional=value is None, **common)
        elif lever.kind == "float":
            v = None if value is None else float(value)
            solara.InputFloat(lever.label, value=v, optional=v is None, **common)
        elif lever.kind == "choice":
            solara.Select(lever.label, values=list(lever.choices), value=value, on_value=on_value)
        else:
            solara.InputText(lever.label, value="" if value is None else str(value), **common)
        changed = f" · plan file: {number(original)}" if lever.path in edits else ""
        Hint(
            f"{lever.unit or 'value'} · valid {lever.range_text()} · "
            f"baseline {number(lever.base)}{changed}"
        )
    for p in problems:
        Hint(p, error=True)


@solara.component
def ChangeList(base_raw: dict, data: dict) -> None:
    """What the edited plan changes against the baseline, by dotted path."""
    rows = [[c.path, _short(c.baseline), _short(c.plan)] for c in changes(base_raw, data)]
    with solara.Card("What this plan changes (vs the baseline)"):
        if rows:
            Table(["path", "baseline", "plan"], rows)
        else:
            Hint("nothing: the plan is the baseline")


def _short(v: Any) -> str:
    if isinstance(v, dict | list):
        text = json.dumps(v, ensure_ascii=False, default=str)
        return text if len(text) <= 60 else text[:57] + "…"
    return number(v) if not isinstance(v, str) else v
