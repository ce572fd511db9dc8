"""The promotion calendar: dated mega-sales, weekly flash sales, monthly member days, group buys
and full-reduction offers, on real dates (``horizon.start`` fixes the weekdays).

A promotion only ever changes what customers see and do: the price a channel shows that day,
whose need comes early (a deposit, a pull), and what goes into a basket. KPIs are never scaled.

    >>> import datetime as dt
    >>> from sim.levers.promotions import MegaSale, Promotions, compile_calendar
    >>> promo = Promotions(events=[MegaSale(id="d11", date=dt.date(2026, 11, 11), discount=0.2)])
    >>> cal = compile_calendar(promo, start=dt.date(2026, 11, 1), days=30,
    ...                        channels=["tmall"], families=["public"], sells=[True])
    >>> float(cal.discount[10, 0])
    0.2
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.levers.coupons import Coupon
from sim.levers.subscription import Reminders, Subscription

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Event kinds in precedence order when recurring rules fall on the same channel-day.
KINDS: tuple[str, ...] = ("mega_sale", "group_buy", "member_day", "flash_sale")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Event(_Frozen):
    """What every promotion has: a price cut on some channels and an optional pull of demand."""

    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    discount: float = Field(default=0.0, ge=0, le=1, description="share off the channel price")
    channels: list[str] | None = Field(
        default=None, description="channel ids it runs on; None = every selling channel"
    )
    pull_days: int = Field(
        default=0, ge=0, le=365, description="needs due within this many days may come today"
    )
    pull_share: float = Field(default=0.0, ge=0, le=1, description="chance such a need comes")
    attention: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="extra daily chance a prospect becomes interested on an event day "
        "(the platform's event traffic), landing on the event's first channel",
    )


class MegaSale(_Event):
    """618 / Double 11: a pre-sale with deposits, the sale days, and the dip that follows."""

    date: dt.date = Field(description="first sale day")
    days: int = Field(default=1, ge=1, le=31, description="sale days")
    presale_days: int = Field(default=0, ge=0, le=60, description="deposit window before")
    deposit_take: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="chance a customer whose need falls before the sale ends + pull_days "
        "puts down a deposit during the pre-sale (locks them to the sale day)",
    )
    deposit_conversion: float = Field(
        default=0.9, ge=0, le=1, description="chance a deposit holder pays the balance"
    )

    def sale_dates(self) -> list[dt.date]:
        return [self.date + dt.timedelta(days=i) for i in range(self.days)]


class FlashSale(_Event):
    """A weekly flash sale (e.g. every Friday 20:00–22:00, modelled as one day's boost);
    ``weekday: daily`` for a daily one (the uplift action plan: 每日10点限量秒杀)."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily"]


class MemberDay(_Event):
    """A monthly member day (the uplift action plan: the 18th, 20 % off): private channels,
    pool members only."""

    day_of_month: int = Field(ge=1, le=31)
    months: list[int] | None = Field(default=None, description="1–12; None = every month")

    @model_validator(mode="after")
    def _day_exists(self) -> MemberDay:
        months = self.months or list(range(1, 13))
        bad = [m for m in months if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months must be 1–12, got {bad}")
        # 29 February exists only in leap years: a monthly rule on it would silently skip years.
        missing = [
            calendar.month_abbr[m]
            for m in months
            if self.day_of_month > (28 if m == 2 else calendar.monthrange(2025, m)[1])
        ]
        if missing:
            raise ValueError(
                f"day_of_month {self.day_of_month} does not exist in {', '.join(missing)}; "
                "use a day ≤ 28 or list only months that have it in `months`"
            )
        return self


class GroupBuy(_Event):
    """Group buying (the uplift action plan: 3 people → 20 % off): a buyer brings friends who
    start interested."""

    group_size: int = Field(default=3, ge=2, le=17)
    initiate: float = Field(default=0.0, ge=0, le=1, description="chance a buyer opens a group")
    start: dt.date | None = None
    end: dt.date | None = Field(default=None, description="last day (inclusive)")


class ReductionTier(_Frozen):
    spend: float = Field(gt=0, description="basket value threshold (CNY)")
    reduce: float = Field(
        ge=0,
        description="CNY off once the basket reaches it (not `off`: YAML reads that key as false)",
    )


class FullReduction(_Frozen):
    """ "Spend 300, get 50 off": baskets near a threshold grow to reach it; the cut is a cost."""

    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    tiers: list[ReductionTier] = Field(min_length=1)
    channels: list[str] | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    near: float = Field(
        default=0.3, ge=0, le=1, description="a basket this share below a threshold is near it"
    )
    add_on: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="chance a near basket adds units to reach the threshold",
    )

    @model_validator(mode="after")
    def _tiers_valid(self) -> FullReduction:
        for t in self.tiers:
            if t.reduce >= t.spend:
                raise ValueError(
                    f"tier spend {t.spend:g}: reduce {t.reduce:g} must be below it "
                    "(a discount above 100 % of the basket)"
                )
        spends = [t.spend for t in self.tiers]
        if spends != sorted(set(spends)):
            raise ValueError(f"tiers must have increasing spend thresholds, got {spends}")
        return self


