"""Review rules inside the simulation (issue 18): a rule that cannot fire changes nothing, no
rule sees the future, a pilot scales or stops on its stated day, and a reallocation moves the
paid budget toward the split the response formula says is best (scipy, independently)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.optimize import minimize_scalar

from sim.commands.cli import main
from sim.core.model import ChannelMarket
from sim.errors import ScenarioError
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = {"market.customers": 2000, "horizon.days": 42, "inventory": None, "targets": []}
REALLOCATE = {"kind": "reallocate", "channels": ["tmall", "jd"], "every_days": 7, "share": 0.2}


def scenario(**overrides):
    return load_scenario("scenarios/baseline.yaml", overrides={**BASE, **overrides})


def table_hash(df: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(df, index=True).sum())


def test_a_rule_that_never_fires_leaves_the_ledger_bit_identical():
    plain = ChannelMarket(scenario(), seed=3).run()
    never = {**REALLOCATE, "every_days": 1000}  # past the horizon
    ruled = ChannelMarket(scenario(rules=[never]), seed=3).run()
    assert table_hash(ruled.daily) == table_hash(plain.daily)
    assert table_hash(ruled.market) == table_hash(plain.market)
    assert table_hash(ruled.orders) == table_hash(plain.orders)
    assert ruled.extra["decisions"].empty
    assert "decisions" not in plain.extra


def _step_to(model: ChannelMarket, day: int) -> None:
    while model.day < day:
        model.step()


@pytest.mark.parametrize(
    ("lag", "attribution", "noise"),
    [
        (0, "ad_channel", 0.0),
        (3, "ad_channel", 0.0),
        (3, "order_channel", 0.0),
        (2, "ad_channel", 0.5),
    ],
)
def test_a_decision_never_sees_today_or_the_future(lag, attribution, noise):
    rule = {**REALLOCATE, "lag_days": lag, "attribution": attribution, "noise_cv": noise}
    measure = {"ad_channel": "revenue_paid_ad", "order_channel": "revenue_paid"}[attribution]
    day = 14
    a = ChannelMarket(scenario(rules=[rule]), seed=5)
    _step_to(a, day + 1)
    today = a.rules.log().query("day == @day")
    loser = today.loc[today["after"] < today["before"], "channel"].item()

    def decided(write_from: int) -> pd.DataFrame:
        # a recorder that says today's loser earns a fortune from ``write_from`` on
        m = ChannelMarket(scenario(rules=[rule]), seed=5)
        _step_to(m, day)
        m.recorder.flow[measure][write_from:, m.channel_index[loser]] = 1e9
        m.step()
        return m.rules.log()

    assert decided(day - lag).equals(a.rules.log())  # today and the unreported days: unseen
    # the same write one day earlier is visible and flips the decision: the test can fail
    flipped = decided(day - lag - 1).query("day == @day")
    assert flipped.loc[flipped["after"] > flipped["before"], "channel"].item() == loser


def test_a_different_plan_from_tomorrow_on_does_not_change_todays_decision():
    day = 14
    burst = {"channels.douyin.budget.periods": [{"start": day + 1, "end": 30, "paid": 90000}]}
    a = ChannelMarket(scenario(rules=[REALLOCATE]), seed=2).run()
    b = ChannelMarket(scenario(rules=[REALLOCATE], **burst), seed=2).run()
    da, db = a.extra["decisions"], b.extra["decisions"]
    assert da[da["day"] <= day].equals(db[db["day"] <= day])
    spend = b.daily.query("channel == 'douyin' and day > @day and day <= 30")["spend_paid"]
    assert (spend == 90000).all()  # the other plan did differ from tomorrow on


def _pilot(max_cac: float) -> dict:
    return {
        "kind": "pilot",
        "channel": "douyin",
        "start": 7,
        "weeks": 2,
        "budget": 35000,
        "scale_to": 60000,
        "max_cac": max_cac,
    }


@pytest.mark.parametrize(("max_cac", "after"), [(1e12, 60000.0), (0.0, 0.0)])
def test_a_pilot_scales_or_stops_on_its_stated_day_in_every_replication(max_cac, after):
    sc = scenario(rules=[_pilot(max_cac)], **{"horizon.days": 28})
    for rep in range(4):
        ledger = ChannelMarket(sc, seed=11, replication=rep).run()
        paid = ledger.daily.query("channel == 'douyin'").set_index("day")["spend_paid"]
        assert (paid.loc[:6] == 30000).all()  # the plan's own budget before the pilot
        assert (paid.loc[7:20] == 35000).all()
        assert (paid.loc[21:] == after).all()
        # the CAC the rule saw, recomputed from the ledger's pilot days
        pilot = ledger.daily.query("channel == 'douyin' and 7 <= day <= 20")
        cac = pilot["spend_paid"].sum() / pilot["new_customers"].sum()
        row = ledger.extra["decisions"].query("note != 'pilot starts'")
        assert row["day"].tolist() == [21]
        assert row["metric"].iloc[0] == pytest.approx(cac, rel=1e-12)


def _two_channels(a_max: float, b_max: float, sat: float, budget: float) -> list[dict]:
    """Two channels alike but for their paid reach curves, plus a plain shop. They are private
    channels nobody has joined (and nobody can join): only a customer their own ad landed can
    buy there, and ads convert the day they land (interest_decay 0, a strong impact), so each
    channel's paid revenue in the ledger follows its own reach curve."""

    def channel(cid: str, reach_max: float) -> dict:
        return {
            "id": cid,
            "family": "private",
            "budget": {"paid": budget},
            "response": {
                "paid_reach_max": reach_max,
                "paid_saturation": sat,
                "paid_impact": 5.0,
                "click_through": 0.1,
                "join_base": 0.0,
                "join_max": 0.0,
                "referral_rate": 0.0,
            },
        }

    shop = {"id": "shop", "family": "public", "budget": {"paid": 0}}
    return [channel("good", a_max), channel("poor", b_max), shop]


