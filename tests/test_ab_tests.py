"""A/B tests inside the simulation (issue 18): the team's statistics against independent
formulas, the nominal error rate with no true difference, a clear winner rolled out on its day,
no peeking, clear errors, and the results table with its report section."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from sim.commands.cli import main
from sim.core.model import ChannelMarket
from sim.errors import ScenarioError
from sim.rules.ab_stats import power_welch, power_z, two_proportion_z, welch
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = {"market.customers": 1000, "horizon.days": 30, "inventory": None, "targets": []}


def scenario(rule: dict, **overrides):
    return load_scenario(
        "scenarios/baseline.yaml", overrides={**BASE, "rules": [rule], **overrides}
    )


def ab(**fields) -> dict:
    return {
        "kind": "ab_test",
        "name": "t",
        "start": 0,
        "days": 29,
        "enrolled": 1000,
        "b": {"price": 1.0},
        **fields,
    }


def table_hash(df: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(df, index=True).sum())


# ---- the statistics, against independent formulas ----------------------------------------------
def test_the_z_test_is_the_uncorrected_chi_square_test():
    for x_a, n_a, x_b, n_b in [(50, 1000, 80, 1000), (3, 400, 9, 600), (120, 900, 101, 1100)]:
        table = [[x_a, n_a - x_a], [x_b, n_b - x_b]]
        chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        res = two_proportion_z(x_a, n_a, x_b, n_b)
        assert res.statistic**2 == pytest.approx(chi2, rel=1e-10)
        assert res.p_value == pytest.approx(p, rel=1e-10)
        assert math.copysign(1, res.statistic) == math.copysign(1, x_b / n_b - x_a / n_a)


def test_welch_matches_the_welch_satterthwaite_formula():
    rng = np.random.default_rng(3)
    a, b = rng.exponential(10, 300), rng.exponential(12, 200)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    res = welch(a, b)
    assert res.statistic == pytest.approx(t, rel=1e-12)
    assert res.p_value == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-10)


def test_closed_form_power_matches_simulated_tests():
    """Power of both tests at planned arm sizes vs the share of 40 000 simulated experiments
    (binomial / normal draws, the test statistic computed here) that reject."""
    rng = np.random.default_rng(7)
    m, alpha = 40000, 0.05
    n_a, n_b, p_a, delta = 2000, 1500, 0.05, 0.02
    x_a, x_b = rng.binomial(n_a, p_a, m), rng.binomial(n_b, p_a + delta, m)
    pooled = (x_a + x_b) / (n_a + n_b)
    z = (x_b / n_b - x_a / n_a) / np.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    simulated = np.mean(np.abs(z) > stats.norm.ppf(1 - alpha / 2))
    assert power_z(p_a, delta, n_a, n_b, alpha) == pytest.approx(simulated, abs=0.015)
    sd_a, sd_b, d = 40.0, 55.0, 4.0
    mean_a = rng.normal(0, sd_a / math.sqrt(n_a), m)
    mean_b = rng.normal(d, sd_b / math.sqrt(n_b), m)
    zt = (mean_b - mean_a) / math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)
    simulated = np.mean(np.abs(zt) > stats.norm.ppf(1 - alpha / 2))
    assert power_welch(sd_a, sd_b, d, n_a, n_b, alpha) == pytest.approx(simulated, abs=0.015)


# ---- in the simulation -------------------------------------------------------------------------
def test_equal_arms_leave_the_ledger_bit_identical():
    """Arms with the plan's own setting change nothing: the hooks draw no number and move no
    price."""
    plain = ChannelMarket(
        load_scenario("scenarios/baseline.yaml", overrides=BASE | {"horizon.days": 40}), seed=4
    ).run()
    tested = ChannelMarket(scenario(ab(start=5, days=20), **{"horizon.days": 40}), seed=4).run()
    for name in ("daily", "market", "orders"):
        assert table_hash(getattr(tested, name)) == table_hash(getattr(plain, name)), name
    assert len(tested.extra["ab_tests"]) == 1


def test_arms_are_the_same_customers_in_every_seed_plan_and_replication():
    """The split is a function of customer index and test name only: two seeds, two plans
    (different B settings) and two replications put the same customers in arm B, about
    share_b of them (binomial 99.9 % interval), and another test's name splits differently."""

    def arms(seed: int, rep: int, price: float, name: str = "t") -> np.ndarray:
        sc = scenario(ab(name=name, start=0, days=3, share_b=0.3, b={"price": price}))
        m = ChannelMarket(sc, seed=seed, replication=rep)
        m.step()
        return m.levers.arms.arms[0].copy()

    first = arms(1, 0, 0.8)
    assert np.array_equal(first, arms(2, 5, 1.2))
    lo, hi = stats.binom.interval(0.999, len(first), 0.3)
    assert lo <= first.sum() <= hi
    other = arms(1, 0, 0.8, name="u")
    assert not np.array_equal(first, other)
    assert abs(np.mean(first == other) - (0.3**2 + 0.7**2)) < 0.05  # independent splits


