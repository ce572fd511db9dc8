"""The plans' levers (issue 3): each acts through behaviour, zero means absent, bad input is named.

Comparisons use common random numbers: a scenario and its variant run with the same seed, so
the difference is the lever. Scenarios are small (≤ 5000 customers, ≤ 180 days).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.commands.cli import main
from sim.core.model import simulate
from sim.kpis import compute_kpis
from sim.levers.promotions import WEEKDAYS, FlashSale, MemberDay, Promotions, compile_calendar
from sim.scenario import ScenarioError, build_scenario, load_raw, load_scenario
from tests.conftest import SCENARIOS

AUTUMN = {
    "market.customers": 5000,
    "market.real_customers": 500_000,  # a 500 k market at the shipped resolution (scale 100)
    "horizon.start": "2026-10-01",
    "horizon.days": 90,
    "targets": [],
}  # the plans' 180-day target windows do not fit 90 days
PUBLIC = ["tmall", "jd", "douyin"]
D11 = {
    "id": "d11",
    "date": "2026-11-11",
    "presale_days": 10,
    "discount": 0.2,
    "deposit_take": 0.5,
    "pull_days": 20,
    "channels": PUBLIC,
}


def run(file: str, seed: int = 1, **overrides):
    """Simulate a shipped scenario; ``plan`` is six_schemes without its own levers (a clean base
    to switch one lever on)."""
    if file == "plan":
        raw = load_raw(SCENARIOS / "six_schemes.yaml")
        raw.pop("promotions", None)
        raw.pop("tiers", None)
        for ch in raw["channels"]:
            ch.pop("trial", None)
        sc = build_scenario(raw, overrides={**AUTUMN, **overrides})
    else:
        sc = load_scenario(SCENARIOS / file, overrides={**AUTUMN, **overrides})
    return sc, simulate(sc, seed=seed)


def per_day(ledger, column: str = "orders", family: str | None = None) -> pd.Series:
    d = ledger.daily if family is None else ledger.daily[ledger.daily["family"] == family]
    return d.groupby("day")[column].sum()


# ---- calendar ---------------------------------------------------------------------------------
def test_double_11_presale_spikes_the_sale_day_and_leaves_a_dip():
    _, without = run("baseline.yaml")
    _, with_d11 = run("baseline.yaml", **{"promotions.events": [D11]})
    sale = (dt.date(2026, 11, 11) - dt.date(2026, 10, 1)).days
    a, b = per_day(without), per_day(with_d11)
    normal = a.iloc[: sale - 10].mean()  # before the pre-sale opens
    assert b.iloc[sale] > 5 * normal
    after = slice(sale + 1, sale + 22)
    assert b.iloc[after].sum() < 0.85 * a.iloc[after].sum()  # the pulled-forward demand is gone
    assert (a.iloc[: sale - 10] == b.iloc[: sale - 10]).all()  # CRN: same days before it


def test_event_attention_brings_prospects_on_the_day_only():
    sale = (dt.date(2026, 11, 11) - dt.date(2026, 10, 1)).days
    _, a = run("baseline.yaml", **{"promotions.events": [D11]})
    _, b = run("baseline.yaml", **{"promotions.events": [{**D11, "attention": 0.01}]})
    na, nb = per_day(a, "new_customers"), per_day(b, "new_customers")
    assert (na.iloc[:sale] == nb.iloc[:sale]).all()
    # ~1 % of ~4 600 prospects look on the day; a share of them buy that day or soon after
    assert nb.iloc[sale] > na.iloc[sale]
    week = slice(sale, sale + 7)
    assert nb.iloc[week].sum() > na.iloc[week].sum() + 0.001 * 5000 * a.scale


def test_full_reduction_grows_baskets_near_the_threshold():
    fr = {
        "id": "fr300",
        "tiers": [{"spend": 300, "reduce": 30}],
        "channels": ["tmall"],
        "near": 0.5,
        "add_on": 0.8,
    }
    _, a = run("baseline.yaml")
    _, b = run("baseline.yaml", **{"promotions.full_reduction": [fr]})
    tm = 0  # tmall is the first channel
    oa, ob = a.orders[a.orders["channel"] == tm], b.orders[b.orders["channel"] == tm]
    assert ob["units"].mean() > oa["units"].mean() + 0.2
    assert (ob["revenue"] >= 270 - 1e-3).mean() > (oa["revenue"] >= 300).mean() + 0.2
    da = a.daily[a.daily["channel"] == "tmall"]["discount"].sum()
    db = b.daily[b.daily["channel"] == "tmall"]["discount"].sum()
    assert db > da  # the amount off is recorded as a discount, revenue is net of it


def test_member_day_lifts_only_the_private_channel_on_the_18th():
    md = {"id": "md", "day_of_month": 18, "discount": 0.2, "pull_days": 10, "pull_share": 0.5}
    sc, a = run("plan")
    _, b = run("plan", **{"promotions.member_days": [md]})
    days = [
        d for d in range(sc.horizon.days) if (sc.horizon.start + dt.timedelta(days=d)).day == 18
    ]
    pa, pb = per_day(a, family="private"), per_day(b, family="private")
    assert pb.iloc[days].sum() > 2 * pa.iloc[days].sum()
    qa, qb = per_day(a, family="public"), per_day(b, family="public")
    assert qb.iloc[days].sum() <= 1.1 * qa.iloc[days].sum()  # public: noise at most
    first = days[0]
    assert (pa.iloc[:first] == pb.iloc[:first]).all()  # nothing moves before the first 18th


def test_subscription_raises_repurchase_rate():
    sub = {"channel": "wecom", "every_days": 25, "discount": 0.1, "uptake": 0.5, "cancel": 0.05}
    _, a = run("plan", **{"horizon.days": 150})
    _, b = run("plan", **{"horizon.days": 150, "promotions.subscription": sub})
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert kb["repurchase_rate.private"] > ka["repurchase_rate.private"] + 0.1
    assert kb["repurchase_rate"] > ka["repurchase_rate"]
    assert kb["subscription_share"] > 0.05 and ka["subscription_share"] == 0
    assert b.market["subscribers"].max() > 0


def test_reminders_raise_private_repurchase():
    rem = {"channel": "wecom", "days_before": 3, "response": 0.6}
    _, a = run("plan", **{"horizon.days": 150})
    _, b = run("plan", **{"horizon.days": 150, "promotions.reminders": rem})
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert kb["repurchase_rate.private"] > ka["repurchase_rate.private"]
    assert kb["orders.private"] > 1.1 * ka["orders.private"]
    assert b.daily["reminders"].sum() > 0


def test_coupon_cost_is_in_profit():
    coupons = [
        {
            "id": "rep20",
            "kind": "repurchase",
            "value": 20,
            "validity_days": 30,
            "redeem": 0.9,
            "pull": 0.1,
        },
        {"id": "gift", "kind": "new_customer", "value": 15, "validity_days": 14},
    ]
    _, b = run("plan", **{"promotions.coupons": coupons})
    k = compute_kpis(b)
    s = b.daily.sum(numeric_only=True)
    assert k["coupon_cost"] > 0
    assert 0 < s["coupons_redeemed"] <= s["coupons_issued"]
    expected = (
        s["revenue"]
        - s["cogs"]
        - s["commission"]
        - s["spend"]
        - s["service_cost"]
        - s["coupon_cost"]
        - s.get("inventory_cost", 0.0)
    )
    assert k["profit"] == pytest.approx(expected, rel=1e-9)
    # every redeemed coupon is one of the two face values
    n = s["coupons_redeemed"]
    assert 15 * n - 1e-6 <= s["coupon_cost"] <= 20 * n + 1e-6


def test_price_band_warns_and_counts_days():
    sc, led = run(
        "baseline.yaml", **{"price_band": {"tolerance": 0.05}, "channels.jd.price_index": 0.9}
    )
    assert any("jd" in w for w in sc.warnings())
    assert compute_kpis(led)["price_band_violations"] == sc.horizon.days
    sc2, led2 = run("baseline.yaml", **{"price_band": {"tolerance": 0.05}})
    assert sc2.warnings() == [] and compute_kpis(led2)["price_band_violations"] == 0


def test_membership_levels_and_tiers_give_kpis():
    levels = {
        "levels": [
            {"id": "ordinary", "min_spend": 0},
            {"id": "silver", "min_spend": 200, "price": 0.95, "loyalty": 0.3},
            {"id": "gold", "min_spend": 500, "price": 0.9, "loyalty": 0.6},
        ]
    }
    _, a = run("plan")
    _, b = run("plan", membership=levels)
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert kb["orders.private"] > ka["orders.private"]


def test_tier_kpis_match_the_tier_rules_applied_to_the_customers():
    """tier_share.* recomputed from each customer's own history with the documented rule, and
    repurchase_rate.new counted a second way, not with the KPI's formula."""
    from sim.core.model import ChannelMarket
    from sim.core.population import CHURNED

    # no churn: the pool at the end of the run is the pool the last day's tiers were given to
    # (a 90-day run: a low high-value bar so that every tier has members)
    low_bar = {"new_max_orders": 1, "high_value_spend": 400, "high_value_repurchases": 1}
    sc, _ = run("plan", tiers=low_bar, **{"market.churn": 0.0, "market.dissatisfied_churn": 0.0})
    model = ChannelMarket(sc, seed=1)
    ledger = model.run()
    k = compute_kpis(ledger)
    pop, tiers = model.pop, model.levers.tiers  # the rules in force (defaults: 1 order, …)
    member = pop.in_private & (pop.stage != CHURNED)
    last_day = sc.horizon.days - 1
    yearly = pop.spend * 365.0 / np.maximum(365.0, last_day - pop.first_day)
    high = (yearly >= tiers.high_value_spend) & (pop.n_orders - 1 >= tiers.high_value_repurchases)
    new = ~high & (pop.n_orders <= tiers.new_max_orders)
    counts = {"new": (member & new).sum(), "high_value": (member & high).sum()}
    counts["potential"] = member.sum() - counts["new"] - counts["high_value"]
    assert min(counts.values()) > 0  # every tier is populated: the check has teeth
    for tier, n in counts.items():
        assert k[f"tier_share.{tier}"] == pytest.approx(n / member.sum(), rel=1e-12)
    # new_max_orders = 1: an order that leaves its buyer in `new` is their first ever order, so
    # the buyers who repurchased are those with a second order in the ledger.
    orders = ledger.orders
    tagged = orders[orders["tier"] == 0]
    assert tagged["first"].all() and len(tagged) > 0
    n_orders = orders.groupby("customer").size()
    again = (n_orders.reindex(tagged["customer"].unique()) >= 2).mean()
    assert k["repurchase_rate.new"] == pytest.approx(again, rel=1e-12)


