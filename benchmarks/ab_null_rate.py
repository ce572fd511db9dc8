"""How often an A/B test with no true difference declares a winner (docs/ab_tests.md).

Both arms see the same price (× 0.9 on every selling channel), so every declared winner is a
false alarm: over many replications the share with p < alpha should be alpha. Prints the count
at several levels with the binomial 95 % interval of each, and the spread of B − A across
replications next to the standard error the test assumes (conversion: the binomial one; revenue
per customer: Welch's).

    python benchmarks/ab_null_rate.py                                   # conversion, z-test
    python benchmarks/ab_null_rate.py --metric revenue_per_customer     # Welch t-test
    python benchmarks/ab_null_rate.py --customers 3000 --enrolled 1000  # same test, finer market
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy import stats

from sim.core.model import ChannelMarket
from sim.scenario import load_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=1200)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument(
        "--enrolled", type=int, default=None, help="customers in the test (default: all)"
    )
    ap.add_argument("--days", type=int, default=30, help="horizon; the test runs days − 1")
    ap.add_argument(
        "--metric", default="conversion", choices=["conversion", "revenue_per_customer"]
    )
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rule = {
        "kind": "ab_test",
        "name": "null",
        "start": 0,
        "days": args.days - 1,
        "enrolled": args.enrolled or args.customers,
        "a": {"price": 0.9},
        "b": {"price": 0.9},
        "metric": args.metric,
    }
    sc = load_scenario(
        "scenarios/baseline.yaml",
        overrides={
            "market.customers": args.customers,
            "horizon.days": args.days,
            "inventory": None,
            "targets": [],
            "rules": [rule],
        },
    )
    rows = [
        ChannelMarket(sc, seed=args.seed, replication=r).run().extra["ab_tests"].iloc[0]
        for r in range(args.replications)
    ]
    d = pd.DataFrame(rows).reset_index(drop=True)
    r = len(d)
    print(
        f"{r} replications, {args.customers} customers, {args.enrolled or args.customers} "
        f"enrolled, {args.metric}, test {d['test'].iloc[0]}"
    )
    for alpha in (0.01, 0.05, 0.1, 0.2):
        k = int((d["p_value"] < alpha).sum())
        lo, hi = stats.binom.interval(0.95, r, alpha)
        print(
            f"  p < {alpha:<4}: {k:4d} ({k / r:.1%}); binomial 95 % interval [{lo:.0f}, {hi:.0f}]"
        )
    se = np.sqrt(d["sd_a"] ** 2 / d["n_a"] + d["sd_b"] ** 2 / d["n_b"]).mean()
    sd = (d["value_b"] - d["value_a"]).std(ddof=1)
    print(f"  sd of B − A across replications {sd:.4g}; mean standard error assumed {se:.4g}")


if __name__ == "__main__":
    main()