def test_the_test_enrols_its_size_whatever_the_resolution():
    """``enrolled`` customers are in the test at 1500 and at 3000 simulated customers: arms of
    exactly enrolled·(1 − share_b) and enrolled·share_b, the others out; enrolment is by the
    smallest hash, so the enrolled among the first 1500 at 3000 customers are a subset of those
    enrolled at 1500; the decision row reports those sizes and the report's power from them
    is the same at both resolutions."""
    rule = ab(start=2, days=10, enrolled=1000, share_b=0.3, b={"price": 1.2})
    arms, rows = {}, {}
    for n in (1500, 3000):
        sc = scenario(rule, **{"market.customers": n, "horizon.days": 15})
        m = ChannelMarket(sc, seed=3)
        _step_to(m, 13)
        arms[n], rows[n] = m.levers.arms.arms[0].copy(), m.rules.ab.rows[0]
        assert len(arms[n]) == n
        assert np.bincount(arms[n], minlength=3).tolist() == [700, 300, n - 1000]
        assert (rows[n]["n_a"], rows[n]["n_b"]) == (700, 300)
    small, large = arms[1500] < 2, arms[3000][:1500] < 2
    assert np.all(small[large]) and large.sum() < small.sum()


def test_the_decision_reads_only_the_enrolled_customers():
    """Orders of customers not in the test, written into the team's log, leave the decision as
    it was; the same orders given to arm A's customers flip it (the test can fail)."""
    rule = ab(start=2, days=20, enrolled=600, a={"price": 2.0})
    sc = scenario(rule)
    plain = ChannelMarket(sc, seed=6)
    _step_to(plain, 23)
    assert plain.rules.ab.rows[0]["winner"] == "B"

    def decided(code: int) -> dict:
        m = ChannelMarket(sc, seed=6)
        _step_to(m, 22)
        who = np.flatnonzero(m.levers.arms.arms[0] == code)
        m.levers.arms.record(10, who, np.full(len(who), 1e6))
        m.step()
        return m.rules.ab.rows[0]

    assert decided(2) == plain.rules.ab.rows[0]
    assert decided(0)["winner"] == "A"


def test_customers_not_enrolled_pay_the_plans_price_during_the_test():
    """Arm A at 2×, arm B at 0.5×, 1000 of 2000 customers enrolled: during the test every
    order of a customer not enrolled pays the list price, arm A's 2× and arm B's 0.5×."""
    rule = ab(start=2, days=20, enrolled=1000, a={"price": 2.0}, b={"price": 0.5})
    sc = scenario(
        rule, **{"market.customers": 2000, "market.journey_sample": 2000, "horizon.days": 25}
    )
    m = ChannelMarket(sc, seed=8)
    ledger = m.run()
    arm = m.levers.arms.arms[0]
    list_price = {
        i: c.price_index * sc.market.guide_price for i, c in enumerate(sc.channels) if c.sells
    }
    o = _unit_prices(ledger)
    o = o[o["day"].between(2, 21)]
    ratio = o["unit"] / o["channel"].map(list_price)
    for code, factor in ((0, 2.0), (1, 0.5), (2, 1.0)):
        mine = ratio[arm[o["customer"].to_numpy()] == code]
        assert len(mine) > 0 and np.allclose(mine, factor), code


