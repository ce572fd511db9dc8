"""Adding replications until every target is decided: when to look, at what confidence, and
what to say at the end.

``compare(..., until_decided=True)`` (``channelsim compare --until-decided``) runs R replications,
then more on the same seed with the replication indices continuing (R, R + 1, …: every scenario
gets the same ones, so plan and baseline stay paired on common random numbers), until every
target's verdict (:mod:`sim.experiments.targets`) is ``met``, ``missed`` or ``undefined``, or the
cap is reached.

Stopping at the first look whose interval excludes the required probability would make a wrong
verdict likelier than the stated 5 %: each look is another chance to be fooled. So the looks are
fixed in advance — R, 2R, 4R, … and the cap (:func:`looks`) — and each look's Wilson interval is at
``1 − (1 − confidence) / L`` for L possible looks (:func:`look_confidence`, Bonferroni): over all
looks the chance of a wrong verdict on a target stays ≤ 1 − confidence. A look may be skipped
when the current estimates say it cannot decide any target (:func:`next_look`); skipping looks
only lowers that chance.

    >>> looks(10, 200)
    [10, 20, 40, 80, 160, 200]
    >>> round(look_confidence(0.95, 6), 5)
    0.99167
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sim.experiments.targets import TargetResult


def looks(first: int, cap: int) -> list[int]:
    """Replication counts at which the verdicts are looked at: ``first`` doubling, then ``cap``."""
    if first < 1 or cap < first:
        raise ValueError(f"need 1 ≤ first ≤ cap, got first={first}, cap={cap}")
    out = [first]
    while out[-1] * 2 < cap:
        out.append(out[-1] * 2)
    if out[-1] != cap:
        out.append(cap)
    return out


def look_confidence(confidence: float, n_looks: int) -> float:
    """Confidence of each look's interval so that all ``n_looks`` together keep ``confidence``."""
    return 1 - (1 - confidence) / max(1, n_looks)


def next_look(n: int, schedule: list[int], undecided: Iterable[TargetResult]) -> int:
    """The next look after ``n``: the first one at which, on the current estimates, some
    undecided target could be decided (at least the next look on the schedule)."""
    later = [m for m in schedule if m > n]
    if not later:
        return n
    needs = [t.replications_to_decide for t in undecided if t.verdict == "undecided"]
    known = [m for m in needs if m is not None]
    if not known or len(known) < len(needs):  # some target gives no estimate: look soon
        return later[0]
    return next((m for m in later if m >= min(known)), later[-1])


def decision_report(
    targets: dict[str, list[TargetResult]],
    *,
    replications: int,
    cap: int,
    confidence: float,
    n_looks: int,
) -> dict[str, Any]:
    """What ``--until-decided`` reached: decided or not, why it stopped, what stayed open."""

    def names(verdict: str) -> list[str]:
        return [
            f"{name}: {t.label or t.describe()}"
            for name, ts in targets.items()
            for t in ts
            if t.verdict == verdict
        ]

    undecided = names("undecided")
    decided = not undecided
    if not any(targets.values()):
        why = "no targets to decide"
    elif decided:
        why = "every target decided"
    else:
        why = "replication cap reached" if replications >= cap else "not finished"
    return {
        "decided": decided,
        "stopped_because": why,
        "replications": replications,
        "max_replications": cap,
        "confidence": confidence,
        "looks": n_looks,
        "look_confidence": look_confidence(confidence, n_looks),
        "undecided": undecided,
        "undefined": names("undefined"),
    }
