"""How the optimisers judge evaluations honestly: failed replications, like-for-like replication
sets, and target verdicts taken from the same code as ``channelsim compare``.

A failed replication (an entry of :attr:`sim.experiments.Evaluation.errors`) is never dropped
silently: :func:`failure_rows` lists it for the results directory, and two evaluations are
compared only on the replications that succeeded in both (:func:`restrict`,
:func:`common_replications`, :func:`restrict_comparison`), so one plan's unlucky crash cannot
make it look better or worse than another. Target verdicts are read from
:class:`sim.experiments.TargetResult` as :func:`sim.experiments.evaluate_targets` gives them;
only ``met`` counts as meeting a target (``missed``, ``undecided``, ``undefined`` — whatever
the verdict rule says — do not).

    >>> import pandas as pd
    >>> from sim.scenario import load_scenario
    >>> from sim.experiments import Evaluation
    >>> sc = load_scenario("scenarios/baseline.yaml")
    >>> ev = Evaluation(sc, 1, pd.DataFrame({"replication": [0, 2], "revenue": [1.0, 3.0]}),
    ...                 {}, None, None, {1: "ZeroDivisionError: boom\\nTraceback ..."})
    >>> sorted(replication_set(ev)), restrict(ev, {2}).kpis["revenue"].tolist()
    ([0, 2], [3.0])
    >>> failure_rows(ev, plan="x")
    [{'plan': 'x', 'replication': 1, 'error': 'ZeroDivisionError: boom'}]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from sim.experiments import (
    Comparison,
    Evaluation,
    TargetResult,
    diff_table,
    evaluate_targets,
)
from sim.scenario import Scenario

#: The one verdict that counts as meeting a target.
MET = "met"


def replication_set(ev: Evaluation) -> frozenset[int]:
    """The replication indices that succeeded."""
    return frozenset(int(r) for r in ev.kpis["replication"]) if len(ev.kpis) else frozenset()


def common_replications(evs: Iterable[Evaluation]) -> frozenset[int]:
    """Replications that succeeded in every one of ``evs``."""
    sets = [replication_set(ev) for ev in evs]
    return frozenset.intersection(*sets) if sets else frozenset()


def restrict(ev: Evaluation, reps: Iterable[int]) -> Evaluation:
    """``ev`` with only the replications in ``reps`` (its errors are kept)."""
    keep = set(reps)
    if replication_set(ev) <= keep:
        return ev

    def cut(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "replication" not in frame:
            return frame
        return frame[frame["replication"].isin(keep)].reset_index(drop=True)

    return dataclasses.replace(
        ev,
        kpis=cut(ev.kpis),
        window_kpis={w: cut(f) for w, f in ev.window_kpis.items()},
        daily=cut(ev.daily),
        journeys=cut(ev.journeys),
        flows=cut(ev.flows),
        cohorts=cut(ev.cohorts),
        inventory=cut(ev.inventory),
        market=cut(ev.market),
    )


def failed_evaluation(
    scenario: Scenario, seed: int, errors: dict[int, str], windows: Sequence[tuple[int, int]]
) -> Evaluation:
    """An evaluation in which every replication failed: no KPIs, only ``errors``."""
    empty = pd.DataFrame({"replication": pd.Series([], dtype=int)})
    return Evaluation(
        scenario, seed, empty, {tuple(w): empty.copy() for w in windows}, None, None, errors
    )


def first_line(error: str) -> str:
    """The exception line of a worker's error text (no traceback)."""
    return error.split("\nTraceback (most recent call last):")[0].strip().splitlines()[0]


def failure_rows(ev: Evaluation, **where: Any) -> list[dict[str, Any]]:
    """One row per failed replication of ``ev``: ``where`` (e.g. plan, iteration), then the
    replication and the error's first line."""
    return [
        {**where, "replication": int(r), "error": first_line(e)}
        for r, e in sorted(ev.errors.items())
    ]


def restrict_comparison(cmp: Comparison) -> tuple[Comparison, pd.DataFrame]:
    """``cmp`` on the replications every scenario completed, and the failures it had.

    Targets and paired differences are recomputed on that set with the functions
    ``compare`` uses (:func:`sim.experiments.evaluate_targets`, :func:`sim.experiments.diff_table`).
    """
    failures = pd.DataFrame(
        [row for name in cmp.names for row in failure_rows(cmp.evaluations[name], plan=name)],
        columns=["plan", "replication", "error"],
    )
    if failures.empty:
        return cmp, failures
    reps = common_replications(cmp.evaluations.values())
    if not reps:
        raise RuntimeError(
            "verification: no replication succeeded for every plan; first error: "
            f"{failures.iloc[0]['plan']} replication {failures.iloc[0]['replication']}: "
            f"{failures.iloc[0]['error']}"
        )
    evs = {n: restrict(ev, reps) for n, ev in cmp.evaluations.items()}
    base = evs[cmp.names[0]]
    targets = {
        n: evaluate_targets(evs[n].scenario.targets, evs[n], base, confidence=cmp.confidence)
        for n in cmp.names
    }
    diffs = pd.concat(
        [diff_table(base, evs[n], name=n, confidence=cmp.confidence) for n in cmp.names[1:]]
        or [cmp.diffs.iloc[0:0]],
        ignore_index=True,
    )
    return dataclasses.replace(cmp, evaluations=evs, targets=targets, diffs=diffs), failures


def meets(result: TargetResult) -> bool:
    """Whether a target's verdict says it is met (the only verdict that does)."""
    return result.verdict == MET


def target_name(result: TargetResult) -> str:
    """How a target is named in tables and messages: its label, else its description."""
    return result.label or result.describe()


def unmet(results: Iterable[TargetResult]) -> list[str]:
    """``"label: verdict"`` for every target whose verdict is not ``met``."""
    return [f"{target_name(t)}: {t.verdict}" for t in results if not meets(t)]
