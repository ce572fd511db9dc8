"""Tuning a review rule's parameters with ``optimize search`` (issue 18).

A rule's fields are decisions like any other (``rules.0.share``): the trials must set them in the
simulated scenario (so different values give different decisions logs and results), the best
trial's scenario must carry the chosen values, and a path to a rule that does not exist must be
refused when the scenario loads, naming the decision and the rules that exist.
"""

from __future__ import annotations

import pytest

from optimizers.search import search
from sim import simulate
from sim.scenario import ScenarioError, apply_overrides, load_scenario

from .conftest import SCENARIOS

SMALL = {"market.customers": 1000, "horizon.days": 60, "targets": []}


def test_the_search_tunes_a_rule_parameter_end_to_end():
    sc = load_scenario(SCENARIOS / "weekly_review_search.yaml", overrides=SMALL)
    assert [d.path for d in sc.decisions] == ["rules.0.share", "rules.0.window_days"]
    res = search(sc, objectives=["profit"], trials=4, replications=1, seed=3, workers=1)
    t = res.trials
    assert t["rules.0.share"].nunique() == 4 and t["rules.0.share"].between(0.05, 0.5).all()
    assert t["rules.0.window_days"].between(7, 28).all()
    # the values reach the simulation: two trials' shares give different reallocations
    shares = sorted(t["rules.0.share"])
    moved = []
    for share in (shares[0], shares[-1]):
        led = simulate(apply_overrides(sc, {"rules.0.share": share}), seed=3)
        moved.append(led.extra["decisions"][["before", "after"]].diff(axis=1)["after"].abs().sum())
    assert moved[0] > 0 and moved[1] > moved[0]
    # the best trial's scenario runs the rule with the best trial's values
    assert res.best is not None
    best = t.loc[t["profit"].idxmax()]
    assert res.best == {
        "rules.0.share": best["rules.0.share"],
        "rules.0.window_days": best["rules.0.window_days"],
    }
    rule = res.scenario.rules[0]
    assert rule.share == best["rules.0.share"] and rule.window_days == best["rules.0.window_days"]


def test_a_decision_on_a_rule_that_does_not_exist_is_refused():
    with pytest.raises(
        ScenarioError,
        match=r"decisions\[0\].path: rules.3.share: no item '3' in rules \(it has indices 0 to 0\)",
    ):
        load_scenario(
            SCENARIOS / "weekly_review.yaml",
            overrides={**SMALL, "decisions": [{"path": "rules.3.share", "low": 0.1, "high": 0.2}]},
        )
    with pytest.raises(ScenarioError, match=r"rules.0.sahre: unknown key 'sahre' in rules.0"):
        load_scenario(
            SCENARIOS / "weekly_review.yaml",
            overrides={**SMALL, "decisions": [{"path": "rules.0.sahre", "low": 0.1, "high": 0.2}]},
        )
    with pytest.raises(
        ScenarioError, match=r"rules.0.share: no item '0' in rules \(it has no items\)"
    ):
        load_scenario(
            SCENARIOS / "baseline.yaml",
            overrides={**SMALL, "decisions": [{"path": "rules.0.share", "low": 0.1, "high": 0.2}]},
        )


def test_setting_a_rule_on_a_plan_without_rules_names_the_missing_item(tmp_path, capsys):
    # --set applies to every plan of a compare; a baseline without rules used to fail with
    # "rules: Input should be a valid list", which named neither the path nor the cause
    with pytest.raises(
        ScenarioError, match=r"rules.0.noise_cv: no item '0' in rules \(it has no items\)"
    ):
        load_scenario(SCENARIOS / "baseline.yaml", overrides={**SMALL, "rules.0.noise_cv": 0.3})
    from sim.commands.cli import main

    code = main(
        [
            "compare",
            str(SCENARIOS / "baseline.yaml"),
            str(SCENARIOS / "weekly_review.yaml"),
            "--set",
            "rules.0.noise_cv=0.3",
            "-r",
            "1",
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    assert code == 2 and not (tmp_path / "cmp").exists()
    assert "rules.0.noise_cv: no item '0' in rules" in capsys.readouterr().err