# ---- a lever at zero is no lever ----------------------------------------------------------------
def test_levers_at_zero_leave_the_ledger_identical():
    off = {
        "promotions.events": [{**D11, "discount": 0, "deposit_take": 0}],
        "promotions.flash_sales": [{"id": "fri", "weekday": "fri", "discount": 0}],
        "promotions.member_days": [{"id": "md", "day_of_month": 18, "discount": 0}],
        "promotions.group_buys": [
            {"id": "gb", "discount": 0, "initiate": 0, "channels": ["wecom"]}
        ],
        "promotions.full_reduction": [
            {"id": "fr", "tiers": [{"spend": 300, "reduce": 0}], "add_on": 0}
        ],
        "promotions.coupons": [{"id": "c", "kind": "repurchase", "value": 0}],
        "promotions.subscription": {"channel": "wecom", "uptake": 0},
        "promotions.allow_overlap": True,
        "membership": {
            "levels": [{"id": "ordinary", "min_spend": 0}, {"id": "silver", "min_spend": 100}]
        },
        "tiers": {"perks": {"high_value": {"discount": 0}}},
    }
    _, a = run("plan")
    _, b = run("plan", **off)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.market, b.market)
    pd.testing.assert_frame_equal(a.orders, b.orders)
    pd.testing.assert_frame_equal(a.journeys, b.journeys)


