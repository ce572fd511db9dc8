"""The comparison report: every section present, figures embedded, scenario text escaped."""

from __future__ import annotations

import base64
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from sim.commands.cli import main
from sim.experiments.comparison import compare
from sim.experiments.targets import VERDICTS
from sim.reports import write_comparison
from sim.reports.sections import SECTIONS, promotion_spans
from sim.scenario import load_scenario

from .conftest import SCENARIOS

EVIL = "<script>alert('x')</script> & co"


def build_results(out: Path) -> Path:
    """A small comparison whose plan has a malicious name and targets; written to ``out``."""
    small = {"market.customers": 800, "horizon.days": 60, "inventory": None}  # no stock here
    base = load_scenario(SCENARIOS / "baseline.yaml", overrides=small)
    plan = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            **small,
            "name": EVIL,
            "channels.tmall.budget.paid": 50000,
            "channels.wecom.budget.private_ops": 5000,
            "targets": [
                {
                    "kpi": "revenue.online",
                    "window": [0, 30],
                    "relative_to": "baseline",
                    "at_least": 1.0,
                    "label": "online sales ≥ baseline",
                },
                {"kpi": "cost_share", "at_most": 5.0},
            ],
        },
    )
    cmp = compare(base, [plan], replications=3, seed=3, workers=1, cache=False)
    return write_comparison(cmp, out)


class Page(HTMLParser):
    """Collects what the tests look at."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.captions = 0
        self.scripts = 0
        self.text: list[str] = []
        self.verdicts: list[str] = []
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "figcaption":
            self.captions += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "td" and a.get("class") in VERDICTS:
            self.verdicts.append(a["class"])
        elif tag in ("link", "iframe", "object", "embed"):
            self.text.append(f"<external {tag}>")

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return build_results(tmp_path_factory.mktemp("report") / "run")


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_every_section_present_with_embedded_figures(results):
    page = parse(results / "report.html")
    assert page.sections == list(SECTIONS)
    assert len(page.images) >= 6  # diffs, revenue, flow, pool, cohorts, spend
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.captions == len(page.images)  # every figure has its one-line reading
    assert "<external" not in " ".join(page.text)  # one self-contained file
    assert len(page.verdicts) == 2  # the plan's two targets


def test_scenario_text_is_escaped(results):
    page = parse(results / "report.html")
    assert page.scripts == 0  # the malicious name did not become a script element
    assert any(EVIL in t for t in page.text)  # ... it shows as text
    raw = (results / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in raw and "&lt;script&gt;" in raw
    md = (results / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_report_contents_follow_the_comparison(results):
    md = (results / "report.md").read_text(encoding="utf-8")
    for title in (
        "## Targets",
        "## Customer flow between families",
        "## Manifest",
        "## What each plan changes",
    ):
        assert title in md
    assert "channels.tmall.budget.paid" in md and "channels.wecom.budget.private_ops" in md
    summary = json.loads((results / "summary.json").read_text())
    plan = summary["scenarios"][EVIL]
    assert [t["kpi"] for t in plan["targets"]] == ["revenue.online", "cost_share"]
    # 3 replications cannot show P(meet) ≥ 0.8 (Wilson [44 %, 100 %] at best)
    assert plan["targets"][1]["verdict"] == "undecided"
    assert "| undecided |" in md and "more reps would decide (estimate)" in md
    assert "revenue" in plan["paired_diffs"]


def test_report_command_rerenders_without_simulating(results, tmp_path, monkeypatch):
    import sim.experiments.replication

    monkeypatch.setattr(sim.experiments.replication, "simulate", None)  # any simulation would crash
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    before = (copy / "report.html").read_text(encoding="utf-8")
    (copy / "report.html").unlink()
    (copy / "report.md").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").read_text(encoding="utf-8") == before
    assert (copy / "report.md").is_file()
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert main(["report", str(tmp_path)]) == 2


def test_inventory_section_appears_when_the_daily_table_has_stock(results, tmp_path):
    copy = tmp_path / "inv"
    shutil.copytree(results, copy)
    daily = pd.read_parquet(copy / "daily.parquet")
    daily["stockouts"] = (daily["day"] % 7 == 0).astype(float)
    daily.to_parquet(copy / "daily.parquet", index=False)
    assert main(["report", str(copy)]) == 0
    html = (copy / "report.html").read_text(encoding="utf-8")
    inv = html.split('<section id="inventory">', 1)[1].split("</section>", 1)[0]
    assert "data:image/png;base64," in inv and "stockouts" in inv
    before = (results / "report.html").read_text(encoding="utf-8")
    inv0 = before.split('<section id="inventory">', 1)[1].split("</section>", 1)[0]
    assert "<img" not in inv0 and "no inventory" in inv0


def test_promotion_spans_tolerate_any_calendar_shape():
    sc = {
        "promotions": {
            "events": [
                {"id": "d11", "date": "2026-11-11", "days": 3, "presale_days": 10},
                {"id": "x", "start": "2026-06-18", "end": "2026-06-20"},
            ]
        }
    }
    spans = promotion_spans(sc)
    assert spans[0] == (pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-14"), "d11")
    assert spans[1][2] == "x"
    assert promotion_spans({}) == [] and promotion_spans({"promotions": None}) == []


def test_inventory_records_give_stock_and_stockouts_per_sku_class(results, tmp_path):
    copy = tmp_path / "inv_records"
    shutil.copytree(results, copy)
    scenarios = json.loads((copy / "scenarios.json").read_text())
    for sc in scenarios.values():
        sc["inventory"] = {"skus": [{"id": "a", "class": "hot"}, {"id": "b", "klass": "slow"}]}
    (copy / "scenarios.json").write_text(json.dumps(scenarios))
    rows = [
        {
            "scenario": name,
            "replication": r,
            "day": d,
            "sku": sku,
            "on_hand": 10.0,
            "demand": 4.0,
            "served": 3.0 if sku == "a" else 4.0,
            "lost": 1.0 if sku == "a" else 0.0,
        }
        for name in scenarios
        for r in range(3)
        for d in range(5)
        for sku in ("a", "b")
    ]
    pd.DataFrame(rows).to_csv(copy / "inventory.csv", index=False)
    assert main(["report", str(copy)]) == 0
    html = (copy / "report.html").read_text(encoding="utf-8")
    inv = html.split('<section id="inventory">', 1)[1].split("</section>", 1)[0]
    assert inv.count("data:image/png;base64,") == 2
    assert "<td>hot</td>" in inv and "<td>slow</td>" in inv
    assert "<td>25.0%</td>" in inv and "<td>0.0%</td>" in inv  # 1 − served ÷ demand


def test_report_rerenders_a_results_dir_written_before_the_verdict_rule(results, tmp_path):
    """Older summary.json files (verdict "at risk", null numbers, no decision fields) still
    render: their verdicts are shown as written, not re-judged."""
    copy = tmp_path / "old"
    shutil.copytree(results, copy)
    summary = json.loads((copy / "summary.json").read_text())
    for sc in summary["scenarios"].values():
        for t in sc["targets"]:
            for k in ("required_probability", "confidence", "replications_to_decide", "reason"):
                t.pop(k, None)
            t.update(verdict="at risk", estimate=None, ci_low=None, ci_high=None)
        sc["kpis"]["revenue"] = {"mean": None, "ci_low": None, "ci_high": None}
    (copy / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(copy)]) == 0
    page = parse(copy / "report.html")
    assert page.verdicts == [] and "at risk" in " ".join(page.text)
