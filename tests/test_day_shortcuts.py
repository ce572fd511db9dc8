"""The shortcuts that make a small day cheap (issue 17, part 3) give exactly the numbers of the
straightforward computation they replace: one hashing pass for several groups of customers, the
choice probabilities read from a per-combination table, the pool's tiers without the general
classifier, one ledger write for several measures, and choice hashing the buyers' and the
touches' draws."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

import sim.core.phases.choice as choice_module
from sim.core.ledger import LedgerRecorder
from sim.core.model import ChannelMarket
from sim.core.phases.choice import (
    _count_below,
    _cumulative,
    _table_channels,
    _traits,
    _utility,
)
from sim.core.phases.purchase import _KEYED, ORDER_MEASURES, SOURCE_ORDERS, SOURCE_REVENUE, _record
from sim.core.streams import Draws, hash_uniforms, splitmix64
from sim.levers.state import NO_EXTRA
from sim.scenario import apply_overrides

NO_STOCK = {"inventory": None, "market.customers": 2000, "horizon.days": 60}


def _documented_key(seed: int, replication: int, decision: str, day: int) -> int:
    """The key of (seed, replication, decision, day), computed with Python integers."""
    run_key = splitmix64(splitmix64(splitmix64(seed) ^ replication) ^ zlib.crc32(decision.encode()))
    return splitmix64(run_key ^ day)


def test_one_pass_over_groups_equals_a_hash_per_decision():
    draws = Draws(12345, 2, 5000)
    draws.set_day(77)
    rng = np.random.default_rng(3)
    groups = [
        (("a",), rng.choice(5000, 40, replace=False)),
        (("b", "c", "d"), rng.choice(5000, 25, replace=False)),
        (("e",), np.zeros(0, dtype=np.int64)),
        (("f", "g"), rng.choice(5000, 7, replace=False)),
    ]
    out = draws.groups(groups)
    for (decisions, customers), rows in zip(groups, out, strict=True):
        assert rows.shape == (len(decisions), len(customers))
        for decision, row in zip(decisions, rows, strict=True):
            expected = hash_uniforms(customers, _documented_key(12345, 2, decision, 77))
            np.testing.assert_array_equal(row, expected)


def test_choice_table_channels_equal_each_shoppers_own_computation(baseline):
    """Every combination a shopper can be in (random segments, last channels and landings, some
    of them channels that do not sell, pool membership, touches) and draws, some exactly on a
    row's entries: the compiled table lookup picks the very channel the per-shopper utility,
    logit and count of the row's entries below the draw pick."""
    sc = apply_overrides(baseline, NO_STOCK)
    model = ChannelMarket(sc, seed=4)
    for _ in range(5):
        model.step()
    pop, n_ch = model.pop, len(model.channel_agents)
    rng = np.random.default_rng(8)
    pop.last_channel[:] = rng.integers(-1, n_ch, pop.n)
    pop.landing[:] = rng.integers(-1, n_ch, pop.n)
    pop.in_private[:] = rng.random(pop.n) < 0.5
    pop.touched[:] = rng.random(pop.n) < 0.5
    everyone = np.arange(pop.n)
    direct = _cumulative(_utility(model, pop.segment[everyone], *_traits(pop, everyone), NO_EXTRA))
    u = rng.random(pop.n, dtype=np.float32)
    on_entry = rng.random(pop.n) < 0.2  # draws equal to an entry of their own row (ties)
    u[on_entry] = direct[on_entry, rng.integers(0, direct.shape[1], pop.n)[on_entry]]
    sell = model.selling
    expected = sell[np.minimum(_count_below(direct, u), len(sell) - 1)]
    np.testing.assert_array_equal(_table_channels(model, everyone, u), expected)
    assert np.isfinite(direct).all() and (direct[:, -1] > 0.99).all()
    assert len(np.unique(expected)) > 2


