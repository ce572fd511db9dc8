"""A comparison's results directory: the files written for it, and reading them back.

:func:`store_comparison` writes a :class:`~sim.experiments.comparison.Comparison` as plain
files; :func:`load_results` reads them back as :class:`Stored`, which is all a report is
rendered from. Files of a comparison run::

    manifest.json    seed, replications, scenario names + hashes, code version, versions, command
    summary.json     per scenario: kpis {mean, ci_low, ci_high}, targets, paired_diffs
    scenarios.json   every resolved scenario (what the differences section is computed from)
    kpis.csv/.parquet  one row per scenario × replication
    daily.parquet    the tidy daily ledger of every replication, with a ``scenario`` column
    market.csv/.parquet  market-wide end-of-day stocks (private pool, tiers…), one row per
                     scenario × replication × day
    columns.csv      table, column, unit and meaning of every column of these tables
    flows.csv        family → family moves per replication (sim.core.ledger.family_flows)
    cohorts.csv      repurchase by cohort per replication (sim.core.ledger.cohort_repurchase)
    inventory.csv    day × SKU inventory records per replication (only when the runs have them)
    decisions.csv    what the scenario's review rules decided, per replication (only with rules)
    ab_tests.csv     each A/B test's outcome per replication (only with ab_test rules)
    figures/*.png    the report's figures (also embedded in report.html as base64)
    report.html      one self-contained file (no script, no external resource)
    report.md        the same tables and readings in Markdown

The last three are written by :func:`sim.reports.report.write_report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.comparison import Comparison
from sim.results.columns import write_columns
from sim.results.directories import versions, write_json, write_table
from sim.results.provenance import command_line, reproducibility

#: Optional per-replication tables stored as CSV when every scenario has one.
TABLES = ("flows", "cohorts", "inventory")


def store_comparison(cmp: Comparison, directory: Path, **manifest_extra: Any) -> None:
    """Write the files of ``cmp`` (all but the report) into the existing ``directory``."""
    evs = cmp.evaluations
    write_json(directory / "manifest.json", _manifest(cmp, manifest_extra))
    write_json(directory / "summary.json", cmp.summary())
    write_json(
        directory / "scenarios.json",
        {n: ev.scenario.model_dump(mode="json") for n, ev in evs.items()},
    )
    write_table(directory, "kpis", _stack({n: ev.kpis for n, ev in evs.items()}))
    if all(ev.daily is not None for ev in evs.values()):
        _stack({n: ev.daily for n, ev in evs.items()}).to_parquet(
            directory / "daily.parquet", index=False
        )
    if all(ev.market is not None for ev in evs.values()):
        write_table(directory, "market", _stack({n: ev.market for n, ev in evs.items()}))
    for table in TABLES:
        frames = {n: getattr(ev, table) for n, ev in evs.items()}
        if all(f is not None for f in frames.values()):
            _stack(frames).to_csv(directory / f"{table}.csv", index=False)
    logs = {n: ev.decisions for n, ev in evs.items() if getattr(ev, "decisions", None) is not None}
    if any(len(log) for log in logs.values()):  # review rules (sim.rules) took decisions
        _stack({n: log for n, log in logs.items() if len(log)}).to_csv(
            directory / "decisions.csv", index=False
        )
    abs_ = {n: ev.ab_tests for n, ev in evs.items() if getattr(ev, "ab_tests", None) is not None}
    if any(len(t) for t in abs_.values()):  # A/B tests (sim.rules.ab) were decided
        _stack({n: t for n, t in abs_.items() if len(t)}).to_csv(
            directory / "ab_tests.csv", index=False
        )
    write_columns(directory)  # the data dictionary of exactly the tables written above


def _manifest(cmp: Comparison, extra: dict[str, Any]) -> dict[str, Any]:
    from sim.experiments.cache import code_version

    return {
        "command_name": "compare",
        "baseline": cmp.baseline,
        "plans": cmp.plans,
        "seed": cmp.seed,
        "replications": cmp.replications,
        "scenarios": {
            n: {
                "scenario": ev.scenario.name,
                "hash": ev.scenario.content_hash(),
                "extends": ev.scenario.extends,
                "replications": ev.replications,
                "errors": ev.errors,
            }
            for n, ev in cmp.evaluations.items()
        },
        "precision": cmp.precision,
        "cache_hits": cmp.cache_hits,
        "code_version": code_version(),
        "versions": versions(),
        "command": command_line(),
        **extra,
        "reproduce": reproducibility(),
    }


def _stack(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(scenario=n) for n, f in frames.items()], ignore_index=True)


@dataclass
class Stored:
    """What a report is rendered from: the files of a results directory."""

    manifest: dict[str, Any]
    summary: dict[str, Any]
    scenarios: dict[str, dict[str, Any]]
    daily: pd.DataFrame | None
    flows: pd.DataFrame | None
    cohorts: pd.DataFrame | None
    inventory: pd.DataFrame | None = None  # day × SKU inventory records (inventory.csv)
    market: pd.DataFrame | None = None  # day × replication market-wide stocks (market.parquet)
    ab_tests: pd.DataFrame | None = None  # A/B test outcomes per replication (ab_tests.csv)
    decisions: pd.DataFrame | None = None  # review rules' decisions (decisions.csv)

    @property
    def names(self) -> list[str]:
        """The baseline, then the plans."""
        return [self.summary["baseline"], *self.summary["plans"]]

    def reps(self, name: str) -> int:
        """Replications of scenario ``name`` (at least 1: what totals are divided by)."""
        return max(1, int(self.summary["scenarios"][name]["replications"]))

    def daily_of(self, name: str) -> pd.DataFrame:
        """The daily rows of scenario ``name``."""
        return self.daily[self.daily["scenario"] == name]


def load_results(directory: str | Path) -> Stored:
    """Read a results directory of ``channelsim compare`` or ``channelsim run`` (a run is read
    as a comparison with no plans); ``FileNotFoundError`` / ``ValueError`` if it is neither."""
    d = Path(directory)
    for name in ("manifest.json", "summary.json", "scenarios.json"):
        if not (d / name).is_file():
            raise FileNotFoundError(
                f"{d}: no {name} (not a results directory of `channelsim compare` or `run`)"
            )
    summary = _read_json(d / "summary.json")
    manifest = _read_json(d / "manifest.json")
    if "scenarios" not in summary and "kpis" in summary and manifest.get("scenario"):
        summary = _run_as_comparison(summary, manifest)
    if "scenarios" not in summary or "baseline" not in summary:
        raise ValueError(f"{d / 'summary.json'}: not a comparison or run summary")
    name = summary["baseline"]

    def tagged(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "scenario" in frame.columns:
            return frame
        return frame.assign(scenario=name)  # a run's tables hold one scenario

    def opt_csv(file: str) -> pd.DataFrame | None:
        return tagged(pd.read_csv(d / file)) if (d / file).is_file() else None

    daily = pd.read_parquet(d / "daily.parquet") if (d / "daily.parquet").is_file() else None
    market = pd.read_parquet(d / "market.parquet") if (d / "market.parquet").is_file() else None
    daily, market = tagged(daily), tagged(market)
    if market is None and daily is not None and "private_pool" in daily.columns:
        daily, market = _split_market(daily)  # written before the market table existed
    return Stored(
        manifest=manifest,
        summary=summary,
        scenarios=_read_json(d / "scenarios.json"),
        daily=daily,
        flows=opt_csv("flows.csv"),
        cohorts=opt_csv("cohorts.csv"),
        inventory=opt_csv("inventory.csv"),
        market=market,
        ab_tests=opt_csv("ab_tests.csv"),
        decisions=opt_csv("decisions.csv"),
    )


def _split_market(daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An older directory's daily table, whose channel rows repeat the market-wide stocks:
    the channel measures, and the stocks once per scenario × replication × day."""
    from sim.core.ledger import MARKET_MEASURES

    cols = [c for c in MARKET_MEASURES if c in daily.columns]
    keys = [c for c in ("scenario", "replication", "day", "date") if c in daily.columns]
    market = daily.groupby(keys, as_index=False, sort=False)[cols].first()
    return daily.drop(columns=cols), market


def _run_as_comparison(summary: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """A run's ``summary.json`` in a comparison's shape: its one scenario as the baseline."""
    from sim.reports.summary import as_comparison

    name = str(manifest["scenario"])
    out = as_comparison(summary, name)
    out["scenarios"][name]["replications"] = manifest.get("replications", 1)
    if summary.get("spread_sources"):  # parameter draws: the uncertainty section reads it
        out["scenarios"][name]["spread_sources"] = summary["spread_sources"]
    out.update(
        seed=manifest.get("seed"),
        replications=manifest.get("replications", 1),
        required_probability=summary.get("required_probability", 0.8),
    )
    return out


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a damaged file is a ``ValueError`` that names it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{path}: damaged, not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: damaged, expected a JSON object, got {type(data).__name__}")
    return data
