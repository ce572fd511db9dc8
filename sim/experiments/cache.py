"""A result cache: a replication is never simulated twice.

An entry is keyed by (resolved scenario hash, seed, replication, code version), where the code
version is a hash of the source of every ``sim`` module a replication runs: editing the model
invalidates every entry, editing a scenario only that scenario's. Entries live under
``results/.cache/`` (or any directory), one file per key, written atomically (a temporary file
of the writer's own + rename) so concurrent runs never read half a file.

**Data only, checksummed.** A cache directory may be shared or tampered with, so an entry is
never code: it is a JSON header (the key, the KPIs) followed by Parquet tables, read with
``json`` and ``pyarrow`` (no pickle anywhere), under a SHA-256 over the key and the content. A
file that is not such an entry (a planted pickle, a truncated or edited file, another key's
entry) is a miss: reported once as a warning, recomputed, and replaced by a good entry; never
served, never a crash. The checksum catches corruption and edits, not a forger who recomputes
it; the data-only format is what keeps a forged entry from running code.

An entry serves a request only if it holds what the request needs (the requested KPI windows,
the daily tables when asked for); otherwise the replication is simulated again and the entry
replaced by the richer result.

    >>> import tempfile
    >>> cache = ResultCache(tempfile.mkdtemp())
    >>> cache.get("abc", seed=1, replication=0) is None
    True
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.experiments.cache_format import BadEntry, decode, encode

if TYPE_CHECKING:
    from sim.experiments.replication import Replication

DEFAULT_DIR = Path("results") / ".cache"
log = logging.getLogger("channelsim.cache")


#: Where a replication's code starts: the code version covers this module and every ``sim``
#: module it imports, directly or not (found by reading the import statements, so a report,
#: sweep or CLI edit keeps the cache warm while any model, phase, ledger or KPI edit clears it).
ENTRY_MODULE = "sim.experiments.replication"


@functools.cache
def code_version() -> str:
    """SHA-256 (first 16 hex digits) of the source of every ``sim`` module a replication runs."""
    root = Path(__file__).resolve().parents[1]  # the sim package
    h = hashlib.sha256()
    for path in sorted(simulation_sources(root)):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def simulation_sources(root: Path) -> set[Path]:
    """Source files of :data:`ENTRY_MODULE` and of the ``sim`` modules it imports (transitively,
    including imports inside functions)."""
    seen: set[Path] = set()
    todo = [ENTRY_MODULE]
    while todo:
        path = _module_file(root, todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo.append(node.module)
                todo += [f"{node.module}.{a.name}" for a in node.names]  # submodules
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names]
    return seen


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "sim":
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


class ResultCache:
    """Replications on disk, keyed by (scenario hash, seed, replication, code version).

    ``hits``, ``misses`` and ``rejected`` (the bad entries met, as ``(path, reason)``) count
    what the cache did."""

    def __init__(self, directory: str | Path = DEFAULT_DIR):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.rejected: list[tuple[Path, str]] = []

    @staticmethod
    def key(scenario_hash: str, *, seed: int, replication: int) -> str:
        """The full key an entry is stored under and checked against."""
        return f"{scenario_hash}|{seed}|{replication}|{code_version()}"

    def path(self, scenario_hash: str, *, seed: int, replication: int) -> Path:
        key = self.key(scenario_hash, seed=seed, replication=replication)
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.directory / name[:2] / f"{name}.entry"

    def get(
        self,
        scenario_hash: str,
        *,
        seed: int,
        replication: int,
        windows: Sequence[tuple[int, int]] = (),
        keep_daily: bool = False,
    ) -> Replication | None:
        """The stored replication if it is intact and holds ``windows`` (and daily tables if
        asked); ``None`` (a miss) otherwise."""
        key = self.key(scenario_hash, seed=seed, replication=replication)
        path = self.path(scenario_hash, seed=seed, replication=replication)
        try:
            data = _read_regular_file(path)
        except FileNotFoundError:
            self.misses += 1
            return None
        except OSError as exc:
            return self._reject(path, f"unreadable ({exc.strerror or exc})")
        try:
            rep = decode(data, key=key)
        except BadEntry as exc:
            return self._reject(path, str(exc))
        enough = all(tuple(w) in rep.window_kpis for w in windows) and (
            not keep_daily or rep.daily is not None
        )
        if not enough or rep.error is not None or rep.replication != replication:
            self.misses += 1
            return None
        self.hits += 1
        return rep

    def _reject(self, path: Path, reason: str) -> None:
        self.misses += 1
        self.rejected.append((path, reason))
        log.warning("cache: ignored %s (%s); recomputing and replacing it", path, reason)
        return None

    def put(self, scenario_hash: str, *, seed: int, replication: Replication) -> None:
        """Store a successful replication (failures are not cached: they may be transient).

        The cache only saves time: a write that fails (a full disk, a directory in the way)
        is reported and skipped, never fatal to the run."""
        if replication.error is not None:
            return
        key = self.key(scenario_hash, seed=seed, replication=replication.replication)
        path = self.path(scenario_hash, seed=seed, replication=replication.replication)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("xb") as fh:
                fh.write(encode(replication, key=key))
            os.replace(tmp, path)  # replaces a bad entry (or a symlink) by a good one
        except OSError as exc:
            log.warning("cache: could not store %s (%s)", path, exc.strerror or exc)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a symlink, FIFO or device)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        return fh.read()
