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

    @property
    def structural(self) -> int:
        """Parameters the simulator has: organic, q, (E, saturation) per pair, log M."""
        return 3 + 2 * len(self.pairs)

    @property
    def size(self) -> int:
        """Structural + nuisance (w logits of all but the first selling channel, the log
        reach maximum of each clicked pair, ℓ logit)."""
        return self.structural + (self.selling - 1) + len(self.clicked) + 1

    @property
    def reach_at(self) -> int:
        """Where the clicked pairs' log reach maxima start in theta."""
        return self.structural + self.selling - 1


def adstock(x: np.ndarray, decay: float) -> np.ndarray:
    """``a_t = decay·a_{t−1} + x_t`` along the first axis (the simulator's interest carry-over:
    yesterday's interest decays in the morning, today's exposure adds to it)."""
    out = np.empty_like(x)
    acc = np.zeros(x.shape[1:])
    for t in range(len(x)):
        acc = decay * acc + x[t]
        out[t] = acc
    return out


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
    return out


def weekly_sum(daily: np.ndarray) -> np.ndarray:
    weeks = len(daily) // 7
    return daily[: weeks * 7].reshape(weeks, 7, *daily.shape[1:]).sum(axis=1)


@dataclass
class AuxFit:
    theta: np.ndarray  # transformed parameters (see :func:`unpack`)
    cov: np.ndarray  # Laplace covariance of theta (quasi-Poisson scaled)
    dispersion: float  # Pearson χ² / (n − p) of the new customers: 1 for Poisson counts
    fitted: np.ndarray  # weekly expected new customers
    click_dispersion: float = 1.0  # the same for the ad clicks (when given)
    fitted_clicks: np.ndarray | None = None  # weekly expected clicks of the clicked pairs


def fit_aux(new_daily: np.ndarray, x: AuxInputs, theta0: np.ndarray, bounds) -> AuxFit:
    """Least squares on weekly new customers per selling channel and, when the history
    reports them, weekly ad clicks of the clicked pairs; Pearson residuals
    ``(observed − expected) / √max(expected, 1)`` (counts: variance ≈ mean).

    Why clicks: a lever's new customers are a few hundred a week, its clicks thousands — the
    shape of the reach curve (the saturation) is read off them far more precisely, and the
    new customers then only need to tell the effect per reached person. The two blocks are
    weighted by their own dispersion (a second pass divides each block's residuals by
    √(its Pearson χ² ÷ its degrees of freedom)), so a block noisier than counts — real clicks
    vary by weekday and campaign — cannot dominate. The covariance is the Gauss–Newton
    (Laplace) one, ``(JᵀJ)⁻¹`` of the weighted residuals."""
    observed = weekly_sum(new_daily)
    clicks = None if not x.clicked else weekly_sum(x.clicks)  # a NaN day: a NaN week
    ok = None if clicks is None else ~np.isnan(clicks)
    scale = np.ones(2)

    def residuals(theta):
        expected = weekly_sum(predict_daily(theta, x))
        r = ((observed - expected) / np.sqrt(np.maximum(expected, 1.0))).ravel() / scale[0]
        if clicks is None:
            return r
        e = weekly_sum(predict_clicks(theta, x))
        rc = (clicks[ok] - e[ok]) / np.sqrt(np.maximum(e[ok], 1.0)) / scale[1]
        return np.concatenate([r, rc])

    lo, hi = bounds
    start = np.clip(theta0, lo + 1e-9, hi - 1e-9)
    res = least_squares(residuals, start, bounds=bounds)
    n, k = res.fun.size, len(res.x)
    n_new = observed.size
    if clicks is None:
        dispersion = max(float(res.fun @ res.fun) / max(n - k, 1), 1e-9)
        click_dispersion = 1.0
        cov = dispersion * np.linalg.pinv(res.jac.T @ res.jac + 1e-12 * np.eye(k))
    else:
        share = n_new / n  # degrees of freedom lost, split by block size
        rn, rc = res.fun[:n_new], res.fun[n_new:]
        dispersion = max(float(rn @ rn) / max(n_new - k * share, 1), 1e-9)
        click_dispersion = max(float(rc @ rc) / max(rc.size - k * (1 - share), 1), 1e-9)
        scale = np.sqrt([dispersion, click_dispersion])
        res = least_squares(residuals, res.x, bounds=bounds)
        cov = np.linalg.pinv(res.jac.T @ res.jac + 1e-12 * np.eye(k))
    return AuxFit(
        res.x,
        cov,
        dispersion,
        weekly_sum(predict_daily(res.x, x)),
        click_dispersion,
        None if clicks is None else weekly_sum(predict_clicks(res.x, x)),
    )
