"""Errors the user can fix. The CLI prints them (no traceback) and exits with code 2."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line or its inputs, stated so the user can fix it."""
