"""Targets judged on hand-made replication results whose probabilities are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.experiments.evaluation import Evaluation
from sim.experiments.targets import (
    evaluate_targets,
    verdict,
    wilson_interval,
    windows_for,
)
from sim.scenario import Target, load_scenario

from .conftest import SCENARIOS


def make_eval(scenario, values: dict[str, list[float]], windows=None) -> Evaluation:
    """An Evaluation built by hand: KPI columns over replications 0..n-1."""
    n = len(next(iter(values.values())))
    kpis = pd.DataFrame({"replication": range(n), **values})
    wk = {w: pd.DataFrame({"replication": range(n), **v}) for w, v in (windows or {}).items()}
    return Evaluation(scenario, 0, kpis, wk, None, None, {})


@pytest.fixture(scope="module")
def sc():
    return load_scenario(SCENARIOS / "baseline.yaml", overrides={"horizon.days": 180})


def test_absolute_target_probability_estimate_and_verdict(sc):
    ev = make_eval(sc, {"revenue": [float(v) for v in range(1, 11)]})
    [r] = evaluate_targets([Target(kpi="revenue", at_least=7.5)], ev)
    assert r.probability == pytest.approx(0.3)  # 8, 9, 10
    assert r.estimate == pytest.approx(5.5)
    half = 2.2621571627982 * np.std(range(1, 11), ddof=1) / math.sqrt(10)  # t(0.975, 9)
    assert (r.ci_low, r.ci_high) == pytest.approx((5.5 - half, 5.5 + half))
    assert r.verdict == "at risk" and r.bound == "at_least" and r.replications == 10
    [r] = evaluate_targets([Target(kpi="revenue", at_most=2.0)], ev)
    assert r.probability == pytest.approx(0.2) and r.verdict == "missed"
    [r] = evaluate_targets([Target(kpi="revenue", at_least=2.0)], ev)
    assert r.probability == pytest.approx(0.9) and r.verdict == "met"


def test_relative_target_pairs_replications_over_the_window(sc):
    base = [100.0, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    factor = [1.5] * 5 + [1.2] * 5
    w = (90, 180)
    plan_ev = make_eval(
        sc,
        {"revenue": [1.0] * 10},
        {w: {"revenue": [b * f for b, f in zip(base, factor, strict=True)]}},
    )
    base_ev = make_eval(sc, {"revenue": [1.0] * 10}, {w: {"revenue": base}})
    t = Target(kpi="revenue", window=w, relative_to="baseline", at_least=1.4)
    [r] = evaluate_targets([t], plan_ev, base_ev)
    assert r.probability == pytest.approx(0.5)
    assert r.estimate == pytest.approx(1.35)
    assert r.verdict == "at risk" and r.window == w and r.relative_to == "baseline"
    # pairing is by replication index, not by row order
    shuffled = make_eval(sc, {"revenue": [1.0] * 10}, {w: {"revenue": base}})
    shuffled.window_kpis[w] = shuffled.window_kpis[w].iloc[::-1].reset_index(drop=True)
    [r2] = evaluate_targets([t], plan_ev, shuffled)
    assert r2.estimate == pytest.approx(1.35)


def test_undefined_kpi_does_not_meet_and_errors_are_clear(sc):
    ev = make_eval(sc, {"roi_paid": [4.0, float("nan"), 5.0, 1.0]})
    [r] = evaluate_targets([Target(kpi="roi_paid", at_least=3.0)], ev)
    assert r.probability == pytest.approx(0.5)
    assert r.estimate == pytest.approx(10 / 3)
    with pytest.raises(ValueError, match="baseline"):
        evaluate_targets([Target(kpi="roi_paid", relative_to="baseline", at_least=1)], ev)
    with pytest.raises(ValueError, match="window"):
        evaluate_targets([Target(kpi="roi_paid", window=(0, 30), at_least=1)], ev)
    with pytest.raises(ValueError, match="unknown KPI"):
        evaluate_targets([Target(kpi="nope", at_least=1)], ev)


def test_online_falls_back_to_whole_market_without_offline_channels(sc):
    ev = make_eval(sc, {"revenue": [5.0, 6.0]})
    [r] = evaluate_targets([Target(kpi="revenue.online", at_least=5.5)], ev)
    assert r.probability == 0.5


def test_wilson_closed_form_and_verdict_thresholds():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0
    assert verdict(0.8) == "met" and verdict(0.79) == "at risk"
    assert verdict(0.2) == "missed" and verdict(0.21) == "at risk"
    assert verdict(float("nan")) == "missed"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=40), st.floats(-100, 100), st.booleans())
def test_probability_is_the_share_meeting_and_inside_its_interval(values, threshold, lower):
    sc = load_scenario(SCENARIOS / "baseline.yaml")
    ev = make_eval(sc, {"profit": values})
    t = Target(kpi="profit", **({"at_least": threshold} if lower else {"at_most": threshold}))
    [r] = evaluate_targets([t], ev)
    v = np.asarray(values)
    share = np.mean(v >= threshold if lower else v <= threshold)
    assert r.probability == pytest.approx(share)
    assert r.prob_ci_low <= r.probability <= r.prob_ci_high
    assert 0.0 <= r.prob_ci_low and r.prob_ci_high <= 1.0
    d = r.to_dict()
    assert d["verdict"] in ("met", "at risk", "missed") and d["threshold"] == threshold


def test_windows_for_and_date_windows():
    sc = load_scenario(
        SCENARIOS / "baseline.yaml",
        overrides={
            "targets": [
                {"kpi": "revenue", "window": [90, 180], "at_least": 1},
                {"kpi": "orders", "window": ["2026-04-01", "2026-06-30"], "at_least": 1},
                {"kpi": "aov", "window": [90, 180], "at_most": 1},
                {"kpi": "cost_share", "at_most": 0.18},
            ]
        },
    )
    # dates are days from horizon.start (2026-01-01), same [start, end) convention
    assert sc.targets[1].window == (90, 180)
    assert windows_for(sc.targets) == [(90, 180)]
