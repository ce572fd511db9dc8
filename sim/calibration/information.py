"""What a fit's observed information determines, and what it leaves open.

The standard errors of the heterogeneity fits are delta-method errors from the inverse of the
observed information: the Hessian of the negative log-likelihood at its minimum, in the
log-parameters. A plain inverse goes wrong along a **ridge**, a direction the likelihood does
not curve up in: a class's dropout a and b growing together (no spread of the dropout chance
left), or α_q and β_q together (one purchase chance for everybody). There the eigenvalue is
zero up to the finite differences' noise, often slightly negative, and a (pseudo-)inverse turns
it into a huge or a *negative* variance — which, clipped, read as a standard error of exactly
0: a claim of perfect precision about a parameter the data do not determine.

Along a ridge some functions of the parameters still are determined — the mean dropout
a/(a+b) does not move when a and b grow together — and keep their errors. So the information
is split into its eigen-directions: those it curves up in are inverted, the rest span the
ridge. A function with gradient g is determined when g is (nearly) orthogonal to the ridge;
its variance is g'Σg over the determined directions. One that moves along the ridge is
undetermined (NaN), and the profile intervals of :mod:`sim.calibration.intervals` say how far
it may go.

    >>> import numpy as np
    >>> def nll(t):  # curves up in t0 − t1 only: t0 + t1 is a ridge
    ...     return 2.0 * (t[0] - t[1]) ** 2
    >>> info = observed(nll, np.zeros(2))
    >>> round(info.variance(np.array([1.0, -1.0])), 6)  # the difference: 1 / (2 × 2)
    0.25
    >>> info.variance(np.array([1.0, 0.0]))  # t0 alone moves along the ridge
    nan
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# An eigenvalue at or below RIDGE × the largest is taken as the finite differences' noise, not
# curvature: a direction with that little would have a standard error over 1 000 times the best
# determined direction's.
RIDGE = 1e-6
# A function leans on the ridge when the cosine between its gradient and a ridge direction
# exceeds LEAN: moving 1 along the ridge then moves it by more than a tenth of its steepest
# change, by an amount the data do not bound.
LEAN = 0.1


def hessian(nll: Callable[[np.ndarray], float], theta: np.ndarray, step: float = 1e-3):
    """Central-difference Hessian of ``nll`` at ``theta`` (the observed information there)."""
    k = len(theta)
    hess = np.zeros((k, k))
    eye = np.eye(k) * step
    for i in range(k):
        for j in range(i, k):
            hess[i, j] = hess[j, i] = (
                nll(theta + eye[i] + eye[j])
                - nll(theta + eye[i] - eye[j])
                - nll(theta - eye[i] + eye[j])
                + nll(theta - eye[i] - eye[j])
            ) / (4 * step * step)
    return hess


@dataclass(frozen=True)
class Information:
    """The covariance of the log-parameters on the directions the likelihood determines
    (``cov``) and an orthonormal basis of those it does not (``ridge``, k × m, m ≥ 0)."""

    cov: np.ndarray
    ridge: np.ndarray

    @classmethod
    def from_hessian(cls, hess: np.ndarray) -> Information:
        lam, vec = np.linalg.eigh((hess + hess.T) / 2)
        top = max(float(lam[-1]), 0.0) if len(lam) else 0.0
        curved = lam > RIDGE * top if top > 0 else np.zeros(len(lam), bool)
        v = vec[:, curved]
        return cls(cov=(v / lam[curved]) @ v.T, ridge=vec[:, ~curved])

    def variance(self, gradient, *, at: int = 0) -> float:
        """Delta-method variance of a function whose gradient in the log-parameters
        ``at``, ``at + 1``, … is ``gradient``; NaN when it moves along the ridge."""
        g = np.zeros(len(self.cov))
        g[at : at + len(gradient)] = gradient
        norm = float(np.linalg.norm(g))
        if norm == 0.0:
            return 0.0
        if self.ridge.size and float(np.max(np.abs(g @ self.ridge))) > LEAN * norm:
            return float("nan")
        return max(float(g @ self.cov @ g), 0.0)

    def se(self, index: int) -> float:
        """Standard error of the ``index``-th log-parameter (NaN if undetermined)."""
        return float(np.sqrt(self.variance(np.ones(1), at=index)))


def observed(
    nll: Callable[[np.ndarray], float], theta: np.ndarray, *, step: float = 1e-3
) -> Information:
    """The observed information of ``nll`` at its minimum ``theta`` (log-parameters), split
    into what it determines and its ridge."""
    return Information.from_hessian(hessian(nll, np.asarray(theta, dtype=float), step))
