"""The promotion rule: a promotion that beats its forecast in week 1 runs longer.

"A promotion is extended when its week-1 orders beat the forecast by 20 %." The forecast is
what the team knew before the promotion started, from the ledger only: the mean daily orders of
the promotion's channels over the ``baseline_days`` before its first day, × 7 for a week, ×
``expected_lift`` (1 = the team forecast a normal week; 1.5 = it expected the promotion to
lift orders by half, and extends only if it beat *that* by ``uplift``). The week-1 orders are
the same channels' orders over the promotion's first 7 days. The decision falls on the
promotion's day ``7 + lag_days`` (the first day week 1 is fully reported); an extension moves
the promotion's last day by ``extend_days`` (a mega-sale's ``days``, a group buy's or full
reduction's ``end``), and the lever (:meth:`sim.levers.state.Levers.set_promotions`) follows
the new calendar from that day on.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from sim.rules.reporting import report_noise
from sim.scenario.rules import ExtendPromotion, promotion_span

if TYPE_CHECKING:
    from sim.core.model import ChannelMarket
    from sim.rules.engine import RuleEngine


def decision_day(model: ChannelMarket, r: ExtendPromotion) -> int:
    """The day the rule decides: the promotion's first day + 7 + ``lag_days`` (−1: none)."""
    sc = model.scenario
    span = promotion_span(sc.promotions, r.promotion, sc.horizon.start)
    return -1 if span is None else span[2] + 7 + r.lag_days


def week_one_and_forecast(model: ChannelMarket, engine: RuleEngine, r: ExtendPromotion):
    """``(week-1 orders, forecast, channels, text)`` as the rule sees them (real orders)."""
    sc = model.scenario
    _, item, first, _ = promotion_span(model.levers.promo, r.promotion, sc.horizon.start)
    chans = item.channels or [c.id for c in sc.channels if c.sells]
    idx = [engine.index[c] for c in chans]
    orders, lo, hi = engine.seen(model, "orders", 7, r.lag_days, first, r.noise_cv)
    week = float(orders[idx].sum())
    # the baseline: the days before the first day (all reported: first ≤ today − lag)
    b_hi = min(first, model.day - r.lag_days)
    b_lo = max(b_hi - r.baseline_days, 0)
    if b_hi <= b_lo:
        return week, np.nan, chans, f"orders days {lo}-{hi - 1}: {week:.6g}, no days before"
    daily = model.recorder.flow["orders"][b_lo:b_hi]
    if r.noise_cv > 0:  # the same reporting errors as every other figure the team reads
        daily = daily * report_noise(model, "orders", b_lo, b_hi, r.noise_cv)
    base = daily[:, idx].sum() * engine.scale
    forecast = base / (b_hi - b_lo) * 7 * r.expected_lift
    text = (
        f"orders on {chans} days {lo}-{hi - 1}: {week:.6g} vs forecast {forecast:.6g} "
        f"(mean of days {b_lo}-{b_hi - 1} × 7 × {r.expected_lift:g})"
    ) + (f" (as reported, noise CV {r.noise_cv:g})" if r.noise_cv > 0 else "")
    return week, forecast, chans, text


def extend_promotion(
    engine: RuleEngine, model: ChannelMarket, name: str, r: ExtendPromotion
) -> None:
    """Decide (once) whether the promotion runs ``extend_days`` longer, and log it."""
    sc = model.scenario
    promo = model.levers.promo
    section, item, first, length = promotion_span(promo, r.promotion, sc.horizon.start)
    week, forecast, _, seen = week_one_and_forecast(model, engine, r)
    ratio = week / forecast if forecast > 0 else np.nan
    last = first + length - 1
    passed = bool(ratio >= 1.0 + r.uplift)
    after = last + r.extend_days if passed else last
    verdict = f"{ratio - 1:+.1%} vs the forecast, {'≥' if passed else '<'} +{r.uplift:.0%}"
    if passed:
        if section == "events":
            new_item = item.model_copy(update={"days": item.days + r.extend_days})
        else:
            new_item = item.model_copy(update={"end": item.end + dt.timedelta(r.extend_days)})
        items = [new_item if x.id == r.promotion else x for x in getattr(promo, section)]
        model.levers.set_promotions(model, promo.model_copy(update={section: items}))
        end = sc.horizon.start + dt.timedelta(days=after)
        note = f"{verdict}: {r.promotion} extended to {end.isoformat()}"
    else:
        note = f"{verdict}: {r.promotion} not extended"
    engine.note_decision(
        model.day, name, r, "", seen, ratio, last, after, note, "promotion_end", r.promotion
    )