def test_reallocation_moves_the_budget_to_the_best_split():
    a_max, b_max, sat, each, lo, hi = 0.1, 0.01, 20000.0, 20000.0, 4000.0, 36000.0
    total = 2 * each
    rule = {
        "kind": "reallocate",
        "channels": ["good", "poor"],
        "every_days": 7,
        "window_days": 7,
        "share": 0.5,
        "bounds": {"good": [lo, hi], "poor": [lo, hi]},
    }
    sc = load_scenario(
        "scenarios/baseline.yaml",
        overrides={
            **BASE,
            "market.customers": 3000,
            "market.initial_private": 0.0,
            "market.landing_bonus": 10.0,
            "market.interest_decay": 0.0,
            "horizon.days": 35,
            "channels": _two_channels(a_max, b_max, sat, each),
            "rules": [rule],
        },
    )

    # the best split of the total from the response formula alone: the channels differ only in
    # their reach curves, so the best split maximises the total reach
    def reach(s: float) -> float:
        return -(a_max * (1 - math.exp(-s / sat)) + b_max * (1 - math.exp(-(total - s) / sat)))

    best = minimize_scalar(reach, bounds=(total - hi, hi), method="bounded", options={"xatol": 1})
    for rep in range(2):
        ledger = ChannelMarket(sc, seed=7, replication=rep).run()
        log = ledger.extra["decisions"]
        assert (log.query("after > before")["channel"] == "good").all()  # always toward good
        last = ledger.daily.query("day == 34 and channel != 'shop'").set_index("channel")[
            "spend_paid"
        ]
        assert last.sum() == pytest.approx(total)
        assert np.sign(best.x - each) == np.sign(last["good"] - each)
        assert last["good"] == pytest.approx(best.x, abs=50)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({**REALLOCATE, "channels": ["tmall", "nope"]}, "rules[0](reallocate)"),
        ({k: v for k, v in REALLOCATE.items() if k != "every_days"}, "rules[0].reallocate"),
        ({**REALLOCATE, "share": 1.5}, "rules[0].reallocate.share"),
        ({**_pilot(1.0), "start": 400}, "rules[0](pilot).start"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field(rule, field):
    with pytest.raises(ScenarioError, match=re.escape(field)):
        scenario(rules=[rule])


def test_evaluate_keeps_every_replications_decisions_also_through_the_cache(tmp_path):
    from sim.experiments import evaluate

    sc = scenario(rules=[_pilot(1e12)], **{"horizon.days": 28})
    runs = {
        "fresh": evaluate(sc, replications=2, seed=4, keep_daily=True, workers=1, cache=tmp_path),
        "cached": evaluate(sc, replications=2, seed=4, keep_daily=True, workers=1, cache=tmp_path),
    }
    assert runs["cached"].cache_hits == 2
    for ev in runs.values():
        for rep in (0, 1):
            direct = ChannelMarket(sc, seed=4, replication=rep).run().extra["decisions"]
            got = ev.decisions.query("replication == @rep").drop(columns="replication")
            pd.testing.assert_frame_equal(got.reset_index(drop=True), direct)


def test_rule_parameters_are_decisions_and_overrides_like_any_other():
    from sim.scenario import apply_overrides

    decisions = [{"path": "rules.0.share", "low": 0.05, "high": 0.5}]
    sc = scenario(rules=[REALLOCATE], decisions=decisions)
    assert apply_overrides(sc, {"rules.0.share": 0.4}).rules[0].share == 0.4
    with pytest.raises(ScenarioError, match=r"decisions\[0\]\.path: rules\.1\.share"):
        scenario(rules=[REALLOCATE], decisions=[{**decisions[0], "path": "rules.1.share"}])


def test_run_writes_the_decisions_as_a_table_with_a_dictionary(tmp_path):
    """``channelsim run`` on a scenario with rules writes ``decisions.csv``: the same decisions
    as the model's log, and every column described in ``columns.csv``."""
    path = tmp_path / "pilot.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "extends": str(ROOT / "scenarios" / "baseline.yaml"),
                "name": "pilot",
                "rules": [_pilot(1e12)],
            }
        )
    )
    sets = ["--set", "market.customers=2000", "--set", "horizon.days=28", "--set", "inventory=null"]
    out = tmp_path / "out"
    assert main(["run", str(path), "-r", "2", "--no-progress", "--out", str(out), *sets]) == 0
    written = pd.read_csv(out / "decisions.csv")
    assert sorted(written["replication"].unique()) == [0, 1]
    scaled = written.query("note != 'pilot starts'")
    assert scaled["day"].tolist() == [21, 21] and (scaled["after"] == 60000.0).all()
    cols = pd.read_csv(out / "columns.csv").query("table == 'decisions'")
    assert set(cols["column"]) == set(written.columns)
    assert not cols["meaning"].str.contains("UNDOCUMENTED").any()
    # the report lists them: the first replication's two, and counts over both replications
    report = (out / "report.md").read_text(encoding="utf-8")
    section = report.split("## What the review rules decided")[1].split("\n## ")[0]
    assert "| pilot | 21 | 2026-01-22 | rules[0] | pilot | douyin | paid | 30,000 → 60,000 |" in (
        section
    )
    assert "| pilot | rules[0] | pilot | douyin | paid | 2 of 2 | 2 |" in section
    assert (out / "figures" / "decisions.png").is_file()