def test_with_no_true_difference_the_wrong_winner_rate_is_alpha():
    """Both arms at the same (non-plan) price: every declared winner is wrong. Over 200
    replications of 1000 customers × 30 days the share declared at alpha 0.05 and at 0.2 (the
    same p-values) lies within the binomial 99 % interval of alpha."""
    sc = scenario(ab(a={"price": 0.9}, b={"price": 0.9}))
    reps = 200
    p = np.array(
        [
            ChannelMarket(sc, seed=5, replication=r).run().extra["ab_tests"]["p_value"].item()
            for r in range(reps)
        ]
    )
    for alpha in (0.05, 0.2):
        lo, hi = stats.binom.interval(0.99, reps, alpha)
        assert lo <= np.sum(p < alpha) <= hi, (alpha, np.sum(p < alpha))


def _unit_prices(ledger) -> pd.DataFrame:
    o = ledger.orders.assign(unit=lambda d: d["revenue"] / d["units"])
    return o


def test_a_large_difference_makes_b_win_on_its_day_and_everyone_gets_b():
    """Arm A at double price, arm B at the plan's: B converts far better and wins on day 25 in
    every replication; from that day on every order (arm A's customers too) pays B's price,
    and the ledger equals the no-rollout plan's until that day only."""
    rule = ab(start=5, days=20, enrolled=2000, a={"price": 2.0}, b={"price": 1.0})
    sc = scenario(rule, **{"market.customers": 2000, "horizon.days": 45})
    kept = scenario({**rule, "rollout": "none"}, **{"market.customers": 2000, "horizon.days": 45})
    list_price = {
        i: c.price_index * sc.market.guide_price for i, c in enumerate(sc.channels) if c.sells
    }
    for rep in range(3):
        ledger = ChannelMarket(sc, seed=9, replication=rep).run()
        out = ledger.extra["ab_tests"].iloc[0]
        assert out["winner"] == "B" and out["decision_day"] == 25 and out["price_after"] == 1.0
        dec = ledger.extra["decisions"]
        assert dec["day"].tolist() == [5, 5, 25, 25]
        assert dec["target"].tolist() == ["arm A", "arm B"] * 2
        assert dec["before"].tolist() == [1.0, 1.0, 2.0, 1.0]
        assert dec["after"].tolist() == [2.0, 1.0, 1.0, 1.0]
        o = _unit_prices(ledger)
        ratio = o["unit"] / o["channel"].map(list_price)
        during, after = ratio[(o["day"] >= 5) & (o["day"] < 25)], ratio[o["day"] >= 25]
        assert set(np.round(during, 9)) == {1.0, 2.0}  # both arms bought during the test
        assert np.allclose(after, 1.0) and len(after) > 0
        # customers who paid double during the test (arm A) pay B's price after it
        arm_a = set(o.loc[(o["day"].between(5, 24)) & np.isclose(ratio, 2.0), "customer"])
        assert any(c in arm_a for c in o.loc[o["day"] >= 25, "customer"])
        other = ChannelMarket(kept, seed=9, replication=rep).run()
        before = other.daily["day"] < 25
        assert other.daily[before].equals(ledger.daily[before])
        assert not other.daily[~before].equals(ledger.daily[~before])