class Promotions(_Frozen):
    """Everything on the calendar plus the private-pool operations that issue coupons and ship."""

    events: list[MegaSale] = Field(default_factory=list, description="dated mega-sales")
    flash_sales: list[FlashSale] = Field(default_factory=list)
    member_days: list[MemberDay] = Field(default_factory=list)
    group_buys: list[GroupBuy] = Field(default_factory=list)
    full_reduction: list[FullReduction] = Field(default_factory=list)
    coupons: list[Coupon] = Field(default_factory=list)
    subscription: Subscription | None = None
    reminders: Reminders | None = None
    allow_overlap: bool = Field(
        default=False, description="let dated events share a channel-day (discounts then stack)"
    )

    def is_empty(self) -> bool:
        return not any(
            (
                self.events,
                self.flash_sales,
                self.member_days,
                self.group_buys,
                self.full_reduction,
                self.coupons,
                self.subscription,
                self.reminders,
            )
        )

    def all_events(self) -> list[tuple[str, _Event]]:
        return (
            [("mega_sale", e) for e in self.events]
            + [("group_buy", e) for e in self.group_buys]
            + [("member_day", e) for e in self.member_days]
            + [("flash_sale", e) for e in self.flash_sales]
        )


# --------------------------------------------------------------------------------------------
# Cross-checks against the channels (paths name the offending item)
# --------------------------------------------------------------------------------------------
def promotion_problems(
    promo: Promotions, *, channels: dict[str, str], selling: list[str] | None = None
) -> list[str]:
    """Problems that need the channel list; ``channels`` maps id → family, ``selling`` lists
    the channels that take orders (an event without ``channels`` runs on those)."""
    selling = list(channels) if selling is None else selling
    problems: list[str] = []
    sections = [
        ("events", promo.events),
        ("flash_sales", promo.flash_sales),
        ("member_days", promo.member_days),
        ("group_buys", promo.group_buys),
        ("full_reduction", promo.full_reduction),
        ("coupons", promo.coupons),
    ]
    for name, items in sections:
        for i, item in enumerate(items):
            path = f"promotions.{name}[{i}]({item.id})"
            for cid in item.channels or []:
                if cid not in channels:
                    problems.append(
                        f"{path}.channels: unknown channel '{cid}' (known: {sorted(channels)})"
                    )
                elif cid not in selling:
                    problems.append(f"{path}.channels: channel '{cid}' does not sell")
    for i, md in enumerate(promo.member_days):
        wrong = [c for c in md.channels or [] if c in channels and channels[c] != "private"]
        if wrong:
            problems.append(
                f"promotions.member_days[{i}]({md.id}).channels: member day is for "
                f"private channels only, got {wrong}"
            )
    ids = [item.id for _, items in sections for item in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"promotions: ids must be unique across events, repeated: {dupes}")
    if not promo.allow_overlap:
        problems += _overlaps(promo, selling)
    for sub_name, sub in (("subscription", promo.subscription), ("reminders", promo.reminders)):
        if sub is not None and sub.channel not in channels:
            problems.append(
                f"promotions.{sub_name}.channel: unknown channel '{sub.channel}' "
                f"(known: {sorted(channels)})"
            )
    coupon_ids = {c.id for c in promo.coupons}
    if promo.reminders is not None and promo.reminders.coupon not in (None, *coupon_ids):
        problems.append(
            f"promotions.reminders.coupon: unknown coupon '{promo.reminders.coupon}' "
            f"(known: {sorted(coupon_ids)})"
        )
    return problems


