"""Inventory engine: exact-theory verification, no-overselling properties, behaviour, schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from sim.inventory import (
    BACKORDER,
    LOST,
    SERVED,
    SWITCH,
    Inventory,
    InventorySpec,
    fill_rate,
    holding_cost,
    inventory_kpis,
    run_exogenous,
    stockout_rate,
)
from sim.inventory.theory import (
    PoissonCosts,
    base_stock_fill_rate,
    ss_cost,
    ss_fill_rate,
    zheng_federgruen,
)

BACKORDER_PENALTY = 9.0


# ---------------------------------------------------------------------------------------------
# Independent oracles (written without the module under test)
# ---------------------------------------------------------------------------------------------
def markov_chain_cost(s: int, big_s: int, inst: PoissonCosts) -> float:
    """(s, S) long-run cost from the stationary distribution of the position after ordering,
    solved as a linear system, with G(y) by direct truncated summation over demand."""
    levels = np.arange(s + 1, big_s + 1)
    n = len(levels)
    p = stats.poisson.pmf(np.arange(big_s - s + 1), inst.mean)
    trans = np.zeros((n, n))
    for i, y in enumerate(levels):
        for j, z in enumerate(levels):
            if z <= y:  # demand y - z >= 0 keeps the position above s
                trans[i, j] += p[y - z]
        trans[i, n - 1] += 1 - p[: y - s].sum()  # falls to <= s: order up to S
    a = np.vstack([trans.T - np.eye(n), np.ones(n)])
    pi = np.linalg.lstsq(a, np.r_[np.zeros(n), 1.0], rcond=None)[0]
    mu = inst.mean * (inst.lead_time + 1)
    d = np.arange(int(mu + 20 * np.sqrt(mu) + 50))
    pd_ = stats.poisson.pmf(d, mu)
    g = np.array(
        [
            (inst.holding * np.maximum(y - d, 0) + inst.backorder * np.maximum(d - y, 0)) @ pd_
            for y in levels
        ]
    )
    p_order = sum(pi[i] * (1 - p[: y - s].sum()) for i, y in enumerate(levels))
    return float(inst.order_cost * p_order + pi @ g)


def brute_force_optimum(inst: PoissonCosts) -> tuple[int, int, float]:
    mu = inst.mean * (inst.lead_time + 1)
    best = (0, 1, np.inf)
    for s in range(-3, int(mu * 1.5) + 5):
        for big_s in range(s + 1, s + int(4 * mu) + 40):
            c = ss_cost(s, big_s, inst)
            if c < best[2]:
                best = (s, big_s, c)
    return best


INSTANCES = [  # (instance, s, S): optimal and non-optimal policies, L = 0 and L > 0
    (PoissonCosts(5, 0, 64, 1.0, BACKORDER_PENALTY), 2, 27),
    (PoissonCosts(5, 2, 64, 1.0, BACKORDER_PENALTY), 12, 38),
    (PoissonCosts(3, 1, 20, 0.5, BACKORDER_PENALTY), 1, 12),
    (PoissonCosts(8, 0, 30, 2.0, BACKORDER_PENALTY), 3, 20),
]


@pytest.mark.parametrize("inst,s,big_s", INSTANCES)
def test_renewal_formula_matches_markov_chain(inst: PoissonCosts, s: int, big_s: int) -> None:
    assert ss_cost(s, big_s, inst) == pytest.approx(markov_chain_cost(s, big_s, inst), rel=1e-9)


@pytest.mark.parametrize("inst", [INSTANCES[0][0], INSTANCES[1][0], INSTANCES[2][0]])
def test_zheng_federgruen_matches_brute_force(inst: PoissonCosts) -> None:
    s, big_s, c = zheng_federgruen(inst)
    bs, bbig, bc = brute_force_optimum(inst)
    assert c == pytest.approx(bc, rel=1e-12)
    assert ss_cost(s, big_s, inst) == pytest.approx(c, rel=1e-12)
    assert (s, big_s) == (bs, bbig)


# ---------------------------------------------------------------------------------------------
# Simulation vs exact theory
# ---------------------------------------------------------------------------------------------
def _exogenous_spec(
    groups: list[tuple[PoissonCosts, dict]], copies: int, backorders: bool = True
) -> InventorySpec:
    skus, pols, means = [], [], {}
    for g, (inst, policy) in enumerate(groups):
        for c in range(copies):
            sid = f"g{g}c{c}"
            skus.append({"id": sid, "price": 10, "unit_cost": 5, "volume": inst.holding})
            pols.append(
                {"sku": sid, "lead_time": inst.lead_time, "order_cost": inst.order_cost, **policy}
            )
            means[sid] = {"mean": inst.mean}
    return InventorySpec.model_validate(
        {
            "skus": skus,
            "policies": pols,
            "costs": {"holding": 1.0, "backorder": groups[0][0].backorder},
            "demand": {"mode": "exogenous", "skus": means, "backorders": backorders},
        }
    )


def _group_means(inv: Inventory, copies: int, n_groups: int) -> pd.DataFrame:
    tot = inv.totals()
    tot["group"] = np.repeat(np.arange(n_groups), copies)
    tot["cost"] = tot[["holding_cost", "ordering_cost", "backorder_cost"]].sum(axis=1)
    per = tot.groupby("group")[["cost", "served", "demand"]].sum()
    per["cost"] /= copies * tot["days"].iloc[0]
    per["fill"] = per["served"] / per["demand"]
    return per


def test_simulated_ss_cost_matches_exact_within_one_percent() -> None:
    copies = 60
    groups = [(inst, {"type": "sS", "s": s, "S": big_s}) for inst, s, big_s in INSTANCES]
    inv = run_exogenous(_exogenous_spec(groups, copies), 6000, seed=11, record=False, warmup=300)
    per = _group_means(inv, copies, len(groups))
    for g, (inst, s, big_s) in enumerate(INSTANCES):
        exact = ss_cost(s, big_s, inst)
        assert per.loc[g, "cost"] == pytest.approx(exact, rel=0.01), (g, inst)
        assert per.loc[g, "fill"] == pytest.approx(ss_fill_rate(s, big_s, inst), abs=0.005)


def test_base_stock_fill_rate_matches_closed_form() -> None:
    cases = [
        (PoissonCosts(4, 0), 5),
        (PoissonCosts(4, 2), 12),
        (PoissonCosts(4, 2), 16),
        (PoissonCosts(2, 3), 7),
    ]
    copies = 40
    groups = [(inst, {"type": "base_stock", "level": lvl}) for inst, lvl in cases]
    inv = run_exogenous(_exogenous_spec(groups, copies), 4000, seed=5, record=False, warmup=100)
    per = _group_means(inv, copies, len(groups))
    for g, (inst, lvl) in enumerate(cases):
        assert per.loc[g, "fill"] == pytest.approx(base_stock_fill_rate(lvl, inst), abs=0.004)


def test_exogenous_distributions_have_their_moments() -> None:
    spec = InventorySpec.model_validate(
        {
            "skus": [{"id": x, "price": 1, "unit_cost": 0} for x in "PNG"],
            "demand": {
                "mode": "exogenous",
                "mean": 6.0,
                "skus": {
                    "N": {"distribution": "negbin", "dispersion": 2.0},
                    "G": {"distribution": "normal", "sd": 2.0},
                },
            },
        }
    )
    inv = Inventory(spec, ["exogenous"], 20000, np.random.default_rng(3))
    d = inv.draw_exogenous_demand()
    assert d.mean(0) == pytest.approx([6, 6, 6], rel=0.03)
    assert d.var(0) == pytest.approx([6, 6 + 36 / 2, 4], rel=0.06)
    assert d.min() >= 0


# ---------------------------------------------------------------------------------------------
# No overselling: property tests against a sequential reference
# ---------------------------------------------------------------------------------------------
KIND_RANK = {"channel": 0, "regional": 1, "central": 2}


def reference_fulfil(
    spec: InventorySpec,
    channels: list[str],
    on_hand: np.ndarray,
    resv: np.ndarray,
    orders: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, ...]:
    """One order at a time, in the given sequence: the rule as stated in the brief."""
    on_hand, resv = on_hand.copy(), resv.copy()
    locs = spec.locations
    ch, sk, q, u = orders
    served = np.zeros(len(q), bool)
    loc = np.full(len(q), -1)
    outcome = np.zeros(len(q), int)

    def avail(c: int, k: int, l_: int) -> int:
        return on_hand[k, l_] - resv[k, l_].sum() + resv[k, l_, c]

    def take(c: int, k: int, l_: int, n: int) -> None:
        own = min(resv[k, l_, c], n)
        resv[k, l_, c] -= own
        on_hand[k, l_] -= n

    for i in range(len(q)):
        c, k = ch[i], sk[i]
        route = sorted(
            (j for j, x in enumerate(locs) if x.serves is None or channels[c] in x.serves),
            key=lambda j: (KIND_RANK[locs[j].kind], j),
        )
        for l_ in route:
            if avail(c, k, l_) >= q[i]:
                take(c, k, l_, q[i])
                served[i], loc[i] = True, l_
                break
        else:
            so = spec.stockout.get(channels[c], spec.default_stockout)
            outcome[i] = (
                LOST if u[i] < so.lose else SWITCH if u[i] < so.lose + so.switch else BACKORDER
            )
            if outcome[i] == BACKORDER:
                take(c, k, route[0], max(avail(c, k, route[0]), 0))
    return served, loc, outcome, on_hand


@st.composite
def random_setups(draw: st.DrawFn) -> tuple[InventorySpec, list[str], int, bool]:
    n_sku = draw(st.integers(1, 3))
    channels = [f"c{i}" for i in range(draw(st.integers(1, 3)))]
    kinds = draw(
        st.lists(st.sampled_from(["central", "channel", "regional"]), min_size=1, max_size=3)
    )
    reserve = draw(st.booleans())
    locations = []
    for j, kind in enumerate(kinds):
        serves = (
            None if j == 0 else draw(st.lists(st.sampled_from(channels), min_size=1, unique=True))
        )
        locations.append(
            {
                "id": f"L{j}",
                "kind": kind,
                "serves": serves,
                "delivery_days": j + 1,
                "initial": draw(st.integers(0, 12)),
                "reserve": {channels[0]: draw(st.sampled_from([0.3, 0.6]))} if reserve else {},
                "reserve_classes": ["hot", "regular", "slow"],
            }
        )
    policies = []
    for k in range(n_sku):
        for j in range(len(kinds)):
            policies.append({"sku": f"s{k}", "location": f"L{j}", **draw(random_policy())})
    weights = draw(st.lists(st.integers(0, 3), min_size=3, max_size=3).filter(any))
    w = np.array(weights) / sum(weights)
    stockout = {"lose": w[0], "switch": w[1], "backorder": 1 - w[0] - w[1]}
    spec = InventorySpec.model_validate(
        {
            "skus": [
                {"id": f"s{k}", "price": 10, "unit_cost": 4, "klass": ["hot", "regular", "slow"][k]}
                for k in range(n_sku)
            ],
            "locations": locations,
            "policies": policies,
            "costs": {"holding": 0.1, "backorder": 1.0},
            "default_stockout": stockout,
        }
    )
    return spec, channels, draw(st.integers(0, 2**31)), reserve


@st.composite
def random_policy(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(["sS", "sQ", "base_stock", "forecast", "none"]))
    lead = draw(
        st.one_of(
            st.integers(0, 3),
            st.just({"dist": "poisson", "mean": 1.5}),
            st.just({"dist": "uniform", "low": 0, "high": 3}),
        )
    )
    base = {
        "type": kind,
        "lead_time": lead,
        "review_period": draw(st.integers(1, 3)),
        "order_cost": 5.0,
    }
    s = draw(st.integers(-2, 6))
    params = {
        "sS": {"s": s, "S": s + draw(st.integers(1, 10))},
        "sQ": {"s": s, "Q": draw(st.integers(1, 6))},
        "base_stock": {"level": draw(st.integers(0, 12))},
        "forecast": {"k": draw(st.floats(0, 2)), "window": 3, "initial_forecast": 2.0},
        "none": {},
    }[kind]
    if kind == "none":
        return {"type": "none"}
    return {**base, **params}


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(random_setups())
def test_no_overselling_and_backorders_are_the_deficit(setup) -> None:
    spec, channels, seed, reserve = setup
    days = 6
    g = np.random.default_rng(seed)
    inv = Inventory(spec, channels, days, np.random.default_rng(seed + 1))
    any_backorder = spec.default_stockout.backorder > 0
    for d in range(days):
        inv.begin_day(d)
        net_before = inv.on_hand - inv.backorders
        n = int(g.integers(0, 25))
        orders = (
            g.integers(0, len(channels), n),
            g.integers(0, inv.n_skus, n),
            g.integers(1, 5, n),
            g.random(n),
        )
        ref_served, ref_loc, ref_out, ref_on_hand = reference_fulfil(
            spec, channels, inv.on_hand, inv.reserved, orders
        )
        res = inv.fulfil(*orders)
        np.testing.assert_array_equal(res.served, ref_served)
        np.testing.assert_array_equal(res.location, ref_loc)
        np.testing.assert_array_equal(res.outcome[~res.served], ref_out[~ref_served])
        assert (res.outcome[res.served] == SERVED).all()
        np.testing.assert_array_equal(inv.on_hand, ref_on_hand)
        # every unit demanded is either served once, or backordered (committed + owed) once
        consumed = np.zeros_like(net_before)
        ch, sk, q, _ = orders
        prim = [
            next(
                iter(
                    sorted(
                        (
                            j
                            for j, x in enumerate(spec.locations)
                            if x.serves is None or channels[c] in x.serves
                        ),
                        key=lambda j: (KIND_RANK[spec.locations[j].kind], j),
                    )
                )
            )
            for c in range(len(channels))
        ]
        for i in range(n):
            if res.served[i]:
                consumed[sk[i], res.location[i]] += q[i]
            elif res.outcome[i] == BACKORDER:
                consumed[sk[i], prim[ch[i]]] += q[i]
        np.testing.assert_array_equal(inv.on_hand - inv.backorders, net_before - consumed)
        inv.end_day(d)
        assert (inv.on_hand >= 0).all() and (inv.on_order >= 0).all()
        assert (inv.backorders >= 0).all()
        if not any_backorder:
            assert (inv.backorders == 0).all()
        if not reserve:  # stock and backorders never coexist at a location
            assert ((inv.on_hand == 0) | (inv.backorders == 0)).all()
    rec = inv.records()
    assert (rec["served"] <= rec["demand"]).all()
    assert rec["served"].sum() + rec["lost"].sum() + rec["switched"].sum() <= rec["demand"].sum()


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.integers(0, 2**31), st.booleans(), random_policy())
def test_exogenous_stock_and_backorders_track_net_inventory(seed, backorders, policy) -> None:
    spec = InventorySpec.model_validate(
        {
            "skus": [{"id": "a", "price": 5, "unit_cost": 2}],
            "locations": [{"id": "central", "initial": seed % 7}],
            "policies": [policy],
            "demand": {"mode": "exogenous", "mean": 3.0, "backorders": backorders},
        }
    )
    rec = run_exogenous(spec, 40, seed).records()
    net = seed % 7 + rec["received"].cumsum() - (rec["served"] + rec["backordered"]).cumsum()
    assert (rec["on_hand"] == np.maximum(net, 0)).all()
    assert (rec["backorders"] == np.maximum(-net, 0)).all()
    assert (rec["served"] <= rec["demand"]).all()
    if not backorders:
        assert (rec["backorders"] == 0).all()
        assert (rec["served"] + rec["lost"] == rec["demand"]).all()


# ---------------------------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------------------------
def _forecast_run(k: float) -> pd.DataFrame:
    spec = InventorySpec.model_validate(
        {
            "skus": [{"id": "a", "price": 10, "unit_cost": 4}],
            "policies": [
                {"type": "forecast", "k": k, "window": 14, "lead_time": 3, "safety_basis": "sigma"}
            ],
            "costs": {"holding": 0.2},
            "demand": {"mode": "exogenous", "mean": 5.0, "backorders": False},
        }
    )
    return run_exogenous(spec, 1500, seed=21).records()


def test_higher_safety_factor_lowers_stockouts_and_raises_holding() -> None:
    runs = [_forecast_run(k) for k in (0.0, 0.75, 1.5)]
    so = [stockout_rate(r) for r in runs]
    hc = [holding_cost(r) for r in runs]
    assert so[0] > so[1] > so[2]
    assert hc[0] < hc[1] < hc[2]
    # common random numbers: the three runs saw exactly the same demand
    assert all((r["demand"].to_numpy() == runs[0]["demand"].to_numpy()).all() for r in runs)


def _one_location_spec(stockout: dict, initial: int | dict = 3, **extra) -> InventorySpec:
    return InventorySpec.model_validate(
        {
            "skus": [
                {"id": "a", "price": 10, "unit_cost": 4, "klass": "hot"},
                {"id": "b", "price": 8, "unit_cost": 3, "klass": "slow", "channels": ["web"]},
            ],
            "locations": [{"id": "central", "initial": initial}],
            "stockout": {"web": stockout},
            **extra,
        }
    )


def test_switch_probability_one_switches_every_unserved_order() -> None:
    inv = Inventory(
        _one_location_spec({"switch": 1.0}), ["web", "shop"], 2, np.random.default_rng(0)
    )
    inv.begin_day(0)
    u = np.random.default_rng(1).random(30)
    res = inv.fulfil(np.zeros(30, int), np.zeros(30, int), np.ones(30, int), u)
    assert res.served.sum() == 3 and res.served[:3].all()
    assert (res.outcome[~res.served] == SWITCH).all()
    assert np.isnan(res.delivery_days[~res.served]).all() and (res.location[3:] == -1).all()
    inv.end_day(0)
    rec = inv.records()
    assert rec.loc[rec.sku == "a", "switched"].sum() == 27
    assert rec["lost"].sum() == 0 and rec["backorders"].sum() == 0


def test_stockout_outcome_follows_the_uniforms() -> None:
    inv = Inventory(
        _one_location_spec({"lose": 0.2, "switch": 0.3, "backorder": 0.5}),
        ["web", "shop"],
        1,
        np.random.default_rng(0),
    )
    inv.begin_day(0)
    u = np.array([0.0, 0.0, 0.0, 0.1, 0.25, 0.49, 0.5, 0.99])
    res = inv.fulfil(np.zeros(8, int), np.zeros(8, int), np.ones(8, int), u)
    assert res.outcome.tolist() == [SERVED] * 3 + [LOST, SWITCH, SWITCH, BACKORDER, BACKORDER]
    shop = inv.fulfil(np.array([1]), np.array([0]), np.array([1]), np.array([0.9]))
    assert shop.outcome[0] == LOST  # default behaviour for channels not listed: lose
    with pytest.raises(ValueError, match="does not list SKU 'b'"):
        inv.fulfil(np.array([1]), np.array([1]), np.array([1]), np.array([0.5]))


def test_reservation_protects_stock_for_core_channel_and_subs_stock_first() -> None:
    spec = InventorySpec.model_validate(
        {
            "skus": [{"id": "a", "price": 10, "unit_cost": 4, "klass": "hot"}],
            "locations": [
                {"id": "central", "initial": 10, "reserve": {"tmall": 0.5}, "delivery_days": 3},
                {
                    "id": "dy",
                    "kind": "channel",
                    "serves": ["douyin"],
                    "initial": 2,
                    "delivery_days": 1,
                },
            ],
        }
    )
    inv = Inventory(spec, ["tmall", "douyin"], 1, np.random.default_rng(0))
    inv.begin_day(0)
    # douyin: 2 from its sub-stock (1 day), then only the 5 unreserved units at central
    res = inv.fulfil(np.ones(9, int), np.zeros(9, int), np.ones(9, int), np.full(9, 0.5))
    assert res.served.sum() == 7 and res.location[:2].tolist() == [1, 1]
    assert res.delivery_days[:3].tolist() == [1.0, 1.0, 3.0]
    # tmall still finds its 5 reserved units
    res = inv.fulfil(np.zeros(6, int), np.zeros(6, int), np.ones(6, int), np.full(6, 0.5))
    assert res.served.sum() == 5
    inv.end_day(0)
    k = inventory_kpis(inv.records())
    assert k["delivery_days.dy"] == 1 and k["delivery_days.central"] == 3


def test_substock_replenished_from_central_and_rebalanced() -> None:
    spec = InventorySpec.model_validate(
        {
            "skus": [{"id": "a", "price": 10, "unit_cost": 4}],
            "locations": [
                {"id": "central", "initial": 100},
                {"id": "sub", "kind": "channel", "serves": ["wx"], "initial": 0},
                {"id": "north", "kind": "regional", "serves": ["jd"], "initial": 0},
            ],
            "policies": [
                {"location": "central", "type": "none"},
                {
                    "location": "sub",
                    "type": "base_stock",
                    "level": 6,
                    "source": "central",
                    "lead_time": 1,
                    "transfer_cost": 0.5,
                },
                {"location": "north", "type": "none"},
            ],
            "transfers": [
                {
                    "source": "central",
                    "target": "north",
                    "min_cover_days": 2,
                    "target_cover_days": 4,
                    "cost_per_unit": 1.0,
                    "lead_time": 2,
                }
            ],
        }
    )
    inv = Inventory(spec, ["wx", "jd"], 6, np.random.default_rng(0))
    for d in range(6):
        inv.begin_day(d)
        inv.fulfil(np.array([0, 1]), np.array([0, 0]), np.array([2, 3]), np.array([0.5, 0.5]))
        inv.end_day(d)
    rec = inv.records().set_index(["day", "location"])
    assert rec.loc[(0, "sub"), "ordered_units"] == 6  # day 0: order-up-to 6 from central
    assert rec.loc[(1, "sub"), "received"] == 6
    assert rec.loc[(0, "central"), "transfer_out"] == 6 + 12  # replenishment + rebalancing
    assert rec.loc[(0, "north"), "transfer_cost"] == 12  # 4 days x 3 units, 1 per unit
    assert rec.loc[(2, "north"), "received"] == 12
    assert rec.xs("central", level="location")["on_hand"].min() >= 0


def test_clearance_discounts_slow_mover_on_listed_channels_after_d_days() -> None:
    spec = _one_location_spec(
        {"lose": 1.0},
        initial={"a": 3, "b": 50},
        clearance=[
            {
                "cover_limit_days": 5,
                "after_days": 2,
                "discount": 0.25,
                "channels": ["web"],
                "window": 7,
            }
        ],
    )
    inv = Inventory(spec, ["web", "shop"], 4, np.random.default_rng(0))
    mults = []
    for d in range(4):
        mults.append(inv.price_multiplier(d))
        inv.begin_day(d)
        inv.fulfil(np.array([0, 0]), np.array([0, 1]), np.array([1, 1]), np.array([0.5, 0.5]))
        inv.end_day(d)
    assert mults[0].tolist() == mults[1].tolist() == [[1, 1], [1, 1]]
    assert mults[2].tolist() == [[1, 0.75], [1, 1]]  # cover 49 days > 5 for two days
    assert inv.records().groupby("day")["clearance"].max().tolist() == [0, 0, 1, 1]


def test_same_seed_same_records_and_kpi_names() -> None:
    groups = [(PoissonCosts(4, 1, 10, 1.0, 2.0), {"type": "sS", "s": 3, "S": 12})]
    spec = _exogenous_spec(groups, 2)
    a = run_exogenous(spec, 50, seed=9).records()
    b = run_exogenous(spec, 50, seed=9).records()
    pd.testing.assert_frame_equal(a, b)
    k = inventory_kpis(a, 10, 40)
    assert {
        "stockout_rate.g0c0",
        "fill_rate.central",
        "inventory_turnover",
        "days_of_supply",
        "delivery_days",
        "lost_sales",
        "backorders",
    } <= set(k)
    w = a[(a.day >= 10) & (a.day < 40)]
    assert k["stockout_rate"] == pytest.approx(1 - w.served.sum() / w.demand.sum())
    one = w[w.sku == "g0c1"]
    assert fill_rate(a, 10, 40, sku="g0c1") == pytest.approx(one.served.sum() / one.demand.sum())
    assert k["inventory_turnover"] == pytest.approx(
        w.cogs.sum() / (w.inventory_value.sum() / 30) * 365 / 30
    )


def test_fill_rate_kpi_matches_the_exact_fill_rate() -> None:
    """The fill-rate KPI (served from stock at once ÷ demanded) of a long run of (s, S) under
    Poisson demand with backorders, against the closed form (sim.inventory.theory)."""
    inst = PoissonCosts(4, 1, 10, 1.0, 2.0)
    rec = run_exogenous(
        _exogenous_spec([(inst, {"type": "sS", "s": 3, "S": 12})], 8), 3000, seed=9
    ).records()
    exact = ss_fill_rate(3, 12, inst)  # 0.717; counting late-filled backorders gives ≈ 1
    assert inventory_kpis(rec, 200, 3000)["fill_rate"] == pytest.approx(exact, abs=0.01)
    assert fill_rate(rec, 200, 3000) == pytest.approx(exact, abs=0.01)
    assert stockout_rate(rec, 200, 3000) == pytest.approx(1 - exact, abs=0.01)


def test_day_protocol_is_enforced() -> None:
    inv = Inventory(_one_location_spec({"lose": 1.0}), ["web"], 3, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="begin_day"):
        inv.fulfil(np.array([0]), np.array([0]), np.array([1]), np.array([0.1]))
    inv.begin_day(0)
    with pytest.raises(RuntimeError):
        inv.begin_day(1)


# ---------------------------------------------------------------------------------------------
# Validation messages name the field
# ---------------------------------------------------------------------------------------------
def _errors(data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as exc:
        InventorySpec.model_validate(data)
    return [(e["loc"], e["msg"]) for e in exc.value.errors()]


SKUS = [
    {"id": "a", "price": 10, "unit_cost": 4, "demand_share": 0.5},
    {"id": "b", "price": 10, "unit_cost": 4, "demand_share": 0.3},
    {"id": "c", "price": 10, "unit_cost": 4, "demand_share": 0.2},
]


def test_shares_must_sum_to_one() -> None:
    bad = [dict(SKUS[0]), dict(SKUS[1]), {**SKUS[2], "demand_share": 0.1}]
    [(loc, msg)] = _errors({"skus": bad})
    assert loc == ("skus",) and "demand_share" in msg and "sum to 1" in msg and "0.9" in msg


def test_negative_cost_is_reported_at_its_path() -> None:
    bad = [dict(SKUS[0]), dict(SKUS[1]), {**SKUS[2], "unit_cost": -1}]
    [(loc, msg)] = _errors({"skus": bad})
    assert loc == ("skus", 2, "unit_cost") and "greater than or equal to 0" in msg


def test_unknown_policy_type_and_missing_parameter() -> None:
    [(loc, msg)] = _errors({"skus": SKUS, "policies": [{"type": "minmax", "s": 1}]})
    assert loc == ("policies", 0, "type") and "'sS'" in msg
    [(loc, msg)] = _errors({"skus": SKUS, "policies": [{"type": "sS", "s": 1, "Q": 4}]})
    assert loc == ("policies", 0) and "S: required for a sS policy" in msg


def test_cross_reference_and_stockout_errors() -> None:
    [(loc, msg)] = _errors({"skus": SKUS, "policies": [{"sku": "zz", "type": "none"}]})
    assert loc == ("policies",) and "[0].sku: unknown SKU 'zz'" in msg
    [(loc, msg)] = _errors({"skus": SKUS, "stockout": {"web": {"lose": 0.5, "switch": 0.2}}})
    assert loc == ("stockout", "web") and "sum to 1, got 0.7" in msg
    spec = InventorySpec.model_validate({"skus": SKUS, "stockout": {"app": {"lose": 1}}})
    with pytest.raises(ValueError, match="stockout: unknown channel 'app'"):
        Inventory(spec, ["web"], 5, np.random.default_rng(0))


def test_example_verification_scenario_loads_and_matches_theory() -> None:
    import yaml

    path = Path(__file__).resolve().parents[1] / "scenarios" / "inventory" / "verification.yaml"
    with open(path, encoding="utf-8") as fh:
        spec = InventorySpec.model_validate(yaml.safe_load(fh)["inventory"])
    inv = run_exogenous(spec, 3000, seed=1, record=False, warmup=200)
    tot = inv.totals().set_index("sku")
    zf = tot.loc["zf", ["holding_cost", "ordering_cost", "backorder_cost"]].sum() / 2800
    assert zf == pytest.approx(ss_cost(2, 27, PoissonCosts(5, 0, 64, 1.0, 9.0)), rel=0.03)
