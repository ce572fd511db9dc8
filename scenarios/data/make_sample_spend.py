"""Regenerate scenarios/data/sample_spend.csv and sample_spend_orders.csv: one run of the
simulator with known response parameters (sim.calibration.spend_sample.generator_raw) and a
flighted spend history (always-on, pre-sale bursts before 618 and Double 11). The spend file
carries the run's daily ad clicks and visits per channel, as ad platforms and shop back-ends
report them.

    python scenarios/data/make_sample_spend.py
"""

from __future__ import annotations

from pathlib import Path

from sim.calibration.spend_sample import generator_raw, generator_spend, simulate_history

DAYS = 546  # 52 weeks of calibration + 26 of holdout, as the order sample
PEOPLE = 30000  # one agent per person, so the orders are an export's


def main() -> None:
    here = Path(__file__).parent
    raw = generator_raw(DAYS, customers=PEOPLE, real_customers=PEOPLE)
    spend = generator_spend(DAYS)
    spend = simulate_history(raw, spend, seed=raw["seed"], clicks=True)
    orders = spend.attrs.pop("orders")
    spend.assign(
        date=spend["date"].dt.strftime("%Y-%m-%d"),
        clicks=spend["clicks"].astype("Int64"),
        visits=spend["visits"].astype("Int64"),
    ).to_csv(here / "sample_spend.csv", index=False)
    orders.to_csv(here / "sample_spend_orders.csv", index=False)


if __name__ == "__main__":
    main()
