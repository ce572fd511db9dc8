"""Inventory optimiser: the exact optimum where theory is exact, a search that two dips cannot
trap elsewhere, results that a failing verification cannot lose.

Every optimum the optimiser is held to is computed here, by brute force over a grid of (s, S)
with the closed-form cost and fill rate (``sim.inventory.ss_cost`` / ``ss_fill_rate``, which
``tests/test_inventory.py`` checks against an independent Markov chain and the simulator), never
read from the optimiser's own output.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from optimizers.inventory import apply_policies, optimize_inventory
from sim.inventory import Inventory, InventorySpec
from sim.inventory.theory import PoissonCosts, ss_cost, ss_fill_rate

from .conftest import SCENARIOS
from .test_tool_columns import assert_every_column_described


def _single_sku(inst: PoissonCosts) -> InventorySpec:
    return InventorySpec.model_validate(
        {
            "skus": [{"id": "a", "price": 10, "unit_cost": 4, "volume": inst.holding}],
            "policies": [
                {
                    "type": "sS",
                    "s": 0,
                    "S": 10,
                    "lead_time": inst.lead_time,
                    "order_cost": inst.order_cost,
                }
            ],
            "costs": {"holding": 1.0, "backorder": inst.backorder},
            "demand": {"mode": "exogenous", "mean": inst.mean},
        }
    )


def _grid_optimum(
    inst: PoissonCosts, q_max: int, fill: float | None = None
) -> tuple[float, int, int]:
    """``(cost, s, S)``: the best (s, S) on a grid, by brute force on the exact formulas; the
    grid is checked to hold the optimum inside it (not on its edge)."""
    mu = inst.mean * (inst.lead_time + 1)
    s_hi = int(mu + 7 * math.sqrt(mu)) + 5
    best = (math.inf, 0, 0)
    for s in range(-3, s_hi + 1):
        for q in range(1, q_max + 1):
            if fill is not None and ss_fill_rate(s, s + q, inst) < fill:
                continue
            c = ss_cost(s, s + q, inst)
            if c < best[0]:
                best = (c, s, s + q)
    _, s, big_s = best
    assert -3 < s < s_hi and big_s - s < q_max, "grid too small to hold the optimum"
    return best


# Lead times 0, 1 and 2, and the case with two dips in S (λ = 25, K = 64, h = 1, p = 9).
INSTANCES = [
    (PoissonCosts(5, 0, 64, 1.0, 9.0), 60, (10, 15)),  # start far from the optimum
    (PoissonCosts(10, 2, 100, 1.0, 19.0), 90, (10, 40)),
    (PoissonCosts(2, 1, 20, 0.5, 5.0), 40, None),  # from the analytic start
    (PoissonCosts(25, 0, 64, 1.0, 9.0), 110, None),
]


@pytest.mark.parametrize("inst,q_max,start", INSTANCES)
def test_poisson_backorders_give_the_exact_optimum(inst, q_max, start) -> None:
    starts = {("a", "central"): start} if start else None
    table = optimize_inventory(_single_sku(inst), days=2000, replications=4, seed=1, starts=starts)
    row = table.iloc[0]
    cost, s, big_s = _grid_optimum(inst, q_max)
    assert (int(row.s), int(row.S)) == (s, big_s)
    assert row.method.startswith("exact")
    # the simulated cost reported beside it agrees with the closed form (an independent check
    # of the simulation, not of the optimum)
    assert row.sim_cost == pytest.approx(cost, rel=0.03)


def test_the_two_dip_case_has_two_dips() -> None:
    """The λ = 25 case is a real trap: the best cost per S has a second local minimum."""
    inst = PoissonCosts(25, 0, 64, 1.0, 9.0)
    per_s = np.array(
        [min(ss_cost(s, big_s, inst) for s in range(0, 40)) for big_s in range(41, 110)]
    )
    dips = [
        i for i in range(1, len(per_s) - 1) if per_s[i] < per_s[i - 1] and per_s[i] < per_s[i + 1]
    ]
    assert len(dips) == 2 and [41 + i for i in dips][0] == 56
    assert per_s[dips[1]] > per_s[dips[0]] * 1.015  # the other dip is ≥ 1.5 % worse


def test_simulated_search_is_not_trapped_by_the_second_dip() -> None:
    inst = PoissonCosts(25, 0, 64, 1.0, 9.0)
    best, _, _ = _grid_optimum(inst, 110)
    table = optimize_inventory(
        _single_sku(inst), days=1500, replications=4, seed=3, method="simulation"
    )
    row = table.iloc[0]
    assert row.method == "simulation search"
    # within 0.5 % of the exact optimum; the other dip (S ≈ 77) is 1.9 % above it
    assert ss_cost(int(row.s), int(row.S), inst) <= best * 1.005


def test_fill_rate_target_gives_the_exact_constrained_optimum() -> None:
    inst = PoissonCosts(5, 0, 64, 1.0, 9.0)
    table = optimize_inventory(
        _single_sku(inst), target_stockout_rate=0.02, days=2000, replications=4, seed=2
    )
    row = table.iloc[0]
    cost, s, big_s = _grid_optimum(inst, 60, fill=0.98)
    assert row.target_fill_rate == pytest.approx(0.98)
    assert ss_cost(int(row.s), int(row.S), inst) == pytest.approx(cost, rel=1e-12)
    assert ss_fill_rate(int(row.s), int(row.S), inst) >= 0.98 and bool(row.feasible)
    assert cost > _grid_optimum(inst, 60)[0]  # the target binds: it costs something


def test_customer_mode_fits_demand_from_records_and_applies_policies() -> None:
    spec = InventorySpec.model_validate(
        {
            "skus": [{"id": "a", "price": 10, "unit_cost": 4}],
            "locations": [{"id": "central", "initial": 30}],
            "policies": [{"type": "sS", "s": 5, "S": 30, "lead_time": 2, "order_cost": 20}],
            "costs": {"holding": 0.5, "backorder": 2.0},
            "stockout": {"web": {"backorder": 1.0}},
        }
    )
    days, g = 400, np.random.default_rng(4)
    inv = Inventory(spec, ["web"], days, np.random.default_rng(5))
    for d in range(days):  # unit orders, Poisson(4) a day: what a customer model would send
        inv.begin_day(d)
        n = int(g.poisson(4.0))
        inv.fulfil(np.zeros(n, int), np.zeros(n, int), np.ones(n, int), g.random(n))
        inv.end_day(d)
    with pytest.raises(ValueError, match="pass `records`"):
        optimize_inventory(spec)
    table = optimize_inventory(spec, records=inv.records(), days=1500, replications=4, seed=0)
    row = table.iloc[0]
    assert row.demand_mean == pytest.approx(4.0, rel=0.1) and row.backorders
    assert row.demand_distribution == "poisson" and row.s < row.S
    new = apply_policies(spec, table)
    pol = new.policy_for(new.skus[0], "central")
    assert (pol.type, pol.s, pol.S, pol.order_cost) == ("sS", row.s, row.S, 20)
    assert pol.lead.value == 2


def test_bad_arguments_are_explained() -> None:
    spec = _single_sku(PoissonCosts(5, 0, 64, 1.0, 9.0))
    with pytest.raises(ValueError, match="service target"):
        optimize_inventory(spec, target_fill_rate=1.2)
    with pytest.raises(ValueError, match="days > warmup"):
        optimize_inventory(spec, days=100, warmup=200)
    with pytest.raises(ValueError, match="method"):
        optimize_inventory(spec, method="guess")  # type: ignore[arg-type]


def test_policies_are_written_before_verification_and_survive_its_failure(
    tmp_path, monkeypatch, capsys
) -> None:
    import yaml

    import optimizers.commands.inventory as command
    from sim.commands.cli import main
    from sim.scenario import load_raw

    raw = load_raw(SCENARIOS / "baseline.yaml")  # one SKU, daily review: a quick optimisation
    raw["inventory"] = {
        "skus": [{"id": "item", "price": 150, "unit_cost": 45}],
        "locations": [{"id": "central", "kind": "central", "initial": 200}],
        "policies": [{"sku": "item", "type": "sS", "s": 30, "S": 90, "lead_time": 2}],
        "costs": {"holding": 0.03, "backorder": 1.0},
    }
    path = tmp_path / "one_sku.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")

    def broken(*args, **kwargs):
        raise RuntimeError("verification exploded")

    monkeypatch.setattr(command, "verify_plan", broken)
    out = tmp_path / "inv"
    code = main(
        [
            "optimize",
            "inventory",
            str(path),
            "--set",
            "market.customers=1500",
            "--set",
            "market.real_customers=1500",  # one agent, one customer: demand in single units
            "--set",
            "horizon.days=60",
            "--days",
            "300",
            "-r",
            "2",
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "verification exploded" in err and str(out) in err
    policies = (out / "policies.csv").read_text().splitlines()
    assert len(policies) == 2 and policies[0].startswith("sku,location,type,s,S")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verification"]["status"] == "failed"
    assert [p["sku"] for p in summary["policies"]] == ["item"]
    assert set(assert_every_column_described(out)["table"]) == {"policies"}  # issue 16
