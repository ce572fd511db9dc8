"""Options several commands share, registered in one place so their names and meaning agree."""

from __future__ import annotations

from typing import Any


def add_override_options(p: Any, *, help: str, uncertainty: bool = True) -> None:
    """``--set PATH=VALUE`` (repeatable) and, with ``uncertainty``, ``--no-parameter-uncertainty``,
    its shorthand for ``--set uncertainty.enabled=false``: both land in ``args.overrides``."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help=help,
    )
    if uncertainty:
        p.add_argument(
            "--no-parameter-uncertainty",
            dest="overrides",
            action="append_const",
            const="uncertainty.enabled=false",
            help="fixed parameters: ignore the scenario's uncertainty.draws (= --set "
            "uncertainty.enabled=false)",
        )
