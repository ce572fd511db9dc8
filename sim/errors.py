"""Errors the user can fix. The CLI prints them (no traceback) and exits with code 2."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line or its inputs, stated so the user can fix it."""


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists every problem with its path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ReplicationsFailed(RuntimeError):
    """Every replication of a run raised, so there is nothing to summarise. ``error`` is the
    first replication's error as its worker recorded it (exception line, then a short
    traceback); the CLI shows :meth:`reason`, exits with code 2 and writes nothing."""

    def __init__(self, replication: int, error: str):
        self.replication, self.error = replication, error
        super().__init__(
            f"every replication failed; first error (replication {replication}):\n{error}"
        )

    def reason(self) -> str:
        """The first replication's exception, without the traceback."""
        return self.error.split("\nTraceback (most recent call last):")[0].strip()
