"""Public order histories that a PyPI package ships: the CDNOW data of Fader, Hardie & Lee.

The ``lifetimes`` wheel (PyPI, 0.11.3) ships ``datasets/CDNOW_sample.txt`` (the 1/10 sample of
2 357 customers used in Fader, Hardie & Lee 2005, "Counting your customers the easy way") and
``datasets/CDNOW_master.txt`` (all 23 570 customers of the same cohort: first purchase in
Q1 1997, orders through June 1998). This module reads those files from the installed package
directory *without importing* ``lifetimes`` (it is unmaintained and its import may break with
current numpy/pandas), and turns them into an order export that ``channelsim calibrate`` reads.

    python -m pip install lifetimes==0.11.3 --no-deps   # only its data files are used
    python -m sim.calibration.public_data cdnow --out /tmp/cdnow_orders.csv
    python -m sim.calibration.public_data cdnow --which rest --out /tmp/cdnow_rest.csv

``which``: ``sample`` (the published 2 357), ``master`` (all 23 570) or ``rest`` (master minus
the sample's customers: 21 213 customers the sample's analysis never saw).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pandas as pd

#: The published BG/NBD fit on the CDNOW sample, 39 calibration weeks (FHL 2005, table 1).
CDNOW_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
#: FHL's split: calibration 1997-01-01 … 1997-09-30 (39 weeks), holdout to 1998-06-30.
CDNOW_CALIBRATION = ("1997-01-01", "1997-09-30")
CDNOW_HOLDOUT = ("1997-10-01", "1998-06-30")
CDNOW_CHANNEL = "cdnow"


def lifetimes_datasets() -> Path | None:
    """The ``datasets`` folder of an installed ``lifetimes`` (found, not imported), or None."""
    try:
        spec = importlib.util.find_spec("lifetimes")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets"
    return folder if (folder / "CDNOW_sample.txt").exists() else None


def cdnow_orders(which: str = "sample", folder: Path | None = None) -> pd.DataFrame:
    """The CDNOW orders as an order export: order_id, customer_id, order_date, amount, channel.

    Raises FileNotFoundError when ``lifetimes`` is not installed (and no ``folder`` given).
    """
    folder = folder or lifetimes_datasets()
    if folder is None:
        raise FileNotFoundError(
            "the CDNOW data come with the `lifetimes` package: "
            "python -m pip install lifetimes==0.11.3 --no-deps"
        )
    sample = pd.read_csv(
        folder / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "sample_id", "date", "cds", "amount"],
        dtype={"master_id": int, "sample_id": int, "date": str},
    )
    if which == "sample":
        frame = sample.rename(columns={"master_id": "customer"})
    elif which in ("master", "rest"):
        frame = pd.read_csv(
            folder / "CDNOW_master.txt",
            sep=r"\s+",
            header=None,
            skiprows=1,
            names=["customer", "date", "cds", "amount"],
            dtype={"customer": int, "date": str},
        )
        if which == "rest":
            frame = frame[~frame["customer"].isin(sample["master_id"])]
    else:
        raise ValueError(f"which: expected sample, master or rest, got {which!r}")
    frame = frame.reset_index(drop=True)
    return pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(1, len(frame) + 1)],
            "customer_id": [f"C{c:05d}" for c in frame["customer"]],
            "order_date": pd.to_datetime(frame["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "amount": frame["amount"].to_numpy(float),
            "channel": CDNOW_CHANNEL,
        }
    )


def main(argv: list[str] | None = None) -> int:
    """Write a public order history as CSV (exit 2 with a message when it is not installed)."""
    p = argparse.ArgumentParser(prog="python -m sim.calibration.public_data")
    p.add_argument("dataset", choices=["cdnow"])
    p.add_argument("--which", choices=["sample", "master", "rest"], default="sample")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        frame = cdnow_orders(args.which)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    frame.to_csv(args.out, index=False)
    print(f"{len(frame)} orders of {frame['customer_id'].nunique()} customers -> {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
