"""Progress bars of the long commands (``run``, ``compare``, ``optimize inventory``): tqdm on
stderr, as ``sweep`` draws its own, so stdout stays the results. ``--no-progress`` turns it
off, and it is off by itself when stderr is not a terminal (a log file gets no bar).

    >>> with ProgressBar("demo", enabled=False) as bar:
    ...     bar.tick(3)
    ...     bar.update_to(5, 10)
    >>> bar.done, bar.total
    (5, 10)
"""

from __future__ import annotations

import sys
from typing import Any


def add_progress_option(p: Any) -> None:
    """``--no-progress``: the same flag as ``sweep`` and ``optimize search``."""
    p.add_argument("--no-progress", action="store_true", help="no progress bar (stderr)")


class ProgressBar:
    """Replications done out of those planned; the plan may grow (``--until-decided``)."""

    def __init__(self, desc: str, *, total: int = 0, enabled: bool = True, unit: str = "rep"):
        self.done, self.total = 0, total
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total or None,
                desc=desc,
                unit=unit,
                file=sys.stderr,
                disable=None,  # off when stderr is not a terminal
                dynamic_ncols=True,
                smoothing=0.1,
                leave=False,
            )

    def tick(self, k: int = 1) -> None:
        """``k`` more done."""
        self.update_to(self.done + k, max(self.total, self.done + k))

    def update_to(self, done: int, total: int) -> None:
        """``done`` out of ``total`` (a callback of :func:`sim.experiments.compare`)."""
        self.done, self.total = done, total
        if self._bar is not None:
            if self._bar.total != total:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
