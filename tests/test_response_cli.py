"""``channelsim calibrate … --spend`` end to end on a small synthetic history: the fitted
scenario validates, names its draws, carries the observed spend ranges, and the report holds
the response curves, fitted vs actual series and the backtest next to the MMM benchmark."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from sim.calibration.spend_sample import generator_raw, generator_spend, simulate_history
from sim.commands.cli import main
from sim.scenario import load_scenario


def test_calibrate_with_spend_writes_scenario_draws_and_report(tmp_path):
    days = 210
    spend = simulate_history(
        generator_raw(days, customers=6000, real_customers=6000),
        generator_spend(days, seed=4),
        seed=4,
        clicks=True,  # the run's ad clicks and visits per channel and day, in the spend file
    )
    orders = spend.attrs.pop("orders")
    orders.to_csv(tmp_path / "orders.csv", index=False)
    spend.assign(date=spend["date"].dt.strftime("%Y/%m/%d")).rename(
        columns={"spend": "cost", "channel": "shop"}
    ).to_csv(tmp_path / "spend.csv", index=False)
    out, report = tmp_path / "fitted.yaml", tmp_path / "report"
    code = main(
        [
            "calibrate",
            str(tmp_path / "orders.csv"),
            "--columns",
            "customer=customer_id,date=order_date,order_id=order_id",
            "--families",
            "tmall=public,jd=public,douyin=public,wecom=private",
            "--spend",
            str(tmp_path / "spend.csv"),
            "--calibration-period",
            "2025-01-01:2025-06-01",
            "--holdout-period",
            "2025-06-02:2025-07-29",
            "--out",
            str(out),
            "--report",
            str(report),
            "--max-customers",
            "2000",
            "-r",
            "2",
            "--heterogeneity",
            "none",
        ]
    )
    assert code == 0
    raw = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert raw["uncertainty"] == {"draws": "fitted_draws.csv", "enabled": True}
    draws = pd.read_csv(tmp_path / "fitted_draws.csv")
    assert len(draws) == 200 and "channels.tmall.response.paid_saturation" in draws
    sc = load_scenario(out)  # the scenario, its draws and their paths validate
    by_id = {c.id: c for c in sc.channels}
    assert set(by_id) == {"tmall", "jd", "douyin", "wecom", "xiaohongshu"}
    assert by_id["xiaohongshu"].links_to == "tmall" and not by_id["xiaohongshu"].sells
    window = spend[spend["date"] <= "2025-06-01"]
    tmall = window[window["channel"] == "tmall"]["spend"]
    assert list(by_id["tmall"].budget.observed.paid) == [tmall.min(), tmall.max()]
    assert by_id["tmall"].budget.paid == tmall.tail(28).mean()
    result = json.loads((report / "response" / "response.json").read_text(encoding="utf-8"))
    assert set(result["backtest"]) >= {"simulator", "mmm", "actual_total"}
    holdout = orders[
        (orders["order_date"] >= "2025-06-02") & (orders["order_date"] <= "2025-07-27")
    ]
    assert result["backtest"]["actual_total"] == pytest.approx(holdout["amount"].sum())  # 8 weeks
    for name in ("response_curves.png", "fitted_vs_actual.png", "backtest.png", "draws.csv"):
        assert (report / "response" / name).stat().st_size > 0
    # the clicks are a fitted moment; orders and visits are shown next to the simulator's
    assert any("clicks of tmall" in m for m in result["fitted_moments"]), result["fitted_moments"]
    assert any("repeat orders" in m for m in result["fitted_moments"]), result["fitted_moments"]
    # ≈ 4 first orders a day per channel: too few for daily bins (DAILY_MIN), fitted by week
    assert result["fitted_moments"][0].startswith("weekly new customers"), result["fitted_moments"]
    marginal = result["marginal_response"]  # per lever at current spend, with its interval
    assert set(marginal) == {"tmall paid", "jd paid", "douyin paid", "xiaohongshu seeding"}
    assert all(
        m["interval_95"][0] <= m["estimate"] <= m["interval_95"][1] for m in marginal.values()
    )
    assert marginal["tmall paid"]["spend"] == pytest.approx(tmall.tail(28).mean())
    by_channel = pd.read_csv(report / "response" / "weekly_by_channel.csv")
    assert set(by_channel["measure"]) == {"new_customers", "orders", "clicks", "visits"}
    week = by_channel[(by_channel["measure"] == "visits") & (by_channel["channel"] == "jd")]
    first_week = spend[(spend["channel"] == "jd") & (spend["date"] < "2025-01-08")]
    assert week["actual"].iloc[0] == pytest.approx(first_week["visits"].sum())
    # private operations moved (weekly wobble): the pool's join response is fitted, into the
    # scenario and its draws
    join = result["private_joining"]
    assert join["channel"] == "wecom", join
    wecom = by_id["wecom"].response
    assert wecom.join_base == pytest.approx(join["estimate"]["join_base"])
    assert wecom.ops_saturation == pytest.approx(join["estimate"]["ops_saturation"])
    assert wecom.join_max >= wecom.join_base
    assert "channels.wecom.response.join_max" in draws
    # the order-side holdout simulates the spend fit with the actual spend, not the orders-only
    # market at a constant budget (which read +72 % on the shipped sample)
    validation = json.loads((report / "validation" / "validation.json").read_text("utf-8"))
    assert validation["metrics"]["acquisition"].startswith("the spend fit"), validation
    assert abs(validation["metrics"]["cumulative_error_pct"]) < 15, validation["metrics"]
    # and its cohort's holdout revenue (+12.8 % when written: orders +7.4 %, the value of a
    # simulated purchase day +5 %)
    assert abs(validation["metrics"]["revenue_error_pct"]) < 20, validation["metrics"]
