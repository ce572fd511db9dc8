"""Inventory optimiser: exact optima (Zheng-Federgruen) recovered by the simulated search."""

from __future__ import annotations

import numpy as np
import pytest

from optimizers.inventory import apply_policies, optimize_inventory
from sim.inventory import Inventory, InventorySpec
from sim.inventory.theory import PoissonCosts, ss_cost, ss_fill_rate, zheng_federgruen


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


@pytest.mark.parametrize(
    "inst,start",
    [
        (PoissonCosts(5, 0, 64, 1.0, 9.0), (10, 15)),  # start far from the optimum (2, 27)
        (PoissonCosts(10, 2, 100, 1.0, 19.0), (10, 40)),  # lead time 2, optimum (29, 72)
        (PoissonCosts(2, 1, 20, 0.5, 5.0), None),  # from the analytic start
    ],
)
def test_optimiser_finds_the_zheng_federgruen_optimum(inst, start) -> None:
    starts = {("a", "central"): start} if start else None
    table = optimize_inventory(_single_sku(inst), days=2000, replications=6, seed=1, starts=starts)
    row = table.iloc[0]
    zs, zbig, zc = zheng_federgruen(inst)
    assert ss_cost(int(row.s), int(row.S), inst) <= zc * 1.01
    assert row.analytic_cost == pytest.approx(ss_cost(int(row.s), int(row.S), inst))
    assert (row.exact_optimum_s, row.exact_optimum_S) == (zs, zbig)
    assert row.sim_cost == pytest.approx(row.analytic_cost, rel=0.03)
    if start:
        assert (row.start_s, row.start_S) == start


def test_fill_rate_target_is_met_at_least_cost() -> None:
    inst = PoissonCosts(5, 0, 64, 1.0, 9.0)
    table = optimize_inventory(
        _single_sku(inst), target_stockout_rate=0.02, days=2500, replications=6, seed=2
    )
    row = table.iloc[0]
    assert row.target_fill_rate == pytest.approx(0.98) and row.feasible
    assert row.sim_fill_rate >= 0.98
    exact_fill = ss_fill_rate(int(row.s), int(row.S), inst)
    assert exact_fill >= 0.975  # simulation noise may cross the line by a hair, not more
    # the constrained optimum by brute force on the exact formulas
    best = min(
        ss_cost(s, big_s, inst)
        for s in range(0, 15)
        for big_s in range(s + 1, s + 45)
        if ss_fill_rate(s, big_s, inst) >= 0.98
    )
    assert ss_cost(int(row.s), int(row.S), inst) <= best * 1.02
    assert ss_cost(int(row.s), int(row.S), inst) >= zheng_federgruen(inst)[2]


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
