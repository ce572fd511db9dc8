"""Mesa's DataCollector for the model's daily totals, read off the ledger.

The daily reporters (:func:`daily_reporters`) read the ledger's rows of the day: revenue,
orders, spend, the end-of-day private pool and customers, orders per channel family. A day's
rows are final once the day is recorded (the phases write only today's row), so
:class:`DailyCollector` notes which days were collected and reads their rows all at once when
``model_vars`` is read: the same floats as reading them every evening, at a small population
without ~10 calls a day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from sim.scenario import FAMILIES

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket

MARKETING_SPEND = ("spend_paid", "spend_seeding", "spend_private_ops")
_sum = np.add.reduce  # ndarray.sum without its Python wrapper (the same reduction)


def daily_reporters() -> dict[str, Any]:
    """Model variables the :class:`mesa.DataCollector` keeps each day, in real units (the same
    figures the ledger's daily table sums to): revenue (CNY), orders, spend (CNY), and the
    end-of-day private pool and customers (people), plus orders per channel family.

    Each reporter also has ``over_days(model, days)``: its values on several recorded days at
    once, the very floats a call on each of those evenings returns (:class:`DailyCollector`)."""

    def flow(measure: str, family: int | None = None):
        def read(mdl: ChannelMarket) -> float:
            row = mdl.recorder.flow[measure][mdl.day]
            if family is not None:  # the family's channels, in order (as a mask would pick them)
                row = row[mdl.family_channels[family]]
            return float(_sum(row) * mdl.scale)

        def over_days(mdl: ChannelMarket, days: np.ndarray) -> list[float]:
            rows = mdl.recorder.flow[measure][days]
            if family is not None:  # (picking columns leaves the rows strided: copy them)
                rows = np.ascontiguousarray(rows[:, mdl.family_channels[family]])
            # NumPy sums each C-contiguous row as it sums that row alone (pairwise from 8
            # values on), so these are ``read``'s floats; a strided block would be summed in
            # another order and could differ in the last bit from 16 channels on.
            return (_sum(rows, axis=1) * mdl.scale).tolist()

        read.over_days = over_days
        return read

    def stock(measure: str):
        def read(mdl: ChannelMarket) -> float:
            return float(mdl.recorder.market[measure][mdl.day] * mdl.scale)

        read.over_days = lambda mdl, days: (mdl.recorder.market[measure][days] * mdl.scale).tolist()
        return read

    def spend(mdl: ChannelMarket) -> float:
        # marketing spend, as the ledger's ``spend`` column (not service or inventory costs)
        spend, day = mdl.recorder.spend, mdl.day
        paid, seeding, ops = (_sum(spend[m][day]) for m in MARKETING_SPEND)
        return float(0 + paid + seeding + ops)  # as sum() adds them

    def spend_over_days(mdl: ChannelMarket, days: np.ndarray) -> list[float]:
        paid, seeding, ops = (_sum(mdl.recorder.spend[m][days], axis=1) for m in MARKETING_SPEND)
        return (0 + paid + seeding + ops).tolist()

    spend.over_days = spend_over_days
    reporters: dict[str, Any] = {
        "revenue": flow("revenue"),
        "orders": flow("orders"),
        "spend": spend,
        "private_pool": stock("private_pool"),
        "customers": stock("customers"),
    }
    for i, fam in enumerate(FAMILIES):
        reporters[f"orders_{fam}"] = flow("orders", i)
    return reporters


class DailyCollector(mesa.DataCollector):
    """Mesa's DataCollector for :func:`daily_reporters`, with the same ``model_vars``.

    The first collect goes through Mesa (it validates the reporters there), as does every
    collect when there are agent reporters. After it, a collect notes the day, and reporters
    with ``over_days`` are read for all noted days when ``model_vars`` (or the data frame) is
    read; other reporters are called on the day, as Mesa does (without its deep copy of each
    value: every value is a fresh float, which nothing can change later).
    """

    _pending: list[int] | None = None  # days collected, not yet read (deferred reporters)
    _model: ChannelMarket | None = None
    _now: list | None = None

    @property
    def model_vars(self) -> dict[str, list]:
        if self._pending:
            self._read_pending()
        return self._model_vars

    @model_vars.setter
    def model_vars(self, value: dict[str, list]) -> None:
        self._model_vars = value

    def collect(self, model: mesa.Model) -> None:
        if self._pending is None or self.agent_reporters:
            super().collect(model)
            self._pending = []
            return
        self._model = model
        self._pending.append(model.day)
        if self._now is None:  # (var's list, reporter) of the reporters read on the day
            self._now = [
                (self._model_vars[var], reporter)
                for var, reporter in self.model_reporters.items()
                if not hasattr(reporter, "over_days")
            ]
        for column, reporter in self._now:
            column.append(reporter(model))

    def _read_pending(self) -> None:
        days, model = np.array(self._pending), self._model
        self._pending = []
        for var, reporter in self.model_reporters.items():
            if hasattr(reporter, "over_days"):
                self._model_vars[var].extend(reporter.over_days(model, days))
