"""Does ``calibrate`` find the basket spread the simulator was given? (docs/calibration.md)

Simulates the shipped sample's scenario with ``basket_units`` 2.5 and a known ``basket_shape``
k (each customer's mean units 1 + 1.5 × m, m ~ Gamma(k, 1/k)), 3 000 agents over a year, writes
its orders, calibrates them (``heterogeneity="none"``: the basket fit does not depend on it) and
prints, per k and seed, the fitted ``basket_shape``, the excess's z (``basket_spread_z``) and
the customers with two repeat purchase days or more it was computed on — the recipe of
``tests/test_basket_spread.py::test_calibrate_recovers_the_spread_from_simulated_orders``::

    python benchmarks/basket_spread_recovery.py                  # k = 1 and 3, seeds 1 and 2
    python benchmarks/basket_spread_recovery.py --shapes 0 --seeds 1,2,3   # 0: no spread
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "scenarios" / "data" / "sample_scenario.yaml"
COLUMNS = {"customer": "customer_id", "date": "order_date", "order_id": "order_id"}


def recover(shape: float | None, seed: int, customers: int = 3000) -> dict:
    """The basket fit of ``calibrate`` on orders simulated with ``basket_shape`` = ``shape``."""
    from sim.calibration.fitting import calibrate
    from sim.calibration.orders import orders_from_ledger, read_orders
    from sim.core.model import simulate
    from sim.scenario import build_scenario

    raw = yaml.safe_load(SAMPLE.read_text())
    raw["market"]["segments"][0].update(basket_units=2.5, basket_shape=shape)
    raw["market"]["customers"] = customers
    sc = build_scenario(raw)
    buf = io.StringIO()
    orders_from_ledger(simulate(sc, seed=seed), sc).to_csv(buf, index=False)
    buf.seek(0)
    cal = calibrate(read_orders(buf, columns=COLUMNS).table, end="2025-12-30", heterogeneity="none")
    basket = next(iter(cal.baskets.values()))
    return {key: basket.get(key) for key in ("basket_shape", "basket_spread_z")} | {
        "customers": basket.get("basket_spread_customers")
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shapes", default="1,3", help="basket_shape values; 0 = no spread")
    p.add_argument("--seeds", default="1,2")
    args = p.parse_args(argv)
    print("true_shape seed fitted_shape z customers")
    for shape in (float(s) for s in args.shapes.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            got = recover(shape or None, seed)
            fitted = "none" if got["basket_shape"] is None else f"{got['basket_shape']:.2f}"
            z = "-" if got["basket_spread_z"] is None else f"{got['basket_spread_z']:.1f}"
            print(f"{shape:g} {seed} {fitted} {z} {got['customers']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
