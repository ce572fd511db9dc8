"""Experiments: run a scenario R times with controlled random streams, on any executor.

:func:`evaluate` is the one function the CLI, the reports, the optimisers and the sweeps call.
Replication ``r`` always uses ``SeedSequence([seed, r])`` (see :mod:`sim.core.streams`), so

* the same scenario + seed gives identical results on 1 worker, N workers or a Dask cluster
  (results are put back in replication order whoever computed them), and
* replication ``r`` of a plan and of its baseline share their luck (common random numbers),
  which is what makes paired plan − baseline differences precise.

    >>> from sim.scenario import load_scenario
    >>> sc = load_scenario("scenarios/baseline.yaml")
    >>> ev = evaluate(sc, overrides={"market.customers": 1000, "horizon.days": 30},
    ...               replications=3, seed=1, workers=1)
    >>> list(ev.kpis["replication"])
    [0, 1, 2]
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import ReplicationsFailed, UsageError
from sim.experiments.cache import ResultCache
from sim.experiments.replication import Replication, Window, run_replication
from sim.scenario import Scenario, apply_overrides


class InlineExecutor(Executor):
    """Runs tasks in the calling process: no pool to start for one worker."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


def check_workers(workers: int | None) -> None:
    """``None`` means every core; anything else must be a positive count."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: must be ≥ 1, got {workers}")


def exit_with_parent(parent: int) -> None:
    """Pool-worker initializer: the worker ends when the process that started it dies.

    Without it a ``kill -9`` of a sweep leaves its workers (and multiprocessing's resource
    tracker, which waits for them) running tasks nobody will collect. Linux's PR_SET_PDEATHSIG
    fires when the parent *thread* that spawned the worker ends, not the process, so a daemon
    thread polls instead: portable, one ``getppid()`` twice a second.
    """
    ppid = os.getppid()  # the parent, or the forkserver that forked this worker for it

    def watch() -> None:
        while os.getppid() == ppid and _alive(parent):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


SCHEDULER_TIMEOUT_S = 5  # a refused or unreachable Dask scheduler fails this fast, not in 30 s
_SCHEDULER = re.compile(r"^(?:(tcp|tls|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def check_scheduler(address: str, *, connect: bool = True) -> None:
    """A Dask scheduler address ``[tcp://]host:port`` (``tls://``, ``ws://`` too), and with
    ``connect`` something listening there; :class:`UsageError` naming ``--scheduler``
    otherwise. Checked before any work starts, so a typo never costs a run."""
    if address.startswith(("inproc://", "ucx://")):
        return  # in-process and UCX addresses: Dask checks them itself
    m = _SCHEDULER.match(address)
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise UsageError(
            f"--scheduler: expected a Dask scheduler address such as tcp://host:8786, "
            f"got {address!r}"
        )
    if not connect:
        return
    host, port = m.group(2).strip("[]"), int(m.group(3))
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(
            f"--scheduler {address}: cannot connect ({exc.strerror or exc}); is "
            "`dask scheduler` running there?"
        ) from None


@contextlib.contextmanager
def make_executor(
    *, workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor]:
    """A local process pool (default), inline for one worker, or a Dask cluster's executor."""
    if scheduler:
        from dask.distributed import Client

        check_scheduler(scheduler, connect=False)
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - refused, timed out, or not Dask talking
            why = (
                str(exc)[:300]
                if isinstance(exc, OSError | TimeoutError)
                else f"something answered, but not in Dask's protocol: {type(exc).__name__}"
            )
            raise UsageError(
                f"--scheduler {scheduler}: no Dask scheduler answered ({why})"
            ) from None
        with client:
            yield client.get_executor()
        return
    check_workers(workers)
    n = workers or default_workers()
    if n == 1:
        yield InlineExecutor()
        return
    pool = local_pool(n)
    try:
        yield pool
    except BaseException:
        # Interrupted or failed: tasks still queued must not run on into the next caller's
        # work, so this pool goes (the next call starts a fresh one).
        _POOLS.pop((os.getpid(), n), None)
        pool.shutdown(wait=False, cancel_futures=True)
        raise


#: Local process pools kept for the life of the process, by (owner pid, number of workers): a
#: forked child never uses its parent's pool.
_POOLS: dict[tuple[int, int], ProcessPoolExecutor] = {}


def local_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool of ``workers`` processes, reused by every later call in this process.

    Mesa makes multiprocessing spawn fresh interpreters, and a worker's first task imports the
    model stack: together a few seconds per pool. Reusing the workers across ``evaluate`` calls
    (a run and its baseline, each look of ``--until-decided``, every batch of a sweep, an
    optimiser's trials) pays that once. The workers exit with this process (``atexit``; and
    :func:`exit_with_parent` if it is killed). A broken pool (a worker died) is replaced.
    """
    key = (os.getpid(), workers)
    pool = _POOLS.get(key)
    if pool is None or getattr(pool, "_broken", False) or getattr(pool, "_shutdown_thread", False):
        pool = ProcessPoolExecutor(
            max_workers=workers, initializer=exit_with_parent, initargs=(os.getpid(),)
        )
        _POOLS[key] = pool
    return pool


@atexit.register
def shutdown_pools() -> None:
    """Stop the kept local pools (at exit; tests may call it to start from none)."""
    for key in [k for k in _POOLS if k[0] == os.getpid()]:
        _POOLS.pop(key).shutdown(wait=True, cancel_futures=True)


@dataclass
class Evaluation:
    """R replications of one scenario: per-replication KPIs and, optionally, daily tables."""

    scenario: Scenario
    seed: int
    kpis: pd.DataFrame  # columns: replication, then one per KPI
    window_kpis: dict[Window, pd.DataFrame]
    daily: pd.DataFrame | None
    journeys: pd.DataFrame | None
    errors: dict[int, str]
    flows: pd.DataFrame | None = None
    cohorts: pd.DataFrame | None = None
    cache_hits: int = 0  # replications read from the result cache instead of simulated
    inventory: pd.DataFrame | None = None  # day × SKU inventory records, when the run has them
    market: pd.DataFrame | None = None  # day × replication market-wide stocks (ledger.market)
    decisions: pd.DataFrame | None = None  # review rules' decisions per replication (sim.rules)
    ab_tests: pd.DataFrame | None = None  # A/B tests' outcomes per replication (sim.rules.ab)

    @property
    def replications(self) -> int:
        return len(self.kpis)

    def summary(self, confidence: float = 0.95) -> pd.DataFrame:
        """Mean and t-interval of every KPI over replications (index: KPI name)."""
        return summarise(self.kpis.drop(columns="replication"), confidence)

    def mean(self, kpi: str) -> float:
        return float(self.kpis[kpi].mean())


def summarise(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Column-wise mean, sd, n and the t confidence interval of the mean (NaNs ignored)."""
    mean = frame.mean()
    sd = frame.std(ddof=1)
    n = frame.count()
    tq = pd.Series(stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)), index=frame.columns)
    half = (tq * sd / np.sqrt(n)).where(n > 1)
    return pd.DataFrame(
        {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "sd": sd, "n": n}
    )


