"""From the fits to the scenario: the template of what orders cannot tell, and the mapping of
every fitted quantity onto the baseline's ``market`` and ``channels`` (see docs/calibration.md).

The simulator's rules are inverted here: the daily conversion of a shopper
(sim/core/phases/purchase.py) for the renewal fit, the chance that a prospect buys before giving
up for ``organic_interest``, the churn multipliers for ``churn``, and the multinomial logit of
sim/core/phases/choice.py for the family affinities.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.calibration.heterogeneity import effective_alive, spread_segments, variant_churn
from sim.calibration.renewal import MAX_CV
from sim.scenario import FAMILIES, set_path

if TYPE_CHECKING:
    from sim.calibration.fitting import Calibration

# What an order export cannot tell: behaviour constants held at these values. They are the
# generator's own (scenarios/data/sample_scenario.yaml); ``overrides`` change them, and the
# mapping below then accounts for the changed values (e.g. a lower conversion → shorter cycle).
TEMPLATE: dict[str, Any] = {
    "market": {
        "guide_price": 100.0,
        "unit_cost": 0.0,
        "organic_interest": 0.001,
        "word_of_mouth": 0.0,
        "interest_lapse": 0.35,
        "churn": 0.002,
        "dissatisfied_churn": 0.0,
        "private_retention": 1.0,
        "loyalty": 0.8,
        "private_bonus": 0.4,
        "price_weight": 3.0,
        "journey_sample": 50,
    },
    "segment": {"price_sensitivity": 1.5, "reservation_price": 1.25, "reservation_spread": 0.2},
    "channel": {"base_conversion": 0.5, "service": {"reply_minutes": 0}},
}


# ---- the template ---------------------------------------------------------------------------
def channel_ids(chans: list[str]) -> dict[str, str]:
    """A scenario id for each channel name: its word characters, made unique."""
    out, used = {}, set()
    for ch in chans:
        base = re.sub(r"[^A-Za-z0-9_]", "_", ch).strip("_") or "channel"
        cid, i = base, 2
        while cid in used:
            cid, i = f"{base}_{i}", i + 1
        used.add(cid)
        out[ch] = cid
    return out


def template_scenario(name, chans, fams, ids, overrides) -> dict[str, Any]:
    """The scenario dict before fitting: one segment, the channels at the template values,
    the user's ``overrides`` (dotted paths) applied."""
    m = copy.deepcopy(TEMPLATE["market"])
    seg = {
        "id": "all",
        "share": 1.0,
        **TEMPLATE["segment"],
        "basket_units": 1.5,
        "purchase_cycle_days": 30.0,
        "cycle_cv": 0.3,
        "affinity": {},
    }
    m.update(real_customers=1000.0, customers=1000, segments=[seg])
    channels = [
        {
            "id": ids[c],
            "family": fams[c],
            "name": c,
            "price_index": 1.0,
            **copy.deepcopy(TEMPLATE["channel"]),
            "response": {"join_base": 0.0, "join_max": 0.0},
        }
        for c in chans
    ]
    raw = {
        "name": name,
        "description": "",
        "seed": 0,
        "horizon": {"start": "2026-01-01", "days": 365},
        "market": m,
        "channels": channels,
        "targets": [],
    }
    for key, value in (overrides or {}).items():
        set_path(raw, key, value)
    return raw


def set_prices(raw, prices: dict[str, float], ids: dict[str, str], overrides) -> None:
    """The guide price, and each channel's price index against it (unless overridden)."""
    raw["market"]["guide_price"] = prices["guide"]
    for ch, cid in ids.items():
        _set_channel(raw, cid, "price_index", prices[ch] / prices["guide"], overrides)


def _set_channel(raw, cid, key, value, overrides) -> None:
    if f"channels.{cid}.{key}" in (overrides or {}):
        return
    next(c for c in raw["channels"] if c["id"] == cid)[key] = value


def shopper_conversion(raw, order_share, ids) -> float:
    """Order-weighted daily conversion of a shopper, as sim/core/phases/purchase.py computes it."""
    m = raw["market"]
    seg = m["segments"][0]
    tol = 10.0  # Service.reply_tolerance_minutes default
    rng = np.random.default_rng(0)
    reservation = seg["reservation_price"] * np.exp(
        seg["reservation_spread"] * rng.standard_normal(20000)
    )
    total = 0.0
    for ch_name, share in order_share.items():
        ch = next(c for c in raw["channels"] if c["id"] == ids[ch_name])
        reply = ch.get("service", {}).get("reply_minutes", 5)
        base = ch["base_conversion"] / (1 + reply / tol)
        over = np.maximum(ch["price_index"] / reservation - 1, 0)
        total += share * base * float(np.exp(-seg["price_sensitivity"] * over).mean())
    return total