def test_the_compiled_order_write_equals_adding_one_order_at_a_time(baseline):
    """purchase's one write of the day's orders (sim.core.kernels.record_orders) against each
    measure summed one order at a time, in order, from the ledger's documented meaning."""
    sc = apply_overrides(baseline, NO_STOCK)
    model = ChannelMarket(sc, seed=1)
    rec, n_ch, day = model.recorder, len(model.channel_agents), 3
    model.day = day
    rng = np.random.default_rng(1)
    n = 60
    buyers = np.sort(rng.choice(model.pop.n, n, replace=False))
    channel = rng.integers(0, n_ch, n)
    units = rng.integers(1, 6, n).astype(np.int32)
    revenue = units * rng.gamma(2.0, 50.0, n)
    first = rng.random(n) < 0.4
    source = rng.integers(0, len(SOURCE_ORDERS), n).astype(np.int8)
    ad = rng.integers(-1, n_ch, n).astype(np.int8)
    model.pop.landing_channel[buyers] = ad
    model.today.order_source = source
    _record(model, buyers, channel, units, revenue, first)

    paid_code = SOURCE_ORDERS.index("orders_paid")
    cost = sc.market.unit_cost
    expected = {m: np.zeros(n_ch) for m in rec.flow}
    for i in range(n):
        ch, r = channel[i], revenue[i]
        for m, w in zip(
            ORDER_MEASURES,
            (1.0, float(units[i]), r, units[i] * cost, r * model.commission[ch]),
            strict=False,
        ):
            expected[m][ch] += w
        expected["new_customers"][ch] += 1.0 if first[i] else 0.0
        expected["repeat_orders"][ch] += 0.0 if first[i] else 1.0
        expected[SOURCE_ORDERS[source[i]]][ch] += 1.0
        expected[SOURCE_REVENUE[source[i]]][ch] += r
        if source[i] == paid_code and ad[i] >= 0:
            expected["orders_paid_ad"][ad[i]] += 1.0
            expected["revenue_paid_ad"][ad[i]] += r
    for m in _KEYED + SOURCE_ORDERS + SOURCE_REVENUE:
        np.testing.assert_array_equal(rec.flow[m][day], expected[m], err_msg=m)
        assert not rec.flow[m][[day - 1, day + 1]].any()
    assert (rec.flow["orders_paid_ad"][day] > 0).any()
    # the source measures are consecutive rows: purchase keys them as orders_paid + source
    assert np.array_equal(np.diff(rec.rows_of(SOURCE_ORDERS)), np.ones(len(SOURCE_ORDERS) - 1))
    assert np.array_equal(np.diff(rec.rows_of(SOURCE_REVENUE)), np.ones(len(SOURCE_ORDERS) - 1))


def test_the_same_values_added_to_several_measures(baseline):
    """add_same on consecutive rows (a slice, in any order) and on scattered ones."""
    rec = LedgerRecorder(baseline)
    values = np.arange(1.0, len(baseline.channels) + 1)
    rec.add_same(2, ("sessions", "visits"), values)
    rec.add_same(2, ("sessions", "orders"), values)
    for m, times in (("sessions", 2), ("visits", 1), ("orders", 1)):
        np.testing.assert_array_equal(rec.flow[m][2], times * values)
    assert not any(rec.flow[m].any() for m in rec.flow if m not in ("sessions", "visits", "orders"))


def test_hashing_buyers_with_the_shoppers_changes_no_number(baseline, monkeypatch):
    """The wide pass (choice hashes every shopper's per-buyer draws) against purchase hashing
    its buyers itself: the same ledger."""
    sc = apply_overrides(baseline, NO_STOCK)
    wide = ChannelMarket(sc, seed=2).run()
    monkeypatch.setattr(choice_module, "WIDE_PASS_MAX", -1)
    narrow = ChannelMarket(sc, seed=2).run()
    assert len(wide.orders) > 100
    pd.testing.assert_frame_equal(wide.orders, narrow.orders)
    pd.testing.assert_frame_equal(wide.daily, narrow.daily)


def test_touches_left_to_choice_use_the_touch_draws_of_the_morning_pool(baseline):
    """Without levers exposure leaves the private touches to choice's hashing pass: whoever is
    touched is exactly the pool members whose ``exposure.touch`` uniform falls below the touch
    slices' end, hashed with the documented key."""
    sc = apply_overrides(baseline, NO_STOCK)
    model = ChannelMarket(sc, seed=5)
    assert not model.levers.active
    touched_days = 0
    for day in range(40):
        pool = model.pop.in_private.nonzero()[0]  # in the morning (nothing moves it till choice)
        model.step()
        slices = model.exposure_plan.today(model, day)[1]["touch"]
        u = hash_uniforms(pool, _documented_key(5, 0, "exposure.touch", day))
        expected = pool[u < slices[0]]
        np.testing.assert_array_equal(model.pop.touched.nonzero()[0], expected)
        touched_days += len(expected) > 0
    assert touched_days >= 5  # (a 2 000-customer pool is small: touches on ~1 day in 4)
