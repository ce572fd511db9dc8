"""The README's per-plan figures, reproduced: revenue of each shipped plan (one replication,
seed 0, the shipped resolution) and the Double 11 peak of the six-schemes plan.

    python benchmarks/plan_revenues.py

prints the sentence the README quotes; ``tests/test_readme.py`` recomputes it and checks the
README still says it, so the figures cannot drift from the shipped scenarios.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[1]
PLANS = ("baseline", "six_schemes", "strategy_report", "uplift_plan", "multichannel")


def revenues(seed: int = 0) -> dict[str, float]:
    """Revenue in M CNY of one replication of each shipped plan."""
    out = {}
    for name in PLANS:
        ledger = sim.simulate(sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml"), seed=seed)
        out[name] = float(ledger.daily["revenue"].sum()) / 1e6
    return out


def double11_peak(seed: int = 0) -> float:
    """Orders on 11 November over the mean orders of an October day, six-schemes plan."""
    ledger = sim.simulate(sim.load_scenario(ROOT / "scenarios" / "six_schemes.yaml"), seed=seed)
    orders = ledger.daily.groupby("date")["orders"].sum()
    dates = orders.index.date
    sale = [d for d in dates if d.month == 11 and d.day == 11]
    october = orders[[d.month == 10 for d in dates]]
    return float(orders[dates == sale[0]].iloc[0] / october.mean())


def sentence(rev: dict[str, float], peak: float) -> str:
    parts = [f"revenue baseline {rev['baseline']:.1f} M CNY"]
    parts += [f"{name} {rev[name]:.1f} M" for name in PLANS[1:]]
    return ", ".join(parts) + f"; with Double 11 in six_schemes the sale day has ≈ {peak:.0f}×"


if __name__ == "__main__":
    print(f"one replication each, seed 0, run {dt.date.today()}:")
    print(sentence(revenues(), double11_peak()))
