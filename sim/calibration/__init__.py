"""Calibration: read an order history, fit a baseline scenario to it, validate on held-out
months (see docs/calibration.md).

* :mod:`sim.calibration.orders` — reading an order export (:func:`read_orders`);
* :mod:`sim.calibration.fitting` — :func:`calibrate` and its result, :class:`Calibration`;
* the fits it runs: :mod:`~sim.calibration.histories` (the cohort),
  :mod:`~sim.calibration.renewal` (the simulator's repeat process),
  :mod:`~sim.calibration.heterogeneity` (customers who differ: NBD rates, Pareto/NBD, BG/NBD
  dropout), :mod:`~sim.calibration.inner_forecast` (choosing between them by forecasting the
  calibration period's last third), :mod:`~sim.calibration.latent` (latent classes: a mixture
  of BG/NBD classes), :mod:`~sim.calibration.segment_spread` (a BG/NBD per segment with
  ``--segments N``), :mod:`~sim.calibration.public_data` (CDNOW),
  :mod:`~sim.calibration.bgnbd` (the BG/NBD reference model),
  :mod:`~sim.calibration.acquisition` (arrivals), :mod:`~sim.calibration.baskets`,
  :mod:`~sim.calibration.segments`, :mod:`~sim.calibration.channels`, and
  :mod:`~sim.calibration.mapping` (fits → scenario);
* :mod:`sim.calibration.validation` — the holdout report (:func:`validate_holdout`);
* fitting response from spend (``calibrate --spend``): :mod:`~sim.calibration.response_fit`
  (``fit_response``: indirect inference with the simulator, posterior draws),
  :mod:`~sim.calibration.response_model` (its auxiliary model),
  :mod:`~sim.calibration.spend_history`, :mod:`~sim.calibration.response_scenario`,
  :mod:`~sim.calibration.response_backtest` (backtest), :mod:`~sim.calibration.mmm` (the MMM
  benchmark), :mod:`~sim.calibration.spend_sample` (synthetic flighted histories); import them
  from their modules (they need the process pool and matplotlib, the order reader does not).

The validation names are imported on first use: that module draws with matplotlib, which the
rest of the package (and the CLI that reads orders) does not need.
"""

from typing import TYPE_CHECKING

from sim.calibration.acquisition import fit_arrivals
from sim.calibration.baskets import fit_lognormal
from sim.calibration.bgnbd import (
    BGNBD,
    BGNBDLimitWarning,
    bgnbd_loglik,
    bgnbd_orders,
    fit_bgnbd,
    sample_bgnbd,
)
from sim.calibration.channels import channel_stats, fit_private_joining, infer_families
from sim.calibration.fitting import Calibration, calibrate
from sim.calibration.heterogeneity import ParetoNBD, fit_pareto_nbd, select_variant
from sim.calibration.histories import customer_histories
from sim.calibration.latent import LatentBGNBD, fit_latent_bgnbd
from sim.calibration.orders import (
    Orders,
    OrdersError,
    orders_from_ledger,
    parse_columns,
    read_orders,
)
from sim.calibration.renewal import (
    LatentRenewal,
    RenewalFit,
    fit_latent_renewal,
    fit_renewal,
    gap_pmf,
)

if TYPE_CHECKING:
    from sim.calibration.validation import Validation, validate_holdout, write_report

_VALIDATION = ("Validation", "validate_holdout", "write_report")

__all__ = [
    "BGNBD",
    "BGNBDLimitWarning",
    "Calibration",
    "LatentBGNBD",
    "LatentRenewal",
    "Orders",
    "OrdersError",
    "ParetoNBD",
    "RenewalFit",
    "Validation",
    "bgnbd_loglik",
    "bgnbd_orders",
    "calibrate",
    "channel_stats",
    "customer_histories",
    "fit_arrivals",
    "fit_bgnbd",
    "fit_latent_bgnbd",
    "fit_latent_renewal",
    "fit_lognormal",
    "fit_pareto_nbd",
    "fit_private_joining",
    "fit_renewal",
    "gap_pmf",
    "infer_families",
    "orders_from_ledger",
    "parse_columns",
    "read_orders",
    "sample_bgnbd",
    "select_variant",
    "validate_holdout",
    "write_report",
]


def __getattr__(name: str):
    if name in _VALIDATION:
        from sim.calibration import validation

        return getattr(validation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
