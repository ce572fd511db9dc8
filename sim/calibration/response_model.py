"""The auxiliary model of indirect inference: the simulator's acquisition rules taken at their
expected values, fast enough to fit by least squares.

Why an auxiliary model: the simulator is the model of record (the fit in
:mod:`sim.calibration.response_fit` simulates it), but one simulated year costs seconds, and a
least-squares fit needs thousands of evaluations. This model follows the same rules in
expectation — each lever's daily interest ``E × (1 − exp(−spend / saturation))`` (E = reach ×
impact × the segments' content response) carried in an adstock that decays by
``market.interest_decay``; prospects become interested with hazard ``organic + q·F +
adstock``; an interested prospect lands on the channel its ad or note linked to with chance ℓ,
otherwise on channel j with share w_j — and leaves to the simulator what it does not model
(shoppers who give up, a few days between interest and order, luck): indirect inference maps
the difference back (Gouriéroux, Monfort & Renault 1993).

The customers who already bought are read off the history itself, so the model is conditional
on the observed adoption path; the market size M is fitted (prospects M − bought, adopter share
bought ÷ M): the order fit's market size assumes no spend, and a growing budget makes an
adoption curve look like a bigger market.

    >>> import numpy as np
    >>> x = AuxInputs(spend=np.zeros((14, 1, 2)), bought=np.zeros(14), decay=0.5, land=[0],
    ...               pairs=[(0, 0)])
    >>> theta = np.array([np.log(0.01), np.log(WOM_OFFSET), 0.0, 0.0, np.log(1000), 0.0])
    >>> round(float(predict_daily(theta, x).sum()), 6)  # 14 days × 1000 prospects × 0.01
    140.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

WOM_OFFSET = 1e-4  # word of mouth is fitted as log(q + offset): q may be 0


@dataclass
class AuxInputs:
    """What the auxiliary model needs of a history (all real units, one row per day).

    ``spend``: (days, channels, levers) CNY; ``pairs``: the (channel, lever) columns of spend
    that are fitted; ``land``: for each pair the selling-channel column it lands on (−1: none);
    ``bought``: people who have bought before each day (real); ``selling``: the number of
    selling channels (columns of the new-customer series). The market size M is a parameter:
    prospects are M − bought, the adopter share bought ÷ M.
    """

    spend: np.ndarray
    bought: np.ndarray
    decay: float
    land: list[int]
    pairs: list[tuple[int, int]]
    selling: int = 1
    clicked: list[int] = field(default_factory=list)  # pairs whose channel reports ad clicks
    clicks: np.ndarray | None = None  # (days, len(clicked)) ad clicks, NaN: not reported
    click_through: np.ndarray | None = None  # per clicked pair: exposed who click (held)
    churned: np.ndarray | None = None  # (days,) customers churned before each day: not reached
    # visits of a selling channel = its ad clicks + shopping sessions: the columns of ``clicks``
    # that are visits (``visited``, indices into ``clicked``) add sessions = κ × that
    # channel's observed orders (``visit_orders``, (days, len(visited))), κ fitted
    visited: list[int] = field(default_factory=list)
    visit_orders: np.ndarray | None = None
    # repeat orders per selling channel (days, selling), observed: an ad or note lands the
    # in-market customers it reaches on its channel, so spend moves their split
    repeat: np.ndarray | None = None
    first_mix: np.ndarray | None = None  # (days, selling) where the customers so far first bought
    # the moments' bin: 7 sums each block by week; 1 fits the days (the adstock's response to a
    # weekly spend change plays out over days, and the smooth organic trend cannot mimic it)
    bin_days: int = 7
    # interest → first order takes days (shoppers who do not buy today come back tomorrow
    # unless they lapse): with ``lagged`` the expected first orders are the day's interest
    # carried by a fitted geometric kernel (1 − r)·r^k, r = logistic(theta[lag_at])
    lagged: bool = False

    @property
    def structural(self) -> int:
        """Parameters the simulator has: organic, q, (E, saturation) per pair, log M."""
        return 3 + 2 * len(self.pairs)

    @property
    def shifted(self) -> list[int]:
        """Pairs that land on a selling channel: they move the repeat orders' split."""
        return [j for j, t in enumerate(self.land) if t >= 0] if self.repeat is not None else []

    @property
    def size(self) -> int:
        """Structural + nuisance (w logits of all but the first selling channel, the log
        reach maximum of each clicked pair, log κ of each visited column, with repeat orders
        the split's logits and each landing pair's log shift η, ℓ logit)."""
        repeat = 0 if self.repeat is None else self.selling + len(self.shifted)
        return (
            self.structural
            + (self.selling - 1)
            + len(self.clicked)
            + len(self.visited)
            + (repeat + 1)
            + int(self.lagged)
        )

    @property
    def lag_at(self) -> int:
        """Where the lag kernel's logit sits in theta: second to last, just before ℓ's."""
        return self.size - 2

    @property
    def kappa_at(self) -> int:
        """Where the visited columns' log κ (sessions per order) start in theta."""
        return self.reach_at + len(self.clicked)

    @property
    def repeat_at(self) -> int:
        """Where the repeat split's logits start (then the shifts η)."""
        return self.kappa_at + len(self.visited)

    @property
    def reach_at(self) -> int:
        """Where the clicked pairs' log reach maxima start in theta."""
        return self.structural + self.selling - 1


