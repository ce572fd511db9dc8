"""``channelsim validate`` refuses what ``run``, ``sweep`` and the optimisers would refuse
(issue 12, item 4): unknown KPI names, channel ids that are scope names, verification-mode
stock, design KPIs; and the KPI names it checks are exactly those ``compute_kpis`` gives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

import sim
from sim.commands.cli import main
from sim.experiments.design import build_design
from sim.kpis import check_kpi_name, kpi_names
from sim.scenario import ScenarioError, load_scenario

from .conftest import SCENARIOS

PLANS = ("baseline", "six_schemes", "strategy_report", "uplift_plan", "multichannel")


def plan(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: p\n{text}")
    return path


def validate(capsys, *argv: str) -> tuple[int, str]:
    code = main(["validate", *argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out + out.err


@pytest.mark.parametrize("name", PLANS)
def test_kpi_names_are_what_compute_kpis_gives(name):
    # the names validate accepts = the names a run produces (families, channels, stock, tiers)
    sc = load_scenario(
        SCENARIOS / f"{name}.yaml",
        overrides={"market.customers": 600, "horizon.days": 20, "targets": []},
    )
    assert set(sim.compute_kpis(sim.simulate(sc, seed=1))) == kpi_names(sc)


def test_a_misspelt_target_kpi_fails_validate_and_run_before_simulating(tmp_path, capsys):
    path = plan(tmp_path, "targets:\n  - {kpi: revenu.online, at_least: 1}\n")
    code, text = validate(capsys, str(path))
    assert code == 2
    assert "targets[0].kpi: unknown KPI 'revenu.online' (did you mean 'revenue.online'?)" in text
    start = time.perf_counter()
    assert main(["run", str(path), "-r", "1", "--out", str(tmp_path / "out")]) == 2
    assert time.perf_counter() - start < 10  # refused at load: nothing simulated (full size)
    assert not (tmp_path / "out").exists()
    assert "revenu.online" in capsys.readouterr().err


def test_unknown_kpi_messages_name_the_known_ones(tmp_path, capsys):
    path = plan(
        tmp_path,
        "targets:\n  - {kpi: sales, at_least: 1}\n  - {kpi: revenue.offline, at_least: 1}\n",
    )
    code, text = validate(capsys, str(path))
    assert code == 2
    assert "targets[0].kpi: unknown KPI 'sales' (known: aov," in text and "revenue," in text
    # the baseline has no offline channel: its revenue scopes are listed instead
    assert "targets[1].kpi: unknown KPI 'revenue.offline': the scenario has no offline" in text
    assert "(revenue's scopes: douyin, jd, online, private, public, social, tmall, wecom" in text
    sc = load_scenario(SCENARIOS / "baseline.yaml")
    assert check_kpi_name("roi_paid.public", sc) is None
    assert check_kpi_name("revenue.online", sc) is None  # always there (= market w/o offline)
    assert "did you mean 'fill_rate.central'" in check_kpi_name("fill_rate.centrl", sc)


@pytest.mark.parametrize("cid", ["public", "private", "social", "offline", "online", "new"])
def test_a_channel_named_like_a_scope_is_refused(tmp_path, capsys, cid):
    path = plan(tmp_path, f"channels:\n  - {{id: {cid}, family: public}}\n")
    code, text = validate(capsys, str(path))
    assert code == 2
    assert f"'{cid}' is a family, scope or tier name (KPI.{cid} already means that)" in text


def test_exogenous_stock_is_refused_with_what_runs_it(tmp_path, capsys):
    path = plan(tmp_path, "inventory:\n  demand: {mode: exogenous, mean: 5}\n")
    code, text = validate(capsys, str(path))
    assert code == 2 and "inventory.demand.mode: 'exogenous'" in text
    assert "sim.inventory.run_exogenous" in text
    shipped = SCENARIOS / "inventory" / "verification.yaml"
    code, text = validate(capsys, str(shipped))
    assert code == 2
    assert "not a scenario: an inventory section in verification mode" in text
    assert "Its inventory section is valid (2 SKUs, 1 location(s))" in text
    assert main(["run", str(shipped), "-r", "1", "--out", str(tmp_path / "o")]) == 2
    assert "not a scenario" in capsys.readouterr().err
    broken = tmp_path / "inv.yaml"
    data = yaml.safe_load(shipped.read_text())
    data["inventory"]["costs"]["holding"] = -1
    broken.write_text(yaml.safe_dump(data))
    code, text = validate(capsys, str(broken))
    assert code == 2 and "inventory.costs.holding" in text


def test_designs_are_checked_alone_and_against_a_scenario(tmp_path, capsys):
    for path in sorted((SCENARIOS / "designs").glob("*.yaml")):
        assert validate(capsys, str(path))[0] == 0
        assert validate(capsys, str(SCENARIOS / "baseline.yaml"), "--design", str(path))[0] == 0
    raw = yaml.safe_load((SCENARIOS / "designs" / "budgets_grid.yaml").read_text())
    bad = tmp_path / "d.yaml"
    bad.write_text(yaml.safe_dump({**raw, "kpis": ["revenu", "profit.offline"]}))
    code, text = validate(capsys, str(bad))
    assert code == 2 and "kpis[0]: unknown KPI 'revenu' (did you mean 'revenue'?)" in text
    assert "profit.offline" not in text  # a scope of some scenario: fine without one
    code, text = validate(capsys, str(SCENARIOS / "baseline.yaml"), "--design", str(bad))
    assert code == 2
    assert "kpis[1]: unknown KPI 'profit.offline': the scenario has no offline channel" in text


def test_sweep_refuses_design_kpis_before_it_starts(tmp_path):
    design = build_design(
        {
            "parameters": {"market.churn": {"low": 0.001, "high": 0.002, "steps": 2}},
            "targets": [{"kpi": "proft", "at_least": 0}],
        }
    )
    sc = load_scenario(SCENARIOS / "baseline.yaml", overrides={"market.customers": 500})
    with pytest.raises(ScenarioError, match=r"targets\[0\].kpi: unknown KPI 'proft'"):
        sim.run_sweep(sc, design, out=tmp_path / "sweep", workers=1, progress=False)
    assert not (tmp_path / "sweep").exists()


def test_search_refuses_an_unknown_objective_before_any_trial(tmp_path, capsys):
    code = main(
        [
            "optimize",
            "search",
            str(SCENARIOS / "six_schemes_search.yaml"),
            "--objective",
            "revenu.online",
            "--trials",
            "1",
            "-r",
            "1",
            "--no-progress",
            "--set",
            "market.customers=500",
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2
    assert "unknown KPI 'revenu.online' (did you mean 'revenue.online'?)" in (
        capsys.readouterr().err
    )


def test_validate_set_and_deprecation_notes(tmp_path, capsys):
    code, text = validate(capsys, str(SCENARIOS / "baseline.yaml"), "--set", "market.customers=0")
    assert code == 2 and "market.customers" in text
    old = tmp_path / "old.yaml"
    old.write_text(
        (SCENARIOS / "baseline.yaml").read_text().replace("real_customers: 2000000", "scale: 100")
    )
    code, text = validate(capsys, str(old))
    assert code == 0 and "warning: market.scale (this file) is deprecated" in text
    assert "2,000,000 real customers simulated by 20,000 agents" in text
    # coarse agents with stock: the lumpy-demand warning; the shipped resolution has none
    code, text = validate(
        capsys, str(SCENARIOS / "baseline.yaml"), "--set", "market.customers=5000"
    )
    assert code == 0 and "use ≥ 20,000 agents for stock questions" in text
    assert "stock questions" not in validate(capsys, str(SCENARIOS / "baseline.yaml"))[1]