@pytest.mark.parametrize(
    ("fields", "overrides", "message"),
    [
        ({"share_b": 1.5}, {}, r"rules\[0\]\.ab_test\.share_b"),
        ({"days": 0}, {}, r"rules\[0\]\.ab_test\.days"),
        ({"metric": "ctr"}, {}, r"rules\[0\]\.ab_test\.metric"),
        ({"metric": "revenue_per_customer", "test": "z"}, {}, r"test: z .*needs metric"),
        ({"alpha": 0.7}, {}, r"rules\[0\]\.ab_test\.alpha"),
        ({"b": {"price": -1}}, {}, r"rules\[0\]\.ab_test\.b\.price"),
        ({"start": 40}, {}, r"rules\[0\]\(ab_test\)\.start: 40 is outside the horizon"),
        ({"days": 30}, {}, r"rules\[0\]\(ab_test\)\.days: .*decided on day 30, past"),
        ({"channels": ["nope"]}, {}, r"rules\[0\]\(ab_test\)\.channels: unknown channel 'nope'"),
        ({"lag_days": 29}, {}, r"rules\[0\]\(ab_test\)\.lag_days: 29 ≥ days"),
        (
            {"enrolled": 1200},
            {},
            r"rules\[0\]\(ab_test\)\.enrolled: 1200 .* market\.customers is 1000.*raise "
            r"market\.customers to at least 1200 or enrol fewer",
        ),
        ({"enrolled": 1200}, {"market.customers": 1200}, None),
        ({"enrolled": 10, "share_b": 0.1}, {}, r"enrolled: 10 customers .* arms of 9 and 1"),
        ({"enrolled": 2}, {}, r"rules\[0\]\.ab_test\.enrolled"),
    ],
)
def test_a_bad_field_is_a_scenario_error_naming_it(fields, overrides, message):
    if message is None:  # the boundary: as many enrolled as simulated customers is fine
        assert scenario(ab(**fields), **overrides).rules[0].enrolled == fields["enrolled"]
        return
    with pytest.raises(ScenarioError, match=message):
        scenario(ab(**fields), **overrides)


def test_enrolled_is_required():
    """No default: a default of "every simulated customer" would make the test's size follow
    the resolution again."""
    rule = ab()
    del rule["enrolled"]
    with pytest.raises(ScenarioError, match=r"rules\[0\]\.ab_test\.enrolled: Field required"):
        scenario(rule)


def test_validate_names_the_field_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "extends": str(ROOT / "scenarios" / "baseline.yaml"),
                "name": "bad",
                "rules": [ab(share_b=0)],
            }
        )
    )
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert "rules[0].ab_test.share_b: Input should be greater than 0" in captured.err


def _step_to(model: ChannelMarket, day: int) -> None:
    while model.day < day:
        model.step()


@pytest.mark.parametrize("lag", [0, 2])
def test_the_decision_never_sees_the_decision_day_or_unreported_days(lag):
    """Orders written into the team's log for the unreported days (day D − lag on) leave the
    decision on day D as it was; the same orders one day earlier flip it (the test can fail)."""
    rule = ab(start=2, days=20, lag_days=lag, a={"price": 2.0})
    sc = scenario(rule)
    day = 22
    plain = ChannelMarket(sc, seed=6)
    _step_to(plain, day + 1)
    assert plain.rules.ab.rows[0]["winner"] == "B"

    def decided(write_day: int) -> dict:
        m = ChannelMarket(sc, seed=6)
        _step_to(m, day)
        book = m.levers.arms
        arm_a = np.flatnonzero(book.arms[0] == 0)  # every arm-A customer buys, at a fortune
        book.record(write_day, arm_a, np.full(len(arm_a), 1e6))
        m.step()
        return m.rules.ab.rows[0]

    assert decided(day - lag) == plain.rules.ab.rows[0]
    assert decided(day - lag - 1)["winner"] == "A"


