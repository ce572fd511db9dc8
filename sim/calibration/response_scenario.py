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
        replications=replications,
        seed=seed,
        workers=workers,
        before=float(before),
    )
    fitted = resize_market(fit.apply(raw), market_size, fit.market_size, max_customers)
    joining, join_notes = fit_joining(fitted, orders, names, s, start, end, seed)
    if joining is not None:  # its draws travel with the acquisition draws
        cid, join = joining
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
        + join_notes,
        "private_joining": None
        if joining is None
        else {
            "channel": joining[0],
            "estimate": {k: v for k, v in vars(joining[1].curve).items()},
            "interval_95": {k: list(v) for k, v in joining[1].interval.items()},
            "identified": {k: joining[1].identified(k) for k in joining[1].interval},
            "customers": joining[1].customers,
            "method": "hidden-state likelihood of the orders, join chance per order following "
            "the day's private_ops spend (sim.calibration.response_private)",
        },
        "fitted_moments": fit.moments,
        "click_dispersion": fit.aux.click_dispersion,
        "weekly_fitted_new_customers": np.round(fit.aux.fitted, 2).tolist(),
    }
    return fit, fitted, summary


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
) -> tuple[tuple[str, Any] | None, list[str]]:
    """The private pool's join response to private-operations spend
    (:mod:`sim.calibration.response_private`), set into ``fitted`` when the history can tell
    it: one private channel, whose private_ops spend moved (coefficient of variation above
    :data:`~sim.calibration.spend_history.FLAT_CV`), and customers first seen in the window.
    Otherwise, and for what the fit leaves unidentified, a note says so."""
    from sim.calibration.response_private import fit_join_response
    from sim.calibration.spend_history import FLAT_CV

    k = LEVERS.index("private_ops")
    private = [c for c, ch in enumerate(fitted["channels"]) if ch.get("family") == "private"]
    spent = [c for c in range(spend.shape[1]) if spend[:, c, k].max() > 0]
    ids = [ch["id"] for ch in fitted["channels"]]
    keep = "; the scenario keeps the order fit's join rate per order at any private_ops spend"
    if not spent:
        return None, []
    if len(private) != 1 or spent != private:
        return None, [
            f"{', '.join(ids[c] for c in spent)} private_ops: the join response is NOT fitted "
            f"(it is fitted for one private channel with private_ops spend){keep}"
        ]
    c = private[0]
    ops = spend[:, c, k]
    if ops.std() <= FLAT_CV * ops.mean():
        return None, [
            f"{ids[c]} private_ops: spend never moved, the join response is not identifiable{keep}"
        ]
    first = orders.groupby("customer")["date"].transform("min")
    window = orders[(first >= pd.Timestamp(start)) & (orders["date"] <= pd.Timestamp(end))]
    join = fit_join_response(window, {names[c]}, ops, pd.Timestamp(start), seed=seed)
    response = fitted["channels"][c].setdefault("response", {})
    for name in ("join_base", "join_max", "ops_saturation"):
        response[name] = float(getattr(join.curve, name))
    notes = [
        f"{ids[c]} private_ops {name}: not identified by this history (95 % interval "
        f"{lo:.3g} … {hi:.3g}); the scenario carries the estimate, its draws the spread"
        for name, (lo, hi) in join.interval.items()
        if name != "p_private" and not join.identified(name)
    ]
    return (ids[c], join), notes


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