def adstock(x: np.ndarray, decay: float) -> np.ndarray:
    """``a_t = decay·a_{t−1} + x_t`` along the first axis (the simulator's interest carry-over:
    yesterday's interest decays in the morning, today's exposure adds to it); the recursion
    as a first-order IIR filter (scipy's lfilter), since least squares calls it thousands of
    times.

    >>> adstock(np.array([[1.0], [0.0], [2.0]]), 0.5).ravel().tolist()
    [1.0, 0.5, 2.25]
    """
    return lfilter([1.0], [1.0, -decay], x, axis=0)


def unpack(theta: np.ndarray, x: AuxInputs) -> dict[str, np.ndarray | float]:
    k = len(x.pairs)
    logits = np.concatenate([[0.0], theta[x.structural : x.structural + x.selling - 1]])
    w = np.exp(logits - logits.max())
    return {
        "organic": float(np.exp(theta[0])),
        "wom": float(max(np.exp(theta[1]) - WOM_OFFSET, 0.0)),
        "effect": np.exp(theta[2 : 2 + k]),
        "saturation": np.exp(theta[2 + k : 2 + 2 * k]),
        "market": float(np.exp(theta[2 + 2 * k])),
        "w": w / w.sum(),
        "reach": np.exp(theta[x.reach_at : x.reach_at + len(x.clicked)]),
        "land": float(1.0 / (1.0 + np.exp(-theta[-1]))) if x.size > x.structural else 1.0,
    }


def predict_daily(theta: np.ndarray, x: AuxInputs) -> np.ndarray:
    """Expected new customers per day and selling channel, ``(days, selling)``."""
    p = unpack(theta, x)
    days = len(x.bought)
    prospects = np.maximum(p["market"] - x.bought, 0.0)
    base = (p["organic"] + p["wom"] * x.bought / p["market"]) * prospects  # (days,)
    out = base[:, None] * p["w"][None, :]
    if x.pairs:
        s = np.stack([x.spend[:days, c, lv] for c, lv in x.pairs], axis=1)
        a = adstock(p["effect"] * -np.expm1(-s / p["saturation"]), x.decay) * prospects[:, None]
        for j, target in enumerate(x.land):
            out += ((1.0 - p["land"]) * a[:, j])[:, None] * p["w"][None, :]
            if target >= 0:
                out[:, target] += p["land"] * a[:, j]
            else:
                out += (p["land"] * a[:, j])[:, None] * p["w"][None, :]
    if x.lagged:  # interest today, first order today or on a later day (geometric)
        r = 1.0 / (1.0 + np.exp(-theta[-2]))  # (lag_at: the same in every layout)
        out = lfilter([1.0 - r], [1.0, -r], out, axis=0)
    return out


