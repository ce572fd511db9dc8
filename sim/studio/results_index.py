"""The results browser's index: what each directory under ``results/`` is, without trusting it.

Every command writes ``manifest.json`` and ``summary.json`` (sweeps ``sweep.json``); their
shapes differ by command and have grown over time, and a directory may be half-copied, hand-
edited or from another version. :func:`list_results` reads what it can and says what it could
not: a missing or corrupt file becomes a note on the entry, never an error for the page.

    >>> import json, tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "run1").mkdir()
    >>> _ = (root / "run1" / "manifest.json").write_text(json.dumps(
    ...     {"scenario": "baseline", "created": "2026-01-02T03:04:05"}))
    >>> (root / "broken").mkdir()
    >>> _ = (root / "broken" / "summary.json").write_text("{not json")
    >>> entries = {e.name: e for e in list_results(root)}
    >>> [(e.kind, e.scenarios, e.created) for e in [entries["run1"]]]
    [('run', ['baseline'], '2026-01-02T03:04:05')]
    >>> (entries["broken"].kind, entries["broken"].notes)
    ('unknown', ['summary.json: unreadable (JSONDecodeError)'])
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ResultEntry", "kpi_table", "list_results", "read_entry", "side_by_side"]

MARKERS = ("manifest.json", "summary.json", "sweep.json", "report.html", "calibration.json")
MAX_JSON_BYTES = 32 * 2**20  # a summary is KBs; a huge file is not read into the page


@dataclass(frozen=True)
class ResultEntry:
    """One results directory as the browser lists it."""

    name: str  # relative to the results root
    kind: str  # run | comparison | optimisation | sweep | calibration | unknown
    created: str  # ISO date-time (the manifest's, else the directory's modification time)
    scenarios: list[str]
    verdicts: dict[str, dict[str, int]] = field(default_factory=dict)  # scenario → counts
    has_report: bool = False
    notes: list[str] = field(default_factory=list)  # files that could not be read

    def verdict_text(self) -> str:
        """``six_schemes: 2 met, 1 missed`` per scenario with targets."""
        return "; ".join(
            f"{name}: " + ", ".join(f"{n} {v}" for v, n in counts.items())
            for name, counts in self.verdicts.items()
            if counts
        )


def read_json(path: Path) -> tuple[Any, str | None]:
    """(data, None), or (None, why not) for a missing, huge or corrupt file."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None, f"{path.name}: too large to show"
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"{path.name}: unreadable ({type(exc).__name__})"


def list_results(root: str | Path) -> list[ResultEntry]:
    """Results directories directly under ``root`` (hidden ones, the cache, locks and
    half-written temporaries left out), newest first."""
    base = Path(root)
    if not base.is_dir():
        return []
    entries = []
    for d in base.iterdir():
        if d.name.startswith(".") or not d.is_dir() or d.is_symlink():
            continue
        if any((d / m).is_file() for m in MARKERS):
            entries.append(read_entry(d, base))
    return sorted(entries, key=lambda e: (e.created, e.name), reverse=True)


def read_entry(d: Path, root: Path) -> ResultEntry:
    notes: list[str] = []
    manifest, why = read_json(d / "manifest.json")
    notes += [why] if why else []
    summary, why = read_json(d / "summary.json")
    notes += [why] if why else []
    sweep, why = read_json(d / "sweep.json")
    notes += [why] if why else []
    manifest = manifest if isinstance(manifest, dict) else {}
    summary = summary if isinstance(summary, dict) else {}
    sweep = sweep if isinstance(sweep, dict) else {}
    kind = _kind(d, manifest, summary, sweep)
    return ResultEntry(
        name=d.relative_to(root).as_posix(),
        kind=kind,
        created=_created(d, manifest),
        scenarios=_scenarios(manifest, summary, sweep),
        verdicts=_verdicts(manifest, summary),
        has_report=(d / "report.html").is_file(),
        notes=notes,
    )


def _kind(d: Path, manifest: dict, summary: dict, sweep: dict) -> str:
    if sweep.get("kind") == "sweep" or manifest.get("kind") == "sweep":
        return "sweep"
    if manifest.get("optimizer"):
        return "optimisation"
    if manifest.get("command_name") == "compare" or isinstance(summary.get("scenarios"), dict):
        return "comparison"
    if (d / "calibration.json").is_file():
        return "calibration"
    if manifest.get("scenario"):
        return "run"
    return "unknown"


def _created(d: Path, manifest: dict) -> str:
    created = manifest.get("created")
    if isinstance(created, str) and created:
        return created
    try:
        return dt.datetime.fromtimestamp(d.stat().st_mtime).isoformat(timespec="seconds")
    except OSError:
        return ""


def _scenarios(manifest: dict, summary: dict, sweep: dict) -> list[str]:
    names: list[Any] = []
    if manifest.get("baseline"):
        names = [manifest["baseline"], *(manifest.get("plans") or [])]
    elif isinstance(summary.get("scenarios"), dict):
        names = list(summary["scenarios"])
    elif manifest.get("scenario"):
        names = [manifest["scenario"]]
    elif sweep.get("scenario"):
        names = [sweep["scenario"]]
    return [str(n) for n in names if isinstance(n, str | int)]


def _verdicts(manifest: dict, summary: dict) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    scenarios = summary.get("scenarios")
    if isinstance(scenarios, dict):
        for name, s in scenarios.items():
            if isinstance(s, dict):
                out[str(name)] = _count(s.get("targets"))
    elif "targets" in summary:
        out[str(manifest.get("scenario") or "run")] = _count(summary.get("targets"))
    return {k: v for k, v in out.items() if v}


def _count(targets: Any) -> dict[str, int]:
    if not isinstance(targets, list):
        return {}
    verdicts = [t.get("verdict") for t in targets if isinstance(t, dict)]
    return dict(Counter(str(v) for v in verdicts if v))


def kpi_table(d: Path) -> pd.DataFrame:
    """Mean KPIs per scenario of one results directory: index KPI, a column per scenario."""
    summary, _ = read_json(d / "summary.json")
    manifest, _ = read_json(d / "manifest.json")
    cols: dict[str, dict[str, float]] = {}
    if isinstance(summary, dict) and isinstance(summary.get("scenarios"), dict):
        for name, s in summary["scenarios"].items():
            if isinstance(s, dict):
                cols[str(name)] = _means(s.get("kpis"))
    elif isinstance(summary, dict):
        who = manifest.get("scenario") if isinstance(manifest, dict) else None
        cols[str(who or d.name)] = _means(summary.get("kpis"))
    return pd.DataFrame(cols)


def _means(kpis: Any) -> dict[str, float]:
    if not isinstance(kpis, dict):
        return {}
    out = {}
    for k, v in kpis.items():
        mean = v.get("mean") if isinstance(v, dict) else None
        if isinstance(mean, int | float) and not isinstance(mean, bool):
            out[str(k)] = float(mean)
    return out


def side_by_side(root: str | Path, a: str, b: str) -> pd.DataFrame:
    """Two results directories' KPI means next to each other (columns ``a: scenario``), on the
    KPIs they share first; ``a`` and ``b`` are names relative to ``root`` (confine them first)."""
    frames = []
    for name in (a, b):
        t = kpi_table(Path(root) / name)
        frames.append(t.rename(columns=lambda c, n=name: f"{n}: {c}"))
    both = pd.concat(frames, axis=1)
    shared = both.dropna().index.tolist()
    return both.loc[shared + [k for k in both.index if k not in shared]]
