"""``docs/data-dictionary.md``, rendered from the same dictionary that writes ``columns.csv``
(:mod:`sim.results.columns`), so the page and the files cannot disagree: ``python -m
sim.results.dictionary_doc`` rewrites it, and a test fails when it is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.results.columns import COMMON, DAILY, MARKET, OTHER, RAW_UNITS, SUMMARY, describe
from sim.results.columns_tools import tool_markdown
from sim.scenario.kpi_labels import LABELS, UNITS

PATH = Path("docs") / "data-dictionary.md"
INTRO = """# Data dictionary: the files of a results directory

Every results directory (`channelsim run`, `compare`, the optimisers' `verification/`, a sweep)
holds a `columns.csv` with one row per column of every table actually written there: `table,
column, unit, meaning`. It is written from the files themselves (`sim/results/columns.py`), so it
lists exactly what is there; a column the dictionary does not know is written as `UNDOCUMENTED`
and the tests fail (`tests/test_report_people.py`). This page is the same dictionary for reading
(`python -m sim.results.dictionary_doc` rewrites it).

All counts and money in the tables are in **real units** (a simulated agent stands for
`market.real_customers ÷ market.customers` people; the ledger has already multiplied); money is
in CNY. Rates are stored as fractions (0.25 = 25 %); the reports print them as percentages and
money totals in M CNY (million CNY).

## Tables

| file | one row per | what |
|---|---|---|
| `daily.parquet` (also `daily.csv` for `run`) | scenario × replication × day × channel | the day's flows on the channel: visits, orders, revenue, spend… |
| `market.parquet` / `market.csv` | scenario × replication × day | market-wide end-of-day stocks: private pool, interested, customers, churned, subscribers, tier sizes |
| `kpis.parquet` / `kpis.csv` | scenario × replication | every KPI over the whole horizon |
| `summary.json` | — | KPI means and intervals, targets with P(meet) and verdicts, paired differences |
| `flows.csv`, `cohorts.csv`, `journeys.csv`, `inventory.csv` | see below | customer moves, repurchase cohorts, sampled journeys, stock records |
| `ab_tests.csv` (only with `ab_test` rules) | scenario × replication × A/B test | arm sizes, each arm's metric, p-value, winner, the price multiplier rolled out ([ab_tests.md](ab_tests.md)) |
| sweep `results.parquet` / `point_summary.parquet` | point × replication / point × KPI | a sweep's KPIs per design point |
| `columns.csv` | table × column | this dictionary, for the files of that directory |
| `manifest.json` (`reproduce` block), `scenarios.json`; a sweep's `reproduce.json` | — | how to reproduce the directory: command, git commit, code hash, versions, resolved scenario(s) |

**Market-wide measures have their own table.** Before issue 16 `private_pool`, `interested`,
`customers`, `churned`, `subscribers` and `tier_*` were repeated on every channel row of `daily`,
so summing them over channels counted them once per channel. They are now in `market`
(`ledger.market` in Python), one row per day; `daily` holds per-channel measures only.
"""  # noqa: E501 - markdown table rows are one line each
KPIS = """## `kpis`

One column per KPI (`replication`, `scenario` as above). A KPI is `NAME` for the whole market or
`NAME.SCOPE` for a family (`public`, `private`, `social`, `offline`), `online` (every family but
offline) or a channel id; `tier_share.TIER` and `repurchase_rate.TIER` for the private tiers;
with stock, the stock KPIs also per `.SKU` and `.LOCATION`. Values are stored in the units below
(fractions, CNY); an undefined ratio (zero denominator) is empty (NaN), never 0.

| KPI | in words | stored unit | reports show | how it is computed |
|---|---|---|---|---|"""
SUMMARY_INTRO = """## `summary.json`

A run's: `kpis`, `targets`, `required_probability`. A comparison's: the same per scenario under
`scenarios.NAME`, with `paired_diffs` (plans only). `<KPI>` stands for any KPI name.

| field | unit | meaning |
|---|---|---|"""
SWEEP = """## sweep `results`

`point`, `replication`, one column per design parameter (its dotted scenario path, in the
scenario's unit), one column per KPI (as in `kpis`), and `error` (why a replication failed)."""


def _table(name: str, columns: list[str]) -> list[str]:
    rows = [f"## `{name}`", "", "| column | unit | meaning |", "|---|---|---|"]
    for col in columns:
        unit, text = describe(name, col) or ("", "")
        rows.append(f"| `{col}` | {unit} | {text} |")
    return [*rows, ""]


def markdown() -> str:
    """The whole page."""
    out = [INTRO]
    out += _table("daily", [*COMMON, *DAILY])
    out += _table("market", [*COMMON, *MARKET])
    out.append(KPIS)
    out += [
        f"| `{k}` | {e.label} | {RAW_UNITS[e.kind]} | {UNITS[e.kind]} | {e.meaning} |"
        for k, e in LABELS.items()
    ]
    out += ["", SUMMARY_INTRO]
    out += [f"| `{f}` | {u} | {t} |" for f, (u, t) in SUMMARY.items()]
    out.append("")
    for name in ("flows", "cohorts", "journeys", "inventory", "point_summary", "ab_tests"):
        out += _table(name, [*(["day"] if name in ("journeys", "inventory") else []), *OTHER[name]])
    out.append(SWEEP)
    out += ["", *tool_markdown()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PATH
    target.write_text(markdown(), encoding="utf-8")
    print(f"wrote {target}")
