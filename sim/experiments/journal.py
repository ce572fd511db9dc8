"""The sweep journal: one checksummed JSON Lines part per finished batch, checked on resume.

A part is written whole (temporary file, fsync, rename, fsync of the directory), so a ``kill -9``
never leaves half a part behind; a disk that fills, a copy that stops short or a hand edit can.
Each part therefore ends with a check line::

    {"_check": {"rows": 8, "sha256": "…", "sweep": "…"}}

holding its number of rows, the SHA-256 of every byte before it and the id of the sweep that
wrote it. :func:`check_journal` sorts the parts:

* **intact** — check line present and right, every point with all its replications: kept;
* **cut short** — no check line, and a line cut or a point missing some replications: the lines
  that still parse are kept for the points that have all their replications in it (a part
  without a check line but whole points only, as written before check lines existed, is
  intact: cutting never alters the bytes that stay);
* **altered** — the check line does not match the bytes, or names another sweep: nothing in it
  is trusted.

With ``repair=True`` a part that is not intact is replaced by an intact part holding what could
be kept, and the original is moved to ``journal/discarded/`` (set aside, never deleted). A point
counts as done only when replications ``0 … R−1`` are all present: a point of which some
replications were lost is recomputed whole, and the report says how many rows were discarded.

    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp())
    >>> part = write_journal(out, [{"point": 0, "replication": r, "y": 1.0} for r in (0, 1)])
    >>> check_journal(out, replications=2).done
    {0}
    >>> text = part.read_text().splitlines()
    >>> _ = part.write_text(text[0] + "\\n")  # cut short: replication 1 and the check line lost
    >>> check = check_journal(out, replications=2, repair=True)
    >>> check.done, check.discarded_rows, check.describe()
    (set(), 1, 'journal: 1 part cut short (moved to journal/discarded/); discarded 1 row; 1 incomplete point to recompute')
"""  # noqa: E501

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL = "journal"
DISCARDED = "discarded"
CHECK = "_check"


@dataclass
class Part:
    """One journal file as read back: its usable rows and what was wrong with it."""

    path: Path
    rows: list[dict[str, Any]]  # rows of complete points only
    status: str  # "intact" | "short" | "altered"
    dropped: int = 0  # rows not kept
    unreadable: int = 0  # lines that are not a row (cut mid-line, not JSON)
    incomplete: set[int] = field(default_factory=set)  # points whose rows were not kept


@dataclass
class JournalCheck:
    """What the journal holds: the points done and what had to be set aside."""

    done: set[int]
    rows: list[dict[str, Any]]
    parts: int = 0
    short: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    discarded_rows: int = 0
    unreadable_lines: int = 0
    incomplete: set[int] = field(default_factory=set)

    def describe(self) -> str:
        """One line for the user, empty when every part was intact."""
        if not (self.short or self.altered or self.discarded_rows or self.unreadable_lines):
            return ""
        bits = []
        if self.short:
            bits.append(f"{_n(len(self.short), 'part')} cut short")
        if self.altered:
            bits.append(f"{_n(len(self.altered), 'part')} altered or of another sweep")
        text = "journal: " + " and ".join(bits) + f" (moved to {JOURNAL}/{DISCARDED}/)"
        lost = [_n(self.discarded_rows, "row")] if self.discarded_rows else []
        if self.unreadable_lines:
            lost.append(_n(self.unreadable_lines, "unreadable line"))
        if lost:
            text += f"; discarded {' and '.join(lost)}"
        if self.incomplete:
            text += f"; {_n(len(self.incomplete), 'incomplete point')} to recompute"
        return text


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def write_journal(out: str | Path, rows: list[dict[str, Any]], sweep: str = "") -> Path:
    """Append one finished batch: temp file, fsync, rename, fsync the directory.

    JSON Lines rather than Parquet: a one-row, 150-column Parquet file costs ~100 ms to write,
    a JSON line well under 1 ms, and ``repr``-exact floats round-trip bit for bit.
    """
    directory = Path(out) / JOURNAL
    directory.mkdir(parents=True, exist_ok=True)
    first = min(r["point"] for r in rows)
    path = directory / f"part-{first:09d}-{os.getpid()}-{os.urandom(3).hex()}.jsonl"
    body = "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
    check = {"rows": len(rows), "sha256": hashlib.sha256(body).hexdigest(), "sweep": sweep}
    tmp = directory / f".{path.name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(body + (json.dumps({CHECK: check}) + "\n").encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(directory)
    return path


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # directory fsync is not available everywhere
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# reading and checking
# --------------------------------------------------------------------------------------------
def parts(out: str | Path) -> list[Path]:
    return sorted((Path(out) / JOURNAL).glob("part-*.jsonl"))