# ---- ad-channel attribution -------------------------------------------------------------------
def test_ad_channel_revenue_equals_an_independent_recount_of_the_last_paid_ad():
    """``revenue_paid_ad`` / ``orders_paid_ad`` credit each paid-sourced order to the channel of
    the last paid ad that reached its buyer. Recounted here from the orders table and the
    exposure draws alone: each day's paid uniform (the same counter-based stream, drawn by a
    separate ``Draws``) falls in the slice of [0, 1) of the channel whose ad reached the
    customer, slices laid out from the channel agents' paid reach, churned customers unreached."""
    from sim.core.streams import Draws
    from sim.scenario import SOURCES

    sc = scenario(**{"horizon.days": 28})
    m = ChannelMarket(sc, seed=9)
    draws = Draws(9, 0, m.pop.n)
    last_ad = np.full(m.pop.n, -1)
    by_day = []
    while m.running:
        d = m.day
        churned = m.pop.stage == 3  # CHURNED, before the day's exposure
        m.step()
        draws.set_day(d)
        u = draws.everyone("exposure.paid")
        lo = 0.0
        for ch in m.channel_agents:  # consecutive slices, as wide as each channel's reach
            r = min(ch.paid_reach(d), 1.0 - lo)
            if r > 0:
                last_ad[(u >= lo) & (u < lo + r) & ~churned] = ch.index
                lo += r
        by_day.append(last_ad.copy())
    ledger = m.run()
    o = ledger.orders[ledger.orders["source"] == SOURCES.index("paid")]
    ad = np.array([by_day[d][c] for d, c in zip(o["day"], o["customer"], strict=True)])
    assert (ad >= 0).all()  # every paid-sourced buyer was reached by some paid ad
    recount = (
        o.assign(ad=np.asarray(sc.channel_ids())[ad], n=1.0)
        .groupby(["day", "ad"])[["n", "revenue"]]
        .sum()
        .mul(ledger.scale)
    )
    got = ledger.daily.set_index(["day", "channel"])[["orders_paid_ad", "revenue_paid_ad"]]
    got = got[got["orders_paid_ad"] > 0].sort_index()
    assert list(got.index) == list(recount.index)
    np.testing.assert_array_equal(got["orders_paid_ad"], recount["n"])
    np.testing.assert_allclose(got["revenue_paid_ad"], recount["revenue"], rtol=1e-6)
    # the two attributions share the total but not the split: here is what the rule reads
    d = ledger.daily.groupby("channel")[["revenue_paid", "revenue_paid_ad"]].sum()
    assert d["revenue_paid_ad"].sum() == pytest.approx(d["revenue_paid"].sum(), rel=1e-9)
    assert (d["revenue_paid_ad"] - d["revenue_paid"]).abs().max() > 0.05 * d["revenue_paid"].sum()


