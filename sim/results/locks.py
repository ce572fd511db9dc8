"""Writer locks: one process at a time writes a results directory.

A writer of ``results/x`` holds an exclusive :func:`fcntl.flock` on ``results/.x.lock``, a file
next to the directory holding the writer's pid. ``flock`` is released by the operating system
when the process dies, ``kill -9`` included, so a lock left by a dead writer is simply taken
over: there is no staleness to guess. A second writer gets :class:`ResultsBusyError` (a
:class:`~sim.errors.UsageError`: exit 2, no traceback) naming the pid that holds the lock.

Locks are re-entrant within a process (a command may take the lock early, before simulating,
and the final :func:`~sim.results.atomic_dir` reuses it), and a forked child (a process-pool
worker) closes its inherited copies at once, so a worker orphaned by a killed parent never keeps
its parent's lock.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with locked(out):
    ...     lock_path(out).name
    '.run.lock'
    >>> lock_path(out).exists()  # removed when released
    False
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sim.errors import UsageError

log = logging.getLogger("channelsim.results")


class ResultsError(UsageError):
    """A results directory cannot be written as asked (exit 2, nothing lost)."""


class ResultsBusyError(ResultsError):
    """Another live process is writing the same results directory."""


@dataclass
class _Held:
    fd: int
    lock: Path
    count: int = 1
    claimed: bool = False  # taken by claim(): released by the atomic_dir that writes it
    force: bool = False


_HELD: dict[str, _Held] = {}


def _key(out: Path) -> str:
    return os.path.abspath(out)


def lock_path(out: str | Path) -> Path:
    """The lock file of results directory ``out``: ``.NAME.lock`` beside it."""
    out = Path(os.path.abspath(out))
    return out.parent / f".{out.name}.lock"


def held(out: str | Path) -> _Held | None:
    """This process's hold on ``out``'s lock, if any."""
    return _HELD.get(_key(Path(out)))


def acquire(out: str | Path) -> _Held:
    """Take (or re-enter) the writer lock of ``out``; :class:`ResultsBusyError` if another
    process holds it. Pair every call with :func:`release`."""
    key = _key(Path(out))
    if key in _HELD:
        _HELD[key].count += 1
        return _HELD[key]
    if Path(out).name in ("", ".", ".."):
        raise ResultsError(f"--out {str(out)!r}: give a directory to write, e.g. results/run1")
    path = lock_path(out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock_fd(path, out)
    except OSError as exc:
        raise ResultsError(f"{out}: cannot lock {path.name}: {exc.strerror or exc}") from None
    _HELD[key] = _Held(fd, path)
    return _HELD[key]


def _lock_fd(path: Path, out: str | Path) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except PermissionError:  # another user's lock file: reading is enough to lock it
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise ResultsBusyError(
                f"{out}: is being written by another process (pid {pid or 'unknown'}); "
                f"wait for it to finish or choose another --out"
            ) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                os.close(fd)
                raise
            log.warning("%s: this file system cannot lock; a concurrent writer goes unseen", out)
        # The previous holder may have removed the file between our open and our lock: then
        # we hold a lock on a deleted inode that nobody else can see; start again.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            with contextlib.suppress(OSError):  # a read-only fd cannot record the pid
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def release(out: str | Path) -> None:
    """Drop one hold on ``out``'s lock; the last one removes the lock file and unlocks it."""
    key = _key(Path(out))
    h = _HELD.get(key)
    if h is None:
        return
    h.count -= 1
    if h.count > 0:
        return
    del _HELD[key]
    # Unlink while still locked: a waiter that opened the old file re-checks the inode.
    with contextlib.suppress(OSError):
        os.unlink(h.lock)
    with contextlib.suppress(OSError):
        fcntl.flock(h.fd, fcntl.LOCK_UN)
    os.close(h.fd)


@contextlib.contextmanager
def locked(out: str | Path) -> Iterator[Path]:
    """Hold the writer lock of ``out`` for the block (for writers that resume into their own
    directory, such as sweeps and studies)."""
    acquire(out)
    try:
        yield Path(out)
    finally:
        release(out)


def _forget_inherited() -> None:
    """In a forked child: close the parent's lock descriptors (the parent keeps its locks)."""
    for h in _HELD.values():
        with contextlib.suppress(OSError):
            os.close(h.fd)
    _HELD.clear()


def _release_all() -> None:
    """At exit: drop every lock still held (a command that failed after claiming its --out)."""
    for key in list(_HELD):
        _HELD[key].count = 1
        release(key)


os.register_at_fork(after_in_child=_forget_inherited)
atexit.register(_release_all)
