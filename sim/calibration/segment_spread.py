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
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.calibration.bgnbd import BGNBD, BGNBDLimitWarning, fit_bgnbd
from sim.calibration.histories import member_gaps
from sim.calibration.renewal import MAX_GAP_DAYS, RenewalFit, _day_logliks

WHY = (
    "with several segments only none and rate+dropout (a BG/NBD per segment) are compared: "
    "rate and rate+lifetime need a churn hazard per segment, but market.churn is market-wide; "
    "latent classes are segments themselves"
)


@dataclass(frozen=True)
class SegmentSpread:
    """The per-segment BG/NBD fits, the joint BIC of none vs rate+dropout, and the winner."""

    winner: str
    table: dict[str, dict[str, float]]
    fits: dict[str, BGNBD] = field(repr=False, default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "chosen": self.winner,
            "criterion": "BIC on the calibration cohort, conditional on the segment labels "
            "(the holdout is not used)",
            "why_only_these": WHY,
            "variants": self.table,
            "fits": {s: f.params() | {"loglik_weeks": f.loglik} for s, f in self.fits.items()},
            "notes": self.notes,
        }

    def fields(self, segment: str, pi: float) -> dict[str, float | str]:
        """The segment's spread fields when ``rate+dropout`` won (π: a need ends in a
        purchase); empty otherwise."""
        if self.winner != "rate+dropout":
            return {}
        f = self.fits[segment]
        return {
            "cycle_distribution": "exponential",
            "cycle_cv": 1.0,
            "rate_shape": float(f"{f.r:.6g}"),
            "purchase_cycle_days": float(f"{pi * f.alpha * f.unit_days / f.r:.6g}"),
            "dropout_a": float(f"{f.a:.6g}"),
            "dropout_b": float(f"{f.b:.6g}"),
        }

    def p_alive(self, hist: pd.DataFrame, labels: pd.Series) -> np.ndarray:
        """P(alive at the end of the window) of each cohort customer under its segment's fit."""
        out = np.zeros(len(hist))
        for seg, f in self.fits.items():
            m = (labels == seg).to_numpy()
            u = f.unit_days
            out[m] = f.p_alive(hist["x"][m], hist["t_x"][m] / u, hist["T"][m] / u)
        return out

    def effective_alive(self, customers: pd.DataFrame, shares: dict, horizon_days: float) -> float:
        """Σᵢ E[Y(h) | history, its segment] ÷ Σ_s share_s E_s[X(h)]: as many fresh customers,
        drawn over the segments by their shares, buy over h what the alive are expected to (as
        :func:`sim.calibration.heterogeneity.effective_alive` for one segment)."""
        expected = fresh = 0.0
        for seg, f in self.fits.items():
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
) -> SegmentSpread:
    """Fit a BG/NBD on each segment's members and pick none / rate+dropout by joint BIC.

    ``fits``: each segment's renewal fit (``none``), evaluated on its members' gaps and
    silences; ``only``: ``auto`` or a forced ``none`` / ``rate+dropout`` (others are refused
    by the caller)."""
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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BGNBDLimitWarning)
            f = fit_bgnbd(m["x"], m["t_x"] / unit_days, m["T"] / unit_days, unit_days=unit_days)
        notes += [f"segment {seg}: {w.message}" for w in caught]
        bg_fits[seg] = f
        ll_bg += f.loglik
        x_all += float(m["x"].sum())
    n, s = len(hist), len(fits)
    table = {"none": _row(ll_none, 2 * s + 1, n)}
    if bg_fits:
        table["rate+dropout"] = _row(ll_bg - x_all * math.log(unit_days), 4 * s, n)
    if only == "auto":
        winner = min(table, key=lambda v: table[v]["bic"])
    else:
        winner = only if only in table else "none"
        if winner != only:
            notes.append(f"--heterogeneity {only}: not possible here, the segments carry none")
    return SegmentSpread(winner, table, bg_fits, notes)


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
