"""Random streams: one ``SeedSequence`` per run, one generator per phase.

Replication ``r`` of *every* scenario in a comparison uses ``SeedSequence([seed, r])``, and each
phase gets its own child stream that draws a fixed-size block per day. A plan and its baseline
run with the same seed therefore see the same luck (common random numbers): the difference
between them is the plan, not noise. Children are spawned by position, so appending a phase
never changes the streams of the existing ones.
"""

from __future__ import annotations

import numpy as np

PHASES: tuple[str, ...] = (
    "init",
    "exposure",
    "needs",
    "choice",
    "purchase",
    "post_purchase",
    "churn",
    "mesa",
    "promotions",
    "inventory",
)


def phase_streams(seed: int, replication: int = 0) -> dict[str, np.random.Generator]:
    """One independent generator per phase for replication ``replication`` of ``seed``."""
    children = np.random.SeedSequence([int(seed), int(replication)]).spawn(len(PHASES))
    gens = [np.random.default_rng(child) for child in children]
    return dict(zip(PHASES, gens, strict=True))
