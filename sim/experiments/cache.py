"""A result cache: a replication is never simulated twice.

An entry is keyed by (resolved scenario hash, seed, replication, code version), where the code
version is a hash of the source of every ``sim`` module a replication runs: editing the model
invalidates every entry, editing a scenario only that scenario's. Entries are pickled
:class:`~sim.experiments.replication.Replication` objects under ``results/.cache/`` (or any
directory), one
file per key, written atomically (temp file + rename) so concurrent runs never read half a file.

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
import functools
import hashlib
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.experiments.replication import Replication

DEFAULT_DIR = Path("results") / ".cache"


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
    """Replications on disk, keyed by (scenario hash, seed, replication, code version)."""

    def __init__(self, directory: str | Path = DEFAULT_DIR):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    def path(self, scenario_hash: str, *, seed: int, replication: int) -> Path:
        key = f"{scenario_hash}|{seed}|{replication}|{code_version()}"
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.directory / name[:2] / f"{name}.pkl"

    def get(
        self,
        scenario_hash: str,
        *,
        seed: int,
        replication: int,
        windows: Sequence[tuple[int, int]] = (),
        keep_daily: bool = False,
    ) -> Replication | None:
        """The stored replication if it holds ``windows`` (and daily tables if asked)."""
        path = self.path(scenario_hash, seed=seed, replication=replication)
        try:
            with path.open("rb") as fh:
                rep = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            self.misses += 1
            return None
        enough = all(tuple(w) in rep.window_kpis for w in windows) and (
            not keep_daily or rep.daily is not None
        )
        if not enough or rep.error is not None:
            self.misses += 1
            return None
        self.hits += 1
        return rep

    def put(self, scenario_hash: str, *, seed: int, replication: Replication) -> None:
        """Store a successful replication (failures are not cached: they may be transient)."""
        if replication.error is not None:
            return
        path = self.path(scenario_hash, seed=seed, replication=replication.replication)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(replication, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
