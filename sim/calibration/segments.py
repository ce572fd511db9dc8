"""Segments of the cohort: who buys how often, and with what baskets.

Two ways to form them (``segment_by``):

* ``frequency`` or ``spend``: cut on quantiles of purchases (or spend) per day of age; each
  segment's cycle is refitted with the market-wide hazard held. Descriptive, and biased by
  selection (early churners look like slow buyers).
* ``latent``: a mixture of renewal processes fitted on whole histories
  (:func:`sim.calibration.renewal.fit_latent_renewal`); customers are labelled by their most
  likely class, baskets weighted by the class responsibilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calibration.baskets import (
    fit_basket_spread,
    fit_lognormal,
    value_days,
    weighted_mean,
)
from sim.calibration.histories import gaps_by_customer, member_gaps
from sim.calibration.renewal import RenewalFit, fit_latent_renewal, fit_renewal


@dataclass(frozen=True)
class Segments:
    """The segments of a cohort, their repeat-process fits and baskets."""

    labels: pd.Series  # segment of each cohort customer (index: customer id)
    fits: dict[str, RenewalFit]
    baskets: dict[str, dict[str, float]]  # fit_lognormal + share, basket_units
    p_alive: np.ndarray  # per cohort customer, at the end of the window


def fit_segments(
    orders: pd.DataFrame,
    hist: pd.DataFrame,
    silences: np.ndarray,
    *,
    start: pd.Timestamp,
    segments: int,
    by: str,
    renewal: RenewalFit,
    unit_price: float,
) -> Segments:
    """Segments of the cohort ``hist`` from its ``orders`` in the window (days from ``start``).

    ``renewal`` is the one-segment fit (its conversion, lapse and hazard are held);
    ``unit_price`` the market's mean unit price, which turns amounts into ``basket_units``.
    """
    if by == "latent" and segments > 1:
        return _latent_segments(orders, hist, silences, start, segments, renewal, unit_price)
    return _quantile_segments(orders, hist, silences, start, segments, by, renewal, unit_price)


def segment_labels(hist: pd.DataFrame, segments: int, by: str) -> pd.Series:
    """Quantile segment of each customer on purchases (or spend) per day of age."""
    if segments <= 1:
        return pd.Series("all", index=hist.index)
    if by == "spend":
        score = hist["spend"] / np.maximum(hist["T"] + 1, 1)
    else:
        score = hist["x"] / np.maximum(hist["T"] + 1, 1)
    ranks = score.rank(method="first") / len(score)
    q = np.minimum((ranks * segments).apply(math.ceil), segments)
    names = ["low", "high"] if segments == 2 else [f"q{i}" for i in range(1, segments + 1)]
    return pd.Series([f"{names[i - 1]}_{by}" for i in q], index=hist.index)


def _quantile_segments(orders, hist, silences, start, segments, by, renewal, unit_price):
    """Segments cut on quantiles of frequency or spend; cycle per segment with the market-wide
    hazard held (biased by selection: early churners look like slow buyers)."""
    seg_of = segment_labels(hist, segments, by)
    seg_fits, baskets = {}, {}
    repeat, first = value_days(orders)
    amounts = repeat.assign(segment=repeat["customer"].map(seg_of))
    firsts = first.to_frame().assign(segment=first.index.map(seg_of))
    for seg in sorted(seg_of.unique()):
        members = hist.index[seg_of == seg]
        if segments > 1:
            seg_fits[seg] = fit_renewal(
                member_gaps(orders, members, start),
                silences[hist.index.isin(members)],
                conversion=renewal.conversion,
                lapse=renewal.lapse,
                hazard=renewal.hazard,
            )
        else:
            seg_fits[seg] = renewal
        if not (amounts["segment"] == seg).any():  # nobody repeats: their first days
            amounts = pd.concat([amounts, firsts[firsts["segment"] == seg].reset_index()])
        baskets[seg] = fit_lognormal(amounts.loc[amounts["segment"] == seg, "amount"])
        baskets[seg]["share"] = float(len(members) / len(hist))
        baskets[seg]["basket_units"] = max(1.0, baskets[seg]["sample_mean"] / unit_price)
        mine = amounts[(amounts["segment"] == seg) & (amounts["amount"] > 0)]
        units = pd.DataFrame({"customer": mine["customer"], "units": mine["amount"] / unit_price})
        baskets[seg] |= fit_basket_spread(units, baskets[seg]["basket_units"])
    return Segments(seg_of, seg_fits, baskets, renewal.p_alive(silences))


def _latent_segments(orders, hist, silences, start, segments, renewal, unit_price):
    """Latent-class segments: a mixture of renewal processes fitted on whole histories."""
    lat = fit_latent_renewal(
        list(gaps_by_customer(orders, start, hist.index)),
        silences,
        classes=segments,
        conversion=renewal.conversion,
        lapse=renewal.lapse,
        start=renewal,
    )
    names = ["slow", "fast"] if segments == 2 else [f"class{j + 1}" for j in range(segments)]
    resp = lat.responsibilities
    baskets, seg_of = class_baskets(orders, hist, resp, names, unit_price)
    seg_fits = {}
    for j, name in enumerate(names):
        seg_fits[name] = lat.fits[j]
        baskets[name]["share"] = float(lat.weights[j])
    p_alive = sum(resp[:, j] * lat.fits[j].p_alive(silences) for j in range(segments))
    return Segments(seg_of, seg_fits, baskets, p_alive)


def _latent_basket(days: tuple[pd.DataFrame, pd.Series], members, resp: pd.Series) -> dict:
    """Lognormal of the class members' repeat-day amounts (all repeat days if they have none)
    and the mean repeat-day amount weighted by the class responsibilities ``resp`` (by
    customer) — the first days' when the class's customers (as weighted) never repeat."""
    repeat, first = days
    amounts = repeat.loc[repeat["customer"].isin(members), "amount"]
    basket = fit_lognormal(amounts) if len(amounts) else fit_lognormal(repeat["amount"])
    per_cust = repeat.groupby("customer")["amount"].agg(["sum", "size"])
    w = resp.reindex(per_cust.index).fillna(0.0)
    size = float((w * per_cust["size"]).sum())
    if size > 1e-6:
        basket["responsibility_weighted_mean"] = float((w * per_cust["sum"]).sum()) / size
    else:
        basket["responsibility_weighted_mean"] = weighted_mean(first, resp)
    return basket


def class_baskets(
    orders: pd.DataFrame, hist: pd.DataFrame, resp: np.ndarray, names: list[str], unit_price
) -> tuple[dict[str, dict[str, float]], pd.Series]:
    """Baskets of latent classes from the cohort's ``orders`` and each customer's class
    responsibilities ``resp`` (n × K, rows of ``hist``), and the most likely class of each
    customer: repeat days' and first days' values apart (:func:`value_days`). ``share`` is
    the mean responsibility (the fitted weight when the fit converged)."""
    labels = pd.Series(np.asarray(names)[resp.argmax(axis=1)], index=hist.index)
    days = value_days(orders)
    baskets = {}
    for j, name in enumerate(names):
        weight = pd.Series(resp[:, j], index=hist.index)
        b = _latent_basket(days, hist.index[labels == name], weight)
        b["share"] = float(resp[:, j].mean())
        b["basket_units"] = max(1.0, b["responsibility_weighted_mean"] / unit_price)
        baskets[name] = b
    return baskets, labels