# ---- validation -----------------------------------------------------------------------------
def problems(**overrides) -> list[str]:
    raw = load_raw(SCENARIOS / "baseline.yaml")
    with pytest.raises(ScenarioError) as err:
        build_scenario(raw, overrides=overrides)
    return err.value.problems


def test_overlapping_events_are_an_error_unless_allowed():
    other = {**D11, "id": "singles", "date": "2026-11-09", "presale_days": 0}
    msg = problems(**{"promotions.events": [D11, other]})
    assert any("d11" in p and "singles" in p and "overlap" in p for p in msg)
    raw = load_raw(SCENARIOS / "baseline.yaml")
    build_scenario(
        raw, overrides={"promotions.events": [D11, other], "promotions.allow_overlap": True}
    )


def test_discount_above_100_percent_is_an_error():
    msg = problems(**{"promotions.events": [{**D11, "discount": 1.2}]})
    assert any(p.startswith("promotions.events[0](d11).discount") for p in msg), msg
    msg = problems(
        **{"promotions.full_reduction": [{"id": "fr", "tiers": [{"spend": 100, "reduce": 150}]}]}
    )
    assert any("promotions.full_reduction[0](fr)" in p and "100 %" in p for p in msg), msg


def test_member_day_on_a_day_some_months_lack_is_an_error():
    msg = problems(
        **{"promotions.member_days": [{"id": "md", "day_of_month": 31, "discount": 0.2}]}
    )
    assert any(
        p.startswith("promotions.member_days[0](md)") and "does not exist" in p and "Feb" in p
        for p in msg
    ), msg
    raw = load_raw(SCENARIOS / "baseline.yaml")  # months that have a 31st are fine
    build_scenario(
        raw,
        overrides={
            "promotions.member_days": [
                {"id": "md", "day_of_month": 31, "months": [1, 3, 5], "discount": 0.2}
            ]
        },
    )


