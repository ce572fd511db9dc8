"""``channelsim validate FILE [FILE ...]``: check files without simulating.

It refuses what ``run``, ``compare``, ``optimize`` and ``sweep`` would refuse, so a typo costs
a second, not a run. It recognises three kinds of file:

* **scenarios** — the schema, levers, KPI names of targets (``revenu.online`` is named with a
  close match), reserved channel ids, verification-mode stock; deprecated keys and suspicious
  settings are warnings (exit code 0);
* **sweep designs** (``scenarios/designs/``) — the schema and KPI names; with ``--design``
  next to scenarios, its parameters and KPIs are checked against each scenario, as ``channelsim
  sweep`` does before it starts;
* **inventory sections in verification mode** (``inventory.demand.mode: exogenous`` without a
  market) — refused as scenarios, which simulate customers, with what to run them with instead.

Every problem is listed with its path; exit code 2 on any.
"""

from __future__ import annotations

import sys
from typing import Any

from sim.commands.options import add_override_options
from sim.experiments.design import build_design, kpi_problems, load_design
from sim.scenario import ScenarioError, apply_overrides, build_scenario, load_raw
from sim.scenario.kinds import file_kind, inventory_only_problems
from sim.scenario.paths import parse_set_options


def register(sub) -> None:
    p = sub.add_parser("validate", help="check scenario and design files and list every problem")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--design",
        action="append",
        default=[],
        metavar="DESIGN",
        help="also check a sweep design against each scenario (parameters, KPI names)",
    )
    add_override_options(
        p, help="check the scenarios with this override, as run --set applies it", uncertainty=False
    )
    p.set_defaults(func=run)


def run(args) -> int:
    overrides = parse_set_options(args.overrides)
    designs = [(path, load_design(path)) for path in args.design]
    status = 0
    for path in args.files:
        try:
            lines = _check(path, overrides, designs)
        except ScenarioError as exc:
            status = 2
            print(f"{path}: {len(exc.problems)} problem(s)", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            continue
        print(lines[0])
        for line in lines[1:]:
            print(f"  {line}")
    return status


def _check(path: str, overrides: dict[str, Any], designs: list) -> list[str]:
    """The lines to print for a valid file; :class:`ScenarioError` lists a bad one's problems."""
    raw = load_raw(path)
    kind = file_kind(raw)
    if kind == "design":
        try:
            design = build_design(raw, source="")
        except ScenarioError as exc:  # listed under the file's name: no second prefix
            raise ScenarioError([p.removeprefix(": ") for p in exc.problems]) from None
        if problems := kpi_problems(design):
            raise ScenarioError(problems)
        return [
            f"{path}: ok (sweep design {design.name}, {design.sampler}, "
            f"{len(design.parameters)} parameters); check it against a scenario with "
            f"`channelsim validate SCENARIO --design {path}`"
        ]
    if kind == "inventory":
        raise ScenarioError(inventory_only_problems(raw))
    sc = build_scenario(raw, overrides=overrides)
    lines = [
        f"{path}: ok ({sc.name}, {len(sc.channels)} channels, {sc.horizon.days} days, "
        f"{sc.market.real_customers:,.0f} real customers simulated by "
        f"{sc.market.customers:,} agents, hash {sc.content_hash()[:12]})"
    ]
    lines += [f"warning: {w}" for w in sc.warnings()]
    for dpath, design in designs:
        problems = [f"{dpath}: {p}" for p in _design_problems(sc, design)]
        if problems:
            raise ScenarioError(problems)
        lines.append(f"design {dpath}: ok against {sc.name}")
    return lines


def _design_problems(sc, design) -> list[str]:
    """What ``channelsim sweep SCENARIO --design DESIGN`` would refuse before starting."""
    from sim.experiments.sweep import check_paths  # the sweep's own check of the parameters

    try:
        fixed = apply_overrides(sc, design.overrides)
        check_paths(fixed, design)
    except ScenarioError as exc:
        return list(exc.problems)
    return kpi_problems(design, fixed)
