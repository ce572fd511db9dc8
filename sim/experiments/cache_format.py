"""The result cache's file format: data only (JSON + Parquet), checksummed, never pickled.

One entry is one file::

    channelsim-cache-entry 1\\n
    <SHA-256 hex of the key, the header and the tables>\\n
    <header: one line of JSON: key, replication, kpis, window_kpis, table sizes>\\n
    <the tables, Parquet files back to back>

It is read with ``json`` and ``pyarrow`` only, so a file in the cache directory can never run
code, and the checksum (over the key the reader expects, not only the one stored) turns any
change of a byte, a truncation or an entry of another key into :class:`BadEntry`.

    >>> from sim.experiments.replication import Replication
    >>> blob = encode(Replication(0, kpis={"revenue": 5.47e6}), key="k")
    >>> decode(blob, key="k").kpis
    {'revenue': 5470000.0}
    >>> decode(blob.replace(b"5470000.0", b"6310000.0"), key="k")
    Traceback (most recent call last):
    ...
    sim.experiments.cache_format.BadEntry: checksum mismatch (the entry was changed or damaged)
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.replication import Replication

MAGIC = b"channelsim-cache-entry 1"
#: The optional tables of a :class:`Replication`, stored as Parquet.
TABLES = ("daily", "journeys", "flows", "cohorts", "inventory", "market", "decisions")
TABLES += ("ab_tests",)


class BadEntry(Exception):
    """The bytes are not an intact cache entry for the expected key."""


def _digest(key: str, header: bytes, tables: bytes) -> str:
    h = hashlib.sha256(MAGIC + b"\n")
    for part in (key.encode("utf-8"), header, tables):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in the cache")


def encode(rep: Replication, *, key: str) -> bytes:
    """``rep`` as an entry for ``key``."""
    blobs, sizes = [], []
    for name in TABLES:
        frame = getattr(rep, name)
        if frame is not None:
            buf = io.BytesIO()
            frame.to_parquet(buf)
            blobs.append(buf.getvalue())
            sizes.append([name, len(blobs[-1])])
    header = {
        "key": key,
        "replication": int(rep.replication),
        "kpis": rep.kpis,
        "window_kpis": [[int(a), int(b), k] for (a, b), k in rep.window_kpis.items()],
        "tables": sizes,
    }
    head = json.dumps(header, separators=(",", ":"), default=_plain).encode()
    tables = b"".join(blobs)
    return b"\n".join((MAGIC, _digest(key, head, tables).encode(), head, tables))


def decode(data: bytes, *, key: str) -> Replication:
    """The replication stored in ``data``; :class:`BadEntry` unless intact and for ``key``."""
    parts = data.split(b"\n", 3)
    if len(parts) != 4 or parts[0] != MAGIC:
        raise BadEntry("not a channelsim cache entry (an old pickle, or a planted file?)")
    stored, head, tables = parts[1], parts[2], parts[3]
    if stored.decode("ascii", "replace") != _digest(key, head, tables):
        try:
            other = json.loads(head).get("key")
        except (ValueError, AttributeError):
            other = None
        if isinstance(other, str) and other != key:
            raise BadEntry(f"written for another key ({other[:40]}…)")
        raise BadEntry("checksum mismatch (the entry was changed or damaged)")
    try:
        return _replication(json.loads(head), tables)
    except BadEntry:
        raise
    except Exception as exc:  # intact bytes that still do not make a replication
        raise BadEntry(f"unreadable content ({type(exc).__name__}: {exc})") from None


def _replication(header: dict, tables: bytes) -> Replication:
    rep = Replication(int(header["replication"]), kpis=_numbers(header["kpis"]))
    rep.window_kpis = {(int(a), int(b)): _numbers(k) for a, b, k in header["window_kpis"]}
    offset = 0
    for name, size in header["tables"]:
        if name not in TABLES or not isinstance(size, int) or size < 0:
            raise BadEntry(f"unknown table {name!r}")
        blob = tables[offset : offset + size]
        offset += size
        setattr(rep, name, pd.read_parquet(io.BytesIO(blob)))
    if offset != len(tables):
        raise BadEntry(f"{len(tables) - offset} bytes after the last table")
    return rep


def _numbers(kpis: Any) -> dict[str, float]:
    if not isinstance(kpis, dict) or not all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in kpis.values()
    ):
        raise BadEntry("KPIs are not a mapping of names to numbers")
    return dict(kpis)
