"""Writing a results directory so that nothing is ever lost: atomically, locked, never over
existing results unless asked, and recovering what a killed writer left behind.

:func:`atomic_dir` is the one way results directories are written (run, compare, the optimisers,
calibrate). Its guarantees, for a destination ``results/x``:

* **Complete or absent.** Files go into a hidden ``results/.x.XXXXXXXX`` beside it, renamed to
  ``results/x`` only when the block completes; an exception removes the temporary directory.
* **Never replaced silently.** An existing non-empty ``results/x`` is refused with
  :class:`ResultsExistError` (exit 2, the message names ``--force``) unless ``force=True``;
  ``force`` replaces only a directory that channelsim wrote (:data:`RESULT_MARKERS`).
* **Replaced safely.** With ``force`` the old directory is renamed aside to ``.x.old-PID``,
  the new one renamed in, then the old one deleted: the old results exist until the new ones
  are in place.
* **One writer.** The writer holds ``results/.x.lock`` (:mod:`sim.results.locks`).
* **kill -9 leftovers.** Under the lock, leftovers of a dead writer are dealt with first
  (:func:`recover`): if ``results/x`` is missing and an ``.x.old-PID`` exists (killed between
  the two renames) the old directory is restored; leftover temporary and old directories are
  deleted. Each action is reported on stderr.
* **The user's umask.** Directories are created with mode ``0o777 & ~umask`` (not 0700).

Commands call :func:`claim` first, before simulating, so that an existing or busy ``--out`` is
refused at once rather than after an hour's work; the claim's lock is kept until the
:func:`atomic_dir` that writes the directory finishes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from sim.results.locks import ResultsError, acquire, held, release

log = logging.getLogger("channelsim.results")

#: Files that mark a directory channelsim wrote; ``force`` replaces only such a directory.
RESULT_MARKERS = ("manifest.json", "summary.json", "calibration.json", "sweep.json", "study.db")

_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


class ResultsExistError(ResultsError):
    """The destination already holds results and ``force`` was not given."""


def claim(out: str | Path, *, force: bool = False) -> Path:
    """Lock ``out`` for this process, recover a killed writer's leftovers and refuse existing
    results unless ``force``; the lock is kept until :func:`atomic_dir` writes ``out``.

    Commands call this before simulating so an unusable ``--out`` fails in a second. A command
    that fails before writing keeps the lock until its process exits."""
    out = Path(out)
    h = acquire(out)
    try:
        _prepare(out, force)
    except BaseException:
        release(out)
        raise
    if h.claimed:  # claimed twice: one hold is enough
        release(out)
    h.claimed = True
    h.force = h.force or force
    return out


@contextlib.contextmanager
def atomic_dir(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``out`` only if the block completes.

    An existing ``out`` is refused (:class:`ResultsExistError`) unless ``force`` (here or in
    the :func:`claim` made earlier); see the module docstring for every guarantee."""
    out = Path(out)
    h = acquire(out)
    force = force or h.force
    try:
        _prepare(out, force)
        tmp = make_temp_dir(out)
        try:
            yield tmp
            _swap(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        if h.claimed:  # the claim is used up by this write
            h.claimed, h.force = False, False
            release(out)
        release(out)


def make_temp_dir(out: Path) -> Path:
    """An empty hidden ``.NAME.XXXXXXXX`` beside ``out``, mode ``0o777 & ~umask``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            suffix = "".join(secrets.choice(_TEMP_CHARS) for _ in range(8))
            tmp = out.parent / f".{out.name}.{suffix}"
            try:
                tmp.mkdir(mode=0o777)  # the umask applies, as for any directory the user makes
                return tmp
            except FileExistsError:
                continue
    except OSError as exc:
        raise ResultsError(f"{out}: cannot create it: {exc.strerror or exc}") from None


def _swap(tmp: Path, out: Path) -> None:
    """Put ``tmp`` at ``out``; an existing ``out`` stays until ``tmp`` is in place."""
    old = None
    if os.path.lexists(out):
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        _remove(old)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError as exc:
        if old is not None and not os.path.lexists(out):
            os.rename(old, out)  # put the old results back
            old = None
        raise ResultsExistError(
            f"{out}: appeared while this command was writing ({exc.strerror}); nothing was replaced"
        ) from None
    if old is not None:
        _remove(old)


def _prepare(out: Path, force: bool) -> None:
    """Under the lock: recover a killed writer's leftovers, then check the destination."""
    try:
        recover(out)
        _check_destination(out, force)
    except OSError as exc:
        raise ResultsError(f"{out}: {exc.strerror or exc}") from None


def _check_destination(out: Path, force: bool) -> None:
    if not os.path.lexists(out):
        return
    if out.is_symlink() or not out.is_dir():
        raise ResultsError(f"{out}: exists and is not a directory; choose another --out")
    if not any(out.iterdir()):
        return  # an empty directory holds nothing to lose
    if not force:
        raise ResultsExistError(
            f"{out}: already exists; pass --force to replace it, or choose another --out"
        )
    if not any((out / m).exists() for m in RESULT_MARKERS):
        raise ResultsExistError(
            f"{out}: is not a results directory (no {' / '.join(RESULT_MARKERS[:3])}); "
            f"--force replaces only results directories: choose another --out"
        )


def leftovers(out: str | Path) -> tuple[list[Path], list[Path]]:
    """The temporary (``.NAME.XXXXXXXX``) and old-aside (``.NAME.old-PID``) directories of
    ``out``, newest first."""
    out = Path(out)
    if not out.parent.is_dir():
        return [], []
    name = re.escape(out.name)
    temp_re = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}")
    old_re = re.compile(rf"\.{name}\.old-\d+")
    temps, olds = [], []
    for p in out.parent.iterdir():
        if temp_re.fullmatch(p.name) and p.is_dir() and not p.is_symlink():
            temps.append(p)
        elif old_re.fullmatch(p.name) and (p.is_dir() or p.is_symlink()):
            olds.append(p)

    def newest(paths: list[Path]) -> list[Path]:
        return sorted(paths, key=lambda p: p.lstat().st_mtime, reverse=True)

    return newest(temps), newest(olds)


def recover(out: str | Path) -> list[str]:
    """Deal with what a killed writer of ``out`` left (call with the lock held): restore
    ``out`` from its old-aside copy when ``out`` is missing, delete leftover temporary and
    old-aside directories. Returns (and reports on stderr) what was done."""
    out = Path(out)
    h = held(out)
    if h is None:
        raise RuntimeError(f"recover({out}) needs the writer lock")
    temps, olds = leftovers(out)
    done = []
    if olds and not os.path.lexists(out):
        os.rename(olds[0], out)
        done.append(
            f"{out}: restored the previous results from {olds[0].name} "
            f"(a writer was killed while replacing them)"
        )
        olds = olds[1:]
    for p in olds + temps:
        _remove(p)
        done.append(f"{out}: removed {p.name}, left by a writer that was killed")
    for line in done:
        log.warning(line)
    return done


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)