def predict_clicks(theta: np.ndarray, x: AuxInputs) -> np.ndarray:
    """Expected ad clicks per day of the clicked pairs, ``(days, clicked)``: everyone in the
    market M can be reached (the simulator's exposure ignores only the churned, few), a share
    ``reach_max × (1 − exp(−spend / saturation))`` is, and ``click_through`` of them click.
    The churned are never reached: as customers accumulate and churn the reachable market
    shrinks, and a curve fitted without that would read the shrinking as saturation."""
    p = unpack(theta, x)
    k = len(x.pairs)
    days = len(x.bought)
    reachable = p["market"] - (0.0 if x.churned is None else x.churned[:days])
    out = np.empty((days, len(x.clicked)))
    for i, j in enumerate(x.clicked):
        c, lv = x.pairs[j]
        share = -np.expm1(-x.spend[:days, c, lv] / np.exp(theta[2 + k + j]))
        out[:, i] = reachable * x.click_through[i] * p["reach"][i] * share
    if x.visited:  # visits: + shopping sessions ∝ the channel's orders
        kappa = np.exp(theta[x.kappa_at : x.kappa_at + len(x.visited)])
        out[:, x.visited] += kappa * x.visit_orders[:days]
    return out


def predict_repeat(theta: np.ndarray, x: AuxInputs) -> np.ndarray:
    """Expected repeat orders per day and selling channel, ``(days, selling)``, given the
    observed total: the in-market customers split by shares (1 − α)·π + α·(where the
    customers so far first bought: loyalty), and an ad or note that reaches a share
    ``1 − exp(−spend / saturation)`` (× the reach) lands them on its channel — a fraction η_p
    of the split moves to that channel (the landing bonus of the simulator's channel choice).
    The total is the data's: only the split carries the spend."""
    k = len(x.pairs)
    days = len(x.bought)
    at = x.repeat_at
    logits = np.concatenate([[0.0], theta[at : at + x.selling - 1]])
    pi = np.exp(logits - logits.max())
    pi /= pi.sum()
    alpha = 1.0 / (1.0 + np.exp(-theta[at + x.selling - 1 + len(x.shifted)]))
    share = np.tile(pi, (days, 1))
    if x.first_mix is not None:  # loyalty: customers return where they first bought
        share = (1 - alpha) * share + alpha * x.first_mix[:days]
    for i, j in enumerate(x.shifted):
        c, lv = x.pairs[j]
        eta = np.exp(theta[at + x.selling - 1 + i])
        moved = eta * -np.expm1(-x.spend[:days, c, lv] / np.exp(theta[2 + k + j]))
        share = share * (1 - moved[:, None])
        share[:, x.land[j]] += moved
    return x.repeat[:days].sum(axis=1, keepdims=True) * share


def weekly_sum(daily: np.ndarray, days: int = 7) -> np.ndarray:
    """Sums over consecutive bins of ``days`` days (weeks by default; a partial last bin is
    dropped)."""
    if days == 1:
        return daily
    weeks = len(daily) // days
    return daily[: weeks * days].reshape(weeks, days, *daily.shape[1:]).sum(axis=1)


@dataclass
class AuxFit:
    theta: np.ndarray  # transformed parameters (see :func:`unpack`)
    cov: np.ndarray  # Laplace covariance of theta (quasi-Poisson scaled)
    dispersion: float  # Pearson χ² / (n − p) of the new customers: 1 for Poisson counts
    fitted: np.ndarray  # weekly expected new customers
    click_dispersion: float = 1.0  # the same for the ad clicks (when given)
    fitted_clicks: np.ndarray | None = None  # weekly expected clicks (+ sessions: visits)
    dispersions: dict[str, float] = field(default_factory=dict)  # per block of moments
    fitted_repeat: np.ndarray | None = None  # weekly expected repeat orders per channel


