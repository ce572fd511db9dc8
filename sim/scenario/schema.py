"""The scenario schema: the market, the channels with their levers, stock and targets of one
plan, as frozen pydantic models. :mod:`sim.scenario.loading` turns YAML into a validated
:class:`Scenario`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_serializer,
    field_validator,
    model_validator,
)

from sim.inventory.schema import InventorySpec
from sim.levers.pricing import PriceBand, Trial, band_breaches
from sim.levers.promotions import Promotions, promotion_problems, promotion_warnings
from sim.levers.tiers import TIER_IDS, Membership, Tiers
from sim.scenario.budget_fields import BudgetPeriod, ObservedRange, Uncertainty
from sim.scenario.draws import draw_problems, file_digests
from sim.scenario.kpi_names import RESERVED_CHANNEL_IDS, kpi_names, kpi_problem
from sim.scenario.market import Family, Market, is_number
from sim.scenario.paths import resolve_path
from sim.scenario.rules import Rule, rule_problems, rule_target_problems
from sim.scenario.spend import budget_problems, budget_warnings

FAMILIES: tuple[str, ...] = ("public", "private", "social", "offline")
ONLINE_FAMILIES: tuple[str, ...] = ("public", "private", "social")
SOURCES: tuple[str, ...] = ("paid", "organic", "seeding", "private", "referral")

Probability = float  # documented alias; bounds are enforced with Field(ge=0, le=1)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------
class Budget(_Frozen):
    """Daily spend by lever (currency per day)."""

    paid: float = Field(default=0, ge=0, description="paid traffic (public channels)")
    seeding: float = Field(default=0, ge=0, description="content seeding (social channels)")
    private_ops: float = Field(default=0, ge=0, description="private-pool operations")
    periods: list[BudgetPeriod] = Field(
        default_factory=list, description="flighting: amounts that override these between dates"
    )
    observed: ObservedRange | None = Field(
        default=None, description="[min, max] daily spend the history covered (calibrate)"
    )


class Response(_Frozen):
    """How spend turns into reach: reach = max × (1 − exp(−spend / saturation))."""

    paid_reach_max: float = Field(default=0.02, ge=0, le=1, description="daily share reached")
    paid_saturation: float = Field(default=5000, gt=0, description="currency/day")
    paid_impact: float = Field(default=0.02, ge=0, description="interest hazard per exposure")
    click_through: float = Field(default=0.1, ge=0, le=1, description="exposed who visit")
    seeding_reach_max: float = Field(default=0.05, ge=0, le=1)
    seeding_saturation: float = Field(default=3000, gt=0)
    seeding_impact: float = Field(default=0.01, ge=0)
    touch_max: float = Field(default=0.3, ge=0, le=1, description="daily share of pool touched")
    ops_saturation: float = Field(default=2000, gt=0, description="currency/day")
    join_base: float = Field(
        default=0.02, ge=0, le=1, description="chance a non-private buyer joins unaided"
    )
    join_max: float = Field(default=0.3, ge=0, le=1, description="join chance at saturation")
    referral_rate: float = Field(
        default=0.0, ge=0, le=1, description="chance a satisfied member refers a friend"
    )


class ServiceLevel(_Frozen):
    reply_minutes: float = Field(default=5, ge=0, description="customer-service first reply")
    delivery_days: float = Field(default=3, ge=0)
    resolution_hours: float = Field(default=24, ge=0, description="after-sales resolution")
    cost_per_day: float = Field(default=0, ge=0, description="cost of this service level")


class Channel(_Frozen):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    family: Family
    name: str = ""
    core: bool = Field(default=False, description="a core channel (traffic concentration)")
    sells: bool = Field(default=True, description="False for pure content channels")
    links_to: str | None = Field(
        default=None, description="for social channels: where seeded customers land"
    )
    price_index: float = Field(default=1.0, gt=0, description="price × guide price")
    commission: float = Field(default=0.0, ge=0, le=1, description="platform fee on revenue")
    base_conversion: float = Field(default=0.3, ge=0, le=1)
    budget: Budget = Budget()
    response: Response = Response()
    service: ServiceLevel = ServiceLevel()
    trial: Trial | None = Field(
        default=None, description="sample at a trial price (sim.levers.pricing)"
    )

    @field_validator("id")
    @classmethod
    def _not_a_scope(cls, cid: str) -> str:
        if cid in RESERVED_CHANNEL_IDS:
            raise ValueError(
                f"'{cid}' is a family, scope or tier name (KPI.{cid} already means that); "
                f"rename the channel (reserved: {', '.join(RESERVED_CHANNEL_IDS)})"
            )
        return cid


class Horizon(_Frozen):
    start: dt.date
    days: int = Field(gt=0, le=3660)

    @model_validator(mode="after")
    def _dates_the_ledger_can_hold(self) -> Horizon:
        """The ledger dates days as datetime64[ns] (years 1678-2262): outside that a date
        wraps round silently (2500 → 1915), and near 9999 ``start + days`` overflows."""
        first, last = dt.date(1678, 1, 1), dt.date(2262, 4, 10)
        if not first <= self.start <= last - dt.timedelta(days=self.days - 1):
            raise ValueError(
                f"a horizon of {self.days} days from {self.start} leaves the dates a run can "
                f"hold ({first} … {last})"
            )
        return self


class Target(_Frozen):
    """A threshold on a KPI, optionally over a window and relative to the baseline.

    In a scenario file a window is ``[first, last]``, both days included, as day numbers from
    ``horizon.start`` (day 0) or as ISO dates — the one date rule of promotions and calibration
    periods too. The loaded ``window`` is the half-open ``(first, last + 1)`` that the KPI
    functions take; :class:`Scenario` dumps it back as written.
    """

    kpi: str
    window: tuple[int, int] | None = Field(
        default=None, description="(first, last + 1) in days from the start (see above)"
    )
    relative_to: Literal["baseline"] | None = None
    at_least: float | None = None
    at_most: float | None = None
    label: str = ""

    @model_validator(mode="after")
    def _one_bound(self) -> Target:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a target needs exactly one of at_least / at_most")
        if self.window is not None and not (0 <= self.window[0] < self.window[1]):
            first, last = self.window[0], self.window[1] - 1
            raise ValueError(
                f"window [{first}, {last}] (first and last day, both included) needs "
                f"0 ≤ first ≤ last"
            )
        return self


class Decision(_Frozen):
    """A decision variable for ``channelsim optimize search``: a dotted path and its range.

    Either ``low``/``high`` (``integer: true`` for integers, ``log: true`` for a log scale) or
    ``choices``; ``path`` is any ``--set`` path, e.g. ``channels.tmall.budget.paid``.
    """

    path: str = Field(min_length=1)
    low: float | None = None
    high: float | None = None
    integer: bool = False
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range_or_choices(self) -> Decision:
        if (self.choices is None) == (self.low is None or self.high is None):
            raise ValueError(f"decision {self.path}: give either low and high, or choices")
        if self.choices is not None and not self.choices:
            raise ValueError(f"decision {self.path}: choices must not be empty")
        if self.low is not None and self.high is not None:
            if self.low >= self.high:
                raise ValueError(
                    f"decision {self.path}: low {self.low:g} must be < high {self.high:g}"
                )
            if self.log and self.low <= 0:
                raise ValueError(f"decision {self.path}: a log range needs low > 0")
        return self


class Scenario(_Frozen):
    name: str = Field(min_length=1)
    description: str = ""
    extends: str | None = Field(default=None, description="resolved path of the base scenario")
    seed: int = Field(default=0, ge=0)
    horizon: Horizon
    market: Market
    channels: list[Channel] = Field(min_length=1)
    inventory: InventorySpec | None = None
    targets: list[Target] = Field(default_factory=list)
    promotions: Promotions = Field(
        default_factory=Promotions,
        description="promotion calendar, coupons, subscription, reminders (sim.levers.promotions)",
    )
    tiers: Tiers | None = Field(default=None, description="private tiers (sim.levers.tiers)")
    membership: Membership | None = Field(default=None, description="levels (sim.levers.tiers)")
    price_band: PriceBand | None = Field(default=None, description="± band around guide price")
    decisions: list[Decision] = Field(
        default_factory=list, description="decision variables for optimize search"
    )
    spend_file: str | None = Field(
        default=None, description="daily spend rows (day × channel × lever) over the budgets"
    )
    spend_period: Literal["day", "week-starting", "week-ending"] | None = Field(
        default=None,
        description="what a spend_file row is: a day, or a week's total from / to its date "
        "(spread over its 7 days); unset: days, and a file dated on one weekday only is refused",
    )
    uncertainty: Uncertainty | None = Field(
        default=None, description="posterior draws of parameters, one per replication"
    )
    rules: list[Rule] = Field(
        default_factory=list, description="review rules applied during the run (sim.rules)"
    )
    _notes: list[str] = PrivateAttr(default_factory=list)  # from loading: deprecated keys

    @field_validator("name")
    @classmethod
    def _printable_name(cls, v: str) -> str:
        """A name is a label (reports, logs, default directory names, made safe by
        ``sim.results.safe_name``): control characters (NUL, newline…) cannot be one."""
        bad = [c for c in v if unicodedata.category(c) in ("Cc", "Cs")]
        if bad:
            raise ValueError(f"must not contain control characters (found {bad[0]!r})")
        return v

    @model_validator(mode="after")
    def _decision_paths(self) -> Scenario:
        data = self.model_dump(mode="json", exclude={"decisions"})
        problems = []
        for i, d in enumerate(self.decisions):
            try:
                resolve_path(data, d.path)
            except KeyError as exc:
                problems.append(f"decisions[{i}].path: {exc.args[0]}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="before")
    @classmethod
    def _inclusive_windows(cls, data: Any) -> Any:
        """Target windows ``[first, last]`` (both days included; day numbers or ISO dates)
        become the half-open ``(first, last + 1)`` in days from ``horizon.start``."""
        if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
            return data
        try:
            start = dt.date.fromisoformat(str(data["horizon"]["start"]))
        except (KeyError, TypeError, ValueError):
            start = None
        fixed = []
        for t in data["targets"]:
            w = t.get("window") if isinstance(t, dict) else None
            if isinstance(w, list | tuple) and len(w) == 2:
                first, last = (_day_number(x, start) for x in w)
                if first is not None and last is not None:
                    t = {**t, "window": [first, last + 1]}
            fixed.append(t)
        return {**data, "targets": fixed}

    @field_serializer("targets", mode="wrap")
    def _windows_as_written(self, targets: list[Target], handler: Any) -> Any:
        """Dumps write windows as a file states them, ``[first, last]``, so a dump loads back
        into the same scenario (``apply_overrides``, the content hash)."""
        out = handler(targets)
        for t in out:
            if isinstance(t, dict) and t.get("window") is not None:
                t["window"] = [t["window"][0], t["window"][1] - 1]
        return out

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = [c.id for c in self.channels]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"channel ids must be unique, repeated: {dupes}")
        if self.inventory is not None:  # stock names channels: catch typos at load, not mid-run
            bad = self.inventory.check_channels(ids)
            if bad:
                raise ValueError("; ".join(f"inventory.{p}" for p in bad))
        for c in self.channels:
            if c.links_to is not None and c.links_to not in ids:
                raise ValueError(f"channel {c.id}: links_to '{c.links_to}' is not a channel id")
        if not any(c.sells for c in self.channels):
            raise ValueError("at least one channel must sell")
        days = self.horizon.days
        for i, t in enumerate(self.targets):
            if t.window is not None and t.window[1] > days:
                raise ValueError(
                    f"targets[{i}] ({t.kpi}): window's last day {t.window[1] - 1} is past the "
                    f"horizon's last day {days - 1} ({days} days, numbered 0 to {days - 1})"
                )
        if self.inventory is not None and self.inventory.demand.mode == "exogenous":
            raise ValueError(
                "inventory.demand.mode: 'exogenous' replaces the customers by i.i.d. daily "
                "demand (the inventory engine's verification mode), which channelsim run, "
                "compare and optimize do not simulate; use mode: customers in a scenario, and "
                "run a verification-mode inventory section with sim.inventory.run_exogenous "
                "(docs/inventory.md)"
            )
        return self

    def kpi_problems(self) -> list[str]:
        """Targets naming a KPI this scenario does not produce (a typo fails here, not after
        minutes of simulation)."""
        names = kpi_names(self)
        return [
            f"targets[{i}].kpi: {problem}"
            for i, t in enumerate(self.targets)
            if (problem := kpi_problem(t.kpi, self, names)) is not None
        ]

    # ---- derived views --------------------------------------------------------------------
    def channel_ids(self) -> list[str]:
        return [c.id for c in self.channels]

    def lever_problems(self) -> list[str]:
        """Levers that name unknown channels/coupons, overlap, or fall outside the horizon."""
        families = {c.id: c.family for c in self.channels}
        problems = promotion_problems(
            self.promotions, channels=families, selling=[c.id for c in self.channels if c.sells]
        )
        problems += budget_problems(self) + draw_problems(self)
        problems += rule_problems(
            self.rules, families, self.horizon.start, self.horizon.days, self.market.customers
        )
        problems += rule_target_problems(
            self.rules, self.inventory, self.promotions, self.horizon.start, self.horizon.days
        )
        coupons = {c.id for c in self.promotions.coupons}
        for i, c in enumerate(self.promotions.coupons):
            bad = sorted(set(c.tiers or []) - set(TIER_IDS))
            if bad:
                problems.append(
                    f"promotions.coupons[{i}]({c.id}).tiers: unknown tier(s) {bad} "
                    f"(tiers: {list(TIER_IDS)})"
                )
        for tid, perk in self.tiers.perks.items() if self.tiers else []:
            if perk.coupon is not None and perk.coupon not in coupons:
                problems.append(
                    f"tiers.perks.{tid}.coupon: unknown coupon '{perk.coupon}' "
                    f"(known: {sorted(coupons)})"
                )
        for name, chans in (
            ("membership", self.membership and self.membership.channels),
            ("price_band", self.price_band and self.price_band.channels),
        ):
            for cid in chans or []:
                if cid not in families:
                    problems.append(
                        f"{name}.channels: unknown channel '{cid}' (known: {sorted(families)})"
                    )
        return problems

    def warnings(self) -> list[str]:
        """Legal but suspicious settings: deprecated keys (notes made when the file loaded), a
        resolution too coarse for the stock, channels whose list price breaks the price band,
        dated promotions the horizon cuts."""
        out = [*self._notes, *budget_warnings(self)]
        if self.inventory is not None:
            out += self.market.stock_warnings()
        out += promotion_warnings(self.promotions, start=self.horizon.start, days=self.horizon.days)
        if self.price_band is None:
            return out
        index = {c.id: c.price_index for c in self.channels if c.sells}
        tol = self.price_band.tolerance
        return out + [
            f"channels.{cid}.price_index: {index[cid]:g} × guide price is outside the "
            f"±{tol:.0%} price band (outside declared promotions)"
            for cid in band_breaches(self.price_band, index)
        ]

    def content_hash(self) -> str:
        """SHA-256 of the fully resolved scenario (where it came from does not count)."""
        data = self.model_dump(mode="json", exclude={"extends"})
        if digests := file_digests(self):  # the files it reads count, not only their names
            data["files read"] = digests
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def _day_number(x: Any, start: dt.date | None) -> int | None:
    """A window end as a day number: an integer, or a date counted from ``start``."""
    if is_number(x) and float(x).is_integer():
        return int(x)
    if start is not None and _is_date(x):
        return (dt.date.fromisoformat(str(x)) - start).days
    return None


def _is_date(x: Any) -> bool:
    if isinstance(x, dt.date):
        return True
    try:
        dt.date.fromisoformat(x) if isinstance(x, str) else None
    except ValueError:
        return False
    return isinstance(x, str)
