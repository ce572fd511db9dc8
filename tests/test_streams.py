"""Counter-based random numbers (sim.core.streams): each decision's uniform is a function of
(seed, replication, decision, day, customer), uniform on [0, 1), and independent of which other
customers were drawn for, which is what keeps common random numbers exact."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.core.model import ChannelMarket
from sim.core.streams import Draws, hash_uniforms, raw_bound, splitmix64
from sim.scenario import apply_overrides

N = 5000


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    replication=st.integers(0, 1000),
    day=st.integers(0, 3650),
    decision=st.sampled_from(["purchase.conversion", "churn.lapse", "levers.redeem", "x"]),
    picked=st.lists(st.integers(0, N - 1), min_size=1, max_size=60, unique=True),
)
def test_a_customers_uniform_does_not_depend_on_who_else_is_drawn(
    seed, replication, day, decision, picked
):
    draws = Draws(seed, replication, N)
    draws.set_day(day)
    together = draws.u(decision, np.array(picked))
    alone = np.array([draws.u(decision, np.array([c]))[0] for c in picked])
    reversed_ = draws.u(decision, np.array(picked[::-1]))[::-1]
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together, reversed_)
    # a fresh object (another run, another plan) gives the same numbers for the same key
    again = Draws(seed, replication, N)
    again.set_day(day)
    np.testing.assert_array_equal(again.u(decision, np.array(picked)), together)
    # several decisions at once equal one at a time
    rows = draws.rows([decision, "other"], np.array(picked))
    np.testing.assert_array_equal(rows[0], together)
    np.testing.assert_array_equal(rows[1], draws.u("other", np.array(picked)))
    assert together.dtype == np.float32 and (together >= 0).all() and (together < 1).all()


def test_uniform_over_customers_days_and_decisions():
    """Kolmogorov-Smirnov against U(0, 1) on 200 000 numbers each: a D above ~0.0046 (p < 1e-3)
    would fail; a bias of half a percent anywhere in the distribution is caught."""
    draws = Draws(7, 0, 200_000)
    draws.set_day(3)
    samples = {
        "over customers": draws.u("purchase.conversion", np.arange(200_000)),
        "over decisions and days": np.concatenate(
            [_one_customer(draws, f"d{j}", 12345, range(2000)) for j in range(100)]
        ),
        "over replications": np.array(
            [_at(Draws(7, r, 10), "churn.churn", 0, [3])[0] for r in range(20_000)]
        ),
    }
    for what, u in samples.items():
        assert stats.kstest(u.astype(np.float64), "uniform").pvalue > 1e-3, what


def test_neighbouring_keys_and_customers_are_independent():
    """Pairs of numbers that share all but one coordinate (next day, next decision, next
    replication, next customer) fill the unit square evenly: chi-square on a 20 × 20 grid of
    100 000 pairs, and their correlation within 4 standard errors of 0."""
    n = 100_000
    c = np.arange(n)
    pairs = {
        "next day": (_at(Draws(1, 0, n), "a", 5, c), _at(Draws(1, 0, n), "a", 6, c)),
        "next decision": (_at(Draws(1, 0, n), "a", 5, c), _at(Draws(1, 0, n), "b", 5, c)),
        "next replication": (_at(Draws(1, 0, n), "a", 5, c), _at(Draws(1, 1, n), "a", 5, c)),
        "next seed": (_at(Draws(1, 0, n), "a", 5, c), _at(Draws(2, 0, n), "a", 5, c)),
        "next customer": (
            _at(Draws(1, 0, n + 1), "a", 5, c),
            _at(Draws(1, 0, n + 1), "a", 5, c + 1),
        ),
    }
    for what, (a, b) in pairs.items():
        counts = np.histogram2d(a, b, bins=20, range=[[0, 1], [0, 1]])[0].ravel()
        assert stats.chisquare(counts).pvalue > 1e-3, what
        assert abs(np.corrcoef(a, b)[0, 1]) < 4 / np.sqrt(n), what


def test_distinct_customers_never_share_a_number_bits():
    """For one key the map from customer to its 32 hash bits is a bijection; after keeping 24
    bits, collisions among 4 096 customers happen at the birthday rate (≈ 0.5), not more."""
    u = hash_uniforms(np.arange(4096), splitmix64(99))
    assert len(u) - len(np.unique(u)) <= 5


def test_everyone_block_does_not_depend_on_earlier_days_drawn():
    a, b = Draws(3, 2, 1000), Draws(3, 2, 1000)
    for day in range(6):
        a.set_day(day)
        a.everyone("needs.interest")
    b.set_day(5)  # days 0-4 never asked for
    np.testing.assert_array_equal(a.everyone("needs.interest"), b.everyone("needs.interest"))
    same_day = b.everyone("needs.interest").copy()
    np.testing.assert_array_equal(b.everyone("needs.interest"), same_day)
    assert stats.kstest(same_day.astype(float), "uniform").pvalue > 1e-3
    b.set_day(4)
    with pytest.raises(RuntimeError, match="day 4"):
        b.everyone("needs.interest")


def test_plan_and_baseline_share_their_luck(baseline):
    """Two plans of the same market and seed hold the same luck: every decision's uniforms are
    keyed by (seed, replication, decision, day, customer) only, never by the plan's state."""
    sc = apply_overrides(baseline, {"horizon.days": 5})
    richer = apply_overrides(sc, {"channels.tmall.budget.paid": 200_000})
    models = [ChannelMarket(s, seed=4, replication=2) for s in (sc, richer)]
    for m in models:
        m.run()
    customers = np.arange(0, sc.market.customers, 7)
    a, b = (m.draws for m in models)
    assert a.day == b.day == 4
    for decision in ("purchase.conversion", "churn.churn", "exposure.touch"):
        np.testing.assert_array_equal(a.u(decision, customers), b.u(decision, customers))
    np.testing.assert_array_equal(a.everyone("exposure.paid"), b.everyone("exposure.paid"))
    # ... and the plan still differs: more paid reach, more visits on tmall
    led = [ChannelMarket(s, seed=4).run() for s in (sc, richer)]
    visits = [x.daily.loc[x.daily.channel == "tmall", "visits"].sum() for x in led]
    assert visits[1] > visits[0]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    day=st.integers(0, 5000),
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
)
def test_one_pass_over_several_decisions_equals_separate_hashes(seed, day, sizes):
    """``Draws.many`` (several decisions' customers in one pass) and the per-run tables of day
    keys give exactly the numbers of ``hash_uniforms`` with the key computed the Python way,
    SplitMix64 on integers: (seed, replication, decision) then the day."""
    draws = Draws(seed, 3, N)
    draws.set_day(day)
    rng = np.random.default_rng(day)
    pairs = [(f"d{j}", rng.choice(N, size=s, replace=False)) for j, s in enumerate(sizes)]
    out = draws.many(pairs)
    for (decision, customers), u in zip(pairs, out, strict=True):
        run_key = splitmix64(
            splitmix64(splitmix64(seed) ^ 3) ^ zlib.crc32(decision.encode())
        )  # independent of Draws: the documented key
        expected = hash_uniforms(customers, splitmix64(run_key ^ day))
        np.testing.assert_array_equal(u, expected)
        np.testing.assert_array_equal(draws.u(decision, customers), expected)