def read_part(path: Path, replications: int | None, sweep: str = "") -> Part:
    """Read one part, keeping only what can be trusted (see the module docstring)."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    check = _check_line(lines[-1]) if lines else None
    if check is not None:
        body = data[: data.rfind(b"\n", 0, len(data) - 1) + 1] if len(lines) > 1 else b""
        ok = (
            check.get("sha256") == hashlib.sha256(body).hexdigest()
            and check.get("rows") == len(lines) - 1
            and (not sweep or not check.get("sweep") or check.get("sweep") == sweep)
        )
        if not ok:
            rows = [r for r in map(_row, lines[:-1]) if r is not None]
            return Part(
                path,
                [],
                "altered",
                len(rows),
                len(lines) - 1 - len(rows),
                {r["point"] for r in rows},
            )
        lines = lines[:-1]
    rows, unreadable = [], 0
    for line in lines:
        row = _row(line)
        if row is None:
            unreadable += 1
        else:
            rows.append(row)
    kept, incomplete = complete_rows(rows, replications)
    # Without a check line (cut short, or written before check lines existed) a part whose
    # every line is a row of a complete point is still exact: cutting never alters what stays.
    status = "intact" if not unreadable and not incomplete else "short"
    return Part(path, kept, status, len(rows) - len(kept), unreadable, incomplete)


def _check_line(line: bytes) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value.get(CHECK) if isinstance(value, dict) and CHECK in value else None


def _row(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:  # cut mid-line, or not text at all
        return None
    if not isinstance(row, dict) or CHECK in row:
        return None
    if not all(isinstance(row.get(k), int) for k in ("point", "replication")):
        return None
    return row


def complete_rows(
    rows: list[dict[str, Any]], replications: int | None
) -> tuple[list[dict[str, Any]], set[int]]:
    """Rows of the points that have each replication 0 … R−1 exactly once (first one kept)."""
    by_point: dict[int, dict[int, dict[str, Any]]] = {}
    for row in rows:
        by_point.setdefault(row["point"], {}).setdefault(row["replication"], row)
    if replications is None:
        return [r for reps in by_point.values() for r in reps.values()], set()
    want = set(range(replications))
    kept, incomplete = [], set()
    for point, reps in by_point.items():
        if set(reps) == want:
            kept.extend(reps[r] for r in sorted(reps))
        else:
            incomplete.add(point)
    return kept, incomplete


def check_journal(
    out: str | Path, replications: int | None, sweep: str = "", *, repair: bool = False
) -> JournalCheck:
    """Every trustworthy row, the complete points, and (``repair``) the journal made intact."""
    check = JournalCheck(done=set(), rows=[])
    seen: set[tuple[int, int]] = set()
    for path in parts(out):
        part = read_part(path, replications, sweep)
        check.parts += 1
        if part.status != "intact":
            (check.short if part.status == "short" else check.altered).append(path.name)
            check.discarded_rows += part.dropped
            check.unreadable_lines += part.unreadable
            check.incomplete |= part.incomplete
            if repair:
                _set_aside(out, part, sweep)
        for row in part.rows:
            key = (row["point"], row["replication"])
            if key not in seen:  # a point journaled twice: both copies are the same numbers
                seen.add(key)
                check.rows.append(row)
    check.rows, incomplete = complete_rows(check.rows, replications)
    check.done = {row["point"] for row in check.rows}
    check.incomplete = (check.incomplete | incomplete) - check.done
    return check


def _set_aside(out: str | Path, part: Part, sweep: str) -> None:
    """Keep what a damaged part still holds as an intact part; move the original aside."""
    if part.rows:
        write_journal(out, part.rows, sweep)
    aside = Path(out) / JOURNAL / DISCARDED
    aside.mkdir(exist_ok=True)
    os.replace(part.path, aside / part.path.name)
    _fsync_dir(part.path.parent)


def sweep_ids(out: str | Path) -> set[str]:
    """The sweep ids the parts' check lines name ("" for a part without one)."""
    ids = set()
    for path in parts(out):
        lines = path.read_bytes().rstrip(b"\n").split(b"\n")
        check = _check_line(lines[-1]) if lines else None
        ids.add(str(check.get("sweep", "")) if check else "")
    return ids