# ---- stock rule -------------------------------------------------------------------------------
STOCK = {"kind": "stock", "every_days": 7, "window_days": 7, "threshold": 0.05, "step": 0.2}


def stock_scenario(rules, *, starve: bool = False, **overrides):
    """The six-schemes plan's forecast policies (k = 1); ``starve``: a prior of one unit a day
    and a 20-day lead time, so every SKU is certainly out of stock in the first weeks."""
    over = {"market.customers": 2000, "horizon.days": 28, "targets": [], "rules": rules}
    if starve:
        pols = load_scenario("scenarios/six_schemes.yaml").inventory.policies
        over["inventory.policies"] = [
            {
                **p.model_dump(exclude_none=True, by_alias=True),
                "initial_forecast": 1,
                "lead_time": 20,
            }
            for p in pols
        ]
    return load_scenario("scenarios/six_schemes.yaml", overrides={**over, **overrides})


def _stockout_recount(records: pd.DataFrame, lo: int, hi: int) -> pd.Series:
    """1 − served ÷ demanded per SKU over days [lo, hi), from the inventory table alone."""
    w = records[(records["day"] >= lo) & (records["day"] < hi)].groupby("sku")
    return 1.0 - w["served"].sum() / w["demand"].sum()


def test_a_stock_rule_that_never_fires_leaves_the_ledger_bit_identical():
    plain = ChannelMarket(stock_scenario([]), seed=3).run()
    for rule in ({**STOCK, "every_days": 1000}, {**STOCK, "threshold": 0.999}):
        ruled = ChannelMarket(stock_scenario([rule]), seed=3).run()
        for t in ("daily", "orders", "market"):
            assert table_hash(getattr(ruled, t)) == table_hash(getattr(plain, t))
        assert table_hash(ruled.extra["inventory"]) == table_hash(plain.extra["inventory"])
        assert ruled.extra["decisions"].empty


