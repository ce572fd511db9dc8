"""Scenario files: loading, extends/merge, overrides and every validation error."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from sim.commands.cli import main
from sim.core.model import simulate
from sim.scenario import ScenarioError, apply_overrides, load_scenario, merge

from .conftest import SCENARIOS


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def plan_with(tmp_path: Path, change: dict) -> Path:
    """A scenario extending the shipped baseline with ``change`` merged in."""
    base = yaml.safe_load((SCENARIOS / "baseline.yaml").read_text())
    return write(tmp_path, yaml.safe_dump(merge(base, change)))


def problems(path: Path, **kw) -> list[str]:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(path, **kw)
    return exc.value.problems


def test_shipped_scenarios_load():
    base = load_scenario(SCENARIOS / "baseline.yaml")
    plan = load_scenario(SCENARIOS / "six_schemes.yaml")
    assert plan.extends and plan.extends.endswith("baseline.yaml")
    # Merged by id: the plan changed tmall's paid budget, kept its commission, kept all channels.
    assert plan.channel_ids() == base.channel_ids()
    tm_base = next(c for c in base.channels if c.id == "tmall")
    tm_plan = next(c for c in plan.channels if c.id == "tmall")
    assert tm_plan.budget.paid != tm_base.budget.paid
    assert tm_plan.commission == tm_base.commission
    assert base.content_hash() != plan.content_hash()


def test_scenario_is_frozen():
    sc = load_scenario(SCENARIOS / "baseline.yaml")
    with pytest.raises(ValidationError):
        sc.market.customers = 5  # type: ignore[misc]


def test_overrides_address_channels_by_id():
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={"channels.tmall.budget.paid": 3000, "market.customers": 500},
    )
    assert sc.market.customers == 500
    assert next(c for c in sc.channels if c.id == "tmall").budget.paid == 3000
    again = apply_overrides(sc, {"channels.jd.price_index": 1.1})
    assert next(c for c in again.channels if c.id == "jd").price_index == 1.1
    assert sc.content_hash() != again.content_hash()


def test_unknown_channel_in_override():
    msgs = problems(SCENARIOS / "baseline.yaml", overrides={"channels.taobao.budget.paid": 1})
    assert any("unknown id 'taobao'" in m and "tmall" in m for m in msgs)


def test_every_problem_reported_at_once_with_paths(tmp_path):
    path = plan_with(
        tmp_path,
        {
            "horizon": {"days": 0},
            "market": {"custmers": 10, "segments": [{"id": "young", "share": 0.9}], "churn": 1.5},
            "channels": [{"id": "tmall", "budget": {"paid": -5}}],
        },
    )
    msgs = problems(path)
    text = "\n".join(msgs)
    assert "horizon.days" in text and "got 0" in text
    assert "market.custmers: unknown key" in text
    assert "market.churn" in text and "got 1.5" in text
    assert "channels[0](tmall).budget.paid" in text and "got -5" in text
    assert "segment shares must sum to 1" in text
    assert len(msgs) >= 5


def test_target_window_past_the_horizon_is_named():
    msgs = problems(SCENARIOS / "six_schemes.yaml", overrides={"horizon.days": 90})
    # [90, 179] in the file: both days included, the last one past day 89
    assert any(
        "targets[1] (revenue.online): window's last day 179 is past the horizon's last day 89 "
        "(90 days" in m
        for m in msgs
    ), msgs


def test_unknown_channel_in_inventory_is_caught_at_load():
    msgs = problems(
        SCENARIOS / "baseline.yaml", overrides={"inventory.stockout": {"taobao": {"lose": 1.0}}}
    )
    assert any("inventory.stockout: unknown channel 'taobao'" in m for m in msgs), msgs


def test_unknown_key_typo(tmp_path):
    path = plan_with(tmp_path, {"channels": [{"id": "jd", "comission": 0.1}]})
    assert any("channels[1](jd).comission: unknown key" in m for m in problems(path))


def test_probability_outside_unit_interval(tmp_path):
    path = plan_with(tmp_path, {"channels": [{"id": "jd", "commission": 1.2}]})
    assert any("commission" in m and "1.2" in m for m in problems(path))


def test_unreadable_and_invalid_files(tmp_path):
    assert "cannot read file" in problems(tmp_path / "missing.yaml")[0]
    assert "not valid YAML" in problems(write(tmp_path, "a: [1, 2"))[0]
    assert "must be a mapping" in problems(write(tmp_path, "- 1\n- 2\n"))[0]


def test_extends_loop(tmp_path):
    write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    assert "loops back" in problems(tmp_path / "a.yaml")[0]


def test_merge_by_id_and_remove():
    base = {"channels": [{"id": "a", "x": 1, "y": 2}, {"id": "b", "x": 3}]}
    out = merge(
        base, {"channels": [{"id": "a", "x": 9}, {"id": "c", "x": 5}, {"id": "b", "remove": True}]}
    )
    assert out == {"channels": [{"id": "a", "x": 9, "y": 2}, {"id": "c", "x": 5}]}


def test_cli_validate_exit_codes(tmp_path, capsys):
    assert (
        main(["validate", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "six_schemes.yaml")])
        == 0
    )
    bad = plan_with(tmp_path, {"market": {"customers": -1}})
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "market.customers" in err and "Traceback" not in err


def test_cli_zero_workers_is_clean_error(capsys):
    code = main(["run", str(SCENARIOS / "baseline.yaml"), "--workers", "0", "-r", "1"])
    assert code == 2
    assert "--workers: must be ≥ 1, got 0" in capsys.readouterr().err


def test_cli_run_bad_override_is_clean_error(capsys):
    code = main(
        ["run", str(SCENARIOS / "baseline.yaml"), "--set", "channels.nope.budget.paid=1", "-r", "1"]
    )
    assert code == 2
    assert "unknown id 'nope'" in capsys.readouterr().err


def test_basket_units_one_runs_without_warnings():
    # issue 12: a mean basket of exactly one unit made log(q) = log(0) in the purchase phase
    sc = load_scenario(
        SCENARIOS / "six_schemes.yaml",
        overrides={
            "market.customers": 1500,
            "horizon.days": 40,
            "targets": [],
            "market.segments.young.basket_units": 1,
            "market.segments.family.basket_units": 1,
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ledger = simulate(sc, seed=1)
    units = ledger.orders["units"]
    assert len(units) > 100
    # one unit per order, except where full-reduction tops a basket up to its threshold
    assert (units == 1).mean() > 0.9 and units.min() == 1
