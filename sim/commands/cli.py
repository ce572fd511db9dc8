"""The ``channelsim`` command line.

Sub-commands come from the ``channelsim.commands`` entry points; each registers its parser and
a ``func(args) -> int``. Errors the user can fix (a bad scenario, a bad flag) print every
problem and exit with code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from sim.errors import ReplicationsFailed, UsageError
from sim.results.provenance import record_command
from sim.scenario import ScenarioError

__all__ = ["UsageError", "build_parser", "main"]

CORE_COMMANDS = ("sim.commands.validate", "sim.commands.run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="channelsim",
        description="Simulate and optimise online sales-channel plans.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    seen = set()
    for ep in sorted(entry_points(group="channelsim.commands"), key=lambda e: e.name):
        if ep.value in seen:
            continue
        seen.add(ep.value)
        try:
            register = ep.load()
        except ModuleNotFoundError as exc:
            if exc.name != ep.module:  # a missing dependency is a real error
                raise
            continue  # a command whose module this checkout does not ship
        register(sub)
    if not seen:  # running from a source tree without installed metadata
        import importlib

        for mod in CORE_COMMANDS:
            importlib.import_module(mod).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    record_command(["channelsim", *(sys.argv[1:] if argv is None else argv)])
    try:
        check_common_flags(args)
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ReplicationsFailed as exc:  # nothing to summarise, so nothing was written
        print(
            f"error: every replication failed; the first (replication {exc.replication}) "
            f"with:\n  {exc.reason()}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def check_common_flags(args: argparse.Namespace) -> None:
    """Flags many commands share, checked before a command reads or writes anything: a
    negative seed (numpy refuses it mid-run), a count below 1, a scheduler address that is
    malformed or has nothing listening (which would otherwise fail after the work began)."""
    seed = getattr(args, "seed", None)
    if isinstance(seed, int) and seed < 0:
        raise UsageError(f"--seed: must be ≥ 0, got {seed}")
    for flag in ("replications", "workers"):
        value = getattr(args, flag, None)
        if isinstance(value, int) and value < 1:
            raise UsageError(f"--{flag}: must be ≥ 1, got {value}")
    if getattr(args, "scheduler", None):
        from sim.experiments.evaluation import check_scheduler

        check_scheduler(args.scheduler)


if __name__ == "__main__":
    sys.exit(main())
