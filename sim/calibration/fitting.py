"""Calibration: from an order history to the ``market`` section of a baseline scenario.

:func:`calibrate` runs every fit on the customers first seen in the window and maps the result
onto a scenario; :class:`Calibration` holds the fits, the scenario and the summary written to
``calibration.json``. What is fitted, and how (every fit is maximum likelihood unless stated):

* **BG/NBD** (:mod:`sim.calibration.bgnbd`) on each customer's (x, t_x, T) in weeks: used for
  the holdout conditional-expectation check and reported for comparison with the literature.
* **The simulator's own repeat process** (:mod:`sim.calibration.renewal`): the exact
  discrete-day likelihood of every gap and of the silence after the last order gives
  ``purchase_cycle_days``, ``cycle_cv`` and the daily churn hazard in the simulator's terms.
* **Arrivals** (:mod:`sim.calibration.acquisition`): the adoption curve of a market of M
  customers with hazard k → market size and ``organic_interest``.
* **Segments and baskets** (:mod:`sim.calibration.segments`, :mod:`sim.calibration.baskets`):
  lognormal basket value by segment; ``basket_units`` = mean amount ÷ the unit price.
* **Channels** (:mod:`sim.calibration.channels`): shares, switching, families, private-pool
  joining; the scenario's affinities and the rest of the mapping are in
  :mod:`sim.calibration.mapping`.

    >>> from sim.calibration.orders import read_orders
    >>> orders = read_orders("scenarios/data/sample_orders.csv",
    ...                      columns={"customer": "customer_id", "date": "order_date",
    ...                               "amount": "amount", "channel": "channel",
    ...                               "order_id": "order_id"})
    >>> cal = calibrate(orders.table, end="2025-12-30")
    >>> round(cal.renewal.cycle_days)
    30
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.acquisition import fit_arrivals
from sim.calibration.baskets import first_day_units, unit_prices
from sim.calibration.bgnbd import BGNBD, fit_bgnbd, limits_noted
from sim.calibration.channels import channel_stats, fit_private_joining, infer_families
from sim.calibration.heterogeneity import (
    LATENT_FITS,
    Choice,
    select_variant,
    standard_errors,
    variant_p_alive,
)
from sim.calibration.histories import customer_histories
from sim.calibration.inner_forecast import SELECT_BY, inner_forecast
from sim.calibration.intervals import spread_intervals
from sim.calibration.mapping import (
    channel_ids,
    map_market,
    set_prices,
    shopper_conversion,
    template_scenario,
)
from sim.calibration.renewal import RenewalFit, fit_renewal
from sim.calibration.segment_spread import CHOICES as SEGMENT_CHOICES
from sim.calibration.segment_spread import WHY, SegmentSpread, fit_segment_spread
from sim.calibration.segments import Segments, class_baskets, fit_segments
from sim.scenario import Scenario, build_scenario

BGNBD_UNIT_DAYS = 7.0  # the BG/NBD is fitted in weeks, as in the literature
FEW_REPEATS = 100  # fewer repeat purchases in the window → a warning


@dataclass
class Calibration:
    """Everything fitted from one order history, and the scenario it maps to."""

    start: dt.date
    end: dt.date
    customers: pd.DataFrame  # per-customer history (index: customer id)
    bgnbd: BGNBD
    renewal: RenewalFit
    segment_fits: dict[str, RenewalFit]
    baskets: dict[str, dict[str, float]]
    channels: dict[str, Any]
    families: dict[str, str]
    joining: dict[str, Any]
    market_size: float
    adoption_hazard: float
    alive: float  # expected customers still active at the end of the window
    raw: dict[str, Any] = field(repr=False, default_factory=dict)  # scenario dict (baseline)
    max_customers: int = 20000
    notes: list[str] = field(default_factory=list)
    spread: Choice | None = None  # the heterogeneity variants and the one chosen (1 segment)
    segment_spread: SegmentSpread | None = None  # the same with several segments
    spread_se: dict[str, float] = field(default_factory=dict)  # its fields' standard errors
    # its fields' 95 % intervals (profile likelihood or log/logit Wald) and weak identification
    spread_intervals: dict[str, dict] = field(default_factory=dict)

    def scenario(self) -> Scenario:
        """The calibrated baseline, starting the day after the window, as a frozen Scenario."""
        return build_scenario(self.raw)

    def scenario_from_start(self, days: int) -> Scenario:
        """The same market simulated from the window's first day with no customers yet:
        what the holdout validation runs (the cohort is acquired inside the window)."""
        raw = copy.deepcopy(self.raw)
        n = self.market_size
        sim_n = int(min(self.max_customers, max(round(n), 1)))
        raw["market"].update(
            real_customers=n, customers=sim_n, initial_customers=0.0, initial_private=0.0
        )
        raw["horizon"] = {"start": self.start.isoformat(), "days": int(days)}
        raw["name"] = f"{raw['name']}_from_start"
        return build_scenario(raw)

    def summary(self) -> dict[str, Any]:
        """Plain data for calibration.json: every fitted quantity and the method behind it."""
        return {
            "window": [self.start.isoformat(), self.end.isoformat()],
            "customers": len(self.customers),
            "bgnbd": self._bgnbd_summary(),
            "renewal": self._renewal_summary(),
            "segments": {
                k: {
                    "purchase_cycle_days": v.cycle_days,
                    "cycle_cv": v.cycle_cv,
                    "share": self.baskets[k]["share"],
                    "customers": v.customers,
                    "loglik": v.loglik,
                }
                for k, v in self.segment_fits.items()
            },
            "baskets": self.baskets,
            "channels": self._channels_summary(),
            "private_joining": {
                "join_per_order": self.joining["join"],
                "member_picks_private": self.joining["p_private"],
            },
            "arrivals": {
                "market_size": self.market_size,
                "adoption_hazard_per_day": self.adoption_hazard,
            },
            "alive_at_end": self.alive,
            "heterogeneity": self._spread_summary(),
            "notes": self.notes,
        }

    def _spread_summary(self) -> dict[str, Any]:
        if self.spread is None and self.segment_spread is None:
            return {"chosen": "none", "why": "not compared"}
        keys = ("cycle_distribution", "purchase_cycle_days", "rate_shape", "rate_beta")
        keys = (*keys, "churn_shape", "dropout_a", "dropout_b", "basket_units")
        keys = ("id", "share", *keys, "first_basket_units")
        mapped = [
            {k: seg[k] for k in keys if k in seg}
            for seg in self.raw.get("market", {}).get("segments", [{}])
        ]
        if self.spread is None:  # several segments: a BG/NBD per segment, or none
            return self.segment_spread.summary() | {"scenario_segments": mapped}
        fits = {
            v: f.params() | {"loglik_own_units": f.loglik}
            for v, f in self.spread.fits.items()
            if v != "none"
        }
        return self.spread.summary() | {
            "fits": fits,
            "scenario_segment": mapped[0],  # the first; every one (latent classes) below
            "scenario_segments": mapped,
            "standard_errors": self.spread_se,
            "intervals_95": self.spread_intervals,
        }

    def _bgnbd_summary(self) -> dict[str, Any]:
        bg = self.bgnbd
        return {
            **bg.params(),
            "time_unit_days": bg.unit_days,
            "loglik": bg.loglik,
            "mean_rate_per_week": bg.r / bg.alpha * 7 / bg.unit_days,
            "mean_dropout_p": bg.a / (bg.a + bg.b),
            # E[p]·E[λ]: what a BG/NBD → daily-hazard mapping would give (not used)
            "implied_daily_hazard": bg.a / (bg.a + bg.b) * bg.r / bg.alpha / bg.unit_days,
            "method": "maximum likelihood (Fader, Hardie & Lee 2005), L-BFGS-B + "
            "Nelder-Mead on log parameters",
        }

    def _renewal_summary(self) -> dict[str, Any]:
        fit = self.renewal
        return {
            "purchase_cycle_days": fit.cycle_days,
            "cycle_cv": fit.cycle_cv,
            "churn_hazard_per_day": fit.hazard,
            "mean_gap_days": fit.mean_gap(),
            "conversion_per_shopping_day": fit.conversion,
            "interest_lapse": fit.lapse,
            "loglik": fit.loglik,
            "method": "exact discrete-day likelihood of the simulator's need gap "
            "+ shopping + daily churn (Nelder-Mead)",
        }

    def _channels_summary(self) -> dict[str, Any]:
        return {
            "order_share": self.channels["order_share"],
            "first_order_share": self.channels["first_order_share"],
            "family_active_share": self.channels["family_active_share"],
            "switching": _nested(self.channels["switching"]),
            "after_first_order": _nested(self.channels["after_first"]),
            "families": self.families,
        }


def _nested(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """A matrix as {row: {column: value}} with string keys (JSON)."""
    return {str(i): {str(j): float(v) for j, v in row.items()} for i, row in frame.iterrows()}


def calibrate(
    table: pd.DataFrame,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    families: dict[str, str] | None = None,
    segments: int = 1,
    segment_by: str = "frequency",
    heterogeneity: str = "auto",
    select_by: str = "bic+forecast",
    guide_price: float | None = None,
    max_customers: int = 20000,
    horizon_days: int = 365,
    name: str = "calibrated_baseline",
    overrides: dict[str, Any] | None = None,
) -> Calibration:
    """Fit every component on the orders dated in [start, end] and build the baseline scenario.

    ``table`` is :attr:`sim.calibration.orders.Orders.table`. ``overrides`` are dotted
    scenario paths (``market.interest_lapse``, ``channels.tmall.base_conversion``...) applied
    to the template before the mapping, so that the fitted values stay consistent with them.
    ``heterogeneity``: ``auto`` picks between ``none``, ``rate``, ``rate+lifetime``,
    ``rate+dropout`` and ``latent`` (:mod:`sim.calibration.heterogeneity`), or forces one;
    with ``segments > 1`` the segments carry no spread (``none``). ``select_by``: how ``auto``
    picks: ``bic+forecast`` (default) — among the variants within 6 BIC points of the lowest,
    the best forecast of the window's last third when fitted on its first two thirds
    (:mod:`sim.calibration.inner_forecast`); ``forecast`` — that forecast among all variants
    (near-ties to the lower BIC); ``bic`` — the lowest BIC.
    """
    if select_by not in SELECT_BY:
        raise ValueError(f"--select-by {select_by}: must be one of {', '.join(SELECT_BY)}")
    window = _Window.select(table, start, end)
    setup = _Setup.build(window, families, guide_price, name, overrides)
    cal = _fit(window, setup, segments, segment_by, max_customers, heterogeneity, select_by)
    map_market(cal, setup.raw, setup.ids, max_customers, horizon_days, overrides)
    cal.raw = setup.raw
    cal.scenario()  # fail here, not in the user's next command, if the mapping is invalid
    return cal


@dataclass(frozen=True)
class _Window:
    """The calibration window: its orders, and the cohort of customers first seen in it."""

    start: pd.Timestamp
    end: pd.Timestamp
    orders: pd.DataFrame  # every order dated in [start, end]
    hist: pd.DataFrame  # per cohort customer (customer_histories)
    gaps: np.ndarray  # days between consecutive purchase days of the cohort
    silences: np.ndarray  # per cohort customer: days since their last order at the end

    @classmethod
    def select(cls, table: pd.DataFrame, start, end) -> _Window:
        """The window [start, end] (default: the whole table); an error if nothing repeats."""
        start = pd.Timestamp(start) if start is not None else table["date"].min()
        end = pd.Timestamp(end) if end is not None else table["date"].max()
        orders = table[(table["date"] >= start) & (table["date"] <= end)]
        hist, gaps = customer_histories(table, start=start, end=end)
        if len(hist) < 2:
            raise ValueError(
                f"the window {start.date()}..{end.date()} has fewer than two customers"
            )
        if len(gaps) == 0:
            raise ValueError(
                f"no customer bought twice between {start.date()} and {end.date()}: "
                "the repeat-purchase process cannot be fitted"
            )
        silences = (int((end - start).days) - hist["last"]).to_numpy(int)
        return cls(start, end, orders, hist, gaps, silences)

    @property
    def days(self) -> int:
        return int((self.end - self.start).days)

    @property
    def channels(self) -> list[str]:
        return sorted(self.orders["channel"].unique())

    @property
    def cohort_orders(self) -> pd.DataFrame:
        return self.orders[self.orders["customer"].isin(self.hist.index)]


@dataclass(frozen=True)
class _Setup:
    """The channels' families, ids, statistics and unit prices, and the template scenario
    priced from them; ``notes`` collects the warnings for the user."""

    families: dict[str, str]
    ids: dict[str, str]
    stats: dict[str, Any]
    prices: dict[str, float]
    raw: dict[str, Any]
    notes: list[str]

    @classmethod
    def build(cls, window: _Window, families, guide_price, name, overrides) -> _Setup:
        chans = window.channels
        fams, notes = infer_families(chans, families)
        if len(window.gaps) < FEW_REPEATS:
            notes.append(
                f"only {len(window.gaps)} repeat purchases in the window: the purchase cycle "
                "and churn are poorly determined"
            )
        ids = channel_ids(chans)
        raw = template_scenario(name, chans, fams, ids, overrides)
        stats = channel_stats(window.orders, fams)
        prices, price_notes = unit_prices(window.orders, chans, guide_price)
        set_prices(raw, prices, ids, overrides)
        return cls(fams, ids, stats, prices, raw, notes + price_notes)


def _fit(
    window: _Window,
    setup: _Setup,
    segments: int,
    segment_by: str,
    max_customers: int,
    heterogeneity: str = "auto",
    select_by: str = "bic+forecast",
) -> Calibration:
    """Every fit on the window's cohort, the template's conversion and lapse held."""
    hist, notes = window.hist, list(setup.notes)
    renewal = fit_renewal(
        window.gaps,
        window.silences,
        conversion=shopper_conversion(setup.raw, setup.stats["order_share"], setup.ids),
        lapse=setup.raw["market"]["interest_lapse"],
    )
    bg = _fit_bgnbd(hist, notes)
    market_size, hazard = fit_arrivals(hist["first"].to_numpy(), window.days + 1)
    joining = _fit_joining(window.cohort_orders, hist.index, setup.families)
    unit_price = sum(setup.stats["order_share"][c] * setup.prices[c] for c in window.channels)
    segs = fit_segments(
        window.cohort_orders,
        hist,
        window.silences,
        start=window.start,
        segments=segments,
        by=segment_by,
        renewal=renewal,
        unit_price=unit_price,
    )
    spread = None
    if segments == 1:

        def inner():  # computed by select_variant only if the rule needs it
            return inner_forecast(
                window.cohort_orders,
                window.start,
                window.end,
                conversion=renewal.conversion,
                lapse=renewal.lapse,
            )

        with limits_noted(notes):  # the purchase-day estimates' bounds
            spread = select_variant(
                hist, renewal, bg, only=heterogeneity, forecast=inner, select_by=select_by
            )
        if spread.selected_by == "bic" and spread.forecast is not None:
            notes.append(f"heterogeneity chosen by BIC: {spread.forecast.reason}")
    p_alive, se, intervals = segs.p_alive, {}, {}
    if spread is not None and spread.winner != "none":
        p_alive = variant_p_alive(spread, hist, window.silences)
        c, lapse = renewal.conversion, renewal.lapse
        se = standard_errors(spread, hist, pi=c / (c + (1 - c) * lapse))
        intervals = spread_intervals(spread, hist, c / (c + (1 - c) * lapse), se)
    if spread is not None and spread.winner in LATENT_FITS:  # one segment per class
        segs = _class_segments(spread, hist, window.cohort_orders, segs, unit_price)
    seg_spread = None
    if segments > 1:
        if heterogeneity not in SEGMENT_CHOICES:
            raise ValueError(f"--heterogeneity {heterogeneity}: not with --segments > 1 ({WHY})")
        seg_spread = fit_segment_spread(
            hist,
            segs.labels,
            window.cohort_orders,
            window.start,
            window.silences,
            segs.fits,
            unit_days=BGNBD_UNIT_DAYS,
            only=heterogeneity,
            soft=segment_by == "latent",
        )
        notes += seg_spread.notes
        if seg_spread.winner != "none":
            p_alive = seg_spread.p_alive(hist, segs.labels)
    _first_baskets(window.cohort_orders, setup.prices, segs.baskets, notes)
    return Calibration(
        start=window.start.date(),
        end=window.end.date(),
        customers=_customer_table(hist, bg, segs, joining, p_alive),
        bgnbd=bg,
        renewal=renewal,
        segment_fits=segs.fits,
        baskets=segs.baskets,
        channels=setup.stats,
        families=setup.families,
        joining=joining,
        market_size=market_size,
        adoption_hazard=hazard,
        alive=float(p_alive.sum()),
        notes=notes,
        max_customers=max_customers,
        spread=spread,
        spread_se=se,
        spread_intervals=intervals,
        segment_spread=seg_spread,
    )


def _class_segments(spread: Choice, hist, orders, segs: Segments, unit_price) -> Segments:
    """The latent classes' baskets (responsibility-weighted) and each customer's most likely
    class, next to the pooled segment's fit (kept for the renewal summary)."""
    fit = spread.fits[spread.winner]
    u = fit.unit_days
    resp = fit.responsibilities(hist["x"], hist["t_x"] / u, hist["T"] / u)
    names = [f"class{j + 1}" for j in range(fit.k)]
    baskets, labels = class_baskets(orders, hist, resp, names, unit_price)
    return dataclasses.replace(segs, labels=labels, baskets=segs.baskets | baskets)


