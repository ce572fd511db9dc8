"""Fitting the acquisition side from a spend history: organic interest, word of mouth and the
response (effect and saturation) of every channel × lever that spent, by indirect inference
with the simulator.

Method (why: the simulator is the model of record, yet it is too slow to sit inside a
least-squares loop; indirect inference keeps it the model and needs a handful of runs):

1. Fit the auxiliary model (:mod:`sim.calibration.response_model`) to the history's new
   customers per channel → β̂ (logs of rates, saturations and the market size M, which the
   order fit alone overstates when a growing budget drives adoption). By day when the counts
   allow (:data:`DAILY_MIN`), with the days from interest to first order as a fitted lag:
   the adstock's response to each weekly spend change plays out over days, which the smooth
   organic trend cannot mimic (with clicks, seeds 1-48 of benchmarks/response_recovery.py:
   log error of the marginal response s.d. 0.097 by week, 0.084 by day; 184 → 189 of 192
   within 20 %; by week a parametric bootstrap of the auxiliary model gave 0.091: that
   estimator was at the limit of its own moments).
2. What the auxiliary model leaves out — shoppers who give up before buying (``interest_lapse``
   against the day's conversion), the days between interest and order — is a near-constant
   factor π on every rate. Simulate the history's spend with the simulator at θ_k
   (``replications`` runs on the process pool, common random numbers across iterations); π_k =
   simulated new customers ÷ the auxiliary model's expectation at θ_k on the simulated
   adoption path; θ_{k+1}'s rates (organic, q, effects) = β̂'s ÷ π_k, saturations as fitted.
   ``iterations`` (default 2) steps. (The full indirect-inference step, θ + β̂ − β(θ) on
   every parameter, was tried first and was unstable: the auxiliary fit of simulated data
   trades organic interest against word of mouth, and the step amplified it.)
3. Uncertainty: the Laplace (Gauss–Newton) covariance of β̂, quasi-Poisson scaled, plus the
   simulation noise of π (the spread of π over the replications ÷ R, on every rate at once);
   θ draws are multivariate normal in the transformed space (so rates stay positive). Without
   clicks or visits the covariance keeps a conservative widening × (1 + M ÷ (agents × R)): the
   Laplace one alone covered the true marginal response in only 40 of 48 channel-seeds; with
   them it is widened by :data:`TRAFFIC_WIDENING` (measured). An ABC/SMC posterior would need
   thousands of simulated years; this needs ``iterations × replications``.

Identifiability: without clicks, a lever's reach and its impact enter only as their product E
(= reach × impact × content response): E and the saturation are fitted, the reach is kept at
the scenario's value and the impact = E ÷ (reach × content). With daily ``clicks`` per
channel (a channel with one fitted lever), weekly clicks = reachable market × click_through ×
reach × (1 − exp(−spend / saturation)) are a second block of moments fitted jointly with the
new customers (:func:`sim.calibration.response_model.fit_aux`): thousands of clicks a week pin
the curve's shape, the reach maximum is read off them, and the first orders then only tell
the effect per reached person. Without clicks, a selling channel's daily ``visits`` do the
same (visits = clicks + shopping sessions, sessions = κ × its orders, κ fitted). The order
file's repeat orders per channel are a moment too (their split between the channels that are
not private — a private channel's share grows with its pool, which the join fit covers — and
ads move that split by landing the customers they reach), but they add little: ads move ≈ 2 %
of them. Without clicks or visits the saturation of each lever stays weakly identified (its
95 % interval spans a factor ≈ 15, the marginal response's ≈ 12): the report warns per lever
(:func:`sim.calibration.response_scenario.marginal_warnings`). Private operations act on the
pool, not on new customers:
their join response is fitted from the orders in :mod:`sim.calibration.response_private`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.response_inputs import (
    PREFIX,
    add_clicks,
    add_visits,
    aux_inputs,
    search_bounds,
    start_values,
    traffic_start,
)
from sim.calibration.response_model import (
    WOM_OFFSET,
    AuxFit,
    AuxInputs,
    fit_aux,
    predict_daily,
    unpack,
)
from sim.calibration.spend_history import simulate_with_spend
from sim.experiments.evaluation import make_executor
from sim.scenario.spend_file import LEVERS

IDENTIFIED_RATIO = 25.0  # a 95 % interval wider than this factor: not identified by the history
# With clicks or visits the Laplace covariance is too narrow: over seeds 1-24 of
# benchmarks/response_recovery.py the fitted ÷ true marginal response varied with a log
# variance 1.43× (clicks; 1.47× visits) the one reported (its intervals held the truth in
# 172 of 192 channel-seeds over seeds 1-48); the first orders' weeks are not independent
# counts. Checked on seeds 25-48, not used to set it.
TRAFFIC_WIDENING = 1.5
# Moments by day (+ the interest → order lag) when every selling channel with first orders
# averages this many a day, else by week: Pearson least squares is biased on bins of a few counts
# (6 000 people, ≈ 4 a day: validation holdout error 7 % by week, 17 % by day; benchmark ≈ 55).
DAILY_MIN = 20.0


@dataclass
class ResponseFit:
    """The fitted acquisition parameters, their draws and how the fit went."""

    names: list[str]  # dotted scenario paths of the structural parameters
    estimate: dict[str, float]  # path → value (natural units)
    draws: pd.DataFrame  # one column per path, one row per draw
    reach: dict[str, float]  # paths of reach maxima → value (from clicks or held)
    aux: AuxFit
    iterations: list[dict[str, float]] = field(default_factory=list)  # θ after each step
    notes: list[str] = field(default_factory=list)
    market_size: float = 0.0  # M: everyone who would ever buy, from the first day (real)
    market_interval: tuple[float, float] = (0.0, 0.0)  # its 95 % interval
    factors: list[float] = field(default_factory=list)  # π of each step (simulated ÷ auxiliary)
    moments: list[str] = field(default_factory=list)  # what the fit matched
    content: float = 1.0  # the segments' content response (E = reach × impact × content)

    def interval(self, path: str, level: float = 0.95) -> tuple[float, float]:
        q = (1 - level) / 2
        col = self.draws[path]
        return float(col.quantile(q)), float(col.quantile(1 - q))

    def identified(self, path: str) -> bool:
        """The history pins ``path`` down: its 95 % interval spans at most a factor
        :data:`IDENTIFIED_RATIO` (a lever whose spend stayed in the linear part of its curve
        has a saturation anywhere above it, and an interval to match)."""
        lo, hi = self.interval(path)
        return lo > 0 and hi / lo <= IDENTIFIED_RATIO

    def apply(self, raw: dict[str, Any], values: dict[str, float] | None = None) -> dict:
        """A copy of scenario dict ``raw`` with the fitted values (or ``values``) set."""
        return with_values(raw, {**self.reach, **(values or self.estimate)})


def with_values(raw: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    """Set dotted paths (``market.x``, ``channels.ID.response.y``) in a copy of ``raw``."""
    out = copy.deepcopy(raw)
    by_id = {c["id"]: c for c in out["channels"]}
    for path, v in values.items():
        parts = path.split(".")
        if parts[0] == "market":
            out["market"][parts[1]] = float(v)
        else:
            by_id[parts[1]].setdefault(parts[2], {})[parts[3]] = float(v)
    return out


def content_mean(raw: dict[str, Any]) -> float:
    """The segments' share-weighted content response (× effect of ads and notes)."""
    segs = raw["market"].get("segments") or [{"share": 1.0}]
    return float(sum(s.get("share", 1.0) * s.get("content_response", 1.0) for s in segs))


