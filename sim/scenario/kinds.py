"""What a YAML file under ``scenarios/`` is: a scenario, a sweep design or an inventory section.

``channelsim validate`` checks each kind by its own rules; the commands that simulate customers
(``run``, ``compare``, ``optimize``) load scenarios only, and an inventory section alone — the
inventory engine's verification mode, ``scenarios/inventory/verification.yaml`` — is refused
with what it is and what runs it, instead of a list of missing scenario keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError

from sim.inventory.schema import InventorySpec

Kind = Literal["scenario", "design", "inventory"]
#: Top-level keys that only a scenario has.
SCENARIO_KEYS: tuple[str, ...] = ("market", "channels", "horizon")


def file_kind(raw: dict[str, Any]) -> Kind:
    """``design`` (``parameters`` without a market), ``inventory`` (an ``inventory:`` section
    without a market), else ``scenario``."""
    if any(k in raw for k in SCENARIO_KEYS):
        return "scenario"
    if "parameters" in raw:
        return "design"
    if "inventory" in raw:
        return "inventory"
    return "scenario"


def inventory_only_problems(raw: dict[str, Any]) -> list[str]:
    """Why an inventory section alone is not a scenario, and whether the section is valid."""
    try:
        spec = InventorySpec.model_validate(raw["inventory"])
    except ValidationError as exc:
        return [f"inventory.{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
    what = (
        "an inventory section in verification mode (inventory.demand.mode: exogenous: i.i.d. "
        "daily demand instead of customers)"
        if spec.demand.mode == "exogenous"
        else "an inventory section without a market, channels or horizon"
    )
    return [
        f"not a scenario: {what}; channelsim run, compare and optimize simulate customers and "
        f"refuse it. Its inventory section is valid ({len(spec.skus)} SKUs, "
        f"{len(spec.locations)} location(s)): run it with sim.inventory.run_exogenous "
        "(docs/inventory.md), or add market, channels and horizon to make it a scenario"
    ]
