"""Targets judged on hand-made replication results whose probabilities are known."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.experiments.evaluation import Evaluation
from sim.experiments.targets import (
    VERDICTS,
    TargetResult,
    evaluate_targets,
    replications_to_decide,
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
    # Wilson(3, 10) = [0.108, 0.603]: shown below the required 0.8
    assert r.verdict == "missed" and r.bound == "at_least" and r.replications == 10
    [r] = evaluate_targets([Target(kpi="revenue", at_most=2.0)], ev)
    assert r.probability == pytest.approx(0.2) and r.verdict == "missed"
    [r] = evaluate_targets([Target(kpi="revenue", at_least=2.0)], ev)
    # 9 of 10 is no proof of P ≥ 0.8: Wilson(9, 10) = [0.596, 0.982] still holds 0.8
    assert r.probability == pytest.approx(0.9) and r.verdict == "undecided"
    [r] = evaluate_targets([Target(kpi="revenue", at_least=2.0)], ev, required_probability=0.5)
    assert r.verdict == "met" and r.required_probability == 0.5


def _scipy_wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def test_three_replications_that_all_meet_are_undecided_not_met(sc):
    """The issue's case: P(meet) 100 % [44 %, 100 %] from 3 replications is not evidence of
    P ≥ 0.8; it is met from the first n whose Wilson lower bound (scipy's) reaches 0.8."""
    t = Target(kpi="revenue", at_least=0.0)
    [r] = evaluate_targets([t], make_eval(sc, {"revenue": [1.0, 2.0, 3.0]}))
    assert (r.prob_ci_low, r.prob_ci_high) == pytest.approx(_scipy_wilson(3, 3))
    assert r.probability == 1.0 and r.verdict == "undecided"
    first_met = next(n for n in range(1, 100) if _scipy_wilson(n, n)[0] >= 0.8)
    assert first_met == 16  # n / (n + z²) ≥ 0.8  ⇔  n ≥ 4 z² = 15.37
    assert r.replications_to_decide == first_met
    for n, expected in ((first_met - 1, "undecided"), (first_met, "met")):
        [r] = evaluate_targets([t], make_eval(sc, {"revenue": [1.0] * n}))
        assert r.verdict == expected, n


@pytest.mark.parametrize("required", [0.3, 0.5, 0.8, 0.95])
def test_verdict_is_scipys_wilson_interval_against_the_required_probability(required):
    for n in range(1, 41):
        for k in range(n + 1):
            lo, hi = _scipy_wilson(k, n)
            expected = "met" if lo >= required else "missed" if hi < required else "undecided"
            assert verdict(k, n, required_probability=required) == expected, (k, n)


@pytest.mark.parametrize(
    ("k", "n", "required"),
    [(3, 3, 0.8), (2, 2, 0.5), (0, 1, 0.5), (0, 2, 0.3), (1, 1, 0.95), (2, 4, 0.8), (3, 6, 0.2)],
)
def test_replications_to_decide_is_where_scipys_wilson_interval_first_excludes(k, n, required):
    """With P(meet) held at k/n, the estimate is the first m at which scipy's Wilson interval
    of (k/n)·m successes excludes the required probability (m ranging over multiples of n
    so that the successes are whole: the true first m lies between the bracketing ones)."""
    assert verdict(k, n, required_probability=required) == "undecided"
    m = replications_to_decide(k, n, required)
    assert m is not None and m > n

    def decided(reps: int) -> bool:
        lo, hi = _scipy_wilson(k * reps // n, reps)
        return lo >= required or hi < required

    multiples = range(n, 100 * n, n)
    first = next(x for x in multiples if decided(x))
    assert first - n < m <= first  # decided at the first whole multiple, not before
    if k in (0, n):  # all met or none: every m has whole successes, so m is exact
        assert decided(m) and not decided(m - 1)
    assert replications_to_decide(1, 2, 0.5) is None  # at the threshold: nothing decides it


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
    # Wilson(5, 10) = [0.237, 0.763] lies below the required 0.8
    assert r.verdict == "missed" and r.window == w and r.relative_to == "baseline"
    # pairing is by replication index, not by row order
    shuffled = make_eval(sc, {"revenue": [1.0] * 10}, {w: {"revenue": base}})
    shuffled.window_kpis[w] = shuffled.window_kpis[w].iloc[::-1].reset_index(drop=True)
    [r2] = evaluate_targets([t], plan_ev, shuffled)
    assert r2.estimate == pytest.approx(1.35)


def test_undefined_kpi_is_neither_met_nor_missed_and_says_why(sc):
    ev = make_eval(sc, {"roi_paid": [4.0, float("nan"), 5.0, 1.0]})
    [r] = evaluate_targets([Target(kpi="roi_paid", at_least=3.0)], ev)
    assert r.verdict == "undefined" and r.undefined == 1 and r.replications == 4
    assert "1 of 4 replications" in r.reason and "paid spend is zero" in r.reason
    assert r.probability == pytest.approx(2 / 3)  # over the defined replications
    assert r.estimate == pytest.approx(10 / 3)
    # every replication undefined (no paid spend at all): no number pretends to exist
    none = make_eval(sc, {"roi_paid": [float("nan")] * 3})
    [r] = evaluate_targets([Target(kpi="roi_paid", at_least=3.0)], none)
    assert r.verdict == "undefined" and "3 of 3" in r.reason
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert not {"estimate", "probability", "prob_ci_low", "ci_low"} & set(d)
    assert None not in [v for k, v in d.items() if k not in ("window", "relative_to")]
    assert TargetResult.from_dict(d).verdict == "undefined"
    with pytest.raises(ValueError, match="baseline"):
        evaluate_targets([Target(kpi="roi_paid", relative_to="baseline", at_least=1)], ev)
    with pytest.raises(ValueError, match="window"):
        evaluate_targets([Target(kpi="roi_paid", window=(0, 30), at_least=1)], ev)
    with pytest.raises(ValueError, match="unknown KPI"):
        evaluate_targets([Target(kpi="nope", at_least=1)], ev)


def test_relative_target_on_a_zero_baseline_is_undefined(sc):
    w = (0, 30)
    plan_ev = make_eval(sc, {"revenue": [1.0] * 3}, {w: {"revenue": [10.0, 12.0, 9.0]}})
    base_ev = make_eval(sc, {"revenue": [1.0] * 3}, {w: {"revenue": [8.0, 0.0, 9.0]}})
    t = Target(kpi="revenue", window=w, relative_to="baseline", at_least=1.1)
    [r] = evaluate_targets([t], plan_ev, base_ev)
    assert r.verdict == "undefined" and "baseline revenue is zero in 1 of 3" in r.reason


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
    assert verdict(0, 0) == "undecided"  # no replication is no evidence


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
    assert d["verdict"] in VERDICTS and d["threshold"] == threshold
    # never stronger than the evidence
    if r.verdict == "met":
        assert r.prob_ci_low >= r.required_probability
    elif r.verdict == "missed":
        assert r.prob_ci_high < r.required_probability
    else:
        assert r.prob_ci_low < r.required_probability <= r.prob_ci_high


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
    # dates are days from horizon.start (2026-01-01); dates and day numbers are both
    # [first, last] with both ends included: Q2 = 1 April (day 90) … 30 June (day 180), 91 days,
    # the half-open (90, 181) the KPI functions take
    assert sc.targets[1].window == (90, 181)
    assert windows_for(sc.targets) == [(90, 181)]
