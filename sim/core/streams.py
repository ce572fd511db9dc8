"""Random numbers: counter-based uniforms per decision, plus one ``SeedSequence`` per run.

Every random decision a phase takes about a customer reads a uniform that is a *function* of
``(seed, replication, decision, day, customer)`` (:class:`Draws`): a phase draws only for the
customers it acts on (shoppers, buyers, pool members), and what one customer draws never
depends on which other customers were drawn for. A plan and its baseline run with the same
seed therefore see the same luck for the same customer, day and decision (common random
numbers): the difference between them is the plan, not noise. Decisions are named
(``"purchase.conversion"``), and a name's key is a checksum of the name, so adding a decision
never changes the numbers of the existing ones.

A decision taken about *every* customer every day (exposure to ads, the Bass hazard) reads a
whole-population block from a sequential PCG64 stream of its own instead, one block per day
(:meth:`Draws.everyone`): that is faster than hashing every index, and it is the same function
of (seed, replication, decision, day, customer) as long as the block has one slot per customer.

The per-phase generators of :func:`phase_streams` remain for what is drawn once per run (the
population, Mesa's own ``random``, the inventory engine's lead times and demand).
"""

from __future__ import annotations

import math
import sys
import zlib
from collections.abc import Sequence

import numpy as np

from sim.core.kernels import below_bound, hash_rows

PHASES: tuple[str, ...] = (
    "init",
    "exposure",
    "needs",
    "choice",
    "purchase",
    "post_purchase",
    "churn",
    "mesa",
    "promotions",
    "inventory",
)


def phase_streams(seed: int, replication: int = 0) -> dict[str, np.random.Generator]:
    """One independent generator per phase for replication ``replication`` of ``seed``."""
    children = np.random.SeedSequence([int(seed), int(replication)]).spawn(len(PHASES))
    gens = [np.random.default_rng(child) for child in children]
    return dict(zip(PHASES, gens, strict=True))


# ---- counter-based uniforms ---------------------------------------------------------------------
_MASK64 = (1 << 64) - 1
# 0-d arrays, not NumPy scalars: a ufunc takes a 0-d array operand for ≈ 0.25 µs and a scalar
# for ≈ 0.65 µs (it converts the scalar every call); the arithmetic (uint32, float32) is the same.
_SCALE = np.array(2.0**-24, dtype=np.float32)
_SHIFT8 = np.array(8, dtype=np.uint32)


def splitmix64(x: int) -> int:
    """SplitMix64's output function on a Python int: a bijective 64-bit mixer for keys."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


_LOW32 = np.uint64(0xFFFFFFFF)


def _splitmix64_array(x: np.ndarray) -> np.ndarray:
    """:func:`splitmix64` elementwise on uint64 (NumPy's uint64 arithmetic wraps, as the
    ``& _MASK64`` does on Python ints): the same numbers, for a whole table of days at once."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def decision_id(name: str) -> int:
    """A stable number for a decision's name (CRC-32: the same in every process and version)."""
    return zlib.crc32(name.encode())


def hash_uniforms(customers: np.ndarray, key: int | Sequence[int]) -> np.ndarray:
    """float32 uniforms on [0, 1) (a 2⁻²⁴ grid, like NumPy's float32 draws), one per index;
    with a sequence of keys, one row per key (``keys × customers``, one pass for all).

    Two rounds of MurmurHash3's finaliser keyed by the two halves of the 64-bit ``key``: for a
    fixed key the map from a customer index to its 32 bits is a bijection (distinct customers
    never collide), and each output depends only on its own index and the key. 32-bit integer
    arithmetic, in one compiled loop (:func:`sim.core.kernels.hash_rows`): at a few hundred
    customers a NumPy pass cost its ~20 calls, not its arithmetic.
    """
    keys = [key] if isinstance(key, int) else list(key)
    lo = np.array([k & 0xFFFFFFFF for k in keys], dtype=np.uint32)
    hi = np.array([k >> 32 for k in keys], dtype=np.uint32)
    u = keyed_uniforms(np.asarray(customers), lo, hi)
    return u[0] if isinstance(key, int) else u