def evaluate(
    scenario: Scenario,
    *,
    overrides: dict[str, Any] | None = None,
    replications: int = 10,
    seed: int | None = None,
    windows: Sequence[Window] = (),
    keep_daily: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    first_replication: int = 0,
    cache: ResultCache | str | os.PathLike | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Run ``replications`` replications of ``scenario`` (with ``overrides``) and collect KPIs.

    ``windows`` are extra ``[start, end)`` day windows whose KPIs are also computed (targets
    use them). Pass ``executor`` to reuse one pool across many calls (optimisers, sweeps).
    ``cache`` (a :class:`~sim.experiments.cache.ResultCache` or a directory) reads replications
    already
    computed for the same (scenario hash, seed, replication, code version) instead of
    simulating them, and stores the new ones. ``progress(n)`` is called as replications finish
    (``n`` of them: the cached ones at once, then one by one), for a progress bar.
    """
    if replications < 1:
        raise ValueError(f"replications must be ≥ 1, got {replications}")
    scenario = apply_overrides(scenario, overrides or {})
    seed = scenario.seed if seed is None else seed
    reps = range(first_replication, first_replication + replications)
    windows = [tuple(w) for w in windows]
    check_workers(workers)
    if cache is not None and not isinstance(cache, ResultCache):
        cache = ResultCache(cache)
    key = scenario.content_hash() if cache is not None else ""
    cached = (
        {
            r: cache.get(key, seed=seed, replication=r, windows=windows, keep_daily=keep_daily)
            for r in reps
        }
        if cache is not None
        else {}
    )
    todo = [r for r in reps if cached.get(r) is None]
    results = [rep for rep in cached.values() if rep is not None]
    if progress is not None and results:
        progress(len(results))
    if todo:
        with contextlib.ExitStack() as stack:
            ex = executor or stack.enter_context(
                make_executor(
                    workers=min(workers or default_workers(), len(todo)), scheduler=scheduler
                )
            )
            futures = [
                ex.submit(run_replication, scenario, seed, r, windows, keep_daily) for r in todo
            ]
            fresh = [_finished(f, progress) for f in futures]
        for rep in fresh:
            if cache is not None:
                cache.put(key, seed=seed, replication=rep)
        results += fresh
    ev = collect(scenario, seed, results, windows)
    ev.cache_hits = len(reps) - len(todo)
    return ev


def _finished(future: Future, progress: Callable[[int], None] | None) -> Replication:
    """The future's replication, counted on ``progress`` once it is in."""
    rep = future.result()
    if progress is not None:
        progress(1)
    return rep


def collect(
    scenario: Scenario, seed: int, results: list[Replication], windows: Sequence[Window]
) -> Evaluation:
    """Assemble worker results, in replication order, into an :class:`Evaluation`."""
    results = sorted(results, key=lambda r: r.replication)
    ok = [r for r in results if r.error is None]
    errors = {r.replication: r.error for r in results if r.error is not None}
    if not ok:
        first = min(errors)
        raise ReplicationsFailed(first, errors[first])
    kpis = pd.DataFrame([{"replication": r.replication, **r.kpis} for r in ok])
    window_kpis = {
        w: pd.DataFrame([{"replication": r.replication, **r.window_kpis[w]} for r in ok])
        for w in windows
    }
    daily = pd.concat([r.daily for r in ok], ignore_index=True) if ok[0].daily is not None else None
    journeys = (
        pd.concat([r.journeys for r in ok], ignore_index=True)
        if ok[0].journeys is not None
        else None
    )
    flows = (
        pd.concat([r.flows for r in ok], ignore_index=True)
        if all(r.flows is not None for r in ok)
        else None
    )
    cohorts = (
        pd.concat([r.cohorts for r in ok], ignore_index=True)
        if all(r.cohorts is not None for r in ok)
        else None
    )
    inventory = (
        pd.concat([r.inventory for r in ok], ignore_index=True)
        if all(getattr(r, "inventory", None) is not None for r in ok)
        else None
    )
    market = (
        pd.concat([r.market for r in ok], ignore_index=True)
        if all(getattr(r, "market", None) is not None for r in ok)
        else None
    )
    decisions = (
        pd.concat([r.decisions for r in ok], ignore_index=True)
        if ok and all(getattr(r, "decisions", None) is not None for r in ok)
        else None
    )
    return Evaluation(
        scenario,
        seed,
        kpis,
        window_kpis,
        daily,
        journeys,
        errors,
        flows,
        cohorts,
        inventory=inventory,
        market=market,
        decisions=decisions,
        ab_tests=_ab_tests(ok),
    )


def _ab_tests(ok: list[Replication]) -> pd.DataFrame | None:
    """Every replication's A/B test outcomes, stacked (None unless every one has a table)."""
    if ok and all(getattr(r, "ab_tests", None) is not None for r in ok):
        return pd.concat([r.ab_tests for r in ok], ignore_index=True)
    return None
