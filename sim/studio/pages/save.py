"""Saving the edited plan as a file that extends the baseline (:func:`sim.studio.plans.save_plan`).

The file name is confined to the scenarios folder; the text is validated and checked to load
into the edited plan before it replaces anything.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import solara

from sim.errors import ScenarioError, UsageError
from sim.scenario import Scenario
from sim.studio.editing import Loaded
from sim.studio.pages import session
from sim.studio.pages.widgets import Hint
from sim.studio.plans import PlanDiffError, save_plan

__all__ = ["SavePanel", "suggested_name"]


def suggested_name(plan_name: str | None) -> str:
    stem = PurePosixPath(plan_name or "plan.yaml").with_suffix("")
    return f"{stem}_studio.yaml"


@solara.component
def SavePanel(base: Loaded, edited: Scenario | None, data: dict) -> None:
    roots = session.roots()
    name = session.save_name.value or suggested_name(session.plan_name.value or "plan.yaml")
    ok, message = session.save_message.value

    def set_plan_name(v: str | None) -> None:
        session.set_edit("name", v or "", data.get("name"))

    def save() -> None:
        try:
            target = roots.scenario(name)
            saved = save_plan(
                target,
                baseline_path=base.path,
                baseline_raw=base.raw,
                edited_raw=data,
                overwrite=session.overwrite.value,
            )
        except ScenarioError as exc:
            session.save_message.set((False, "not saved: " + "; ".join(exc.problems)))
            return
        except (UsageError, PlanDiffError, OSError) as exc:
            session.save_message.set((False, f"not saved: {exc}"))
            return
        rel = saved.path.relative_to(roots.scenarios).as_posix()
        session.save_message.set(
            (True, f"saved {rel}: extends {base.name}, validated (hash {saved.content_hash[:12]})")
        )
        session.files_version.set(session.files_version.value + 1)

    with solara.Card("Save the plan"):
        solara.InputText("plan name", value=str(data.get("name", "")), on_value=set_plan_name)
        if base.scenario is not None and data.get("name") == base.scenario.name:
            Hint("the plan has the baseline's name: reports will call it 'name#2'", error=True)
        solara.InputText(
            "file name (under the scenarios folder)",
            value=name,
            on_value=lambda v: session.save_name.set(v or ""),
        )
        solara.Checkbox(label="overwrite an existing file", value=session.overwrite)
        with solara.Row():
            solara.Button("Save plan", on_click=save, disabled=edited is None, color="primary")
        if edited is None:
            Hint("fix the plan's problems to save it", error=True)
        if message:
            (solara.Success if ok else solara.Error)(message)
        Hint(
            "The file says `extends:` the baseline and states only what differs; "
            "`channelsim validate` and `channelsim compare` read it as it is."
        )
