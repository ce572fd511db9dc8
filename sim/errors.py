"""Errors the user can fix. The CLI prints them (no traceback) and exits with code 2."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line or its inputs, stated so the user can fix it."""


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists every problem with its path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))
