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


def test_the_collector_reads_each_evening_what_the_reporters_return_on_it():
    """``DailyCollector`` notes the days and reads their ledger rows when ``model_vars`` is
    read: read in the middle of a run and at its end, every value must be exactly what calling
    the reporter on that evening returns (a twin model, the reporters called by hand)."""
    model = ChannelMarket.from_file(SCENARIOS / "six_schemes.yaml", seed=5, **SHORT)
    twin = ChannelMarket.from_file(SCENARIOS / "six_schemes.yaml", seed=5, **SHORT)
    reporters = twin.datacollector.model_reporters
    by_hand = {var: [] for var in reporters}
    for day in range(25):
        model.step()
        twin.step()
        twin.day = day  # (reporters read the day being recorded, as in ChannelMarket.record)
        for var, reporter in reporters.items():
            by_hand[var].append(reporter(twin))
        twin.day = day + 1
        if day == 11:  # read mid-run, then go on collecting
            mid = {var: list(values) for var, values in model.datacollector.model_vars.items()}
            assert mid == {var: values[:12] for var, values in by_hand.items()}
    assert model.datacollector.model_vars == by_hand
    assert len(by_hand["revenue"]) == 25 and any(by_hand["revenue"])


def test_reporters_read_over_many_days_give_each_evenings_floats_with_many_channels():
    """The collector's ``over_days`` reads must equal each evening's own read bit for bit for
    any number of channels (NumPy sums 8 or more values pairwise, so a block summed in
    another order than a row would differ in the last bit): 24 channels of arbitrary floats."""
    from types import SimpleNamespace

    from sim.core.collector import daily_reporters
    from sim.scenario import FAMILIES

    rng = np.random.default_rng(8)
    n_ch, days = 24, 40
    flows = {m: rng.standard_normal((days, n_ch)) * 1e4 for m in ("revenue", "orders")}
    spend = {
        m: rng.random((days, n_ch)) * 1e3
        for m in ("spend_paid", "spend_seeding", "spend_private_ops")
    }
    market = {m: rng.random(days) * 1e3 for m in ("private_pool", "customers")}
    family = rng.integers(0, len(FAMILIES), n_ch)
    model = SimpleNamespace(
        recorder=SimpleNamespace(flow=flows, spend=spend, market=market),
        family_channels=[np.flatnonzero(family == f) for f in range(len(FAMILIES))],
        scale=7.3,
        day=0,
    )
    picked = np.array([0, 3, 4, 17, 39])
    for name, reporter in daily_reporters().items():
        evenings = []
        for day in picked:
            model.day = int(day)
            evenings.append(reporter(model))
        assert reporter.over_days(model, picked) == evenings, name
