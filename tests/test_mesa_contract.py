"""Mesa's model contract: ``running`` at the horizon, batch_run, a DataCollector in real units."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from sim.core.model import ChannelMarket, HorizonError
from tests.conftest import SCENARIOS

SHORT = {"market.customers": 1500, "horizon.days": 25, "targets": []}


def test_running_turns_false_at_the_horizon_and_a_further_step_is_a_clear_error():
    model = ChannelMarket.from_file(SCENARIOS / "baseline.yaml", seed=2, **SHORT)
    steps = 0
    while model.running:
        model.step()
        steps += 1
    assert steps == 25 and model.steps == 25
    with pytest.raises(HorizonError, match="horizon .25 days. is over"):
        model.step()


def test_batch_run_varies_dotted_scenario_paths_and_runs_to_the_horizon():
    rows = mesa.batch_run(
        ChannelMarket,
        {
            "scenario": str(SCENARIOS / "baseline.yaml"),
            "seed": 3,
            "targets": [[]],
            "market.customers": [1000, 3000],
            "horizon.days": 15,
        },
        max_steps=1000,
        display_progress=False,
    )
    assert [(r["market.customers"], r["Step"]) for r in rows] == [(1000, 14), (3000, 14)]
    # The same run through the product's own path gives the same last-day figures.
    for r in rows:
        ledger = ChannelMarket.from_file(
            SCENARIOS / "baseline.yaml",
            seed=3,
            **{"targets": [], "market.customers": r["market.customers"], "horizon.days": 15},
        ).run()
        last = ledger.daily[ledger.daily["day"] == 14]
        assert r["revenue"] == pytest.approx(last["revenue"].sum(), rel=1e-12)
        pool = ledger.market.loc[ledger.market["day"] == 14, "private_pool"].iloc[0]
        assert r["private_pool"] == pytest.approx(pool, rel=1e-12)


def test_datacollector_holds_the_ledgers_daily_totals_in_real_units():
    model = ChannelMarket.from_file(SCENARIOS / "six_schemes.yaml", seed=4, **SHORT)
    ledger = model.run()
    frame = model.datacollector.get_model_vars_dataframe()
    daily = ledger.daily.groupby("day")
    assert len(frame) == 25
    np.testing.assert_allclose(frame["revenue"], daily["revenue"].sum(), rtol=1e-12)
    np.testing.assert_allclose(frame["orders"], daily["orders"].sum(), rtol=1e-12)
    np.testing.assert_allclose(frame["spend"], daily["spend"].sum(), rtol=1e-12)
    np.testing.assert_allclose(frame["customers"], ledger.market["customers"], rtol=1e-12)
    by_family = ledger.daily.pivot_table(
        index="day", columns="family", values="orders", aggfunc="sum"
    )
    for fam in by_family.columns:
        np.testing.assert_allclose(frame[f"orders_{fam}"], by_family[fam], rtol=1e-12)
    # Real units: a simulated customer stands for `scale` real ones.
    assert frame["customers"].iloc[-1] > model.pop.n