@pytest.mark.parametrize("lag", [0, 2])
def test_a_certain_stockout_raises_every_safety_factor_on_the_review_days(lag):
    sc = stock_scenario([{**STOCK, "lag_days": lag}], starve=True)
    for rep in range(3):
        m = ChannelMarket(sc, seed=5, replication=rep)
        ledger = m.run()
        log = ledger.extra["decisions"]
        records = ledger.extra["inventory"]
        skus = m.warehouse.inventory.sku_ids
        assert sorted(set(log["day"])) == [7, 14, 21]  # the review days
        for day in (7, 14, 21):
            rows = log.query("day == @day").set_index("target")
            rate = _stockout_recount(records, day - 7 - lag, day - lag).dropna()  # asked for
            assert len(rate) >= 3 and (rate > 0.99).all()  # out of stock: certain
            assert sorted(rows.index) == sorted(rate.index)  # every SKU asked for, that day
            assert (rows["lever"] == "safety_factor").all()
            assert rows["metric"].to_dict() == pytest.approx(rate.to_dict())
        for sku in skus:  # k = 1 + 0.2 per raise, in the engine the next review uses
            raises = len(log.query("target == @sku"))
            assert raises >= 2
            assert m.warehouse.inventory.safety_factor(sku) == pytest.approx(1 + 0.2 * raises)
        # the review of the decision day already orders up to the higher level
        plain = ChannelMarket(stock_scenario([], starve=True), seed=5, replication=rep).run()
        raised = log.query("day == 7")["target"].tolist()
        ordered = {
            name: led.extra["inventory"].query("day == 7").groupby("sku")["ordered_units"].sum()
            for name, led in (("ruled", ledger), ("plain", plain))
        }
        assert (ordered["ruled"][raised] > ordered["plain"][raised]).all()
        others = [s for s in skus if s not in raised]
        assert (ordered["ruled"][others] == ordered["plain"][others]).all()


def test_a_safety_factor_exists_only_on_forecast_policies():
    m = ChannelMarket(
        load_scenario("scenarios/baseline.yaml", overrides={"market.customers": 1000})
    )
    inv = m.warehouse.inventory  # the baseline's (s, S) policies
    assert np.isnan(inv.safety_factor("serum"))
    with pytest.raises(ValueError, match="'serum' has no forecast policy"):
        inv.set_safety_factor("serum", 1.2)
    with pytest.raises(ValueError, match="unknown SKU 'nope'"):
        inv.set_safety_factor("nope", 1.2)


def test_a_stock_decision_never_sees_today_or_the_future():
    from sim.inventory.records import F

    lag, day = 2, 14
    rule = {**STOCK, "lag_days": lag, "threshold": 0.5}
    sc = stock_scenario([rule])

    def decided(write_from: int | None) -> pd.DataFrame:
        m = ChannelMarket(sc, seed=5)
        _step_to(m, day)
        if write_from is not None:  # serum's records say it was never served from write_from on
            recs = m.warehouse.inventory._records._rec
            recs[write_from:, F["demand"], 0] += 1e9
        m.step()
        return m.rules.log()

    plain = decided(None)
    assert plain.query("day == @day").empty  # the plan itself does not trigger here
    assert decided(day - lag).equals(plain)  # today − lag and later: not reported yet
    flipped = decided(day - lag - 1).query("day == @day")  # a day earlier is seen: it fires
    assert flipped["target"].tolist() == ["serum"]


# ---- promotion extension ----------------------------------------------------------------------
GROUP = {"id": "spring", "channels": ["tmall"], "discount": 0.3}
GROUP_DATES = {"start": "2026-01-15", "end": "2026-01-28"}  # days 14-27


