"""A plan-vs-baseline comparison that runs in the background and fills in as it goes.

:class:`ComparisonRun` is what ``channelsim compare`` does, batch by batch, in a thread: each
batch evaluates replications ``n … n + b − 1`` of the baseline and then of the plan with
:func:`sim.evaluate` on one shared executor (a process pool, or in-process for one worker), on
the same seed, so replication *r* of both shares its random streams (common random numbers).
After every batch the targets (:func:`sim.evaluate_targets`) and the paired differences of the
headline KPIs are recomputed and published as a :class:`Snapshot`: the page shows verdicts and
differences that sharpen as replications arrive. :meth:`ComparisonRun.cancel` stops it after the
batch in flight. Finished replications go to the result cache, so running the same baseline
again reads it back instead of simulating it.

    >>> import sim
    >>> small = {"market.customers": 1000, "horizon.days": 30}
    >>> base = sim.load_scenario("scenarios/baseline.yaml", overrides=small)
    >>> plan = sim.apply_overrides(base, {"name": "more", "channels.tmall.budget.paid": 60000})
    >>> run = ComparisonRun(base, plan, replications=2, workers=1, cache_dir=None).start()
    >>> run.wait(120)
    True
    >>> snap = run.snapshot()
    >>> (snap.state, snap.done, snap.total)
    ('done', 2, 2)
    >>> float(snap.headline.set_index("kpi").loc["spend", "diff"])  # 20 000 CNY/day × 30 days
    600000.0
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sim.errors import ReplicationsFailed
from sim.experiments.cache import ResultCache
from sim.experiments.comparison import HEADLINE, diff_table, merge_evaluations
from sim.experiments.evaluation import Evaluation, default_workers, evaluate, make_executor
from sim.experiments.targets import TargetResult, evaluate_targets, windows_for
from sim.scenario import Scenario

__all__ = ["ComparisonRun", "Snapshot", "lever_effect"]

log = logging.getLogger(__name__)
#: Headline KPIs the studio shows, in this order (the CLI's headline plus the spend).
FIRST: tuple[str, ...] = ("revenue", "revenue.online", "profit", "spend")
SHOWN: tuple[str, ...] = (*FIRST, *(k for k in HEADLINE if k not in FIRST))


@dataclass(frozen=True)
class Snapshot:
    """What a run has found so far (a copy: safe to read from any thread)."""

    state: str  # queued | running | done | cancelled | failed
    done: int
    total: int
    message: str = ""
    targets: tuple[TargetResult, ...] = ()
    headline: pd.DataFrame = field(default_factory=pd.DataFrame)  # diff_table rows
    elapsed: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "cancelled", "failed")


class ComparisonRun:
    """A baseline and one plan, evaluated in batches in a background thread."""

    def __init__(
        self,
        baseline: Scenario,
        plan: Scenario,
        *,
        replications: int = 10,
        seed: int | None = None,
        workers: int | None = None,
        batch: int | None = None,
        cache_dir: str | Path | None = None,
        label: str = "",
    ) -> None:
        if replications < 1:
            raise ValueError(f"replications must be ≥ 1, got {replications}")
        self.baseline, self.plan = baseline, plan
        self.replications = replications
        self.seed = baseline.seed if seed is None else seed
        self.workers = workers
        self.batch = max(1, batch or workers or default_workers())  # one per worker
        self.cache = ResultCache(cache_dir) if cache_dir is not None else None
        self.label = label or plan.name
        self.windows = windows_for([*baseline.targets, *plan.targets])
        self.evaluations: dict[str, Evaluation] = {}
        self._cancel = threading.Event()
        self._changed = threading.Condition()
        self._snapshot = Snapshot("queued", 0, replications)
        self._thread = threading.Thread(target=self._work, name="studio-run", daemon=True)
        self._started = 0.0

    # ---- control ---------------------------------------------------------------------------
    def start(self) -> ComparisonRun:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop after the batch in flight (its replications are kept)."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has finished; True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wait_change(self, seen: Snapshot, timeout: float = 1.0) -> Snapshot:
        """The next snapshot after ``seen`` (or the current one after ``timeout`` seconds)."""
        with self._changed:
            if self._snapshot is seen and not seen.finished:
                self._changed.wait(timeout)
            return self._snapshot

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # ---- the work --------------------------------------------------------------------------
    def _publish(self, state: str, done: int, message: str = "") -> None:
        targets, headline = self._judge() if self.evaluations else ((), pd.DataFrame())
        snap = Snapshot(
            state,
            done,
            self.replications,
            message,
            tuple(targets),
            headline,
            time.monotonic() - self._started,
        )
        with self._changed:
            self._snapshot = snap
            self._changed.notify_all()

    def _judge(self) -> tuple[list[TargetResult], pd.DataFrame]:
        base_ev, plan_ev = self.evaluations["baseline"], self.evaluations["plan"]
        targets = evaluate_targets(self.plan.targets, plan_ev, base_ev)
        diffs = diff_table(base_ev, plan_ev, name=self.label, kpis=SHOWN)
        return targets, diffs

    def _work(self) -> None:
        done = 0
        self._publish("running", 0)
        try:
            with make_executor(workers=self.workers) as ex:
                while done < self.replications and not self._cancel.is_set():
                    n = min(self.batch, self.replications - done)
                    for role, sc in (("baseline", self.baseline), ("plan", self.plan)):
                        ev = evaluate(
                            sc,
                            replications=n,
                            seed=self.seed,
                            windows=self.windows,
                            executor=ex,
                            first_replication=done,
                            cache=self.cache,
                        )
                        old = self.evaluations.get(role)
                        self.evaluations[role] = merge_evaluations(old, ev) if old else ev
                    done += n
                    self._publish("running", done)
        except ReplicationsFailed as exc:
            self._publish("failed", done, f"every replication failed: {exc.reason()}")
            return
        except Exception as exc:  # noqa: BLE001 - shown on the page, logged with its traceback
            log.exception("studio run failed")
            self._publish("failed", done, f"{type(exc).__name__}: {exc}")
            return
        cancelled = self._cancel.is_set() and done < self.replications
        self._publish("cancelled" if cancelled else "done", done)


def lever_effect(previous: ComparisonRun, current: ComparisonRun) -> pd.DataFrame:
    """What changed between two runs' plans did: the paired difference current − previous of
    the plans' headline KPIs over the replications both have (same seed: common random
    numbers, so the difference is the change, not luck). Empty if the runs cannot be paired."""
    a, b = previous.evaluations.get("plan"), current.evaluations.get("plan")
    if a is None or b is None or previous.seed != current.seed:
        return pd.DataFrame()
    return diff_table(a, b, name="change", kpis=SHOWN)
