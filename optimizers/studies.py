"""Optuna studies shared by several processes and machines: opened once, counted exactly,
killed trials failed.

A study in an RDB storage (SQLite file by default, PostgreSQL for many machines) can be worked
on by any number of ``channelsim optimize search`` processes at once. Three things make that
safe:

* **One lock per study** (:class:`StudyLock`): an ``flock`` on ``.study.db.lock`` beside a SQLite
  file (SQLite is one machine's), ``pg_advisory_lock`` on PostgreSQL, ``GET_LOCK`` on MySQL, a
  thread lock in memory. Creating the storage (tables, alembic stamp) happens under it, so two
  first starts no longer race to ``IntegrityError: UNIQUE constraint failed: alembic_version``.
* **Exact counts**: a process takes its next trial (:func:`reserve`) under the lock, and only
  while COMPLETE + RUNNING trials are fewer than the target; so N workers end with exactly the
  requested number of COMPLETE trials (a failed trial frees its slot), never N + 1.
* **Stale trials** (:func:`fail_stale`): every trial records its owner (host, pid, process start
  time) and a heartbeat (Optuna's RDB heartbeat, every :data:`HEARTBEAT` s). A RUNNING trial whose
  process on this host is gone, or whose heartbeat stopped :data:`GRACE` s ago (another host),
  or that has neither owner nor heartbeat and started :data:`GRACE` s ago (written by an older
  version), was killed: it is marked FAIL, and it does not count.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

HEARTBEAT = 10  # seconds between a running trial's heartbeats
GRACE = 60  # seconds without a heartbeat after which another host's trial is stale
OWNER = "worker"  # user attr: {"host", "pid", "started"} of the process running the trial
HOST = socket.gethostname()


# --------------------------------------------------------------------------------------------
# the lock
# --------------------------------------------------------------------------------------------
class StudyLock:
    """A lock shared by every process working on the studies of one storage URL."""

    def __init__(self, url: str | None, name: str):
        self.url, self.name = url, name
        self._thread_lock = threading.RLock()
        self._engine = None
        self.path: Path | None = None
        self.dialect = ""
        if url:
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            self.dialect = parsed.get_backend_name()
            if self.dialect == "sqlite" and parsed.database not in (None, "", ":memory:"):
                db = Path(parsed.database)
                self.path = db.with_name(f".{db.name}.lock")

    @contextlib.contextmanager
    def hold(self, scope: str | None = None) -> Iterator[None]:
        """Hold the lock of the study (or of ``scope``: ``"storage"`` for creating tables)."""
        with self._thread_lock:
            if self.path is not None:  # one SQLite file: one lock for everything in it
                with _file_lock(self.path):
                    yield
            elif self.dialect in ("postgresql", "mysql"):
                with self._db_lock(scope or f"study:{self.name}"):
                    yield
            else:  # in memory: one process
                yield

    @contextlib.contextmanager
    def _db_lock(self, scope: str) -> Iterator[None]:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        if self._engine is None:
            self._engine = sqlalchemy.create_engine(self.url, poolclass=NullPool)
        key = int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)
        pg = self.dialect == "postgresql"
        take = "SELECT pg_advisory_lock(:k)" if pg else "SELECT GET_LOCK(:k, -1)"
        drop = "SELECT pg_advisory_unlock(:k)" if pg else "SELECT RELEASE_LOCK(:k)"
        arg = key if pg else f"channelsim-{key}"
        with self._engine.connect() as conn:  # a dead holder's connection drops its lock
            conn.execute(sqlalchemy.text(take), {"k": arg})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text(drop), {"k": arg})
                conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocking: the holder keeps it for milliseconds
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --------------------------------------------------------------------------------------------
# opening
# --------------------------------------------------------------------------------------------
def open_storage(url: str | None, lock: StudyLock) -> optuna.storages.BaseStorage | None:
    """The storage behind ``url`` with heartbeats on, created under the lock (or ``None``: in
    memory). Creation is retried once more after a lost race on a backend without a lock."""
    if not url:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for attempt in range(3):
            try:
                with lock.hold("storage"):
                    return optuna.storages.RDBStorage(
                        url, heartbeat_interval=HEARTBEAT, grace_period=GRACE
                    )
            except Exception as exc:  # noqa: BLE001 - sqlalchemy's IntegrityError and kin
                if attempt == 2 or "IntegrityError" not in type(exc).__name__:
                    raise
                time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# trials: counts, owners, stale ones
# --------------------------------------------------------------------------------------------
@dataclass
class Counts:
    complete: int
    running: int
    failed: int


def counts(study: optuna.Study) -> Counts:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return Counts(
        states.count(TrialState.COMPLETE),
        states.count(TrialState.RUNNING),
        states.count(TrialState.FAIL),
    )


def owner() -> dict[str, Any]:
    """Who runs a trial: enough to tell later, on this host, whether that process still runs."""
    return {"host": HOST, "pid": os.getpid(), "started": _start_time(os.getpid())}


def _start_time(pid: int) -> float | None:
    try:
        import psutil

        return round(psutil.Process(pid).create_time(), 2)
    except Exception:  # noqa: BLE001 - no psutil, or no such process
        return None


def _gone(who: dict[str, Any]) -> bool:
    """Is the process that ran a trial on this host gone (pid free, or reused by another)?"""
    pid = who.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    started = who.get("started")
    now = _start_time(pid)
    return started is not None and now is not None and abs(now - started) > 0.05


def fail_stale(study: optuna.Study, storage: optuna.storages.BaseStorage | None) -> list[int]:
    """Mark FAIL every RUNNING trial whose process is gone; returns their numbers."""
    if storage is None:
        return []
    study_id = storage.get_study_id_from_name(study.study_name)
    now = dt.datetime.now()
    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = t.user_attrs.get(OWNER)
        if isinstance(who, dict):
            dead = who.get("host") == HOST and _gone(who)  # other hosts: their heartbeat
        else:  # an older version's trial: no owner, no heartbeat
            age = (now - t.datetime_start).total_seconds() if t.datetime_start else 0.0
            dead = age > GRACE
        if dead:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
                stale.append(t.number)
    if getattr(storage, "heartbeat_interval", None) is not None:
        running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # heartbeat older than GRACE
        failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        stale += [t.number for t in failed if t.number in running]
    return sorted(stale)


@contextlib.contextmanager
def heartbeat(storage: optuna.storages.BaseStorage | None, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat every :data:`HEARTBEAT` s while the block runs."""
    if storage is None or getattr(storage, "heartbeat_interval", None) is None:
        yield
        return
    stop = threading.Event()
    trial_id = trial._trial_id  # the id Optuna's own heartbeat uses

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat is not fatal: GRACE is long
                storage.record_heartbeat(trial_id)
            if stop.wait(HEARTBEAT):
                return

    thread = threading.Thread(target=beat, name="trial-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def reserve(
    study: optuna.Study, storage: optuna.storages.BaseStorage | None, lock: StudyLock, target: int
) -> tuple[optuna.Trial | None, Counts, list[int]]:
    """Under the lock: fail stale trials, count, and ask a new trial if a slot is free.

    Returns ``(trial or None, counts before asking, stale trials failed)``; ``None`` with
    ``complete < target`` means other processes are running the last trials."""
    with lock.hold():
        stale = fail_stale(study, storage)
        c = counts(study)
        if c.complete + c.running >= target:
            return None, c, stale
        with warnings.catch_warnings():  # Optuna's note that heartbeats suit optimize()
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        trial.set_user_attr(OWNER, owner())
        if storage is not None and getattr(storage, "heartbeat_interval", None) is not None:
            storage.record_heartbeat(trial._trial_id)  # a first beat at once
        return trial, c, stale