def test_unknown_channel_in_an_event_is_named():
    msg = problems(**{"promotions.events": [{**D11, "channels": ["tmall", "pdd"]}]})
    assert any(p.startswith("promotions.events[0](d11).channels") and "'pdd'" in p for p in msg), (
        msg
    )
    msg = problems(
        **{"promotions.member_days": [{"id": "md", "day_of_month": 18, "channels": ["tmall"]}]}
    )
    assert any("private channels only" in p for p in msg), msg


@pytest.mark.parametrize(
    "file", ["six_schemes.yaml", "strategy_report.yaml", "uplift_plan.yaml", "multichannel.yaml"]
)
def test_shipped_plans_load_and_run(file):
    sc = load_scenario(
        SCENARIOS / file, overrides={"market.customers": 2000, "horizon.days": 60, "targets": []}
    )
    k = compute_kpis(simulate(sc, seed=0))
    assert np.isfinite(k["revenue"]) and k["revenue"] > 0


def test_trial_samples_sell_one_unit_at_the_trial_price_then_some_want_full_size():
    trial = {"price": 19.9, "unit_cost": 6, "to_full": 1.0, "after_days": 10}
    over = {
        "channels.xiaohongshu.sells": True,
        "channels.xiaohongshu.trial": trial,
        "channels.xiaohongshu.base_conversion": 0.2,
    }
    sc, led = run("plan", **over)
    xhs = sc.channel_ids().index("xiaohongshu")
    o = led.orders
    samples = o[(o["channel"] == xhs) & o["first"]]
    assert len(samples) > 0
    assert (samples["units"] == 1).all()
    assert np.allclose(samples["revenue"], 19.9, atol=1e-3)
    d = led.daily[led.daily["channel"] == "xiaohongshu"].sum(numeric_only=True)
    assert d["samples"] > 0 and d["discount"] == 0  # a sample is not a discount
    # with to_full = 1 every sampler needs the full size 10 days later; with 0 they are back on
    # their own ~30-day cycle: far fewer buy again within 20 days
    _, none = run("plan", **{**over, "channels.xiaohongshu.trial.to_full": 0.0})
    assert _again_within(led, xhs, 20) > _again_within(none, xhs, 20) + 0.2