# A first basket is stated when first and repeat days differ by over 3 standard errors: a
# two-sided test that writes a field changing revenue; at 2 the second test history, generated
# with one basket, showed a "difference" of 2.3 (one history in twenty does).
FIRST_Z = 3.0


def _first_baskets(orders, prices, baskets: dict[str, dict], notes: list[str]) -> None:
    """First orders' own basket, ``first_basket_units`` = ``basket_units`` × the units of a
    first purchase day ÷ a repeat day's, written only when the two differ beyond the noise
    (:func:`sim.calibration.baskets.first_day_units`, |z| > FIRST_Z); said in the notes."""
    ratio, z = first_day_units(orders, prices)
    for b in baskets.values():
        b["first_days_z"] = z
        if abs(z) > FIRST_Z:
            b["first_basket_units"] = max(1.0, b["basket_units"] * ratio)
    if abs(z) > FIRST_Z:
        notes.append(
            f"a first purchase day holds {ratio:.2f} × the units of a repeat day (Welch z = "
            f"{z:.1f}): first_basket_units written"
        )


def _fit_bgnbd(hist: pd.DataFrame, notes: list[str]) -> BGNBD:
    """The BG/NBD in weeks; a fit at a limit of the model becomes a note, not a warning."""
    unit = BGNBD_UNIT_DAYS
    with limits_noted(notes):
        return fit_bgnbd(hist["x"], hist["t_x"] / unit, hist["T"] / unit, unit_days=unit)


def _fit_joining(orders: pd.DataFrame, cohort: pd.Index, fams: dict[str, str]) -> dict[str, Any]:
    """Private-pool joining, or nobody joins when no channel is private."""
    if "private" in fams.values():
        return fit_private_joining(orders, fams)
    return {"join": 0.0, "p_private": 0.0, "members": pd.Series(0.0, cohort)}


def _customer_table(
    hist: pd.DataFrame, bg: BGNBD, segs: Segments, joining: dict[str, Any], p_alive
) -> pd.DataFrame:
    """The cohort's histories with P(alive) (the chosen model and the BG/NBD), segment and
    membership."""
    unit = bg.unit_days
    return hist.assign(
        p_alive=p_alive,
        p_alive_bgnbd=bg.p_alive(hist["x"], hist["t_x"] / unit, hist["T"] / unit),
        segment=segs.labels,
        member=joining["members"].reindex(hist.index).fillna(0.0).to_numpy(),
    )