# ---- the fitted market ----------------------------------------------------------------------
def map_market(cal: Calibration, raw, ids, max_customers, horizon_days, overrides) -> None:
    """Fill the scenario's market and channels from the fits (see docs/calibration.md); the
    user's ``overrides`` win over fitted values."""
    m = raw["market"]
    over = overrides or {}
    for key, value in _market_values(cal, raw, max_customers, horizon_days).items():
        if f"market.{key}" not in over:
            m[key] = float(f"{value:.6g}") if key != "customers" else value
    segs = _segments(cal, raw, ids)
    if "market.segments" not in over:
        m["segments"] = segs
    _set_joining(raw, cal.joining["join"])
    raw["horizon"] = {
        "start": (cal.end + dt.timedelta(days=1)).isoformat(),
        "days": int(horizon_days),
    }
    raw["description"] = (
        f"Calibrated from {len(cal.customers)} customers' orders between {cal.start} and "
        f"{cal.end} (channelsim calibrate; see docs/calibration.md)."
    )
    for key, value in over.items():  # the user's values win over fitted ones
        set_path(raw, key, value)


def _market_values(cal: Calibration, raw, max_customers, horizon_days) -> dict[str, float]:
    """The real market size and the simulated agents (at most ``max_customers``: a
    resolution), initial customers and members, organic interest, churn."""
    alive = cal.alive  # spread: as many as buy what the alive are expected to (heterogeneity.py)
    if cal.spread is not None and cal.spread.winner != "none":
        alive = effective_alive(cal.spread, cal.customers, horizon_days)
    if _segment_spread(cal):
        alive = cal.segment_spread.effective_alive(
            cal.customers, cal.segment_spread.shares, horizon_days
        )
    total = max(cal.market_size - len(cal.customers), 0.0) + alive  # prospects + alive
    sim_n = int(min(max_customers, max(round(total), 1)))
    pi_first = _first_buy_chance(cal, raw)
    churn_mult = _churn_multiplier(raw, cal)
    return {
        "real_customers": total,
        "customers": sim_n,
        "initial_customers": min(alive / total, 1.0),
        "initial_private": float(
            (cal.customers["p_alive"] * cal.customers["member"]).sum() / max(cal.alive, 1e-9)
        ),
        "organic_interest": min(cal.adoption_hazard / max(pi_first, 1e-9), 1.0),
        # every segment fit shares one hazard (the scenario's churn is market-wide), unless a
        # heterogeneous variant won (its own hazard; 0 with BG/NBD dropout after purchases)
        "churn": min(_fitted_hazard(cal) / churn_mult, 1.0),
    }


def _segment_spread(cal: Calibration) -> bool:
    """Whether the segments carry their own BG/NBD spread (several segments)."""
    return cal.segment_spread is not None and cal.segment_spread.winner != "none"


def _fitted_hazard(cal: Calibration) -> float:
    if _segment_spread(cal):
        return 0.0  # dropout after purchases, per segment
    spread = variant_churn(cal.spread) if cal.spread is not None else None
    return next(iter(cal.segment_fits.values())).hazard if spread is None else spread


def _segments(cal: Calibration, raw, ids) -> list[dict[str, Any]]:
    """One scenario segment per fitted segment, shares rounded to sum to one."""
    base_seg = raw["market"]["segments"][0]
    affinity = _affinities(cal, raw, ids, base_seg["price_sensitivity"])
    segs = []
    for seg_id, fit in cal.segment_fits.items():
        b = cal.baskets[seg_id]
        segs.append(
            {
                **base_seg,
                "id": seg_id,
                "share": round(b["share"], 6),
                "basket_units": round(b["basket_units"], 4),
                # a need more often than daily is a need every day (one purchase a day at
                # most): the floor keeps a sub-millisecond fit from rounding to an invalid 0
                "purchase_cycle_days": max(round(fit.cycle_days, 3), 0.001),
                "cycle_cv": round(min(fit.cycle_cv, MAX_CV), 4),
                "affinity": dict(affinity),
            }
        )
        _basket_shape(segs[-1], b)
        _first_basket(segs[-1], b)
    if cal.spread is not None and len(segs) == 1:  # the chosen variant; latent: one per class
        spread = spread_segments(cal.spread, _first_buy_chance(cal, raw))
        pooled = cal.baskets[next(iter(cal.segment_fits))]
        segs = [{**copy.deepcopy(segs[0]), **fields} for fields in spread]
        for seg in segs:  # the class's basket (responsibility-weighted), when fitted
            seg["basket_units"] = round(cal.baskets.get(seg["id"], pooled)["basket_units"], 4)
            seg.pop("basket_shape", None)  # latent classes' baskets carry no spread fit
            _basket_shape(seg, cal.baskets.get(seg["id"], pooled))
            _first_basket(seg, cal.baskets.get(seg["id"], pooled))
    if _segment_spread(cal):  # a BG/NBD per segment, of the customers labelled so
        for seg in segs:
            seg.update(cal.segment_spread.fields(seg["id"], _first_buy_chance(cal, raw)))
            seg["share"] = round(cal.segment_spread.shares[seg["id"]], 6)
    drift = 1.0 - sum(s["share"] for s in segs)
    segs[0]["share"] = round(segs[0]["share"] + drift, 6)
    return segs


