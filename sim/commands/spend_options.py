"""``calibrate``'s spend history options: the file, its columns and what one of its rows is."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.scenario.spend_weeks import PERIODS


def add_spend_options(p: Any) -> None:
    """``--spend SPEND.csv``, ``--spend-columns`` and ``--spend-period``."""
    p.add_argument(
        "--spend",
        default=None,
        metavar="SPEND.csv",
        help="daily spend per channel and lever (date, channel, lever, spend[, visits, clicks]): "
        "fit the acquisition side too (docs/calibration.md, Fitting response from spend)",
    )
    p.add_argument(
        "--spend-columns",
        default=None,
        metavar="FIELD=COLUMN,...",
        help="date=...,channel=...,lever=...,spend=...[,clicks=...] (default: common names)",
    )
    p.add_argument(
        "--spend-period",
        choices=PERIODS,
        default=None,
        help="what a spend row is: a day, or a week's total from / to its date, spread over "
        "its 7 days (default: days; a file dated on one weekday only is refused)",
    )


def read_spend_option(args: Any) -> pd.DataFrame | None:
    """The spend history ``--spend`` names, read as its options say (None without one);
    a bad file raises :class:`sim.scenario.spend_file.SpendFileError`."""
    if args.spend is None:
        return None
    from sim.scenario.spend_file import read_spend, spend_columns

    columns = spend_columns(args.spend_columns)
    return read_spend(args.spend, columns=columns, period=args.spend_period)