def keyed_uniforms(customers: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(len(lo), len(customers))`` uniforms: row ``j`` is :func:`hash_uniforms` of
    ``customers`` under the key whose uint32 halves are ``lo[j]``, ``hi[j]``."""
    out = np.empty((len(lo), len(customers)), dtype=np.float32)
    if len(customers):
        hash_rows(customers, lo, hi, out)
    return out


def raw_bound(end: np.ndarray) -> np.ndarray | None:
    """``b < raw_bound(end)`` ⇔ ``(b >> 8) × 2⁻²⁴ < end`` for a 32-bit draw ``b`` and a float32
    ``end`` (0-d uint32: ``ceil(end × 2²⁴) × 256``), for :meth:`Draws.everyone_below`; None
    when every draw is below ``end``."""
    k = math.ceil(float(end) * 16777216.0) if end > 0 else 0  # (exact: a float32 × 2**24)
    return np.array(k << 8, dtype=np.uint32) if k < 1 << 24 else None


class Draws:
    """The uniforms of one run: ``u = f(seed, replication, decision, day, customer)``.

    ``set_day(d)`` every morning, then ``u(decision, customers)`` for the customers a decision
    concerns, or ``everyone(decision)`` for a decision about the whole population.
    """

    def __init__(self, seed: int, replication: int, n: int):
        self.seed, self.replication, self.n = int(seed), int(replication), int(n)
        self._base = splitmix64(splitmix64(self.seed & _MASK64) ^ (self.replication & _MASK64))
        self.day = 0
        self._keys: dict[str, int] = {}
        self._decision_keys: dict[str, int] = {}  # per run: a decision's key before the day
        self._tables: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # key halves by day
        self._stacked: dict[tuple[str, ...], np.ndarray] = {}  # groups' key halves
        # decision -> [generator, block buffer, last day drawn, read raw only] (_entry)
        self._blocks: dict[str, list] = {}
        self._raw = self.n % 2 == 0 and _LITTLE_ENDIAN  # (_draw_today: raw 64-bit outputs)

    def set_day(self, day: int) -> None:
        self.day = int(day)
        self._keys.clear()

    def run_key(self, decision: str) -> int:
        """The 64-bit key of ``decision`` for the whole run (seed, replication, decision)."""
        run_key = self._decision_keys.get(decision)
        if run_key is None:
            run_key = self._decision_keys[decision] = splitmix64(self._base ^ decision_id(decision))
        return run_key

    def key(self, decision: str) -> int:
        """Today's 64-bit key of ``decision`` (cached for the day)."""
        k = self._keys.get(decision)
        if k is None:
            k = self._keys[decision] = splitmix64(self.run_key(decision) ^ self.day)
        return k

    def fixed(self, decision: str, index: np.ndarray) -> np.ndarray:
        """Uniforms of ``decision`` keyed by the run only, one per ``index`` (e.g. a day ×
        channel cell): the same whatever day they are asked for, so re-reading a past cell
        gives the same number."""
        return hash_uniforms(np.asarray(index), self.run_key(decision))

    def _halves(self, decision: str) -> tuple[np.ndarray, np.ndarray]:
        """Today's :meth:`key` of ``decision`` as its low and high uint32 halves (one-element
        arrays), read from a table over days built once per run (a vectorised SplitMix64), not
        computed per day."""
        table = self._tables.get(decision)
        if table is None or len(table[0]) <= self.day:
            run_key = self.run_key(decision)
            days = np.arange(max(512, 2 * self.day + 1), dtype=np.uint64)
            keys = _splitmix64_array(np.uint64(run_key) ^ days)
            table = ((keys & _LOW32).astype(np.uint32), (keys >> np.uint64(32)).astype(np.uint32))
            self._tables[decision] = table
        day = slice(self.day, self.day + 1)  # (one-element arrays: cheaper operands than scalars)
        return table[0][day], table[1][day]

    def _stacked_halves(self, decisions: tuple[str, ...]) -> np.ndarray:
        """The :meth:`_halves` tables of ``decisions`` stacked (days × low, high half ×
        decisions), so a day's keys of a whole group are one contiguous block, not one lookup
        per decision."""
        stacked = self._stacked.get(decisions)
        if stacked is None or stacked.shape[0] <= self.day:
            for d in decisions:
                self._halves(d)  # (each table now reaches today)
            days = min(len(self._tables[d][0]) for d in decisions)
            halves = [[self._tables[d][h][:days] for d in decisions] for h in (0, 1)]
            stacked = np.array(halves, dtype=np.uint32).reshape(2, -1, days)
            stacked = self._stacked[decisions] = np.ascontiguousarray(stacked.transpose(2, 0, 1))
        return stacked

    def day_keys(self, decisions: tuple[str, ...]) -> np.ndarray:
        """Today's keys of ``decisions`` as uint32 halves, ``(2, len(decisions))`` (low, high),
        for a compiled loop that hashes its own draws (:mod:`sim.core.kernels`)."""
        return self._stacked_halves(decisions)[self.day]

    def u(self, decision: str, customers: np.ndarray) -> np.ndarray:
        """Today's uniform of ``decision`` for each of ``customers`` (aligned with them)."""
        return keyed_uniforms(customers, *self._halves(decision))[0]

    def rows(self, decisions: Sequence[str], customers: np.ndarray) -> np.ndarray:
        """``u`` of several decisions about the same customers at once: ``(decisions, m)``,
        row ``j`` equal to ``u(decisions[j], customers)`` (one pass instead of one each)."""
        halves = self._stacked_halves(tuple(decisions))[self.day]
        return keyed_uniforms(customers, halves[0], halves[1])

    def many(self, pairs: Sequence[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """``u(decision, customers)`` for several ``(decision, customers)`` pairs (e.g. churn
        and lapse, about different customers): every number equals a separate call's."""
        return [rows[0] for rows in self.groups([((d,), c) for d, c in pairs])]

    def groups(self, groups: Sequence[tuple[Sequence[str], np.ndarray]]) -> list[np.ndarray]:
        """:meth:`rows` of several ``(decisions, customers)`` groups: one
        ``(len(decisions), len(customers))`` array per group, every number equal to a separate
        ``u(decision, customers)`` call's (choice hashes private touches, its own and purchase's
        decisions and the per-buyer ones together)."""
        names = tuple(d for decisions, _ in groups for d in decisions)
        if not names:  # no decision at all
            return [np.zeros((0, len(customers)), dtype=np.float32) for _, customers in groups]
        halves = self._stacked_halves(names)[self.day]
        out, start = [], 0
        for decisions, customers in groups:
            stop = start + len(decisions)
            out.append(keyed_uniforms(customers, halves[0, start:stop], halves[1, start:stop]))
            start = stop
        return out

    def everyone(self, decision: str) -> np.ndarray:
        """Today's uniform of ``decision`` for every customer: ``(n,)`` float32.

        Block ``d`` of the decision's own PCG64 stream. Drawn at most once a day (a second call
        the same day returns the same numbers); days skipped are drawn and thrown away, so a
        day's block never depends on which earlier days asked for one. The buffer is reused
        (a fresh multi-megabyte block per day costs page faults): use it the day it was drawn.
        """
        entry = self._entry(decision)
        block = entry[1]
        if entry[2] != self.day:
            bits = self._draw_today(decision, entry)
        elif entry[3]:  # read by everyone_below, which keeps no floats: step back, draw again
            entry[0].bit_generator.advance((1 << 128) - self.n // 2)  # (PCG64: mod 2**128)
            bits = entry[0].bit_generator.random_raw(self.n // 2).view(np.uint32)
            entry[3] = False
        else:
            return block
        if bits is not None:
            np.right_shift(bits, _SHIFT8, out=bits)
            np.copyto(block, bits, casting="unsafe")  # exact: below 2**24
            block *= _SCALE
        return block

    def everyone_below(
        self, decision: str, end: np.ndarray, bound: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The customers whose :meth:`everyone` uniform of ``decision`` today is below ``end``
        (a float32 0-d array), ascending, and their uniforms: ``u = everyone(decision)``,
        ``near = (u < end).nonzero()[0]``, ``(near, u[near])``, the same numbers.

        ``bound`` is :func:`raw_bound` of ``end``: a float32 draw is ``(b >> 8) × 2⁻²⁴`` of a
        32-bit draw ``b``, so ``u < end`` is ``b < bound`` on the raw bits, and only the few
        customers below it are turned into floats (exposure: ~2 % of the market) — three
        whole-population passes fewer a day. The day's raw block is not kept (holding it
        fragments the heap: +8 MB peak at a million customers, measured): :meth:`everyone`
        asked the same day after this steps the generator back and draws the block again."""
        entry = self._entry(decision)
        if bound is None or entry[2] == self.day or not self._raw:
            u = self.everyone(decision)
            near = (u < end).nonzero()[0]
            return near, u[near]
        bits = self._draw_today(decision, entry)
        entry[3] = True  # (today's floats were never made)
        return below_bound(bits, bound[()])  # (one compiled pass instead of four calls)

    def _entry(self, decision: str) -> list:
        """``[generator, float32 block, day of the block, read raw only]`` of a
        whole-population decision, made on first use."""
        entry = self._blocks.get(decision)
        if entry is None:
            seq = np.random.SeedSequence(
                [self.seed & _MASK64, self.replication & _MASK64, 0xB10C, decision_id(decision)]
            )
            entry = [np.random.default_rng(seq), np.empty(self.n, dtype=np.float32), -1, False]
            self._blocks[decision] = entry
        return entry

    def _draw_today(self, decision: str, entry: list) -> np.ndarray | None:
        """Draw today's block of ``decision`` (days skipped since the last block drawn are
        drawn and thrown away): NumPy's 32-bit draws as uint32, unshifted, or None for an odd
        population or a big-endian machine, whose float32 block this fills with NumPy's own
        ``random(dtype=float32)`` instead.

        NumPy makes a float32 from the top 24 bits of a 32-bit draw, and its 32-bit draws are
        the low then the high half of each 64-bit PCG64 output (the high half waits in a
        buffer). For an even count that is the raw 64-bit outputs read as uint32 pairs
        (little-endian): one call instead of one per number (≈ 12 against 18 µs per 10 000
        floats, with the shift and scaling, measured). An odd count would leave a half in the
        buffer, so it takes NumPy's own path."""
        if entry[2] > self.day:
            raise RuntimeError(f"{decision}: day {self.day} comes after day {entry[2]} was drawn")
        rng, skipped = entry[0], self.day - entry[2] - 1
        entry[2], entry[3] = self.day, False
        if not self._raw:
            for _ in range(skipped + 1):
                rng.random(out=entry[1], dtype=np.float32)
            return None
        for _ in range(skipped):
            rng.bit_generator.random_raw(self.n // 2)
        return rng.bit_generator.random_raw(self.n // 2).view(np.uint32)


_LITTLE_ENDIAN = sys.byteorder == "little"