def _at(draws: Draws, decision: str, day: int, customers) -> np.ndarray:
    draws.set_day(day)
    return draws.u(decision, np.asarray(customers)).astype(np.float64)


def _one_customer(draws: Draws, decision: str, customer: int, days) -> np.ndarray:
    return np.array([_at(draws, decision, d, [customer])[0] for d in days])


def _murmur_reference(customer: int, key: int) -> float:
    """The documented hash on Python ints, independent of NumPy: the customer's low 32 bits
    xor the key's low half, × the golden ratio, MurmurHash3's finaliser, xor the key's high
    half, the finaliser again; the top 24 bits on a 2⁻²⁴ grid."""
    m32 = 0xFFFFFFFF

    def fmix(x: int) -> int:
        x ^= x >> 16
        x = (x * 0x85EBCA6B) & m32
        x ^= x >> 13
        x = (x * 0xC2B2AE35) & m32
        return x ^ (x >> 16)

    x = (((customer & m32) ^ (key & m32)) * 0x9E3779B1) & m32
    x = fmix(fmix(x) ^ (key >> 32))
    return (x >> 8) * 2.0**-24


@settings(max_examples=40, deadline=None)
@given(
    key=st.integers(0, 2**64 - 1),
    customers=st.lists(st.integers(0, 2**40), min_size=1, max_size=40),
)
def test_the_hash_is_murmur3s_finaliser_computed_on_python_ints(key, customers):
    u = hash_uniforms(np.array(customers, dtype=np.int64), key)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, [_murmur_reference(c, key) for c in customers])


