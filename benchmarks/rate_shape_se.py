"""Are the purchase-day BG/NBD's reported standard errors of the rate shape the right size?

Histories are drawn exactly from the model (:func:`sample_purchase_days`; rate shape α_q 1,
β_q = 40/π − 1 with π = 0.73383, dropout Beta(1, 4): ``se_coverage.py``'s truth; first purchases
uniform over the first 84 days of a 364-day window) and fitted with
:func:`fit_purchase_day_bgnbd`. For each, the standard error of log α_q that ``calibrate``
reports (:func:`sim.calibration.heterogeneity.log_covariance` of the negative log-likelihood,
numerical Hessian) and an independent one (the inverse of the central-difference Jacobian of the
analytic gradient, :func:`loglik_and_gradient`). Printed: the spread of the estimates against
the mean reported standard error, the s.d. of z = (log α̂_q − log α_q)/SE with its own standard
error 1/√(2m) (30 histories cannot tell 1.0 from 1.15), the mean z and the coverage of
log α̂_q ± 1.96 SE.

    python benchmarks/rate_shape_se.py [--histories 100] [--customers 3000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import warnings

import numpy as np
from se_coverage import SAMPLE_PI  # the sibling script's truth

from sim.calibration.heterogeneity import log_covariance
from sim.calibration.histories import distinct_histories
from sim.calibration.purchase_days import (
    fit_purchase_day_bgnbd,
    loglik_and_gradient,
    purchase_day_nll,
    sample_purchase_days,
)

TRUTH = (1.0, 40 / SAMPLE_PI - 1, 1.0, 4.0)  # α_q, β_q, a, b


def one(customers: int, seed: int) -> tuple[float, float, float]:
    """log α̂_q, calibrate's SE of it and the analytic-Jacobian SE, for one drawn history."""
    rng = np.random.default_rng(seed)
    T = 363 - rng.integers(0, 84, customers)
    aq, bq, a, b = TRUTH
    h = sample_purchase_days(customers, aq=aq, bq=bq, a=a, b=b, T=T, rng=rng)
    x, t_x, T = (h[c].to_numpy(float) for c in ("x", "t_x", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_purchase_day_bgnbd(x, t_x, T)
    theta = np.log([fit.aq, fit.bq, fit.a, fit.b])
    reported = math.sqrt(log_covariance(purchase_day_nll(x, t_x, T), theta)[0, 0])
    hx, ht, hT, w = distinct_histories(x, t_x, T)

    def gradient(th):
        return -(w @ loglik_and_gradient(np.exp(th), hx, ht, hT)[1])

    step = 1e-5
    jac = np.column_stack(
        [(gradient(theta + step * e) - gradient(theta - step * e)) / (2 * step) for e in np.eye(4)]
    )
    independent = math.sqrt(np.linalg.inv((jac + jac.T) / 2)[0, 0])
    return float(theta[0]), reported, independent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--histories", type=int, default=100)
    ap.add_argument("--customers", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = np.array([one(args.customers, args.seed + i) for i in range(args.histories)])
    est, rep, ind = rows.T
    z = (est - math.log(TRUTH[0])) / rep
    m = len(z)
    print(f"{m} histories of {args.customers} customers drawn from the purchase-day BG/NBD")
    print(f"  s.d. of log alpha_q estimates      {est.std(ddof=1):.4f}")
    print(f"  mean reported SE (calibrate's)     {rep.mean():.4f}")
    print(f"  mean SE, analytic-gradient Hessian {ind.mean():.4f}")
    print(f"  s.d. of z                          {z.std(ddof=1):.3f} ± {1 / math.sqrt(2 * m):.3f}")
    print(f"  mean z                             {z.mean():+.3f} ± {1 / math.sqrt(m):.3f}")
    print(f"  covered by ± 1.96 SE               {int((abs(z) < 1.96).sum())}/{m}")


if __name__ == "__main__":
    main()
