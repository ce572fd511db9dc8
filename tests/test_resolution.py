"""Simulated customers are a resolution, not the market (issue 12, item 1).

The scenario states the real market once (``market.real_customers``); ``market.customers`` is
how many agents simulate it. Changing the agents must change precision only: revenue, paid ROI,
CAC and a target's estimate agree across 2 000, 10 000 and 50 000 agents within the noise of
their replications (Welch's interval of the difference, computed by scipy), while the intervals
narrow with more agents. Before issue 12 the market shrank with the agents (2 000 agents → a
market 10× smaller than 20 000): revenue differed by an order of magnitude.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim import evaluate, load_scenario
from sim.scenario import ScenarioError

from .conftest import SCENARIOS

AGENTS = (2_000, 10_000, 50_000)
REPLICATIONS = 6
WINDOW = (30, 59)  # a target window as written in a file: days 30 … 59, both included
KPIS = ("revenue", "roi_paid", "cac", "new_customers")
# Without the stock: the warehouse sees each agent's order as one lump of scale × units, so stock
# KPIs depend on the resolution (README, "Resolution and precision"); tested separately below.
BASE = {"horizon.days": 60, "inventory": None}
TARGETS = [{"kpi": "revenue.online", "window": list(WINDOW), "at_least": 1.0}]


@pytest.fixture(scope="module")
def runs() -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for n in AGENTS:
        sc = load_scenario(
            SCENARIOS / "baseline.yaml",
            overrides={**BASE, "market.customers": n, "targets": TARGETS},
        )
        assert sc.market.real_customers == 2_000_000  # the market, whatever the resolution
        assert sc.market.scale == pytest.approx(2_000_000 / n)
        half_open = sc.targets[0].window
        ev = evaluate(sc, replications=REPLICATIONS, seed=5, workers=1, windows=[half_open])
        values = {k: ev.kpis[k].to_numpy(dtype=float) for k in KPIS}
        values["target"] = ev.window_kpis[half_open]["revenue.online"].to_numpy(dtype=float)
        out[n] = values
    return out


@pytest.mark.parametrize("kpi", [*KPIS, "target"])
def test_every_resolution_estimates_the_same_market(runs, kpi):
    for i, a in enumerate(AGENTS):
        for b in AGENTS[i + 1 :]:
            x, y = runs[a][kpi], runs[b][kpi]
            # 99.9 % Welch interval of the difference of means: 12 comparisons stay honest
            ci = stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.999)
            assert ci.low <= 0.0 <= ci.high, (kpi, a, b, x.mean(), y.mean())


def test_more_agents_narrow_the_intervals(runs):
    # The standard error of a sum over independent agents falls like 1/sqrt(agents): 25× the
    # agents should give ≈ 5× narrower intervals; at least 2× is asserted (6 replications).
    for kpi in ("revenue", "new_customers", "target"):
        sd = {n: runs[n][kpi].std(ddof=1) for n in AGENTS}
        assert sd[2_000] > 2 * sd[50_000], (kpi, sd)


def test_set_customers_keeps_the_market_and_old_files_still_load(tmp_path):
    base = load_scenario(SCENARIOS / "baseline.yaml")
    coarse = load_scenario(SCENARIOS / "baseline.yaml", overrides={"market.customers": 5000})
    assert base.market.real_customers == coarse.market.real_customers == 2_000_000
    assert (base.market.scale, coarse.market.scale) == (100, 400)
    # an old file (scale and customers): the market is scale × customers, fixed before --set
    text = (SCENARIOS / "baseline.yaml").read_text()
    old = text.replace("  real_customers: 2000000", "  scale: 100")
    assert old != text
    (tmp_path / "old.yaml").write_text(old)
    sc = load_scenario(tmp_path / "old.yaml", overrides={"market.customers": 4000})
    assert (sc.market.real_customers, sc.market.scale) == (2_000_000, 500)
    assert any("market.scale (this file) is deprecated" in w for w in sc.warnings())
    assert not base.warnings()
    # --set market.scale keeps its old meaning: real = scale × the agents
    sc = load_scenario(
        SCENARIOS / "baseline.yaml", overrides={"market.customers": 1500, "market.scale": 1000}
    )
    assert sc.market.real_customers == 1_500_000
    # scale alone, or scale with real_customers, says how to migrate
    (tmp_path / "both.yaml").write_text(
        old.replace("  scale: 100", "  scale: 100\n  real_customers: 5")
    )
    with pytest.raises(ScenarioError, match="real_customers .* or the deprecated market.scale"):
        load_scenario(tmp_path / "both.yaml")
    alone = old.replace("  customers: 20000 ", "  # customers: 20000 ")
    assert alone != old
    (tmp_path / "alone.yaml").write_text(alone)
    with pytest.raises(ScenarioError, match="state the real market as market.real_customers"):
        load_scenario(tmp_path / "alone.yaml")


def test_a_dump_loads_back_into_the_same_scenario():
    sc = load_scenario(SCENARIOS / "six_schemes.yaml", overrides={"market.customers": 3000})
    from sim.scenario import build_scenario

    again = build_scenario(sc.model_dump(mode="json"))
    assert again == sc and again.content_hash() == sc.content_hash()
    assert "scale" not in sc.model_dump()["market"]