def _pearson(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return (observed - expected) / np.sqrt(np.maximum(expected, 1.0))


def fit_aux(new_daily: np.ndarray, x: AuxInputs, theta0: np.ndarray, bounds) -> AuxFit:
    """Least squares on weekly new customers per selling channel and, when the history
    reports them, weekly ad clicks or visits of the clicked pairs and the weekly repeat
    orders per selling channel; Pearson residuals ``(observed − expected) / √max(expected,
    1)`` (counts: variance ≈ mean).

    Why clicks: a lever's new customers are a few hundred a week, its clicks thousands — the
    shape of the reach curve (the saturation) is read off them far more precisely, and the
    new customers then only need to tell the effect per reached person. Visits are clicks +
    shopping sessions (κ × the channel's orders, κ fitted): the same curve under more noise.
    Repeat orders: their total is the customer process's, but their split between channels
    moves with each channel's reach (an ad lands the in-market customers it reaches on its
    channel). Each block is weighted by its own dispersion (a second pass divides each
    block's residuals by √(its Pearson χ² ÷ its degrees of freedom)), so a block noisier than
    counts — real clicks vary by weekday and campaign — cannot dominate. The covariance is
    the Gauss–Newton (Laplace) one, ``(JᵀJ)⁻¹`` of the weighted residuals."""

    def binned(daily: np.ndarray) -> np.ndarray:
        return weekly_sum(daily, x.bin_days)

    observed = binned(new_daily)
    traffic = None if not x.clicked else binned(x.clicks)  # a NaN day: a NaN bin
    is_visit = np.isin(np.arange(len(x.clicked)), x.visited)[None, :]
    masks = {}
    if traffic is not None:
        ok = ~np.isnan(traffic)
        masks = {"clicks": ok & ~is_visit, "visits": ok & is_visit}
        masks = {k: m for k, m in masks.items() if m.any()}
    repeat = None if x.repeat is None else binned(x.repeat)
    names = ["new customers", *masks] + (["repeat orders"] if repeat is not None else [])
    scale = np.ones(len(names))

    def parts(theta):
        out = [_pearson(observed, binned(predict_daily(theta, x))).ravel()]
        if masks:
            e = binned(predict_clicks(theta, x))
            out += [_pearson(traffic[m], e[m]) for m in masks.values()]
        if repeat is not None:
            out.append(_pearson(repeat, binned(predict_repeat(theta, x))).ravel())
        return out

    def residuals(theta):
        return np.concatenate([r / sc for r, sc in zip(parts(theta), scale, strict=True)])

    lo, hi = bounds
    start = np.clip(theta0, lo + 1e-9, hi - 1e-9)
    res = least_squares(residuals, start, bounds=bounds)
    k = len(res.x)
    n = res.fun.size
    disp = {}
    for name, r in zip(names, parts(res.x), strict=True):  # dof lost split by block size
        disp[name] = max(float(r @ r) / max(r.size - k * r.size / n, 1), 1e-9)
    if len(names) == 1:
        cov = disp[names[0]] * np.linalg.pinv(res.jac.T @ res.jac + 1e-12 * np.eye(k))
    else:
        scale = np.sqrt([disp[m] for m in names])
        res = least_squares(residuals, res.x, bounds=bounds)
        cov = np.linalg.pinv(res.jac.T @ res.jac + 1e-12 * np.eye(k))
    return AuxFit(
        res.x,
        cov,
        disp["new customers"],
        weekly_sum(predict_daily(res.x, x)),
        disp.get("clicks", disp.get("visits", 1.0)),
        None if traffic is None else weekly_sum(predict_clicks(res.x, x)),
        disp,
        None if repeat is None else weekly_sum(predict_repeat(res.x, x)),
    )