def promotion_warnings(promo: Promotions, *, start: dt.date, days: int) -> list[str]:
    """Dated events the horizon cuts: legal (a shorter run), but they will not (fully) happen."""
    end = start + dt.timedelta(days=days - 1)
    out = []
    for i, ev in enumerate(promo.events):
        first = ev.date - dt.timedelta(days=ev.presale_days)
        if ev.date < start or ev.date > end:
            out.append(
                f"promotions.events[{i}]({ev.id}).date: {ev.date} is outside the horizon "
                f"{start} – {end}; the event will not happen"
            )
        elif first < start:
            out.append(
                f"promotions.events[{i}]({ev.id}): the pre-sale opens {first}, before "
                f"the horizon starts ({start}); only its last days are simulated"
            )
    return out


def _overlaps(promo: Promotions, channels: list[str]) -> list[str]:
    """Dated events (mega-sales incl. pre-sale, dated group buys) sharing a channel and a day."""
    spans: list[tuple[str, set[str], dt.date, dt.date]] = []
    for ev in promo.events:
        first = ev.date - dt.timedelta(days=ev.presale_days)
        spans.append(
            (
                f"events({ev.id})",
                set(ev.channels or channels),
                first,
                ev.date + dt.timedelta(days=ev.days - 1),
            )
        )
    for gb in promo.group_buys:
        if gb.start is not None and gb.end is not None:
            spans.append((f"group_buys({gb.id})", set(gb.channels or channels), gb.start, gb.end))
    out = []
    for i, (a, ca, sa, ea) in enumerate(spans):
        for b, cb, sb, eb in spans[i + 1 :]:
            shared = sorted(ca & cb)
            if shared and sa <= eb and sb <= ea:
                out.append(
                    f"promotions: {a} and {b} overlap on {sorted(shared)} between "
                    f"{max(sa, sb)} and {min(ea, eb)} (set promotions.allow_overlap: true "
                    "to let them stack)"
                )
    return out


# --------------------------------------------------------------------------------------------
# The compiled calendar: plain arrays, day × channel
# --------------------------------------------------------------------------------------------
@dataclass
class Calendar:
    """Per day × channel: the promotion discount, which event kind set it, and demand pulls."""

    discount: np.ndarray  # float, share off
    promo: np.ndarray  # bool, a declared promotion runs (price band exempt, promo revenue)
    pulls: list[tuple[int, int, int, float, bool]]  # (day, channel, pull_days, share, pool only)
    attention: list[tuple[int, int, float]]  # (day, channel, hazard for prospects)
    presale: list[tuple[int, int, MegaSale, list[int]]]  # (day, sale day, event, channel idx)
    group: np.ndarray  # int: index into promotions.group_buys active that day, −1 none


def splice_calendar(old: Calendar, new: Calendar, day: int) -> Calendar:
    """``old`` before ``day``, ``new`` from ``day`` on: a calendar a review rule changed
    (sim.rules.promotion) keeps what already happened."""
    keep = lambda a, b: [x for x in a if x[0] < day] + [x for x in b if x[0] >= day]  # noqa: E731
    out = Calendar(
        discount=old.discount.copy(),
        promo=old.promo.copy(),
        pulls=keep(old.pulls, new.pulls),
        attention=keep(old.attention, new.attention),
        presale=keep(old.presale, new.presale),
        group=old.group.copy(),
    )
    out.discount[day:], out.promo[day:], out.group[day:] = (
        new.discount[day:],
        new.promo[day:],
        new.group[day:],
    )
    return out


