"""The model: determinism, common random numbers, and each lever moving its outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.core.agents import ChannelAgent
from sim.core.model import ChannelMarket, simulate
from sim.experiments.evaluation import evaluate
from sim.kpis import compute_kpis
from sim.scenario import Scenario, apply_overrides


def kpis(sc: Scenario, overrides: dict | None = None, reps: int = 3) -> pd.Series:
    return evaluate(
        sc, overrides=overrides or {}, replications=reps, seed=11, workers=1
    ).kpis.mean()


def test_same_seed_same_ledger(baseline):
    a, b = simulate(baseline, seed=5), simulate(baseline, seed=5)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.market, b.market)
    pd.testing.assert_frame_equal(a.orders, b.orders)


def test_different_seed_different_ledger(baseline):
    a, b = simulate(baseline, seed=5), simulate(baseline, seed=6)
    assert not a.daily["orders"].equals(b.daily["orders"])


def test_replications_differ_and_are_reproducible(baseline):
    a, b = simulate(baseline, seed=5, replication=0), simulate(baseline, seed=5, replication=1)
    assert not a.orders.equals(b.orders)


def test_identical_kpis_on_one_and_two_workers(baseline):
    one = evaluate(baseline, replications=4, seed=3, workers=1).kpis
    two = evaluate(baseline, replications=4, seed=3, workers=2).kpis
    pd.testing.assert_frame_equal(one, two)


def test_model_is_a_mesa_model_with_channel_agents(baseline):
    model = ChannelMarket(baseline, seed=1)
    assert len(model.agents_by_type[ChannelAgent]) == len(baseline.channels)
    model.step()
    assert model.datacollector.get_model_vars_dataframe().shape[0] == 1


def test_more_paid_budget_more_public_visits_and_orders(baseline):
    lo = kpis(baseline)
    hi = kpis(baseline, {"channels.tmall.budget.paid": 120000})
    assert hi["visits.tmall"] > lo["visits.tmall"] * 1.1
    assert hi["orders.tmall"] > lo["orders.tmall"]
    assert hi["new_customers"] > lo["new_customers"]


def test_faster_service_replies_raise_conversion(baseline):
    slow = {f"channels.{c}.service.reply_minutes": 20 for c in ("tmall", "jd", "douyin")}
    fast = {f"channels.{c}.service.reply_minutes": 1 for c in ("tmall", "jd", "douyin")}
    assert (
        kpis(baseline, fast)["conversion_rate.public"]
        > kpis(baseline, slow)["conversion_rate.public"] * 1.2
    )


def test_private_operations_grow_pool_and_private_repurchase(baseline):
    lo = kpis(baseline, {"channels.wecom.budget.private_ops": 0})
    hi = kpis(baseline, {"channels.wecom.budget.private_ops": 30000})
    assert hi["private_pool"] > lo["private_pool"] * 1.5
    assert hi["repurchase_rate.private"] > lo["repurchase_rate.private"]
    assert hi["orders.private"] > lo["orders.private"]


def test_higher_price_fewer_orders(baseline):
    cheap = {f"channels.{c}.price_index": 0.9 for c in ("tmall", "jd", "douyin", "wecom")}
    dear = {f"channels.{c}.price_index": 1.3 for c in ("tmall", "jd", "douyin", "wecom")}
    assert kpis(baseline, dear)["orders"] < kpis(baseline, cheap)["orders"] * 0.9


def test_no_marketing_no_word_of_mouth_no_new_customers(baseline):
    off = {"market.organic_interest": 0, "market.word_of_mouth": 0}
    for ch in baseline.channels:
        off.update(
            {
                f"channels.{ch.id}.budget.paid": 0,
                f"channels.{ch.id}.budget.seeding": 0,
                f"channels.{ch.id}.response.referral_rate": 0,
            }
        )
    k = compute_kpis(simulate(apply_overrides(baseline, off), seed=2))
    assert k["new_customers"] == 0
    assert k["orders"] > 0  # existing customers still repurchase


def test_orders_carry_their_source(plan):
    led = simulate(plan, seed=4)
    d = led.daily.sum(numeric_only=True)
    by_source = sum(d[f"orders_{s}"] for s in ("paid", "organic", "seeding", "private", "referral"))
    assert by_source == pytest.approx(d["orders"])
    assert d["orders_paid"] > 0 and d["orders_private"] > 0 and d["orders_seeding"] > 0


def test_population_memory_well_under_1kb_per_customer(baseline):
    model = ChannelMarket(baseline, seed=1)
    assert model.pop.nbytes() / model.pop.n < 120


def test_bass_diffusion_curve():
    """External influence p and word of mouth q only, buying at once, no repurchase: Bass."""
    p, q, n, days = 0.004, 0.06, 40000, 150
    sc = Scenario.model_validate(
        {
            "name": "bass",
            "seed": 1,
            "horizon": {"start": "2026-01-01", "days": days},
            "market": {
                "customers": n,
                "guide_price": 100,
                "organic_interest": p,
                "word_of_mouth": q,
                "interest_lapse": 0,
                "churn": 0,
                "segments": [
                    {
                        "id": "all",
                        "share": 1,
                        "price_sensitivity": 0,
                        "reservation_price": 100,
                        "purchase_cycle_days": 100000,
                    }
                ],
            },
            "channels": [
                {
                    "id": "shop",
                    "family": "public",
                    "base_conversion": 1,
                    "service": {"reply_minutes": 0},
                }
            ],
        }
    )
    led = simulate(sc, seed=3)
    adopters = led.daily.groupby("day")["new_customers"].sum().cumsum().to_numpy() / n
    t = np.arange(1, days + 1)
    closed = (1 - np.exp(-(p + q) * t)) / (1 + (q / p) * np.exp(-(p + q) * t))
    # The exact discrete-time recursion of the same hazard, for a tight check.
    f, discrete = 0.0, []
    for _ in range(days):
        f += (1 - f) * -np.expm1(-(p + q * f))
        discrete.append(f)
    assert np.max(np.abs(adopters - np.array(discrete))) < 0.01
    assert np.max(np.abs(adopters - closed)) < 0.03
    assert adopters[-1] > 0.5  # the S-curve took off
