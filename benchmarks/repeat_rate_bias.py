"""How fast a simulated Poisson buyer really buys, against the rate the calibration maps.

The calibration maps a BG/NBD / Pareto/NBD purchase rate λ onto the simulator as needs at rate
ν / cycle, each becoming a purchase with probability π = c / (c + (1 − c)·lapse). The simulator
works in days and a need is served by a shopping trip of one day or more. Until 2026-12-02 the
next need was counted from the purchase (or the lapse), at least a day on, which made buyers
whose needs come every few days buy slower than π / cycle (needs every 10 days: 0.949 of it,
every 5 days: 0.909, every 2 days: 0.765, at conversion 0.5 and lapse 0.35); exponential
segments now count it from the day the served need arrived, to the nearest day
(``CustomerPopulation.next_need_after``). This script replays one cohort of identical
customers (no spread, no dropout, all first buyers on day 0) and prints the steady-state
purchases per day against π / cycle, for a trip that always buys (conversion 1) and the
calibration template's conversion 0.5 with lapse 0.35.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from sim.calibration.cohort_replay import Cohort, replay_scenario

SAMPLE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "sample_scenario.yaml"


def _raw(cycle: float, conversion: float, lapse: float) -> dict:
    raw = yaml.safe_load(SAMPLE.read_text())
    raw["channels"] = [raw["channels"][0] | {"base_conversion": conversion}]
    seg = raw["market"]["segments"][0]
    seg.update(
        cycle_distribution="exponential",
        purchase_cycle_days=cycle,
        reservation_price=100.0,  # nobody is priced out: c = base_conversion
        affinity={"public": 0.0},
    )
    raw["market"].update(churn=0.0, interest_lapse=lapse)
    return raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--days", type=int, default=200)
    args = ap.parse_args()
    n, days, burn = args.customers, args.days, args.days // 4
    for conversion, lapse in ((1.0, 0.0), (0.5, 0.35)):
        pi = conversion / (conversion + (1 - conversion) * lapse)
        for cycle in (2.0, 5.0, 10.0, 30.0):
            sc = replay_scenario(_raw(cycle, conversion, lapse), "2025-01-01", n, days)
            zeros = np.zeros(n, dtype=np.int64)
            daily, _ = Cohort(sc, zeros, zeros).counts(0, 0, burn, (burn, days))
            rate = daily[burn:].sum() / n / (days - burn)
            print(
                f"conversion {conversion:g}, lapse {lapse:g}, need cycle {cycle:>4g} days: "
                f"{rate:.4f} purchases/day against π/cycle {pi / cycle:.4f} "
                f"(ratio {rate * cycle / pi:.3f})"
            )


if __name__ == "__main__":
    main()