def _active_days(kind: str, ev, dates: list[dt.date]) -> list[int]:
    if kind == "mega_sale":
        sale = set(ev.sale_dates())
        return [d for d, date in enumerate(dates) if date in sale]
    if kind == "flash_sale":
        if ev.weekday == "daily":
            return list(range(len(dates)))
        wd = WEEKDAYS.index(ev.weekday)
        return [d for d, date in enumerate(dates) if date.weekday() == wd]
    if kind == "member_day":
        months = ev.months or range(1, 13)
        return [
            d
            for d, date in enumerate(dates)
            if date.day == ev.day_of_month and date.month in months
        ]
    lo, hi = ev.start or dates[0], ev.end or dates[-1]
    return [d for d, date in enumerate(dates) if lo <= date <= hi]


def _is_on(kind: str, ev) -> bool:
    moves = ev.discount > 0 or (ev.pull_days > 0 and ev.pull_share > 0) or ev.attention > 0
    if kind == "mega_sale":
        return moves or (ev.presale_days > 0 and ev.deposit_take > 0)
    if kind == "group_buy":
        return moves or ev.initiate > 0
    return moves


def compile_calendar(
    promo: Promotions,
    *,
    start: dt.date,
    days: int,
    channels: list[str],
    families: list[str],
    sells: list[bool],
) -> Calendar:
    """Lay every rule on the horizon's dates. Precedence: mega-sale > group buy > member day >
    flash sale on the same channel-day, unless ``allow_overlap`` (then discounts multiply)."""
    dates = [start + dt.timedelta(days=d) for d in range(days)]
    n_ch = len(channels)
    disc = np.zeros((days, n_ch))
    taken = np.zeros((days, n_ch), dtype=bool)
    promo_on = np.zeros((days, n_ch), dtype=bool)
    group = np.full(days, -1, dtype=np.int64)
    pulls: list[tuple[int, int, int, float, bool]] = []
    attention: list[tuple[int, int, float]] = []
    idx = {c: i for i, c in enumerate(channels)}
    for kind, ev in promo.all_events():
        if kind == "member_day":
            default = [
                c for c, f, s in zip(channels, families, sells, strict=True) if f == "private" and s
            ]
        else:
            default = [c for c, s in zip(channels, sells, strict=True) if s]
        chans = [idx[c] for c in (ev.channels or default)]
        if not _is_on(kind, ev):
            continue  # a lever at zero is no promotion at all (identical ledger)
        for d in _active_days(kind, ev, dates):
            for c in chans:
                if taken[d, c] and not promo.allow_overlap:
                    continue
                # stacked discounts multiply the shares kept
                disc[d, c] = (
                    1.0 - (1.0 - disc[d, c]) * (1.0 - ev.discount) if taken[d, c] else ev.discount
                )
                taken[d, c] = True
                promo_on[d, c] = True
            if kind == "group_buy" and group[d] < 0:
                group[d] = promo.group_buys.index(ev)
            if ev.pull_days > 0 and ev.pull_share > 0 and chans:
                pulls.append((d, chans[0], ev.pull_days, ev.pull_share, kind == "member_day"))
            if ev.attention > 0 and chans and kind != "member_day":
                attention.append((d, chans[0], ev.attention))
    presale = []
    for ev in promo.events:
        if ev.presale_days == 0 or ev.deposit_take == 0:
            continue
        sale_day = (ev.date - start).days
        chans = [
            idx[c] for c in (ev.channels or [c for c, s in zip(channels, sells, strict=True) if s])
        ]
        for d in range(max(0, sale_day - ev.presale_days), min(sale_day, days)):
            presale.append((d, sale_day, ev, chans))
    for fr in promo.full_reduction:
        if not any(t.reduce > 0 for t in fr.tiers) and fr.add_on == 0:
            continue
        for d in _active_days("full_reduction", fr, dates):
            for c in (idx[c] for c in (fr.channels or channels)):
                promo_on[d, c] = True
    return Calendar(
        discount=disc,
        promo=promo_on,
        pulls=pulls,
        attention=attention,
        presale=presale,
        group=group,
    )
