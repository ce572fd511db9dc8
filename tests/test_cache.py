"""The result cache holds data only: a planted, damaged, edited or misplaced entry is a miss
(recomputed, reported, replaced), never served, never a crash, never code that runs."""

from __future__ import annotations

import json
import logging
import pickle

import pandas as pd
import pytest

from sim.experiments.cache import ResultCache
from sim.experiments.evaluation import evaluate
from sim.scenario import load_scenario

from .conftest import SCENARIOS

TINY = {"market.customers": 1000, "horizon.days": 30, "targets": []}
SEED = 3


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIOS / "six_schemes.yaml", overrides=TINY)


@pytest.fixture(scope="module")
def fresh(scenario):
    """Two replications computed without any cache: what every cached answer must equal."""
    return evaluate(scenario, replications=2, seed=SEED, workers=1, keep_daily=True)


def _evaluate(scenario, cache):
    return evaluate(scenario, replications=2, seed=SEED, workers=1, keep_daily=True, cache=cache)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.kpis, b.kpis, check_exact=True)
    pd.testing.assert_frame_equal(a.daily, b.daily, check_exact=True)
    pd.testing.assert_frame_equal(a.market, b.market, check_exact=True)


def _entry(cache: ResultCache, scenario, replication: int = 0):
    return cache.path(scenario.content_hash(), seed=SEED, replication=replication)


class _Planted:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_stored_entry_is_served_exactly_from_data_not_pickle(scenario, fresh, tmp_path):
    cache = ResultCache(tmp_path)
    _same(_evaluate(scenario, cache), fresh)
    again = ResultCache(tmp_path)
    _same(_evaluate(scenario, again), fresh)
    assert again.hits == 2 and not again.rejected
    magic, _, head, _ = _entry(cache, scenario).read_bytes().split(b"\n", 3)
    assert magic == b"channelsim-cache-entry 1"  # a data format: a JSON header, Parquet tables
    assert json.loads(head)["kpis"]["revenue"] == fresh.kpis["revenue"].iloc[0]


def test_a_planted_pickle_never_runs_and_is_replaced(scenario, fresh, tmp_path, caplog):
    cache = ResultCache(tmp_path / "cache")
    marker = tmp_path / "planted-code-ran"
    path = _entry(cache, scenario)
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps(_Planted(marker)))
    with caplog.at_level(logging.WARNING, logger="channelsim.cache"):
        _same(_evaluate(scenario, cache), fresh)
    assert not marker.exists()
    assert [p for p, _ in cache.rejected] == [path]
    assert sum("recomputing" in r.getMessage() for r in caplog.records) == 1
    later = ResultCache(tmp_path / "cache")  # the bad entry was replaced by a good one
    _same(_evaluate(scenario, later), fresh)
    assert later.hits == 2 and not later.rejected and not marker.exists()


def _edit_header(path, edit) -> None:
    magic, digest, head, tables = path.read_bytes().split(b"\n", 3)
    header = json.loads(head)
    edit(header)
    head = json.dumps(header, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join((magic, digest, head, tables)))


def _damage(kind: str, path, other) -> None:
    data = path.read_bytes()
    if kind == "revenue edited":  # the case: 5.47 M served as 6.31 M
        _edit_header(path, lambda h: h["kpis"].update(revenue=h["kpis"]["revenue"] * 1.153))
    elif kind == "one table byte flipped":
        i = len(data) - 200
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :])
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "another key's entry":  # replication 1's entry under replication 0's name
        path.write_bytes(other.read_bytes())
    elif kind == "a directory":
        path.unlink()
        path.mkdir()
        (path / "x").write_text("x")
    elif kind == "a symlink":
        path.unlink()
        path.symlink_to(other)


@pytest.mark.parametrize(
    "kind",
    [
        "revenue edited",
        "one table byte flipped",
        "truncated",
        "empty",
        "another key's entry",
        "a directory",
        "a symlink",
    ],
)
def test_a_damaged_entry_is_recomputed_never_served(scenario, fresh, tmp_path, kind):
    cache = ResultCache(tmp_path)
    _evaluate(scenario, cache)
    path, other = _entry(cache, scenario, 0), _entry(cache, scenario, 1)
    _damage(kind, path, other)
    again = ResultCache(tmp_path)
    result = _evaluate(scenario, again)
    _same(result, fresh)  # the recomputed result, equal to a computation without any cache
    assert again.hits == 1 and [p for p, _ in again.rejected] == [path]
    if kind != "a directory":  # a directory in the way cannot be replaced by a file
        third = ResultCache(tmp_path)
        _same(_evaluate(scenario, third), fresh)
        assert third.hits == 2 and not third.rejected


def test_a_missing_entry_is_a_quiet_miss(scenario, tmp_path, caplog):
    cache = ResultCache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="channelsim.cache"):
        assert cache.get(scenario.content_hash(), seed=SEED, replication=0) is None
    assert cache.misses == 1 and not cache.rejected and not caplog.records
