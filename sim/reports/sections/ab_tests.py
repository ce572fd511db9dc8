"""The report's A/B test section: per test, how often each arm won across replications, how
often the wrong one did, and the test's power with its planned arm sizes.

Read from ``ab_tests.csv`` (one row per test per replication, :mod:`sim.rules.ab`). Across
replications the mean B − A difference and its 95 % interval say which arm is truly better in
the simulated market; when the interval excludes zero, a replication whose team declared the
other arm the winner picked the wrong one. When it does not, any declared winner is a false
alarm, expected in about ``alpha`` of replications. Power uses the closed form of
:mod:`sim.rules.ab_stats` at the test's ``min_effect`` (arm A's mean as the base rate), or,
without one, the smallest difference found 80 % of the time.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from sim.reports.format import fmt
from sim.reports.sections.blocks import TITLES, Block, Table, empty
from sim.reports.store import Stored
from sim.rules.ab_stats import detectable, power_welch, power_z

COLUMNS = [
    "scenario",
    "test",
    "replications",
    "customers per arm (A / B)",
    "metric A / B (mean)",
    "B − A across replications [95 % CI]",
    "B won",
    "A won",
    "no difference",
    "worse arm kept",
    "power",
]


def ab_tests_block(st: Stored) -> Block:
    t = st.ab_tests
    if t is None or t.empty:
        return empty("ab-tests", "These plans run no A/B test (no ab_test rule).")
    rows = []
    for (scenario, rule), g in t.groupby(["scenario", "rule"], sort=False):
        rows.append(_row(str(scenario), str(rule), g))
    intro = (
        "Each replication's simulated team split the customers into arms, read its metric from "
        "the orders it had seen and ran a two-sided test (z: pooled two-proportion; welch: "
        "Welch t) at the stated alpha; B or A won when p < alpha. Across replications the mean "
        "B − A difference and its interval say which arm is really better in this market: when "
        "the interval excludes zero, 'worse arm kept' is the share of replications that ended "
        "with the worse arm (rolled it out, or kept A without a significant difference); when "
        "it does "
        "not, every declared winner is a false alarm, expected in about alpha of replications. "
        "Power is the closed-form chance of finding the stated min_effect with these arm sizes "
        "(or the difference found 80 % of the time when no min_effect is stated). The arms are "
        "the test's enrolled customers (the rule's enrolled, split by share_b), each simulated "
        "customer one real test subject: the sample size, power and error rates are those of a "
        "test on that many real customers, whatever the resolution (market.customers)."
    )
    return Block("ab-tests", TITLES["ab-tests"], intro, [Table(COLUMNS, rows)], [])


def _row(scenario: str, rule: str, g: pd.DataFrame) -> list[str]:
    r = len(g)
    diff = g["value_b"] - g["value_a"]
    mean = float(diff.mean())
    half = float(stats.t.ppf(0.975, r - 1) * diff.std(ddof=1) / math.sqrt(r)) if r > 1 else math.nan
    share = {w: float((g["winner"] == w).mean()) for w in ("B", "A", "none")}
    if r > 1 and (mean - half > 0 or mean + half < 0):
        better = "B" if mean > 0 else "A"  # a team that finds no difference keeps A
        wrong = share["A"] + share["none"] if better == "B" else share["B"]
        wrong_txt = f"{wrong:.0%} (better: {better})"
    else:
        declared = share["A"] + share["B"]
        wrong_txt = f"{declared:.0%} declared a winner (alpha {g['alpha'].iloc[0]:g})"
    ci = "—" if math.isnan(half) else f"[{fmt(mean - half)}, {fmt(mean + half)}]"
    return [
        scenario,
        f"{rule} ({g['metric'].iloc[0]}, {g['test'].iloc[0]})",
        str(r),
        f"{g['n_a'].mean():.0f} / {g['n_b'].mean():.0f}",
        f"{fmt(g['value_a'].mean())} / {fmt(g['value_b'].mean())}",
        f"{fmt(mean)} {ci}",
        f"{share['B']:.0%}",
        f"{share['A']:.0%}",
        f"{share['none']:.0%}",
        wrong_txt,
        power_text(g),
    ]


def power_text(g: pd.DataFrame) -> str:
    """The test's power at ``min_effect`` with the planned arm sizes, or its 80 % detectable
    difference, in words."""
    n_a, n_b = int(round(g["n_a"].mean())), int(round(g["n_b"].mean()))
    alpha = float(g["alpha"].iloc[0])
    if g["test"].iloc[0] == "z":
        p_a = float(g["value_a"].mean())

        def power(d: float) -> float:
            return power_z(p_a, d, n_a, n_b, alpha)

        upper = 1.0 - p_a
    else:
        sd_a, sd_b = float(g["sd_a"].mean()), float(g["sd_b"].mean())

        def power(d: float) -> float:
            return power_welch(sd_a, sd_b, d, n_a, n_b, alpha)

        upper = 1e9
    effect = g["min_effect"].iloc[0]
    if pd.notna(effect):
        return f"{power(float(effect)):.0%} for B − A = {fmt(float(effect))}"
    mde = detectable(power, 0.8, upper)
    return "—" if math.isnan(mde) else f"80 % for B − A = {fmt(mde)}"
