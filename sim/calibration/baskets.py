"""Basket value: a lognormal of order amounts, and the unit prices that turn amounts into units.

The scenario's ``basket_units`` of a segment is its mean order amount ÷ the market's mean unit
price; a channel's unit price is its most common order amount (single-unit orders dominate),
and the guide price is the unit price most channels share (or the user's ``guide_price``).

    >>> fit = fit_lognormal([100.0, 100.0, 200.0, 0.0])
    >>> fit["n"], round(fit["median"], 1)
    (3, 126.0)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def fit_lognormal(amounts: np.ndarray) -> dict[str, float]:
    """MLE of a lognormal on positive amounts: μ, σ of log amount, mean, median, n."""
    pos = np.asarray(amounts, dtype=float)
    pos = pos[pos > 0]
    logs = np.log(pos)
    mu, sigma = float(logs.mean()), float(logs.std(ddof=0))
    return {
        "mu": mu,
        "sigma": sigma,
        "mean": float(math.exp(mu + sigma**2 / 2)),
        "median": float(math.exp(mu)),
        "sample_mean": float(pos.mean()),
        "n": len(pos),
    }


def value_days(orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """What a simulated order stands for, a customer's **purchase day** (the repeat process
    counts days), as value rows: the repeat days (``customer``, ``amount`` = the day's orders
    summed), and each customer's first day's amount (index: customer). First orders are apart
    because they often differ (a trial pack, a welcome bundle): the gamma-gamma model leaves
    them out for that reason, and the simulator gives them their own ``first_basket_units``.
    With no repeat day at all, the repeat rows are every day (nothing else to go by).

        >>> import pandas as pd
        >>> o = pd.DataFrame({"customer": list("aaab"), "amount": [10.0, 5.0, 30.0, 8.0],
        ...                   "date": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2)})
        >>> repeat, first = value_days(o)
        >>> repeat.to_dict("list"), first.to_dict()
        ({'customer': ['a'], 'amount': [30.0]}, {'a': 15.0, 'b': 8.0})
    """
    days, is_first = _purchase_days(orders)
    first = days.loc[is_first].set_index("customer")["amount"]
    repeat = days.loc[~is_first, ["customer", "amount"]]
    if repeat.empty:
        repeat = days[["customer", "amount"]]
    return repeat.reset_index(drop=True), first


def _purchase_days(orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """customer, date, amount (the day's orders summed), and which rows are first days."""
    days = orders.groupby(["customer", "date"], sort=True)["amount"].sum().reset_index()
    return days, ~days["customer"].duplicated()  # (sorted by customer, then date)


def first_day_units(orders: pd.DataFrame, prices: dict[str, float]) -> tuple[float, float]:
    """Units of a first purchase day ÷ units of a repeat day (means over customers' days; an
    order's units are its amount ÷ its channel's unit price, so first orders placed in a
    cheaper channel are not read as smaller baskets: the simulator's channel choice gives them
    their price), and Welch's z of the difference of the two means (NaN with fewer than two
    positive days of either kind): a first basket is worth stating when |z| is large
    (``calibrate``: over 3).

        >>> import pandas as pd
        >>> o = pd.DataFrame({"customer": list("aabbcc"), "amount": [10.0, 30, 11, 29, 9, 31],
        ...                   "date": pd.to_datetime(["2025-01-01", "2025-02-01"] * 3),
        ...                   "channel": ["x"] * 6})
        >>> ratio, z = first_day_units(o, {"x": 10.0})
        >>> round(ratio, 3), round(z, 1)  # 1.0 unit against 3.0; z of (10, 11, 9) vs (30, 29, 31)
        (0.333, -24.5)
    """
    units = orders.assign(amount=orders["amount"] / orders["channel"].map(prices))
    days, is_first = _purchase_days(units)
    f = days.loc[is_first, "amount"]
    r = days.loc[~is_first, "amount"]
    f, r = f[f > 0], r[r > 0]
    if len(f) < 2 or len(r) < 2:
        return float("nan"), float("nan")
    se = math.sqrt(f.var(ddof=1) / len(f) + r.var(ddof=1) / len(r))
    diff = f.mean() - r.mean()
    z = diff / se if se > 0 else math.copysign(math.inf, diff) if diff else 0.0
    return float(f.mean() / r.mean()), float(z)


def weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """The ``weights``-weighted mean of the positive ``values`` (both indexed by customer);
    NaN when they carry no weight."""
    values = values[values > 0]
    w = weights.reindex(values.index).fillna(0.0)
    total = float(w.sum())
    return float((w * values).sum()) / total if total > 0 else float("nan")


def fit_basket_spread(units: pd.DataFrame, mean_units: float) -> dict[str, float | None]:
    """How much customers' own mean basket differs, beyond the luck of their few orders.

    ``units``: one row per order, ``customer`` and ``units`` (amount ÷ unit price). The
    simulator gives each customer a mean of 1 + (``mean_units`` − 1) × m units per order,
    m ~ Gamma(k, 1/k) (``basket_shape`` k; the gamma-gamma model's idea that order values
    differ by customer for good). By moments, over customers with two orders or more: the
    variance of their mean units, less the mean of each one's sampling variance s²ᵢ / nᵢ (the
    luck of nᵢ orders, whatever their distribution), is Var(mean) = (mean_units − 1)² / k.
    ``basket_shape`` is None when that excess is not more than twice its standard error (the
    customers' contributions' spread ÷ √n: no spread is found) or the basket is one unit.

        >>> rows = pd.DataFrame({"customer": list("aabb"), "units": [1.0, 1.0, 3.0, 3.0]})
        >>> fit_basket_spread(rows, 2.0)["basket_shape"]  # means 1 and 3: variance 1 → k = 1
        1.0
    """
    g = units.groupby("customer")["units"]
    n, mean, var = g.size(), g.mean(), g.var(ddof=1)
    keep = n >= 2
    # each customer's share of the excess; its mean is the excess, its spread the excess's
    # standard error: an excess within 2 of those is the luck of the draw, not a spread
    part = (mean[keep] - mean[keep].mean()) ** 2 - var[keep] / n[keep]
    between = float(part.mean()) if keep.any() else 0.0
    se = float(part.std(ddof=1) / math.sqrt(keep.sum())) if keep.sum() > 1 else math.inf
    spread = mean_units - 1.0
    found = between > 0 and between > 2 * se and spread > 0
    shape = spread**2 / between if found else None
    return {
        "basket_shape": None if shape is None else float(min(shape, 1e4)),
        "basket_spread_customers": int(keep.sum()),
        "basket_spread_z": between / se if 0 < se < math.inf else None,  # (JSON: no inf)
    }


def unit_prices(
    window: pd.DataFrame, chans: list[str], guide_price: float | None
) -> tuple[dict[str, float], list[str]]:
    """Unit price per channel (its most common order amount) and ``"guide"``; plus notes on
    channels with no dominant order amount."""
    notes, prices = [], {}
    for ch in chans:
        amounts = window.loc[window["channel"] == ch, "amount"].round(2)
        amounts = amounts[amounts > 0]
        counts = amounts.value_counts()
        prices[ch] = float(counts.index[0]) if len(counts) else 1.0
        if len(counts) and counts.iloc[0] < 0.05 * len(amounts):
            notes.append(
                f"channel {ch!r}: no dominant order amount; the unit price "
                f"{prices[ch]:g} is a weak guess (pass --guide-price)"
            )
    # The guide price is the unit price most channels share (a discounter is the exception);
    # ties go to the busiest channel.
    busy = window["channel"].value_counts()
    votes = pd.Series({ch: sum(prices[o] == prices[ch] for o in chans) for ch in chans})
    pick = max(chans, key=lambda ch: (votes[ch], busy.get(ch, 0)))
    prices["guide"] = float(guide_price) if guide_price else prices[pick]
    return prices, notes