def fit_response(
    raw: dict[str, Any],
    spend: np.ndarray,
    new_daily: np.ndarray,
    *,
    clicks: np.ndarray | None = None,
    visits: np.ndarray | None = None,
    orders: np.ndarray | None = None,
    repeat: bool = True,
    replications: int = 4,
    iterations: int = 2,
    draws: int = 200,
    seed: int = 0,
    workers: int = 1,
    before: float | None = None,
) -> ResponseFit:
    """Fit ``raw``'s acquisition parameters to a history that starts on its horizon's first day.

    ``spend`` is ``(days, channels, 3)`` CNY per day in the scenario's channel order,
    ``new_daily`` ``(days, channels)`` first orders per channel (real customers), ``clicks``
    optional ``(days, channels)``, ``visits`` optional ``(days, channels)`` (used where a
    channel has no clicks), ``orders`` optional ``(days, channels)`` all orders per channel
    (their repeat part, orders − first orders, is a moment unless ``repeat`` is False),
    ``before`` the people who bought
    before the first day
    (default: ``initial_customers × real_customers``). The market size is fitted; ``raw``'s
    ``market.customers`` is the resolution of the simulations; ``raw['horizon']['days']`` is
    the history's length.
    """
    from sim.scenario import build_scenario

    sc = build_scenario(raw)
    days = sc.horizon.days
    if before is None:
        before = sc.market.initial_customers * sc.market.real_customers
    x, names = aux_inputs(sc, spend[:days], new_daily[:days], before)
    selling = [i for i, c in enumerate(sc.channels) if c.sells]
    per_day = new_daily[:days, selling].mean(axis=0)
    x.lagged = bool((per_day > 0).any() and per_day[per_day > 0].min() >= DAILY_MIN)
    x.bin_days = 1 if x.lagged else 7
    if visits is not None:  # a channel that sells nothing: every visit is an ad/note click
        merged = np.full((days, len(sc.channels)), np.nan) if clicks is None else clicks.copy()
        for c in set(range(len(sc.channels))) - set(selling):
            if np.isnan(merged[:days, c]).all():
                merged[:days, c] = visits[:days, c]
        clicks = None if np.isnan(merged).all() else merged
    add_clicks(x, sc, None if clicks is None else clicks[:days])
    add_visits(x, sc, visits, orders, days)
    if orders is not None and repeat:  # repeat orders: their split between channels is a moment
        x.repeat = np.maximum(orders[:days, selling] - new_daily[:days, selling], 0.0)
        x.repeat[:, [sc.channels[c].family == "private" for c in selling]] = 0.0
        cum = np.cumsum(new_daily[:days, selling], axis=0) + 1.0
        x.first_mix = np.vstack(
            [np.full(len(selling), 1 / len(selling)), (cum / cum.sum(1, keepdims=True))[:-1]]
        )
    bounds = search_bounds(x, spend, new_daily[:days, selling])
    theta0 = start_values(x, new_daily[:days, selling], spend)
    if x.clicked:  # the reach maxima's start: clicks through the origin at the start's curves
        m0 = float(np.exp(theta0[2 + 2 * len(x.pairs)]))
        start_reach = _reach_from_clicks(
            sc, x, None if clicks is None else clicks[:days], theta0, m0
        )
        theta0[x.reach_at : x.reach_at + len(x.clicked)] = np.log(
            [start_reach[f"{names[j]}_reach_max"] for j in x.clicked]
        )
        traffic_start(x, theta0, m0)
    data_fit = fit_aux(new_daily[:days, selling], x, theta0, bounds)
    s = x.structural
    m_at = 2 + 2 * len(x.pairs)  # log M in theta
    market = float(np.exp(data_fit.theta[m_at]))
    reach = _held_reach(sc, x)
    fitted_reach = unpack(data_fit.theta, x)["reach"]
    for i, j in enumerate(x.clicked):  # read off the clicks, jointly with the curves
        reach[f"{names[j]}_reach_max"] = float(fitted_reach[i])
    theta = data_fit.theta.copy()
    rates = np.r_[0, 2 : 2 + len(x.pairs)]  # organic and effects: scaled by the factor
    factors: list[float] = []
    content = content_mean(raw)
    history = [_natural(theta, x, names, content, reach)]
    with make_executor(workers=workers) as ex:
        for _ in range(iterations):
            run_raw = with_values(
                raw,
                {
                    **reach,
                    **history[-1],
                    "market.real_customers": market,
                    "market.initial_customers": min(before / market, 1.0),
                },
            )
            futures = [
                ex.submit(simulate_with_spend, run_raw, spend[:days], seed, r)
                for r in range(replications)
            ]
            runs = [f.result()["new_customers"] for f in futures]
            sim_new = np.mean(runs, axis=0)
            xs = aux_inputs(sc, spend[:days], sim_new, before)[0]
            xs.lagged = x.lagged  # (theta's lag logit is its second to last either way)
            expected = predict_daily(theta, xs).sum()
            factor = float(sim_new[:, selling].sum() / max(expected, 1e-9))
            each = [r[:, selling].sum() / max(expected, 1e-9) for r in runs]
            var_log_factor = float(np.var(np.log(np.maximum(each, 1e-12)), ddof=1)) / len(runs)
            factors.append(factor)
            theta[rates] = np.clip(
                data_fit.theta[rates] - np.log(factor), bounds[0][rates], bounds[1][rates]
            )
            wom = max(np.exp(data_fit.theta[1]) - WOM_OFFSET, 0.0) / factor
            theta[1] = np.log(wom + WOM_OFFSET)
            history.append(_natural(theta, x, names, content, reach))
    # π's simulation noise moves every rate together (one factor): it adds to their common
    # direction only; the saturations, the market size and the shares do not depend on it.
    # Without clicks the Laplace covariance alone is overconfident (the saturation sits in a
    # flat, skewed valley: measured 40 of 48 marginal responses covered, benchmarks/
    # response_recovery.py), so it keeps the conservative widening × (1 + M ÷ (agents × R)).
    cov = data_fit.cov[:s, :s].copy()
    if not x.clicked:
        cov *= 1.0 + market / sc.market.customers / replications
    else:  # measured: the Laplace variance is short by this factor with clicks or visits
        cov *= TRAFFIC_WIDENING
    if iterations and replications > 1:
        u = np.zeros(s)
        u[rates] = 1.0
        u[1] = 1.0  # log(q + offset) ≈ log q for the q the data can see
        cov += var_log_factor * np.outer(u, u)
    sample, markets = _draws(theta[:s], cov, x, names, content, reach, draws, seed, bounds)
    per = "daily" if x.bin_days == 1 else "weekly"  # (lagged: daily, see DAILY_MIN)
    moments = [f"{per} new customers per selling channel" + " (lagged)" * x.lagged] + [
        f"{per} {'visits' if i in x.visited else 'ad clicks'} of {names[j].split('.')[1]} "
        f"({names[j].rsplit('.', 1)[1]})"
        for i, j in enumerate(x.clicked)
    ]
    if x.repeat is not None:
        moments.append(f"{per} repeat orders per selling channel (their split)")
    notes = []
    if data_fit.dispersion > 3:
        notes.append(
            f"{per} new customers vary {data_fit.dispersion:.1f}× more than counts would "
            "(dispersion): intervals are widened by it; something the model lacks moves them"
        )
    return ResponseFit(
        names,
        history[-1],
        sample,
        reach,
        data_fit,
        history,
        notes,
        market,
        (float(np.quantile(markets, 0.025)), float(np.quantile(markets, 0.975))),
        factors,
        moments,
        content,
    )


