"""What the auxiliary fit of :mod:`sim.calibration.response_fit` is given from a spend history:
its inputs (the levers that spent, where their ads land, the buyers so far), the clicks or
visits that become moments, the box it searches and where it starts.
"""

from __future__ import annotations

import numpy as np

from sim.calibration.response_model import WOM_OFFSET, AuxInputs
from sim.calibration.spend_history import FITTED_LEVERS
from sim.scenario.spend_file import LEVERS

PREFIX = {"paid": "paid", "seeding": "seeding"}  # response field prefix per fitted lever


def aux_inputs(sc, spend, new_daily, before: float) -> tuple[AuxInputs, list[str]]:
    """The auxiliary model's inputs from scenario ``sc``, the spend (days × channels × levers),
    the daily new customers per channel and the ``before`` buyers at the start, and the
    scenario path of each fitted lever (``channels.<id>.response.<paid|seeding>``)."""
    ids = [c.id for c in sc.channels]
    selling = [i for i, c in enumerate(sc.channels) if c.sells]
    col = {i: j for j, i in enumerate(selling)}
    pairs, land, names = [], [], []
    for c, ch in enumerate(sc.channels):
        for lever in FITTED_LEVERS:
            k = LEVERS.index(lever)
            if spend[:, c, k].max() <= 0:
                continue
            pairs.append((c, k))
            target = c if lever == "paid" else ids.index(ch.links_to) if ch.links_to else -1
            land.append(col.get(target, -1))
            names.append(f"channels.{ch.id}.response.{PREFIX[lever]}")
    cum = before + np.concatenate([[0.0], np.cumsum(new_daily.sum(axis=1))[:-1]])
    x = AuxInputs(
        spend=spend,
        bought=cum,
        decay=sc.market.interest_decay,
        land=land,
        pairs=pairs,
        selling=len(selling),
    )
    return x, names


def add_clicks(x: AuxInputs, sc, clicks: np.ndarray | None) -> None:
    """Clicks per channel and day become a fitted moment of the channel's one lever (a channel
    with paid and seeding both has clicks that cannot be split between them: not used)."""
    if clicks is None:
        return
    chans = [c for c, _ in x.pairs]
    keep = [
        j
        for j, (c, _) in enumerate(x.pairs)
        if chans.count(c) == 1 and not np.isnan(clicks[:, c]).all()
    ]
    x.clicked = keep
    x.clicks = np.stack([clicks[:, x.pairs[j][0]] for j in keep], axis=1) if keep else None
    x.click_through = np.array([sc.channels[x.pairs[j][0]].response.click_through for j in keep])
    _add_churned(x, sc)


def add_visits(x: AuxInputs, sc, visits, orders, days: int) -> None:
    """Visits per day of a selling channel with one fitted lever and no clicks become a moment
    of that lever: clicks + sessions, sessions = κ × the channel's orders (κ fitted)."""
    if visits is None or orders is None:
        return
    chans = [c for c, _ in x.pairs]
    clicked = {x.pairs[j][0] for j in x.clicked}
    add = [
        j
        for j, (c, _) in enumerate(x.pairs)
        if chans.count(c) == 1
        and c not in clicked
        and sc.channels[c].sells
        and not np.isnan(visits[:days, c]).all()
    ]
    if not add:
        return
    cols = [visits[:days, x.pairs[j][0]] for j in add]
    x.clicks = np.column_stack(([] if x.clicks is None else [x.clicks]) + cols)
    before = len(x.clicked)
    x.clicked = [*x.clicked, *add]
    x.visited = list(range(before, len(x.clicked)))
    x.visit_orders = np.column_stack([orders[:days, x.pairs[j][0]] for j in add])
    ctr = [sc.channels[x.pairs[j][0]].response.click_through for j in add]
    x.click_through = np.r_[[] if x.click_through is None else x.click_through, ctr]
    if x.churned is None:
        _add_churned(x, sc)


def _add_churned(x: AuxInputs, sc) -> None:
    churned = np.zeros(len(x.bought))  # the scenario's churn hazard on the buyers so far
    for t in range(1, len(churned)):
        churned[t] = churned[t - 1] + sc.market.churn * (x.bought[t - 1] - churned[t - 1])
    x.churned = churned


