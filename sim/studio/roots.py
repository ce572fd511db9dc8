"""The two folders the studio may touch, and the rule that keeps it inside them.

The studio reads and writes scenario files under ``scenarios/`` and reads results under
``results/`` (both relative to where ``channelsim studio`` was started, or given with
``--scenarios`` / ``--results``). Anyone who can open the page can pick files and save plans, so
every path that arrives from the page is a *name relative to a root*, resolved (``..`` and
symbolic links followed) and refused unless it stays under that root::

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> confine(root, "plans/new.yaml") == root.resolve() / "plans" / "new.yaml"
    True
    >>> confine(root, "../etc/passwd")
    Traceback (most recent call last):
    ...
    sim.errors.UsageError: ../etc/passwd: outside the studio's folder ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sim.errors import ScenarioError, UsageError
from sim.scenario import load_raw
from sim.scenario.kinds import file_kind

#: Environment variables that hand the roots from ``channelsim studio`` to the app's pages
#: (Solara imports the pages itself, so they cannot be passed as arguments).
ENV_SCENARIOS = "CHANNELSIM_STUDIO_SCENARIOS"
ENV_RESULTS = "CHANNELSIM_STUDIO_RESULTS"
ENV_WORKERS = "CHANNELSIM_STUDIO_WORKERS"
SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Roots:
    """Where scenario files and results live (absolute, resolved)."""

    scenarios: Path
    results: Path
    workers: int | None = None

    @classmethod
    def make(cls, scenarios: str | Path, results: str | Path, workers: int | None = None) -> Roots:
        return cls(Path(scenarios).resolve(), Path(results).resolve(), workers)

    @classmethod
    def from_env(cls) -> Roots:
        """The roots ``channelsim studio`` exported (``scenarios/`` and ``results/`` of the
        working directory when the app runs on its own, e.g. ``solara run sim/studio/app.py``)."""
        workers = os.environ.get(ENV_WORKERS)
        return cls.make(
            os.environ.get(ENV_SCENARIOS, "scenarios"),
            os.environ.get(ENV_RESULTS, "results"),
            int(workers) if workers else None,
        )

    def export(self) -> None:
        """Put the roots where :meth:`from_env` finds them (this process and its children)."""
        os.environ[ENV_SCENARIOS] = str(self.scenarios)
        os.environ[ENV_RESULTS] = str(self.results)
        if self.workers is not None:
            os.environ[ENV_WORKERS] = str(self.workers)

    def scenario(self, name: str | Path) -> Path:
        return confine(self.scenarios, name)

    def result(self, name: str | Path) -> Path:
        return confine(self.results, name)


def confine(root: str | Path, name: str | Path) -> Path:
    """``root / name`` resolved, or :class:`UsageError` if it leaves ``root``.

    Absolute names, ``..`` and symbolic links pointing elsewhere are all caught by comparing
    resolved paths, so the check holds whatever the name's spelling.
    """
    base = Path(root).resolve()
    text = str(name)
    if not text or "\x00" in text:
        raise UsageError(f"{text!r}: not a file name")
    path = (base / text).resolve()
    if path != base and base not in path.parents:
        raise UsageError(
            f"{text}: outside the studio's folder {base} (the studio only reads and "
            "writes files under its scenarios and results folders)"
        )
    return path


def scenario_files(root: str | Path) -> list[str]:
    """Scenario files under ``root`` (relative names, sorted): YAML files that are scenarios,
    not sweep designs or inventory-only sections; unreadable files are listed too, so the
    editor can show what is wrong with them."""
    base = Path(root).resolve()
    if not base.is_dir():
        return []
    out = []
    for path in sorted(base.rglob("*")):
        if path.suffix not in SCENARIO_SUFFIXES or not path.is_file():
            continue
        rel = path.relative_to(base)
        if any(part.startswith(".") for part in rel.parts) or base not in path.resolve().parents:
            continue  # hidden, or a link that leads out of the folder
        try:
            if file_kind(load_raw(path)) != "scenario":
                continue
        except ScenarioError:
            pass
        out.append(rel.as_posix())
    return out
