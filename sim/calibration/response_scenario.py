"""``calibrate --spend``: from the customer fit and a spend history to a scenario whose acquisition
side is fitted too, with its posterior draws beside it.

The order fit (:mod:`sim.calibration.fitting`) gives the market, the segments and the channels;
this module adds the channels that only spend (a seeding channel sells nothing: it links to the
busiest marketplace), fits organic interest, word of mouth and each spending lever's response
(:mod:`sim.calibration.response_fit`) on the calibration window, and writes into the scenario:
the fitted values, each channel's budget at its last four weeks' mean spend, the spend range
the history covered (``budget.observed``) and ``uncertainty: {draws: FILE, enabled: true}``
when the scenario schema knows it.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.response_fit import ResponseFit, fit_response
from sim.calibration.spend_history import (
    first_orders,
    identifiability_warnings,
    observed_ranges,
    orders_per_day,
    per_channel_day,
    spend_array,
)
from sim.scenario.spend_file import LEVERS

CURRENT_DAYS = 28  # "current spend": the mean of the window's last four weeks


def with_spend_channels(
    raw: dict[str, Any], spend: pd.DataFrame, orders: pd.DataFrame, ids: dict[str, str]
) -> dict:
    """A copy of ``raw`` with a channel for every spend channel that has no orders: a social
    channel that sells nothing and links to the public channel with the most orders."""
    family = {c["id"]: c["family"] for c in raw["channels"]}
    out = copy.deepcopy(raw)
    known = {c["id"] for c in out["channels"]}
    busiest = orders["channel"].map(ids).value_counts()  # a note links where most buy
    public = [c for c in busiest.index if c in known and family[c] == "public"] or list(
        busiest.index
    )
    for name in sorted(set(spend["channel"]) - set(ids)):
        cid = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
        if cid not in known:
            out["channels"].append(
                {"id": cid, "family": "social", "sells": False, "links_to": public[0]}
            )
            known.add(cid)
        ids[name] = cid
    return out


def fit_from_history(
    raw: dict[str, Any],
    orders: pd.DataFrame,
    spend: pd.DataFrame,
    ids: dict[str, str],
    *,
    start: dt.date,
    end: dt.date,
    market_size: float,
    max_customers: int,
    replications: int = 4,
    seed: int = 0,
    workers: int = 1,
) -> tuple[ResponseFit, dict[str, Any], dict[str, Any]]:
    """Fit on the window ``start``…``end``; returns the fit, the fitted scenario dict (horizon
    as in ``raw``) and a summary for the report. ``ids`` maps the files' channel names to
    scenario ids (extended with spend-only channels)."""
    raw = with_spend_channels(raw, spend, orders, ids)
    names = [next(k for k, v in ids.items() if v == c["id"]) for c in raw["channels"]]
    days = (end - start).days + 1
    s = spend_array(spend, names, start, days)
    new, before = first_orders(orders, names, start, days)
    clicks = ad_clicks(spend, raw, names, start, days)
    visits = per_channel_day(spend, "visits", names, start, days)
    fit_raw = copy.deepcopy(raw)
    fit_raw["market"].update(
        real_customers=float(market_size),
        customers=int(min(max_customers, max(round(market_size), 10))),
        initial_customers=min(before / market_size, 1.0),
        initial_private=0.0,
    )
    fit_raw["horizon"] = {"start": start.isoformat(), "days": days}
    fit = fit_response(
        fit_raw,
        s,
        new,
        clicks=clicks,
        visits=visits,
        orders=orders_per_day(orders, names, start, days),
        replications=replications,
        seed=seed,
        workers=workers,
        before=float(before),
    )
    fitted = resize_market(fit.apply(raw), market_size, fit.market_size, max_customers)
    joining, join_notes = fit_joining(fitted, orders, names, s, start, end, seed)
    for cid, join in joining:  # their draws travel with the acquisition draws
        fit.draws = pd.concat(
            [fit.draws, join.draws.add_prefix(f"channels.{cid}.response.")], axis=1
        )
    ranges = observed_ranges(s, [c["id"] for c in raw["channels"]])
    for c, ch in enumerate(fitted["channels"]):
        current = s[-CURRENT_DAYS:, c, :].mean(axis=0)
        ch["budget"] = {
            **ch.get("budget", {}),
            **dict(zip(LEVERS, map(float, current), strict=True)),
        }
        if ch["id"] in ranges:
            ch["budget"]["observed"] = ranges[ch["id"]]
    summary = {
        "method": "indirect inference with the simulator (sim.calibration.response_fit)",
        "window": [start.isoformat(), end.isoformat()],
        "estimate": fit.estimate,
        "market_size": {
            "orders_only": float(market_size),
            "with_spend": fit.market_size,
            "interval_95": list(fit.market_interval),
        },
        "simulator_vs_auxiliary": fit.factors,
        "interval_95": {k: list(fit.interval(k)) for k in fit.estimate},
        "reach_max": fit.reach,
        "held_by_reach": "fitted from clicks where a channel reports them and has one "
        "fitted lever; else the scenario's value",
        "dispersion": fit.aux.dispersion,
        "iterations": fit.iterations,
        "observed_spend": ranges,
        "identified": {k: fit.identified(k) for k in fit.estimate},
        "warnings": identifiability_warnings(s, [c["id"] for c in raw["channels"]])
        + fit.notes
        + [
            f"{k}: not identified by this history (95 % interval {lo:.3g} … {hi:.3g}); "
            "the scenario carries the estimate, its draws carry the spread"
            for k in fit.estimate
            if not fit.identified(k)
            for lo, hi in [fit.interval(k)]
        ]
        + join_notes
        + marginal_warnings(fit, s, [c["id"] for c in raw["channels"]]),
        "marginal_response": marginal_response(fit, s, [c["id"] for c in raw["channels"]]),
        "private_joining": _joining_summary(*joining[0]) if joining else None,
        "private_joining_channels": {cid: _joining_summary(cid, j) for cid, j in joining},
        "fitted_moments": fit.moments,
        "click_dispersion": fit.aux.click_dispersion,
        "weekly_fitted_new_customers": np.round(fit.aux.fitted, 2).tolist(),
    }
    return fit, fitted, summary


MARGINAL_SPREAD = 1.5  # a 95 % interval of the marginal response wider than 1.2 ÷ 0.8


def marginal_response(fit: ResponseFit, spend: np.ndarray, ids: list[str]) -> dict[str, dict]:
    """Per fitted lever: the slope of its curve at its last four weeks' mean spend S,
    ``E·exp(−S/sat)/sat`` (E = reach × impact × content): a prospect's daily chance of interest
    per CNY of daily spend — × the prospects, the new customers one more CNY/day brings (the
    marginal ROI up to the value of a new customer); estimate and 95 % interval of the draws."""
    out = {}
    content = fit.content
    for name in fit.names:
        cid, lever = name.split(".")[1], name.rsplit(".", 1)[1]
        current = float(spend[-CURRENT_DAYS:, ids.index(cid), LEVERS.index(lever)].mean())
        reach = fit.reach[f"{name}_reach_max"] * content

        def marginal(impact, sat, current=current, reach=reach):
            return reach * impact * np.exp(-current / sat) / sat

        est = marginal(fit.estimate[f"{name}_impact"], fit.estimate[f"{name}_saturation"])
        draws = marginal(fit.draws[f"{name}_impact"], fit.draws[f"{name}_saturation"])
        lo, hi = np.quantile(draws, [0.025, 0.975])
        out[f"{cid} {lever}"] = {
            "spend": current,
            "estimate": float(est),
            "interval_95": [float(lo), float(hi)],
        }
    return out


def marginal_warnings(fit: ResponseFit, spend: np.ndarray, ids: list[str]) -> list[str]:
    """An identifiability warning per lever whose marginal response at current spend the
    history does not pin to ±20 % (its 95 % interval spans more than :data:`MARGINAL_SPREAD`):
    without clicks or visits the curvature rests on first orders alone (a few hundred a week),
    and the saturation trades against the effect per reached person."""
    notes = []
    traffic = " ".join(fit.moments)
    for lever, m in marginal_response(fit, spend, ids).items():
        lo, hi = m["interval_95"]
        if lo <= 0 or hi / lo > MARGINAL_SPREAD:
            cid = lever.split(" ")[0]
            why = (
                "the curve's shape is read off the traffic, the effect per reached person "
                "rests on the first orders alone"
                if f"of {cid} " in traffic
                else "the saturation (the curve's bend) is what the history leaves open; daily "
                "clicks or visits of this channel in the spend file would pin it"
            )
            notes.append(
                f"{lever}: marginal response at current spend ({m['spend']:,.0f} CNY/day) is "
                f"not identified to ±20 % by this history: 95 % interval {lo:.3g} … {hi:.3g} "
                f"interest per prospect per CNY (a factor {hi / max(lo, 1e-300):.1f}); {why}"
            )
    return notes


def ad_clicks(
    spend: pd.DataFrame, raw: dict[str, Any], names: list[str], start: dt.date, days: int
) -> np.ndarray | None:
    """Daily ad clicks per channel: the file's ``clicks``; for a channel that sells nothing
    (a seeding channel) its ``visits`` where it gives no clicks — every visit there came from a
    note, as in the simulator, where visits are ad clicks + shopping sessions."""
    clicks = per_channel_day(spend, "clicks", names, start, days)
    visits = per_channel_day(spend, "visits", names, start, days)
    if visits is None:
        return clicks
    out = np.full_like(visits, np.nan) if clicks is None else clicks
    for c, ch in enumerate(raw["channels"]):
        if ch.get("sells", True) is False and np.isnan(out[:, c]).all():
            out[:, c] = visits[:, c]
    return None if np.isnan(out).all() else out


def fit_joining(
    fitted: dict[str, Any],
    orders: pd.DataFrame,
    names: list[str],
    spend: np.ndarray,
    start: dt.date,
    end: dt.date,
    seed: int,
) -> tuple[list[tuple[str, Any]], list[str]]:
    """The private pool's join response to private-operations spend
    (:mod:`sim.calibration.response_private`), set into ``fitted`` for every private channel
    whose private_ops spend moved (coefficient of variation above
    :data:`~sim.calibration.spend_history.FLAT_CV`), jointly (they act on one pool), from the
    customers first seen in the window. The orders tell the pool's base (no spend), not its
    split: it is shared equally by all private channels. Otherwise, and for what the fit leaves
    unidentified, a note says so. Returns ``[(channel id, JoinFit), …]`` and the notes."""
    from sim.calibration.response_private import fit_join_responses
    from sim.calibration.spend_history import FLAT_CV

    k = LEVERS.index("private_ops")
    private = [c for c, ch in enumerate(fitted["channels"]) if ch.get("family") == "private"]
    spent = [c for c in range(spend.shape[1]) if spend[:, c, k].max() > 0]
    ids = [ch["id"] for ch in fitted["channels"]]
    keep = "; the scenario keeps the order fit's join rate per order at any private_ops spend"
    if not spent:
        return [], []
    if not set(spent) <= set(private):
        return [], [
            f"{', '.join(ids[c] for c in spent if c not in private)} private_ops: spent by a "
            f"channel that is not private, the join response is NOT fitted{keep}"
        ]
    flat = [c for c in spent if spend[:, c, k].std() <= FLAT_CV * spend[:, c, k].mean()]
    if flat:
        return [], [
            f"{', '.join(ids[c] for c in flat)} private_ops: spend never moved, the join "
            f"response is not identifiable (its curve would trade against the pool's base){keep}"
        ]
    first = orders.groupby("customer")["date"].transform("min")
    window = orders[(first >= pd.Timestamp(start)) & (orders["date"] <= pd.Timestamp(end))]
    fits = fit_join_responses(
        window,
        {names[c] for c in private},
        spend[:, spent, k],
        pd.Timestamp(start),
        names=[ids[c] for c in spent],
        base_channels=len(private),
        seed=seed,
    )
    notes = []
    for cid, join in fits.items():
        response = fitted["channels"][ids.index(cid)].setdefault("response", {})
        for name in ("join_base", "join_max", "ops_saturation"):
            response[name] = float(getattr(join.curve, name))
        notes += [
            f"{cid} private_ops {name}: not identified by this history (95 % interval "
            f"{lo:.3g} … {hi:.3g}); the scenario carries the estimate, its draws the spread"
            for name, (lo, hi) in join.interval.items()
            if name in ("join_base", "join_max", "ops_saturation") and not join.identified(name)
        ]
    share = next(iter(fits.values())).curve.join_base
    for c in set(private) - set(spent):  # no spend: only its share of the pool's base
        response = fitted["channels"][c].setdefault("response", {})
        response["join_base"] = float(share)
        response["join_max"] = float(max(response.get("join_max", share), share))
        notes.append(
            f"{ids[c]}: no private_ops spend, its join_base is its share of the pool's base "
            f"({share:.3g}); its response to spend is not fitted"
        )
    if len(private) > 1:
        notes.append(
            "the orders tell the private pool's combined join base, not how it splits between "
            f"{', '.join(ids[c] for c in private)}: shared equally"
        )
    return list(fits.items()), notes


def _joining_summary(cid: str, join: Any) -> dict[str, Any]:
    return {
        "channel": cid,
        "estimate": {k: v for k, v in vars(join.curve).items()},
        "interval_95": {k: list(v) for k, v in join.interval.items()},
        "identified": {k: join.identified(k) for k in join.interval},
        "customers": join.customers,
        "method": "hidden-state likelihood of the orders, the pool's join chance per order "
        "following the day's private_ops spend of every private channel "
        "(sim.calibration.response_private)",
    }


def resize_market(raw: dict[str, Any], old: float, new: float, max_agents: int) -> dict:
    """The order fit's market after the window is the (no-spend) market size less the dead
    customers; with the spend fit's market size the prospects change by ``new − old``."""
    m = raw["market"]
    alive = m["initial_customers"] * m["real_customers"]
    real = max(m["real_customers"] + new - old, alive, 1.0)
    m.update(
        real_customers=float(real),
        customers=int(min(max(m["customers"], max_agents), round(real))),
        initial_customers=float(alive / real),
    )
    return raw


def attach_draws(fitted: dict[str, Any], draws_path: Path) -> None:
    """Point the scenario at its posterior draws when its schema has ``uncertainty``."""
    from sim.scenario.schema import Scenario

    if "uncertainty" in Scenario.model_fields:
        fitted["uncertainty"] = {"draws": draws_path.name, "enabled": True}
