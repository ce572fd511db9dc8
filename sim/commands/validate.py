"""``channelsim validate FILE [FILE ...]``: check scenario files without simulating."""

from __future__ import annotations

import sys

from sim.scenario import ScenarioError, load_scenario


def register(sub) -> None:
    p = sub.add_parser("validate", help="check scenario files and list every problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=run)


def run(args) -> int:
    status = 0
    for path in args.files:
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            status = 2
            print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            continue
        warnings = sc.warnings()
        print(
            f"{path}: ok ({sc.name}, {len(sc.channels)} channels, {sc.horizon.days} days, "
            f"hash {sc.content_hash()[:12]})"
        )
        for w in warnings:
            print(f"  warning: {w}")
    return status
