"""What it takes to reproduce a results directory from itself: the ``reproduce`` block of every
``manifest.json``.

A results directory already holds its resolved scenario(s) (``scenarios.json`` or the scenario
hash); :func:`reproducibility` adds the rest, gathered once when the directory is written:

* ``command`` — the full command line as typed (``--out`` included), shell-quoted, and ``cwd``;
* ``git`` — the commit and a ``dirty`` flag of the checkout the code runs from (``null`` when
  git is absent or the code is not in a checkout: never an error);
* ``code_hash`` — SHA-256 of every ``.py`` file of the installed ``sim`` and ``optimizers``
  packages (relative path + bytes, sorted), so an installed copy without git is identified too;
* ``distributions`` — the version of every installed distribution (``importlib.metadata``);
* ``python`` and ``platform``.

    >>> r = reproducibility(["channelsim", "run", "a b.yaml", "--out", "results/x"])
    >>> r["command"]
    "channelsim run 'a b.yaml' --out results/x"
    >>> len(r["code_hash"]), r["python"]["version"] == platform.python_version()
    (64, True)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

#: The packages whose sources make the code version (this project's own code).
CODE_PACKAGES = ("sim", "optimizers")
GIT_TIMEOUT_S = 10
#: The command being run, as the CLI received it (:func:`record_command`); None: ``sys.argv``.
_COMMAND: list[str] | None = None


def record_command(argv: Sequence[str]) -> None:
    """Remember the command line the CLI is running (``channelsim`` and its arguments), for
    commands run in-process (``main([...])``), where ``sys.argv`` is someone else's."""
    global _COMMAND
    _COMMAND = list(argv)


def reproducibility(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``reproduce`` block of a manifest (see the module docstring). ``argv`` defaults to
    this process's command line, its program shown as ``channelsim`` when it is the script."""
    return {
        "command": command_line(argv),
        "cwd": os.getcwd(),
        "git": git_state(Path(__file__).resolve().parents[2]),
        "code_hash": code_hash(),
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "distributions": distributions(),
    }


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as the user typed it (``channelsim …`` for the console script), quoted so
    that pasting it into a shell runs it again."""
    args = list((_COMMAND or sys.argv) if argv is None else argv)
    if args and Path(args[0]).name == "channelsim":
        args[0] = "channelsim"
    elif args and args[0].endswith(("__main__.py", "cli.py")):
        args[0:1] = ["python", "-m", "sim.commands.cli"]
    return shlex.join(args)


def git_state(directory: Path) -> dict[str, Any] | None:
    """``{"commit", "dirty"}`` of the git checkout holding ``directory``; ``None`` when git is
    not installed, times out, or ``directory`` is not inside a checkout."""
    try:
        head = _git(directory, "rev-parse", "HEAD")
        status = _git(directory, "status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return None
    if head is None or status is None:
        return None
    return {"commit": head.strip(), "dirty": bool(status.strip())}


def _git(directory: Path, *args: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def code_hash(packages: Sequence[str] = CODE_PACKAGES) -> str:
    """SHA-256 over the ``.py`` files of ``packages`` as installed (path relative to the
    package's parent, then the bytes; files in sorted order)."""
    import importlib

    h = hashlib.sha256()
    for name in packages:
        root = Path(importlib.import_module(name).__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(root.parent).as_posix().encode())
            h.update(b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def distributions() -> dict[str, str]:
    """``{name: version}`` of every installed distribution, sorted by name."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            found.setdefault(str(name), str(dist.version))
    return dict(sorted(found.items(), key=lambda kv: kv[0].lower()))