def promo_scenario(rule: dict | None, **group):
    rules = [] if rule is None else [{"kind": "extend_promotion", "promotion": "spring", **rule}]
    gb = {**GROUP, **GROUP_DATES, **group}
    return scenario(**{"horizon.days": 49, "promotions.group_buys": [gb], "rules": rules})


def test_a_promotion_rule_that_never_fires_leaves_the_ledger_bit_identical():
    plain = ChannelMarket(promo_scenario(None), seed=3).run()
    ruled = ChannelMarket(promo_scenario({"uplift": 1e9}), seed=3).run()
    for t in ("daily", "orders", "market"):
        assert table_hash(getattr(ruled, t)) == table_hash(getattr(plain, t))
    assert ruled.extra["decisions"]["note"].str.endswith("not extended").all()


@pytest.mark.parametrize(("lag", "extended"), [(0, True), (3, True), (0, False)])
def test_a_promotion_is_extended_or_not_on_its_stated_day(lag, extended):
    """Week 1 = days 14-20 on tmall; the forecast = mean tmall orders of days 0-13 × 7 (× a tiny
    or a huge expected lift makes the outcome certain); decided on day 14 + 7 + lag."""
    rule = {"lag_days": lag, "expected_lift": 1e-6 if extended else 1e6, "extend_days": 10}
    sc = promo_scenario(rule)
    for rep in range(3):
        ledger = ChannelMarket(sc, seed=8, replication=rep).run()
        row = ledger.extra["decisions"]
        assert row["day"].tolist() == [21 + lag]
        tmall = ledger.daily.query("channel == 'tmall'").set_index("day")
        week, base = tmall.loc[14:20, "orders"].sum(), tmall.loc[0:13, "orders"].sum() / 14
        assert row["metric"].item() == pytest.approx(week / (base * 7 * rule["expected_lift"]))
        assert row["before"].item() == 27
        end = 37 if extended else 27
        assert row["after"].item() == end
        price = tmall["price"]
        np.testing.assert_allclose(price.loc[14:end], 150 * 0.7, rtol=1e-12)  # the lever follows
        assert (price.loc[end + 1 :] == 150).all() and (price.loc[:13] == 150).all()


def test_a_promotion_decision_never_sees_today_or_the_future():
    lag = 2
    day = 21 + lag
    sc = promo_scenario({"lag_days": lag, "uplift": 10.0})

    def decided(write_from: int | None) -> pd.DataFrame:
        m = ChannelMarket(sc, seed=5)
        _step_to(m, day)
        if write_from is not None:
            m.recorder.flow["orders"][write_from:, m.channel_index["tmall"]] += 1e6
        m.step()
        return m.rules.log()

    plain = decided(None)
    assert plain["note"].item().endswith("not extended")
    assert decided(day - lag).equals(plain)
    assert decided(day - lag - 1)["note"].item().endswith("extended to 2026-02-04")


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "stock", "skus": ["nope"]}, "rules[0](stock).skus"),
        ({"kind": "extend_promotion", "promotion": "nope"}, "rules[0](extend_promotion).promotion"),
    ],
)
def test_a_bad_stock_or_promotion_rule_is_refused_naming_its_field(rule, field):
    with pytest.raises(ScenarioError, match=re.escape(field)):
        stock_scenario([rule])