def _basket_shape(seg: dict[str, Any], basket: dict[str, Any]) -> None:
    """The customers' spread of mean baskets, when the orders show one
    (:func:`sim.calibration.baskets.fit_basket_spread`)."""
    shape = basket.get("basket_shape")
    if shape is not None and seg["basket_units"] > 1.0:
        seg["basket_shape"] = float(f"{shape:.6g}")


def _first_basket(seg: dict[str, Any], basket: dict[str, Any]) -> None:
    """A first order's own mean units, when fitted (:func:`sim.calibration.baskets.value_days`:
    ``basket_units`` is then the repeat days' basket)."""
    first = basket.get("first_basket_units")
    if first is not None:
        seg["first_basket_units"] = round(first, 4)


def _set_joining(raw, j: float) -> None:
    """Split the fitted join probability per order over the private channels."""
    priv = [c for c in raw["channels"] if c["family"] == "private"]
    for c in priv:  # several private channels: 1 − Π(1 − j_c) = j
        each = 1 - (1 - j) ** (1 / len(priv))
        each = float(f"{each:.6g}")
        c["response"] = {**c.get("response", {}), "join_base": each, "join_max": each}


def _first_buy_chance(cal: Calibration, raw) -> float:
    """P(an interested prospect buys before giving up) = c / (c + (1 − c)·lapse)."""
    c, lapse = cal.renewal.conversion, raw["market"]["interest_lapse"]
    return c / (c + (1 - c) * lapse)


def _churn_multiplier(raw, cal: Calibration) -> float:
    """Mean of the simulator's churn multipliers, so that base churn × this = fitted hazard."""
    m = raw["market"]
    sat = 0.95  # Service.base_satisfaction default with zero penalties is the upper bound
    d = m.get("dissatisfied_churn", 0.0)
    ret = m.get("private_retention", 1.0)
    member = float(cal.customers["member"].mean())
    return (1 + d * (1 - sat)) * (1 - member * (1 - ret))


# ---- family affinities ----------------------------------------------------------------------
def _affinities(cal: Calibration, raw, ids, sens) -> dict[str, float]:
    """Family utilities that reproduce first-order shares (non-private) and the members'
    private choice share through the multinomial logit of sim/core/phases/choice.py."""
    price_w = raw["market"]["price_weight"]
    v = {c["id"]: -price_w * sens * (c["price_index"] - 1.0) for c in raw["channels"]}
    fam_of = {c["id"]: c["family"] for c in raw["channels"]}
    aff = _open_affinities(cal, ids, v, fam_of)
    p = cal.joining["p_private"]
    if any(f == "private" for f in fam_of.values()) and p > 0:
        aff["private"] = _private_affinity(cal, raw, ids, v, fam_of, aff, p)
    return {f: aff[f] for f in FAMILIES if f in aff}


def _open_affinities(cal: Calibration, ids, v, fam_of) -> dict[str, float]:
    """Affinities of the non-private families from first-order shares, the largest at 0."""
    first = {ids[k]: s for k, s in cal.channels["first_order_share"].items()}
    open_fams = sorted({f for f in fam_of.values() if f != "private"})
    aff = {}
    for f in open_fams:
        chans = [c for c in fam_of if fam_of[c] == f]
        share = sum(first.get(c, 0.0) for c in chans)
        aff[f] = math.log(max(share, 1e-4)) - math.log(sum(math.exp(v[c]) for c in chans))
    if open_fams:
        top = max(aff.values())
        aff = {f: round(a - top, 4) for f, a in aff.items()}
    return aff


def _private_affinity(cal: Calibration, raw, ids, v, fam_of, aff, p: float) -> float:
    """The private affinity at which a member picks a private channel with probability p."""
    m = raw["market"]
    priv = [c for c in fam_of if fam_of[c] == "private"]
    util = {c: math.exp(aff[fam_of[c]] + v[c]) for c in fam_of if fam_of[c] != "private"}
    shares = {ids[k]: s for k, s in cal.channels["order_share"].items() if ids[k] in util}
    total = sum(shares.values()) or 1.0
    # the member's last (non-private) channel also carries the loyalty bonus
    others = sum(util.values()) + (math.exp(m["loyalty"]) - 1) * sum(
        shares.get(c, 0.0) / total * u for c, u in util.items()
    )
    p = min(max(p, 1e-4), 1 - 1e-4)
    inside = math.log(p / (1 - p)) + math.log(others)
    return round(inside - m["private_bonus"] - math.log(sum(math.exp(v[c]) for c in priv)), 4)
