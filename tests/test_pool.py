"""Local worker pools live as long as the process: evaluate() calls and sweep batches reuse the
same worker processes instead of spawning fresh interpreters each time."""

from __future__ import annotations

import os

import pytest

from sim.experiments.evaluation import make_executor, shutdown_pools


def _pid(_: int = 0) -> int:
    return os.getpid()


def test_workers_are_reused_across_calls_and_replaced_after_a_failure():
    shutdown_pools()
    try:
        with make_executor(workers=2) as ex:
            first = {f.result() for f in [ex.submit(_pid, i) for i in range(8)]}
        with make_executor(workers=2) as ex:
            again = {f.result() for f in [ex.submit(_pid, i) for i in range(8)]}
        assert os.getpid() not in first
        assert again <= first  # the same worker processes, not fresh interpreters
        with pytest.raises(KeyError), make_executor(workers=2) as ex:
            ex.submit(_pid).result()
            raise KeyError("interrupted")
        with make_executor(workers=2) as ex:
            fresh = {f.result() for f in [ex.submit(_pid, i) for i in range(8)]}
        assert not fresh & first  # a failed block's pool is not handed to the next caller
    finally:
        shutdown_pools()