def test_reporting_noise_is_mean_one_with_the_stated_cv_and_fixed_per_cell():
    from scipy.stats import lognorm

    from sim.rules.reporting import report_noise

    cv = 0.4
    a = ChannelMarket(scenario(), seed=4)
    f = report_noise(a, "revenue_paid", 0, 4000, cv)  # 4000 days × channels of cells
    sigma = math.sqrt(math.log1p(cv * cv))
    assert f.shape == (4000, len(a.channel_index))
    # mean 1 and CV as stated, within 4 standard errors of the sample mean / sd
    se = cv / math.sqrt(f.size)
    assert abs(f.mean() - 1) < 4 * se
    assert abs(f.std() - cv) < 4 * cv / math.sqrt(2 * f.size) * math.sqrt(1 + 2 * cv**2) + 4 * se
    # its quantiles are the lognormal's (scipy's closed form), up to sampling
    q = lognorm(s=sigma, scale=math.exp(-sigma * sigma / 2)).ppf([0.1, 0.5, 0.9])
    assert np.allclose(np.quantile(f, [0.1, 0.5, 0.9]), q, rtol=0.03)
    # a cell reads the same whatever window it is read in, and whatever the plan
    assert np.array_equal(report_noise(a, "revenue_paid", 100, 130, cv), f[100:130])
    other_plan = ChannelMarket(scenario(**{"channels.jd.budget.paid": 1.0}), seed=4)
    assert np.array_equal(report_noise(other_plan, "revenue_paid", 0, 4000, cv), f)
    # but it is another error for another seed or another measure
    assert not np.array_equal(
        report_noise(ChannelMarket(scenario(), seed=5), "revenue_paid", 0, 4000, cv), f
    )
    assert not np.array_equal(report_noise(a, "orders", 0, 4000, cv), f)


def test_a_noisy_review_reads_the_recorded_days_times_their_fixed_errors():
    from sim.rules.reporting import report_noise

    day, cv = 14, 0.5
    rule = {**REALLOCATE, "attribution": "order_channel", "noise_cv": cv}
    m = ChannelMarket(scenario(rules=[rule]), seed=6)
    _step_to(m, day + 1)
    row = m.rules.log().query("day == @day").iloc[0]
    lo, hi = day - rule.get("window_days", 14), day
    ch = m.channel_index[row["channel"]]
    # recount the reported ROI of that channel by hand from the recorder's days
    revenue = m.recorder.flow["revenue_paid"][lo:hi, ch] * m.rules.scale
    reported = (revenue * report_noise(m, "revenue_paid", lo, hi, cv)[:, ch]).sum()
    spend = m.recorder.spend["spend_paid"][lo:hi, ch].sum()
    assert row["metric"] == pytest.approx(reported / spend, rel=1e-12)
    assert row["metric"] != pytest.approx(revenue.sum() / spend, rel=1e-3)  # noise mattered
    assert "as reported, noise CV 0.5" in row["seen"]


@pytest.mark.parametrize("kind", ["stock", "ab_test"])
def test_rules_that_read_exact_records_refuse_a_noise_cv(kind):
    with pytest.raises(ScenarioError, match=r"noise_cv"):
        scenario(rules=[{"kind": kind, "noise_cv": 0.2}])


def test_the_report_shows_paid_roi_by_ad_channel_as_recounted_from_the_daily_table(tmp_path):
    out = tmp_path / "out"
    sets = ["--set", "market.customers=2000", "--set", "horizon.days=28", "--set", "inventory=null"]
    path = str(ROOT / "scenarios" / "baseline.yaml")
    assert main(["run", path, "-r", "2", "--no-progress", "--out", str(out), *sets]) == 0
    daily = pd.read_csv(out / "daily.csv")
    sums = daily.groupby("channel")[["revenue_paid_ad", "revenue_paid", "spend_paid"]].sum()
    assert sums["revenue_paid_ad"].sum() == pytest.approx(sums["revenue_paid"].sum(), rel=1e-6)
    report = (out / "report.md").read_text(encoding="utf-8")
    header = next(ln for ln in report.splitlines() if "paid ROI (by ad channel)" in ln)
    col = [c.strip() for c in header.split("|")].index("paid ROI (by ad channel)")
    for ch in ("tmall", "jd", "douyin"):
        row = next(ln for ln in report.splitlines() if ln.startswith(f"| baseline | {ch} |"))
        shown = float([c.strip() for c in row.split("|")][col])
        want = sums.loc[ch, "revenue_paid_ad"] / sums.loc[ch, "spend_paid"]
        assert shown == pytest.approx(want, rel=1e-3, abs=1e-3)
