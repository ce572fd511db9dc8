"""The ``rules:`` block: review rules the simulated team applies while the plan runs.

A seed plan is a policy, not a fixed split ("adjust promptly according to the data", "test with
a pilot, then scale"); these models state such a policy so the simulator can evaluate it.
:mod:`sim.rules` applies them day by day, seeing only the ledger up to yesterday.

    >>> r = Reallocate(kind="reallocate", channels=["tmall", "jd"], every_days=7, share=0.2)
    >>> r.window_days, r.lag_days
    (14, 0)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.budget_fields import DayOrDate

WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", description="label in the decision log (default: rules[i])")
    lag_days: int = Field(
        default=0, ge=0, le=60, description="reporting lag: the last days the team cannot see yet"
    )


class _ReadsLedger(_Rule):
    """A rule that reads the ledger's daily figures, which reports may get wrong
    (:mod:`sim.rules.reporting`); stock rules read the warehouse's own records and A/B tests
    the order log, both exact, so they have no ``noise_cv``."""

    noise_cv: float = Field(
        default=0.0,
        ge=0,
        le=2,
        description="reporting noise: relative error (CV) of each day × channel figure the team "
        "reads from the ledger (revenue, orders, new customers; not its own spend)",
    )


class Reallocate(_ReadsLedger):
    """Every ``every_days`` (or each ``weekday``), move ``share`` of the paid budget of the
    channel with the lowest paid ROI over the last ``window_days`` to the one with the highest,
    keeping each channel's paid budget within ``bounds``. Paid ROI = paid-sourced revenue ÷
    paid spend, the revenue credited by ``attribution``: to the channel whose ad reached the
    buyer (default: what the team's ad reports show, and the channel whose spend earned it), or
    to the channel the buyer ordered in (which credits a marketplace for another's ads)."""

    kind: Literal["reallocate"]
    channels: list[str] = Field(min_length=2, description="channels whose paid budgets move")
    every_days: int | None = Field(default=None, ge=1, description="review period in days")
    weekday: Literal[WEEKDAYS] | None = Field(  # type: ignore[valid-type]
        default=None, description="review each week on this day"
    )
    window_days: int = Field(default=14, ge=1, description="days of data the ROI is taken over")
    share: float = Field(gt=0, le=1, description="share of the worst channel's paid budget moved")
    bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="channel: [min, max] paid currency per day"
    )
    attribution: Literal["ad_channel", "order_channel"] = Field(
        default="ad_channel",
        description="whose paid ROI: revenue credited to the channel whose ad reached the buyer "
        "(revenue_paid_ad, an ad platform's report) or to the channel the buyer ordered in "
        "(revenue_paid)",
    )

    @model_validator(mode="after")
    def _schedule(self) -> Reallocate:
        if (self.every_days is None) == (self.weekday is None):
            raise ValueError("reallocate: give exactly one of every_days, weekday")
        for cid, (lo, hi) in self.bounds.items():
            if not 0 <= lo <= hi:
                raise ValueError(f"bounds.{cid}: needs 0 ≤ min ≤ max, got [{lo}, {hi}]")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError(f"channels: repeated ids in {self.channels}")
        return self


class Pilot(_ReadsLedger):
    """Run ``channel``'s paid traffic at ``budget`` a day from ``start`` for ``weeks``; then scale
    it to ``scale_to`` if its CAC (paid spend / new customers over the pilot) is at most
    ``max_cac``, otherwise stop it (0). The decision falls on the first day after the pilot."""

    kind: Literal["pilot"]
    channel: str
    start: DayOrDate = 0
    weeks: int = Field(ge=1, le=52)
    budget: float = Field(ge=0, description="paid currency per day during the pilot")
    scale_to: float = Field(ge=0, description="paid currency per day after a passed pilot")
    max_cac: float = Field(ge=0, description="currency per new customer to pass")


class Stock(_Rule):
    """Every ``every_days``, raise the safety factor of each SKU whose stockout rate (units not
    served at once ÷ units demanded, all locations) over the last ``window_days`` exceeds
    ``threshold`` by ``step``, up to ``max_k``. The safety factor is the ``k`` of forecast
    policies (:meth:`sim.inventory.Inventory.set_safety_factor`)."""

    kind: Literal["stock"]
    skus: list[str] | None = Field(default=None, description="SKUs reviewed; None = every one")
    every_days: int = Field(default=7, ge=1, description="review period in days")
    window_days: int = Field(default=7, ge=1, description="days the stockout rate is taken over")
    threshold: float = Field(default=0.05, ge=0, lt=1, description="stockout rate that triggers")
    step: float = Field(default=0.2, gt=0, description="added to the safety factor k")
    max_k: float = Field(default=10.0, gt=0, description="the safety factor never goes above")


class ExtendPromotion(_ReadsLedger):
    """Extend promotion ``promotion`` by ``extend_days`` when its week-1 orders (its channels,
    its first 7 days) beat the forecast by ``uplift``. The forecast is what the team knew before
    the promotion: the mean daily orders of the same channels over the ``baseline_days`` before
    its first day × 7 × ``expected_lift`` (1: the promotion is forecast to sell as a normal
    week). The decision falls on the promotion's day ``7 + lag_days``."""

    kind: Literal["extend_promotion"]
    promotion: str = Field(description="id of a mega-sale, dated group buy or full reduction")
    uplift: float = Field(default=0.2, ge=0, description="share above the forecast to extend")
    baseline_days: int = Field(default=28, ge=1, description="days before it the forecast uses")
    expected_lift: float = Field(default=1.0, gt=0, description="forecast multiplier")
    extend_days: int = Field(default=7, ge=1, le=366, description="days added to its end")


class ArmSetting(BaseModel):
    """What one arm of an A/B test sees: a price multiplier at the test's channels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price: float = Field(
        default=1.0, gt=0, le=3, description="× the unit price the customer would otherwise see"
    )


class AbTest(_Rule):
    """From ``start`` for ``days``, ``enrolled`` customers are in the test (the simulated
    customers with the smallest hash of their id and the test's name; each stands for one real
    test subject, so the test's size does not follow the resolution ``market.customers``):
    ``round(share_b × enrolled)`` of them in arm B see arm ``b``'s setting, the others arm
    ``a``'s (default: the plan as it is); customers not enrolled keep the plan's. On the first
    day after the test the team reads ``metric`` per arm from the enrolled customers' orders it
    has seen (less ``lag_days``) and runs ``test`` at level ``alpha``: with
    ``rollout: winner`` (the default) a significant winner's setting goes to everyone from that
    day on, and without a significant difference everyone keeps A's; with ``rollout: none``
    everyone goes back to A's. ``min_effect`` (metric units) is the difference the team wants
    to detect: the report states the test's power for it (:mod:`sim.rules.ab_stats`)."""

    kind: Literal["ab_test"]
    start: DayOrDate = 0
    days: int = Field(ge=1, le=3660, description="test length in days")
    enrolled: int = Field(
        ge=4,
        description="real customers in the test, both arms together (the test's sample size); "
        "each is one simulated customer, so it must not exceed market.customers",
    )
    share_b: float = Field(default=0.5, gt=0, lt=1, description="share of enrolled in arm B")
    channels: list[str] | None = Field(
        default=None, description="where the arms' prices apply; None = every selling channel"
    )
    a: ArmSetting = Field(default_factory=ArmSetting, description="arm A (the control)")
    b: ArmSetting = Field(description="arm B (the challenger)")
    metric: Literal["conversion", "revenue_per_customer"] = Field(
        default="conversion",
        description="conversion: buyers ÷ customers in the arm; revenue_per_customer: CNY",
    )
    test: Literal["z", "welch"] | None = Field(
        default=None,
        description="z: two-sided two-proportion z-test (conversion only); welch: two-sided "
        "Welch t-test on per-customer values; None: z for conversion, welch for revenue",
    )
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="the test's level")
    rollout: Literal["winner", "none"] = "winner"
    min_effect: float | None = Field(
        default=None, gt=0, description="smallest B − A difference worth detecting (power)"
    )

    @property
    def arm_sizes(self) -> tuple[int, int]:
        """Customers in arm A and arm B: ``round(share_b × enrolled)`` in B, the rest in A."""
        n_b = round(self.share_b * self.enrolled)
        return self.enrolled - n_b, n_b

    @model_validator(mode="after")
    def _test_fits_metric(self) -> AbTest:
        if min(self.arm_sizes) < 2:
            raise ValueError(
                f"enrolled: {self.enrolled} customers with share_b {self.share_b:g} give arms of "
                f"{self.arm_sizes[0]} and {self.arm_sizes[1]}; each arm needs at least 2"
            )
        if self.test == "z" and self.metric != "conversion":
            raise ValueError(
                f"test: z (two-proportion) needs metric conversion, got {self.metric}; "
                "use test: welch"
            )
        return self

    @property
    def statistic(self) -> str:
        """The test actually run: z for conversion unless stated otherwise, Welch otherwise."""
        return self.test or ("z" if self.metric == "conversion" else "welch")


Rule = Annotated[Reallocate | Pilot | Stock | ExtendPromotion | AbTest, Field(discriminator="kind")]
AnyRule = Reallocate | Pilot | Stock | ExtendPromotion | AbTest


def rule_day(x: DayOrDate, start: dt.date) -> int:
    """A day number from ``horizon.start`` (dates and day numbers, as budget periods)."""
    return (x - start).days if isinstance(x, dt.date) else int(x)


def rule_problems(
    rules: list[AnyRule],
    channels: dict[str, str],
    start: dt.date,
    days: int,
    customers: int | None = None,
) -> list[str]:
    """Rules naming unknown channels, or pilots outside the horizon; each names its field.
    ``channels`` maps id → family; ``customers`` is ``market.customers`` (A/B tests enrol at
    most that many)."""
    problems: list[str] = []
    known = sorted(channels)
    for i, r in enumerate(rules):
        where = f"rules[{i}]({r.kind})"
        if isinstance(r, Stock | ExtendPromotion):
            continue  # checked with the inventory and promotions (rule_target_problems)
        if isinstance(r, AbTest):
            problems += ab_test_problems(where, r, known, start, days, customers)
            continue
        named = r.channels + list(r.bounds) if isinstance(r, Reallocate) else [r.channel]
        for cid in named:
            if cid not in channels:
                problems.append(f"{where}: unknown channel '{cid}' (known: {known})")
        if isinstance(r, Pilot):
            first = rule_day(r.start, start)
            if not 0 <= first < days:
                problems.append(
                    f"{where}.start: {r.start} is outside the horizon (days 0 to {days - 1})"
                )
    return problems


def ab_test_problems(
    where: str,
    r: AbTest,
    channels: list[str],
    start: dt.date,
    days: int,
    customers: int | None = None,
) -> list[str]:
    """An A/B test naming unknown channels, or whose decision day (its first day after the
    test) falls outside the horizon, or whose team would see none of it (lag ≥ days), or
    enrolling more customers than there are simulated ones (each enrolled customer is one)."""
    problems = [
        f"{where}.channels: unknown channel '{c}' (known: {channels})"
        for c in r.channels or []
        if c not in channels
    ]
    if customers is not None and r.enrolled > customers:
        problems.append(
            f"{where}.enrolled: {r.enrolled} real customers enrolled, but market.customers is "
            f"{customers}: each enrolled customer is one simulated customer; raise "
            f"market.customers to at least {r.enrolled} or enrol fewer"
        )
    first = rule_day(r.start, start)
    if not 0 <= first < days:
        problems.append(f"{where}.start: {r.start} is outside the horizon (days 0 to {days - 1})")
    elif first + r.days >= days:
        problems.append(
            f"{where}.days: a {r.days}-day test from day {first} is decided on day "
            f"{first + r.days}, past the horizon's last day {days - 1}"
        )
    if r.lag_days >= r.days:
        problems.append(
            f"{where}.lag_days: {r.lag_days} ≥ days ({r.days}): the team would see none of the "
            "test on its decision day"
        )
    return problems


def promotion_span(promotions: Any, pid: str, start: dt.date) -> tuple[str, Any, int, int] | None:
    """``(section, item, first day, days)`` of the dated promotion ``pid`` (a mega-sale, or a
    group buy / full reduction with both ``start`` and ``end``); None if there is none."""
    for e in promotions.events:
        if e.id == pid:
            return "events", e, (e.date - start).days, e.days
    for section in ("group_buys", "full_reduction"):
        for e in getattr(promotions, section):
            if e.id == pid and e.start is not None and e.end is not None:
                return section, e, (e.start - start).days, (e.end - e.start).days + 1
    return None


def rule_target_problems(
    rules: list[AnyRule], inventory: Any, promotions: Any, start: dt.date, days: int
) -> list[str]:
    """Stock rules naming unknown SKUs or SKUs without a forecast policy (the only policy with
    a safety factor), and promotion rules naming no dated promotion long enough to be read
    after a week; each names its field."""
    problems: list[str] = []
    for i, r in enumerate(rules):
        where = f"rules[{i}]({r.kind})"
        if isinstance(r, Stock):
            if inventory is None:
                problems.append(f"{where}: a stock rule needs an inventory: section")
                continue
            known = [s.id for s in inventory.skus]
            with_k = {
                s.id
                for s in inventory.skus
                for loc in inventory.locations
                if (p := inventory.policy_for(s, loc.id)) is not None and p.type == "forecast"
            }
            for sku in r.skus or known:
                if sku not in known:
                    problems.append(f"{where}.skus: unknown SKU '{sku}' (known: {known})")
                elif sku not in with_k:
                    problems.append(
                        f"{where}.skus: SKU '{sku}' has no forecast policy (type: forecast), "
                        "the only policy with a safety factor k"
                    )
        elif isinstance(r, ExtendPromotion):
            span = promotion_span(promotions, r.promotion, start)
            if span is None:
                problems.append(
                    f"{where}.promotion: no mega-sale, or group buy / full reduction with start "
                    f"and end, has id '{r.promotion}'"
                )
                continue
            _, _, first, length = span
            if length < 7 + r.lag_days:
                problems.append(
                    f"{where}.promotion: '{r.promotion}' runs {length} days; its week 1 is "
                    f"read on its day {7 + r.lag_days} (7 + lag_days), so it needs at least "
                    f"{7 + r.lag_days} days"
                )
            elif first < 1:
                problems.append(
                    f"{where}.promotion: '{r.promotion}' starts on day {first}: no day before "
                    "it to forecast week 1 from"
                )
            elif not first + 7 + r.lag_days < days:
                problems.append(
                    f"{where}.promotion: the decision day {first + 7 + r.lag_days} of "
                    f"'{r.promotion}' is outside the horizon (days 0 to {days - 1})"
                )
    return problems