def _again_within(ledger, channel: int, days: int) -> float:
    o = ledger.orders
    samples = o[(o["channel"] == channel) & o["first"]][["customer", "day"]]
    later = o.merge(samples, on="customer", suffixes=("", "_s"))
    later = later[(later["day"] > later["day_s"]) & (later["day"] <= later["day_s"] + days)]
    return later["customer"].nunique() / max(1, len(samples))


def test_group_buy_brings_friends_who_start_interested():
    gb = {
        "id": "gb",
        "channels": ["wecom"],
        "discount": 0.2,
        "initiate": 0.5,
        "group_size": 3,
        "start": "2026-10-10",
        "end": "2026-10-31",
    }
    _, a = run("plan")
    _, b = run("plan", **{"promotions.group_buys": [gb]})
    assert b.daily["group_invites"].sum() > 0
    ka, kb = compute_kpis(a), compute_kpis(b)
    assert kb["new_customers"] > ka["new_customers"]


def test_six_schemes_ships_every_lever_of_seed_000():
    sc = load_scenario(SCENARIOS / "six_schemes.yaml", overrides={"market.customers": 3000})
    led = simulate(sc, seed=0)
    k = compute_kpis(led)
    assert k["promo_revenue_share"] > 0.05
    assert k["coupon_cost"] > 0
    assert k["subscription_share"] > 0
    assert led.daily["samples"].sum() > 0
    orders = led.daily.groupby("date")["orders"].sum()
    assert orders[pd.Timestamp("2026-11-11")] > 3 * orders["2026-10-01":"2026-10-15"].mean()


@given(
    weekday=st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    flash=st.floats(0.01, 0.5),
    member=st.floats(0.01, 0.5),
    md=st.integers(1, 28),
    overlap=st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_calendar_rules_land_on_their_days(weekday, flash, member, md, overlap):
    promo = Promotions(
        flash_sales=[FlashSale(id="f", weekday=weekday, discount=flash)],
        member_days=[MemberDay(id="m", day_of_month=md, discount=member)],
        allow_overlap=overlap,
    )
    start = dt.date(2026, 1, 1)
    cal = compile_calendar(
        promo,
        start=start,
        days=120,
        channels=["pub", "pri"],
        families=["public", "private"],
        sells=[True, True],
    )
    for d in range(120):
        date = start + dt.timedelta(days=d)
        is_flash = date.weekday() == WEEKDAYS.index(weekday)
        is_md = date.day == md
        assert cal.discount[d, 0] == pytest.approx(flash if is_flash else 0.0)
        if is_md and is_flash:  # member day wins unless overlaps stack
            want = 1 - (1 - member) * (1 - flash) if overlap else member
        else:
            want = member if is_md else flash if is_flash else 0.0
        assert cal.discount[d, 1] == pytest.approx(want)


def test_validate_prints_band_warnings_and_lever_errors(tmp_path, capsys):
    ok = tmp_path / "cheap_jd.yaml"
    ok.write_text(
        f"extends: {SCENARIOS / 'multichannel.yaml'}\nname: cheap_jd\n"
        "channels:\n  - {id: jd, price_index: 0.9}\n",
        encoding="utf-8",
    )
    assert main(["validate", str(ok)]) == 0
    out = capsys.readouterr().out
    assert "warning: channels.jd.price_index: 0.9" in out and "±5%" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\nname: bad\npromotions:\n"
        "  member_days: [{id: md, day_of_month: 30, discount: 0.2}]\n",
        encoding="utf-8",
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "promotions.member_days[0](md)" in err and "does not exist in Feb" in err