# ---- pieces ------------------------------------------------------------------------------------
def _held_reach(sc, x: AuxInputs) -> dict[str, float]:
    """Every fitted lever's reach maximum at the scenario's value (without clicks, reach and
    impact enter only as their product)."""
    out = {}
    for c, lv in x.pairs:
        ch, lever = sc.channels[c], LEVERS[lv]
        name = f"channels.{ch.id}.response.{PREFIX[lever]}_reach_max"
        out[name] = float(getattr(ch.response, f"{PREFIX[lever]}_reach_max"))
    return out


def _reach_from_clicks(sc, x, clicks, theta, market: float) -> dict[str, float]:
    """Reach maxima: from clicks when given (least squares through the origin, closed form,
    with the fitted saturation), else the scenario's values, held."""
    p = unpack(theta, x)
    out = {}
    for j, (c, lv) in enumerate(x.pairs):
        ch = sc.channels[c]
        lever = LEVERS[lv]
        path = f"channels.{ch.id}.response.{PREFIX[lever]}_reach_max"
        held = getattr(ch.response, f"{PREFIX[lever]}_reach_max")
        others = [i for i, (cc, _) in enumerate(x.pairs) if cc == c]
        if clicks is None or len(others) > 1 or np.isnan(clicks[:, c]).all():
            out[path] = float(held)
            continue
        g = market * ch.response.click_through * -np.expm1(-x.spend[:, c, lv] / p["saturation"][j])
        ok = ~np.isnan(clicks[: len(g), c])
        out[path] = float(min(max((clicks[: len(g), c][ok] @ g[ok]) / (g[ok] @ g[ok]), 1e-6), 1.0))
    return out


def _natural(theta, x, names, content, reach) -> dict[str, float]:
    """θ → scenario values: organic, q, and per pair its saturation and impact."""
    p = unpack(theta, x)
    out = {"market.organic_interest": p["organic"], "market.word_of_mouth": p["wom"]}
    for j, name in enumerate(names):
        out[f"{name}_saturation"] = float(p["saturation"][j])
        out[f"{name}_impact"] = float(p["effect"][j] / (reach[f"{name}_reach_max"] * content))
    return out


def _draws(
    theta, cov, x, names, content, reach, n, seed, bounds
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng([seed, 15])
    cov = (cov + cov.T) / 2
    w, v = np.linalg.eigh(cov)
    z = rng.standard_normal((n, len(theta))) * np.sqrt(np.maximum(w, 0.0))
    rows, markets = [], []
    full = np.zeros(x.size)
    for t in theta + z @ v.T:
        full[: len(theta)] = np.clip(t, bounds[0][: len(theta)], bounds[1][: len(theta)])
        full[len(theta) :] = 0.0
        rows.append(_natural(full, x, names, content, reach))
        markets.append(unpack(full, x)["market"])
    return pd.DataFrame(rows), np.array(markets)