def traffic_start(x: AuxInputs, theta: np.ndarray, market: float) -> None:
    """Start values of the visited columns' reach and κ: visits = reach × g + κ × orders by
    linear least squares (g: the clicks per unit reach at the start's curves)."""
    k = len(x.pairs)
    for i in x.visited:
        c, lv = x.pairs[x.clicked[i]]
        sat = np.exp(theta[2 + k + x.clicked[i]])
        g = market * x.click_through[i] * -np.expm1(-x.spend[: len(x.bought), c, lv] / sat)
        y, o = x.clicks[:, i], x.visit_orders[:, i - x.visited[0]]
        ok = ~np.isnan(y)
        coef = np.linalg.lstsq(np.column_stack([g[ok], o[ok]]), y[ok], rcond=None)[0]
        theta[x.reach_at + i] = np.log(np.clip(coef[0], 1e-5, 0.9))
        theta[x.kappa_at + i - x.visited[0]] = np.log(np.clip(coef[1], 0.1, 40.0))


def search_bounds(
    x: AuxInputs, spend: np.ndarray, new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Box of the search and of the draws. Rates are capped at a few times the highest average
    hazard the history allows (its new customers ÷ the fewest prospects it can have had): an
    unidentified rate then spreads over what the data do not rule out, not up to 20 %/day."""
    k = len(x.pairs)
    last = max(float(x.bought[-1]), 1.0)
    top = float(new.sum() / max(np.sum(last * 1.02 - x.bought), 1.0))
    lo, hi = np.full(x.size, -12.0), np.full(x.size, 12.0)
    lo[0], hi[0] = np.log(1e-7), np.log(max(3.0 * top, 2e-7))
    lo[1], hi[1] = np.log(WOM_OFFSET), np.log(min(150.0 * top, 1.0) + WOM_OFFSET)
    lo[2 : 2 + k], hi[2 : 2 + k] = np.log(1e-8), np.log(max(3.0 * top, 2e-8))
    for j, (c, lv) in enumerate(x.pairs):
        s = spend[:, c, lv]
        lo[2 + k + j] = np.log(max(s[s > 0].min(), 1.0) * 0.05)
        hi[2 + k + j] = np.log(s.max() * 20.0)
    lo[2 + 2 * k], hi[2 + 2 * k] = np.log(last * 1.02), np.log(last * 50.0)
    n_c = len(x.clicked)
    lo[x.reach_at : x.reach_at + n_c], hi[x.reach_at : x.reach_at + n_c] = np.log(1e-6), 0.0
    n_v = len(x.visited)
    lo[x.kappa_at : x.kappa_at + n_v], hi[x.kappa_at : x.kappa_at + n_v] = np.log([0.05, 50.0])
    eta = x.repeat_at + x.selling - 1
    lo[eta : eta + len(x.shifted)], hi[eta : eta + len(x.shifted)] = np.log([1e-5, 0.5])
    if x.lagged:
        lo[x.lag_at], hi[x.lag_at] = -6.0, 3.0  # r ≤ 0.95: a mean lag under 20 days
    lo[-1], hi[-1] = -6.0, 6.0
    return lo, hi


def start_values(x: AuxInputs, new: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Where the search starts: the history's average hazard split between organic interest
    and the levers, saturations at each lever's mean spend, a market twice the buyers."""
    k = len(x.pairs)
    theta = np.zeros(x.size)
    prospects = max(float(x.bought[-1]), 1.0) * 2.0 - x.bought
    rate = max(float(new.sum() / max(prospects.sum(), 1.0)), 1e-6)
    theta[0] = np.log(rate / 2)
    theta[1] = np.log(WOM_OFFSET * 2)
    theta[2 : 2 + k] = np.log(rate * (1 - x.decay) / max(k, 1))
    theta[2 + 2 * k] = np.log(max(float(x.bought[-1]), 1.0) * 2.0)
    theta[2 + k : 2 + 2 * k] = [
        np.log(spend[:, c, lv][spend[:, c, lv] > 0].mean()) for c, lv in x.pairs
    ]
    share = np.maximum(new.sum(axis=0), 1.0)
    theta[x.structural : x.structural + x.selling - 1] = np.log(share[1:] / share[0])
    theta[x.reach_at : x.reach_at + len(x.clicked)] = np.log(0.01)
    if x.repeat is not None:
        split = np.maximum(x.repeat.sum(axis=0), 1.0)
        theta[x.repeat_at : x.repeat_at + x.selling - 1] = np.log(split[1:] / split[0])
        eta = x.repeat_at + x.selling - 1
        theta[eta : eta + len(x.shifted)] = np.log(0.01)
    if x.lagged:
        theta[x.lag_at] = -1.0  # r ≈ 0.27: most first orders on the day of interest
    theta[-1] = 1.0
    return theta
