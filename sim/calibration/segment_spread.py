"""Spread within several segments: a BG/NBD per segment, or none, chosen by BIC.

With ``--segments N > 1`` each customer already carries a segment label (quantiles of
frequency or spend, or the most likely latent renewal class). Within each segment customers
may still differ; this fits, per segment, the BG/NBD (gamma purchase rates, beta-geometric
dropout after purchases) on its members' (x, t_x, T) and compares, on the whole cohort, the
segments without spread (each its own renewal cycle and cv, one market-wide hazard) against
the segments with their own BG/NBD spread. Both likelihoods are conditional on the same labels,
so they are comparable (n = cohort customers; ``none`` has 2 parameters per segment + the
shared hazard, ``rate+dropout`` 4 per segment).

Only these two are compared, and the output says so: ``rate`` and ``rate+lifetime`` give each
segment its own daily churn hazard, which the scenario cannot carry (``market.churn`` is one
number), and ``latent`` classes are themselves segments. A segment with no repeat purchase has
no BG/NBD to fit (its customers never come back: the choice is ``none``).

When the BG/NBD per segment wins, each segment's BG/NBD is estimated again in purchase days
(:mod:`sim.calibration.purchase_days`), as for one segment (:mod:`sim.calibration.day_variants`):
the data count purchase days and the simulator sells at most once a day, so the scenario gets
the purchase-day estimate (``rate+dropout/day``; the comparison itself stays the one above).
``--heterogeneity rate+dropout`` forces the continuous fits into the scenario, and
``rate+dropout/day`` the purchase-day ones. Latent segments (``soft``) are then refitted as one
purchase-day mixture on the whole cohort (``latent/day``): a label is each customer's most
likely class, which depends on the outcome (a customer who did not buy is labelled slow), so
fits on hard labels are biased; the mixture weighs every history on every class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibration.bgnbd import BGNBD, fit_bgnbd, limits_noted
from sim.calibration.day_variants import SCALE
from sim.calibration.heterogeneity import fresh_equivalent
from sim.calibration.histories import member_gaps
from sim.calibration.latent import LatentBGNBD, fit_latent_bgnbd
from sim.calibration.purchase_days import VARIANT as DAY_TWIN
from sim.calibration.purchase_days import PurchaseDayBGNBD, fit_purchase_day_bgnbd
from sim.calibration.renewal import MAX_GAP_DAYS, RenewalFit, _day_logliks

WHY = (
    "with several segments only none and rate+dropout (a BG/NBD per segment) are compared: "
    "rate and rate+lifetime need a churn hazard per segment, but market.churn is market-wide; "
    "latent classes are segments themselves"
)
# what --heterogeneity may be with several segments
CHOICES = ("auto", "none", "rate+dropout", DAY_TWIN)
SOFT = "latent/day"  # latent segments: their purchase-day BG/NBDs as one soft mixture
CONDITIONAL = (
    "BIC on the calibration cohort, conditional on the segment labels (the holdout is not used)"
)
UNCONDITIONAL = (
    "BIC on the calibration cohort's purchase days, no labels: the latent renewal mixture "
    "(none) against the segments' purchase-day BG/NBDs refitted as one mixture (latent/day); "
    "the holdout is not used"
)


@dataclass(frozen=True)
class SegmentSpread:
    """The per-segment BG/NBD fits, the joint BIC of none vs rate+dropout, and the winner:
    ``none``, ``rate+dropout`` (forced: the continuous fits simulated), ``rate+dropout/day``
    (the segments' BG/NBDs estimated in purchase days, :attr:`day_fits`, simulated) or, for
    latent segments, ``latent/day`` (those fits refitted as one mixture, :attr:`mixture`)."""

    winner: str
    table: dict[str, dict[str, float]]
    fits: dict[str, BGNBD] = field(repr=False, default_factory=dict)
    notes: list[str] = field(default_factory=list)
    day_fits: dict[str, PurchaseDayBGNBD] = field(repr=False, default_factory=dict)
    # the scenario's segment shares when a fit per segment is simulated: each segment's share
    # of the cohort by its labels, the customers its fit describes (a latent renewal class's
    # weight is not: hard labels put fewer customers in a fast class than its weight), or
    # the soft mixture's weights
    shares: dict[str, float] = field(default_factory=dict)
    mixture: LatentBGNBD | None = field(repr=False, default=None)
    label_shares: dict[str, float] = field(default_factory=dict)
    criterion: str = CONDITIONAL

    def summary(self) -> dict:
        out = {
            "chosen": self.winner,
            "criterion": self.criterion,
            "why_only_these": WHY,
            "variants": self.table,
            "fits": {s: f.params() | {"loglik_weeks": f.loglik} for s, f in self.fits.items()},
            "notes": self.notes,
            "label_shares": {s: float(v) for s, v in self.label_shares.items()},
        }
        if self.day_fits:
            out["structure"] = "rate+dropout"
            out["shares_simulated"] = self.shares
            out["day_fits"] = {
                s: f.params() | {"loglik_days": f.loglik} for s, f in self.day_fits.items()
            }
        return out

    @property
    def simulated(self) -> dict[str, BGNBD | PurchaseDayBGNBD]:
        """Each segment's fit the scenario carries (none: empty)."""
        by_winner = {"none": {}, "rate+dropout": self.fits, DAY_TWIN: self.day_fits}
        return (by_winner | {SOFT: self.day_fits})[self.winner]  # the mixture's classes

    def fields(self, segment: str, pi: float) -> dict[str, float | str]:
        """The segment's spread fields when a BG/NBD per segment won (π: a need ends in a
        purchase); empty otherwise. Purchase days: rate shape α_q, rate_beta β_q and cycle
        π(α_q+β_q)/α_q (each customer's daily chance is the fitted Beta(α_q, β_q) itself)."""
        f = self.simulated.get(segment)
        if f is None:
            return {}
        beta = {"rate_beta": float(f"{f.bq:.6g}")} if isinstance(f, PurchaseDayBGNBD) else {}
        return beta | {
            "cycle_distribution": "exponential",
            "cycle_cv": 1.0,
            "rate_shape": float(f"{f.r:.6g}"),
            "purchase_cycle_days": float(f"{pi * f.alpha * f.unit_days / f.r:.6g}"),
            "dropout_a": float(f"{f.a:.6g}"),
            "dropout_b": float(f"{f.b:.6g}"),
        }

    def p_alive(self, hist: pd.DataFrame, labels: pd.Series) -> np.ndarray:
        """P(alive at the end of the window) of each cohort customer under its segment's fit
        (the mixture: over the classes, weighted by the customer's responsibilities)."""
        if self.mixture is not None:
            return self.mixture.p_alive(hist["x"], hist["t_x"], hist["T"])
        out = np.zeros(len(hist))
        for seg, f in self.simulated.items():
            m = (labels == seg).to_numpy()
            u = f.unit_days
            out[m] = f.p_alive(hist["x"][m], hist["t_x"][m] / u, hist["T"][m] / u)
        return out

    def effective_alive(self, customers: pd.DataFrame, shares: dict, horizon_days: float) -> float:
        """Σᵢ E[Y(h) | history, its segment] ÷ Σ_s share_s E_s[X(h)]: as many fresh customers,
        drawn over the segments by their shares, buy over h what the alive are expected to (as
        :func:`sim.calibration.heterogeneity.effective_alive` for one segment)."""
        if self.mixture is not None:  # one model of every customer, as for one segment
            return fresh_equivalent(self.mixture, customers, horizon_days, unit=1.0)
        expected = fresh = 0.0
        for seg, f in self.simulated.items():
            c = customers[customers["segment"] == seg]
            u, h = f.unit_days, horizon_days / f.unit_days
            expected += float(f.conditional_expected(h, c["x"], c["t_x"] / u, c["T"] / u).sum())
            fresh += shares[seg] * float(f.expected(h))
        return expected / fresh if fresh > 0 else float(customers["p_alive"].sum())


def fit_segment_spread(
    hist: pd.DataFrame,
    labels: pd.Series,
    orders: pd.DataFrame,
    start: pd.Timestamp,
    silences: np.ndarray,
    fits: dict[str, RenewalFit],
    *,
    unit_days: float,
    only: str = "auto",
    soft: bool = False,
) -> SegmentSpread:
    """Fit a BG/NBD on each segment's members and pick none / rate+dropout by joint BIC.

    ``fits``: each segment's renewal fit (``none``), evaluated on its members' gaps and
    silences; ``only``: ``auto`` or a forced ``none`` / ``rate+dropout`` /
    ``rate+dropout/day`` (others are refused by the caller). A BG/NBD per segment, chosen
    (``auto``) or forced as ``rate+dropout/day``, is estimated again in purchase days; with
    ``soft`` (latent segments) those fits are then refitted as one mixture, each customer
    weighing on every class (``latent/day``), since labels cut on the outcome bias the fits."""
    notes: list[str] = []
    ll_none = ll_bg = 0.0
    bg_fits: dict[str, BGNBD] = {}
    x_all = 0.0
    for seg, renewal in fits.items():
        members = hist.index[labels == seg]
        m = hist.loc[members]
        ll_none += _renewal_loglik(
            renewal, member_gaps(orders, members, start), silences[hist.index.isin(members)]
        )
        if m["x"].sum() == 0 or len(m) < 2:
            notes.append(f"segment {seg}: no repeat purchase, no BG/NBD to fit")
            bg_fits = {}
            break
        with limits_noted(notes, f"segment {seg}: "):
            f = fit_bgnbd(m["x"], m["t_x"] / unit_days, m["T"] / unit_days, unit_days=unit_days)
        bg_fits[seg] = f
        ll_bg += f.loglik
        x_all += float(m["x"].sum())
    n, s = len(hist), len(fits)
    shares = {seg: float((labels == seg).mean()) for seg in fits}
    table = {"none": _row(ll_none, 2 * s + 1, n)}
    if bg_fits:
        table["rate+dropout"] = _row(ll_bg - x_all * math.log(unit_days), 4 * s, n)
    if soft and only not in ("none", "rate+dropout"):
        return _soft_spread(hist, labels, fits, bg_fits, notes, only, shares)
    if only == "auto":
        winner = min(table, key=lambda v: table[v]["bic"])
    else:
        winner = "rate+dropout" if only == DAY_TWIN and bg_fits else only
        winner = winner if winner in table else "none"
        if winner == "none" and only != "none":
            notes.append(f"--heterogeneity {only}: not possible here, the segments carry none")
    if winner == "rate+dropout" and only != "rate+dropout":
        day_fits = _in_days(hist, labels, bg_fits, notes)
        loglik = sum(f.loglik for f in day_fits.values())
        table[DAY_TWIN] = _row(loglik, 4 * s, n) | {"scale": SCALE}
        return SegmentSpread(DAY_TWIN, table, bg_fits, notes, day_fits, shares, None, shares)
    return SegmentSpread(winner, table, bg_fits, notes, shares=shares, label_shares=shares)


def _soft_spread(hist, labels, fits, bg_fits, notes, only, shares) -> SegmentSpread:
    """Latent segments: the latent renewal mixture as fitted (``none``; each class's fit
    carries the mixture's log-likelihood) against the segments' purchase-day BG/NBDs refitted
    as one mixture (``latent/day``), both likelihoods of the whole cohort's purchase days with
    no labels, so the BIC compares them; ``only`` auto, or the BG/NBDs forced."""
    n, k = len(hist), len(fits)
    day_fits = _in_days(hist, labels, bg_fits, notes)  # none if a segment never came back
    mix = _soft(hist, day_fits, shares)
    renewal = next(iter(fits.values())).loglik
    table = {  # K cycles, K cvs, K − 1 weights, one hazard; 4 per class, K − 1 weights
        "none": _row(renewal, 3 * k, n) | {"classes": k},
        SOFT: _row(mix.loglik, mix.parameters, n) | {"classes": k},
    }
    if only == "auto" and table["none"]["bic"] <= table[SOFT]["bic"]:
        return SegmentSpread(
            "none",
            table,
            bg_fits,
            notes,
            shares=shares,
            label_shares=shares,
            criterion=UNCONDITIONAL,
        )
    by_seg = dict(zip(fits, mix.classes, strict=True))  # both slowest first
    weights = dict(zip(fits, mix.weights, strict=True))
    return SegmentSpread(
        SOFT, table, bg_fits, notes, by_seg, weights, mix, shares, criterion=UNCONDITIONAL
    )


def _soft(
    hist: pd.DataFrame, fits: dict[str, PurchaseDayBGNBD], shares: dict[str, float]
) -> LatentBGNBD:
    """The segments' purchase-day BG/NBDs refitted as one mixture on the whole cohort (each
    history weighs on every class by its likelihood there), started from the hard-label fits
    at the label shares and from the usual starts around one class."""
    x, t_x, T = (hist[c].to_numpy(float) for c in ("x", "t_x", "T"))
    one = fit_purchase_day_bgnbd(x, t_x, T)
    hard = None
    if fits:
        hard = LatentBGNBD(
            tuple(shares.values()), tuple(fits.values()), unit_days=1.0, family="days"
        )
    return fit_latent_bgnbd(
        x, t_x, T, classes=len(shares), start=one, unit_days=1.0, family="days", also=hard
    )


def _in_days(
    hist: pd.DataFrame, labels: pd.Series, fits: dict[str, BGNBD], notes: list[str]
) -> dict[str, PurchaseDayBGNBD]:
    """Each segment's BG/NBD estimated again in purchase days, started from its continuous
    fit (r, α in days, a, b); a fit that ends at a bound of its search is noted."""
    out = {}
    for seg, f in fits.items():
        m = hist.loc[labels == seg]
        start = (f.r, f.alpha * f.unit_days, f.a, f.b)
        with limits_noted(notes, f"segment {seg}: "):
            out[seg] = fit_purchase_day_bgnbd(m["x"], m["t_x"], m["T"], start=start)
    return out


def _row(ll: float, k: int, n: int) -> dict[str, float]:
    return {"loglik": ll, "parameters": k, "aic": 2 * k - 2 * ll, "bic": k * math.log(n) - 2 * ll}


def _renewal_loglik(fit: RenewalFit, gaps: np.ndarray, silences: np.ndarray) -> float:
    """The renewal process's exact day-level log-likelihood of these gaps and silences (as
    :func:`sim.calibration.renewal.fit_renewal` maximises it)."""
    gaps = np.asarray(gaps, dtype=int)
    silences = np.asarray(silences, dtype=int)
    n = int(min(max(gaps.max(initial=1), silences.max(initial=1)) + 2, MAX_GAP_DAYS))
    gaps, silences = np.minimum(gaps, n - 2), np.minimum(silences, n - 2)
    ll_gap, ll_silence = _day_logliks(
        fit.cycle_days, fit.cycle_cv, fit.hazard, fit.conversion, fit.lapse, n
    )
    return float(ll_gap[gaps].sum() + ll_silence[silences].sum())