def test_a_different_plan_from_the_decision_day_on_does_not_change_the_decision():
    rule = ab(start=2, days=20)
    burst = {"channels.douyin.budget.periods": [{"start": 22, "end": 29, "paid": 90000}]}
    a = ChannelMarket(scenario(rule), seed=2).run()
    b = ChannelMarket(scenario(rule, **burst), seed=2).run()
    assert a.extra["ab_tests"].equals(b.extra["ab_tests"])
    assert not a.daily.equals(b.daily)  # the other plan did differ from the decision day on


def test_run_writes_the_outcomes_and_the_report_counts_them(tmp_path):
    """``channelsim run`` writes ``ab_tests.csv`` (one row per replication, every column in
    ``columns.csv``) and the report's A/B section counts the winners and states the power."""
    path = tmp_path / "ab.yaml"
    rule = ab(start=3, days=20, b={"price": 1.5}, min_effect=0.02)
    path.write_text(
        yaml.safe_dump(
            {"extends": str(ROOT / "scenarios" / "baseline.yaml"), "name": "ab", "rules": [rule]}
        )
    )
    sets = ["--set", "market.customers=1500", "--set", "horizon.days=30", "--set", "inventory=null"]
    out = tmp_path / "out"
    assert main(["run", str(path), "-r", "3", "--no-progress", "--out", str(out), *sets]) == 0
    written = pd.read_csv(out / "ab_tests.csv")
    assert sorted(written["replication"]) == [0, 1, 2]
    assert (written["decision_day"] == 23).all()
    cols = pd.read_csv(out / "columns.csv").query("table == 'ab_tests'")
    assert set(cols["column"]) == set(written.columns)
    assert not cols["meaning"].str.contains("UNDOCUMENTED").any()
    report = (out / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| ab | t ("))
    cells = [c.strip() for c in row.strip("|").split("|")]
    share = {w: f"{(written['winner'] == w).mean():.0%}" for w in ("B", "A", "none")}
    assert cells[2] == "3" and cells[6:9] == [share["B"], share["A"], share["none"]]
    p_a = written["value_a"].mean()
    power = power_z(p_a, 0.02, round(written["n_a"].mean()), round(written["n_b"].mean()), 0.05)
    assert cells[10] == f"{power:.0%} for B − A = 0.02"


def _outcomes(diffs: list[float], winners: list[str]) -> pd.DataFrame:
    n = len(diffs)
    return pd.DataFrame(
        {
            "scenario": "plan",
            "rule": "t",
            "metric": "conversion",
            "test": "z",
            "alpha": 0.05,
            "n_a": 1000,
            "n_b": 1000,
            "value_a": [0.05] * n,
            "value_b": [0.05 + d for d in diffs],
            "sd_a": 0.2,
            "sd_b": 0.2,
            "winner": winners,
            "min_effect": np.nan,
        }
    )


def test_the_report_section_counts_the_worse_arm_and_false_alarms():
    from sim.reports.sections.ab_tests import ab_tests_block
    from sim.reports.store import Stored

    def row(frame: pd.DataFrame) -> list[str]:
        st = Stored({}, {}, {}, None, None, None, ab_tests=frame)
        return ab_tests_block(st).tables[0].rows[0]

    # B truly better (every replication's B − A > 0): A won once, no difference 6 times
    better_b = row(_outcomes([0.01, 0.012] * 5, ["B"] * 3 + ["A"] + ["none"] * 6))
    assert better_b[6:10] == ["30%", "10%", "60%", "70% (better: B)"]
    # no detectable difference: two declared winners of 10 are false alarms
    null = row(_outcomes([0.01, -0.01] * 5, ["B", "A"] + ["none"] * 8))
    assert null[9] == "20% declared a winner (alpha 0.05)"
    # without min_effect: the difference found 80 % of the time, from the closed form
    mde = float(null[10].split("= ")[1])
    assert power_z(0.05, mde, 1000, 1000, 0.05) == pytest.approx(0.8, abs=0.005)
