"""``channelsim optimize inventory SCENARIO``: (s, S) policies per SKU and location.

Wires :func:`optimizers.inventory.optimize_inventory` (its own module, imported only when the
command runs) to the CLI: fits customer-driven demand on one simulated run when needed, applies
the policies to the scenario and writes the results directory with them, then verifies the
plan and adds the verification (a failing verification never loses the policies).
"""

from __future__ import annotations

from pathlib import Path

from optimizers.commands.common import (
    add_common_arguments,
    add_force_argument,
    check_args,
    claim_out,
    load_plan,
    print_summary,
    table_md,
    verify_after_writing,
    verify_plan,
    write_manifest,
    write_text,
    write_verification,
)
from sim.commands import ProgressBar, add_progress_option
from sim.errors import UsageError
from sim.results import atomic_dir, write_json, write_table, write_tool_columns


def add_parser(osub) -> None:
    p = osub.add_parser(
        "inventory",
        help="(s, S) policies per SKU and location: analytic start, refined by simulation",
    )
    add_common_arguments(p, replications=8)
    add_force_argument(p)
    p.add_argument("--fill-rate", type=float, default=None, help="fill-rate target, e.g. 0.95")
    p.add_argument(
        "--stockout-rate", type=float, default=None, help="stockout-rate ceiling, e.g. 0.05"
    )
    p.add_argument("--days", type=int, default=3000, help="days per policy simulation")
    add_progress_option(p)
    p.set_defaults(func=run_inventory)


def run_inventory(args) -> int:
    try:
        import optimizers.inventory  # noqa: F401 - present in this checkout?
    except ImportError as exc:
        raise UsageError(f"optimize inventory: unavailable in this checkout ({exc})") from None
    check_args(args)
    sc, baseline, _ = load_plan(args)
    if sc.inventory is None:
        raise UsageError(f"optimize inventory: {args.scenario} has no inventory: section")
    out = claim_out(args, f"{sc.name}-inventory")  # before optimising: fail fast
    seed = sc.seed if args.seed is None else args.seed
    with ProgressBar(
        "demand + policy search",
        total=2,
        enabled=not getattr(args, "no_progress", False),
        unit="step",
    ) as bar:
        records = _demand_records(sc, seed)
        bar.tick()
        table, spec = _search(sc, args, seed, records)
        bar.tick()
    plan = sc.model_copy(update={"inventory": spec})
    _write_results(out, table, None, sc, args, seed)  # the policies first: never lost
    print(table.to_string(index=False))
    with ProgressBar("verification", enabled=not getattr(args, "no_progress", False)) as bar:
        ver = verify_after_writing(
            out,
            "inventory",
            lambda: verify_plan(plan, sc, baseline, args, seed, progress=bar.update_to),
        )
    _write_verified(out, table, ver, sc)
    print(f"\nresults: {out}")
    print_summary(ver.comparison)
    return 0


def _search(sc, args, seed: int, records):
    """The policy table and the inventory section that applies it."""
    from optimizers.inventory import apply_policies, optimize_inventory

    try:
        table = optimize_inventory(
            sc.inventory,
            target_fill_rate=args.fill_rate,
            target_stockout_rate=args.stockout_rate,
            days=args.days,
            replications=args.replications,
            seed=seed,
            records=records,
        )
        return table, apply_policies(sc.inventory, table)
    except ValueError as exc:
        raise UsageError(f"optimize inventory: {exc}") from None


def _demand_records(sc, seed: int):
    """Stock records of one simulated run when demand comes from the customers, else None."""
    if getattr(sc.inventory.demand, "mode", "exogenous") == "exogenous":
        return None
    from sim import simulate

    records = simulate(sc, seed=seed).extra.get("inventory")
    if records is None:
        raise UsageError(
            "optimize inventory: customer-driven demand needs the stock "
            "records of a run, and this engine does not record them yet"
        )
    return records


def _write_results(out: Path, table, ver, sc, args, seed: int) -> None:
    """The policies, before verification (``verification: pending``)."""
    with atomic_dir(out) as tmp:
        write_manifest(tmp, sc, args, seed, "inventory")
        write_json(tmp / "summary.json", _summary(table, ver))
        write_table(tmp, "policies", table)
        write_tool_columns(tmp)  # columns.csv: every column of policies.csv
        write_text(tmp / "report.md", _report(sc, table, ver))


def _write_verified(out: Path, table, ver, sc) -> None:
    """The verification added to the results directory the policies are already in."""
    write_verification(ver, out)
    write_json(out / "summary.json", _summary(table, ver))
    write_text(out / "report.md", _report(sc, table, ver))


def _summary(table, ver) -> dict:
    return {
        "optimizer": "inventory",
        "policies": table.to_dict("records"),
        "verification": {"status": "pending"} if ver is None else ver.summary(),
    }


def _report(sc, table, ver) -> str:
    from optimizers.verification import markdown

    head = f"# Inventory policies: {sc.name}\n\n{table_md(table)}\n\n"
    if ver is None:
        return (
            head + "## Verification\n\nNot verified yet (pending, or failed: see summary.json).\n"
        )
    return head + f"## Verification (full replications)\n\n{markdown(ver)}\n"