@pytest.mark.parametrize("n", [1000, 1001, 2])
def test_a_whole_population_block_is_numpys_own_float32_stream(n):
    """``Draws.everyone`` reads the raw PCG64 outputs for an even population (two float32
    draws per 64-bit output): day by day, skipped days included, it must give exactly what
    ``Generator.random(dtype=float32)`` gives on the documented seed, for odd sizes too."""
    draws = Draws(11, 4, n)
    seq = np.random.SeedSequence([11, 4, 0xB10C, zlib.crc32(b"exposure.paid")])
    reference = np.random.default_rng(seq)
    blocks = [reference.random(n, dtype=np.float32) for _ in range(6)]  # day d: call d + 1
    for day in (0, 1, 4, 5):  # days 2 and 3 are never asked for
        draws.set_day(day)
        np.testing.assert_array_equal(draws.everyone("exposure.paid"), blocks[day])


@pytest.mark.parametrize("n", [1000, 1001])
def test_the_customers_below_a_bound_are_the_blocks_own(n):
    """``everyone_below`` compares the raw 32-bit draws with ``raw_bound``: the same customers
    and numbers as ``everyone`` compared with ``end`` as floats, for ends on the draws' 2⁻²⁴
    grid and one float32 step either side, none and every draw included, on skipped days, and
    with ``everyone`` asked before or after on the same day (after: drawn again, the stream
    stepped back, and the next days' blocks still NumPy's)."""
    grid = np.float32(2.0**-24)
    ends = [0.0, 1e-30, 0.02, 0.5, 1.0, 2.0, 4096 * grid, 0.999999]
    ends += [np.nextafter(np.float32(e), np.float32(d)) for e in (4096 * grid, 0.5) for d in (0, 1)]
    fast, slow = Draws(5, 1, n), Draws(5, 1, n)
    for day, end in zip((0, 1, 3, 4, 5, 8, 9, 10, 12, 13, 15, 16), ends, strict=True):
        end = np.array(end, dtype=np.float32)
        for d in (fast, slow):
            d.set_day(day)
        u = slow.everyone("exposure.paid")
        if day == 9:  # the float block first, then the raw path on the same day
            fast.everyone("exposure.paid")
        near, u_near = fast.everyone_below("exposure.paid", end, raw_bound(end))
        expected = (u < end).nonzero()[0]
        np.testing.assert_array_equal(near, expected)
        np.testing.assert_array_equal(u_near, u[expected])
        assert u_near.dtype == np.float32
        if day % 3:  # (after, same day; on other days the next block follows a raw read)
            np.testing.assert_array_equal(fast.everyone("exposure.paid"), u)
    assert raw_bound(np.array(1.0, dtype=np.float32)) is None  # every draw is below 1
    assert int(raw_bound(np.array(0.5, dtype=np.float32))) == 2**31
    assert int(raw_bound(np.array(0.0, dtype=np.float32))) == 0


def test_the_raw_bound_splits_the_draws_where_the_float_comparison_does():
    """Every 32-bit draw next to the bound (and at the ends of the range) compares with it as
    its float32 uniform ``(b >> 8) × 2⁻²⁴`` compares with ``end``, for ends on the 2⁻²⁴ grid,
    one float32 step either side of grid points, between grid points and below the grid."""
    grid = 2.0**-24
    ends = [0.0, 1e-30, 1e-9, grid, 3 * grid, 0.3, 0.5, 0.75, 1 - grid, 1.0, 1.5]
    ends = [np.float32(e) for e in ends]
    ends += [np.nextafter(e, np.float32(d)) for e in ends[3:9] for d in (0, 1)]
    for end in ends:
        end = np.array(end, dtype=np.float32)
        bound = raw_bound(end)
        edge = 2**32 if bound is None else int(bound)
        b = np.array([0, 1, 255, 256, 2**32 - 1] + [edge + k for k in range(-513, 514)])
        b = b[(b >= 0) & (b < 2**32)].astype(np.uint32)
        u = (b >> np.uint32(8)).astype(np.float32) * np.float32(grid)
        below = np.ones(len(b), dtype=bool) if bound is None else b < bound
        np.testing.assert_array_equal(below, u < end)
