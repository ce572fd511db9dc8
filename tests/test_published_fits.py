"""Published fits reproduced on the data they were published on (data from the ``lifetimes``
wheel; skipped without it). The CDNOW BG/NBD and Pareto/NBD are checked in
tests/test_calibration_heterogeneity.py, the CDNOW gamma-gamma in tests/test_gamma_gamma.py.
"""

from __future__ import annotations

import pandas as pd
import pytest

from sim.calibration.lifetime_days import fit_lifetime_day_nbd, lifetime_day_loglik
from sim.calibration.public_data import lifetimes_datasets

# Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
# setting", table 2: the BG/BB on the 1995 cohort's annual donations 1996–2001.
BGBB_DONATIONS = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
BGBB_DONATIONS_LL = -33225.6


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    folder = lifetimes_datasets()
    if folder is None or not (folder / "donations.csv").exists():
        pytest.skip("the donations data come with the lifetimes package")
    return pd.read_csv(folder / "donations.csv")  # frequency, recency, periods, weights


def test_the_purchase_day_pareto_nbd_is_the_published_bg_bb(donations):
    """The ``rate+lifetime/day`` likelihood is the BG/BB's with one opportunity per day: fitted
    on the 11 104 donors (6 opportunities each), it gives FHS's parameters to their 3 decimals
    and their log-likelihood to 0.1."""
    d = donations.loc[donations.index.repeat(donations["weights"])]
    assert len(d) == 11_104
    fit = fit_lifetime_day_nbd(d["frequency"], d["recency"], d["periods"], spread_lifetime=True)
    got = {"alpha": fit.aq, "beta": fit.bq, "gamma": fit.g, "delta": fit.d}
    assert {k: round(v, 3) for k, v in got.items()} == BGBB_DONATIONS
    assert round(fit.loglik, 1) == BGBB_DONATIONS_LL
    published = tuple(BGBB_DONATIONS.values())
    ll = (
        lifetime_day_loglik(
            published, donations["frequency"], donations["recency"], donations["periods"]
        )
        @ donations["weights"]
    )
    assert ll == pytest.approx(BGBB_DONATIONS_LL, abs=0.05)
