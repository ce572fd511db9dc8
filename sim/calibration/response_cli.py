"""What ``channelsim calibrate --spend`` adds: the acquisition fit, the draws file beside the
scenario and the ``response/`` part of the calibration directory (fitted vs actual weekly new
customers, response curves with their band and the spend range the history covered, the
identifiability warnings and, with a holdout, the backtest).
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.calibration.mapping import channel_ids  # noqa: E402
from sim.calibration.response_backtest import backtest, from_start  # noqa: E402
from sim.calibration.response_fit import ResponseFit  # noqa: E402
from sim.calibration.response_scenario import attach_draws, fit_from_history  # noqa: E402
from sim.calibration.spend_history import spend_array  # noqa: E402
from sim.calibration.validation import SpendRun  # noqa: E402
from sim.results.directories import write_json  # noqa: E402


@dataclass
class SpendResponse:
    fit: ResponseFit
    summary: dict[str, Any]
    fitted: dict[str, Any]
    ids: dict[str, str]
    spend: pd.DataFrame
    start: dt.date
    end: dt.date
    names: list[str]  # the files' channel names, in the fitted scenario's channel order
    max_customers: int
    backtest: Any = None

    def validation_run(self, orders: pd.DataFrame, hold: tuple[dt.date, dt.date]) -> SpendRun:
        """What the order-side holdout validation simulates for a spend fit: this fit's market
        and acquisition from the window's first day, with the actual daily spend through the
        holdout (not the orders-only market at a constant budget)."""
        days = (hold[1] - self.start).days + 1
        before = float(orders.loc[orders["date"] < pd.Timestamp(self.start), "customer"].nunique())
        raw = from_start(
            self.fitted,
            start=self.start,
            days=days,
            market=self.fit.market_size,
            before=before,
            agents=min(self.max_customers, 10000),
        )
        spend = spend_array(self.spend, self.names, self.start, days)
        return SpendRun(raw, spend, self.fit.market_size)

    def draws_name(self, out: Path) -> str:
        return f"{out.stem}_draws.csv"

    def write_draws(self, out: Path, raw: dict[str, Any]) -> None:
        """The posterior draws beside the scenario (one column per dotted path), and the
        scenario dict ``raw`` pointed at them (when its schema has ``uncertainty``)."""
        path = out.with_name(self.draws_name(out))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        self.fit.draws.to_csv(tmp, index=False)
        tmp.replace(path)
        attach_draws(raw, Path(path.name))

    def write_report(self, folder: Path, orders: pd.DataFrame, hold, args) -> None:
        """response.json, draws.csv, the curves, fitted vs actual per channel and, with a
        holdout, the backtest next to the MMM benchmark (backtest.csv, backtest.png)."""
        folder.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        bt = backtest(
            self.fitted,
            orders,
            self.spend,
            self.names,
            start=self.start,
            end=self.end,
            holdout=hold,
            market=self.fit.market_size,
            agents=min(self.max_customers, 10000),
            replications=args.replications,
            seed=args.seed,
            workers=args.workers,
        )
        self.backtest = bt
        self.summary["seconds"]["backtest"] = round(time.perf_counter() - began, 1)
        self.summary["fitted_vs_actual"] = _fit_check(bt.channels, self.end)
        write_json(folder / "response.json", self.summary | {"backtest": bt.metrics or None})
        _print_summary(self.summary, bt.metrics)
        self.fit.draws.to_csv(folder / "draws.csv", index=False)
        bt.channels.to_csv(folder / "weekly_by_channel.csv", index=False)
        self._curves(folder / "response_curves.png")
        _channel_figure(bt.channels, folder / "fitted_vs_actual.png", hold)
        if hold:
            bt.weekly.to_csv(folder / "backtest.csv", index=False)
            _backtest_figure(bt.weekly, folder / "backtest.png")

    def _curves(self, path: Path) -> None:
        """Each fitted lever's daily interest hazard against spend: the estimate, the 90 %
        band of the draws, the range the history covered (beyond it: extrapolation)."""
        names = sorted({n.rsplit("_", 1)[0] for n in self.fit.estimate if n.startswith("ch")})
        if not names:
            return
        fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            cid, lever = name.split(".")[1], name.split(".")[-1]
            rng = self.summary["observed_spend"].get(cid, {}).get(lever, [0.0, 1.0])
            x = np.linspace(0, rng[1] * 2, 100)
            reach = self.fit.reach[f"{name}_reach_max"]

            def curve(row, reach=reach, name=name, x=x):
                sat = row[f"{name}_saturation"]
                return reach * row[f"{name}_impact"] * -np.expm1(-x / sat)

            ys = np.array([curve(r) for _, r in self.fit.draws.iterrows()])
            ax.fill_between(x, *np.quantile(ys, [0.05, 0.95], axis=0), alpha=0.3, label="90 %")
            ax.plot(x, curve(self.fit.estimate), label="fitted")
            ax.axvspan(rng[1], x[-1], color="grey", alpha=0.15, label="extrapolation")
            ax.axvspan(rng[0], rng[1], color="green", alpha=0.07, label="history")
            ax.set_title(f"{cid} {lever}")
            ax.set_xlabel("CNY / day")
        axes[0][0].set_ylabel("interest hazard / day")
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)


def _fit_check(frame: pd.DataFrame, end: dt.date) -> dict[str, dict[str, dict[str, float]]]:
    """Over the calibration weeks, per measure (new customers, orders, clicks, visits) and
    channel: the weekly MAPE and the error of the total of the simulator at the fit against
    the actual (weeks with a day missing in the file are left out)."""
    cal = frame[(frame["week_start"] + pd.Timedelta(days=6) <= pd.Timestamp(end))].dropna()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (measure, channel), d in cal.groupby(["measure", "channel"]):
        ok = d["actual"] > 0
        if ok.sum() == 0:
            continue
        out.setdefault(measure, {})[channel] = {
            "weekly_mape_pct": float((d["simulated"][ok] / d["actual"][ok] - 1).abs().mean() * 100),
            "total_error_pct": float((d["simulated"].sum() / d["actual"].sum() - 1) * 100),
        }
    return out


def _print_summary(summary: dict[str, Any], metrics: dict[str, Any]) -> None:
    m = summary["market_size"]
    lo, hi = m["interval_95"]
    print(
        f"response fit ({summary['seconds']['fit']:.0f} s): market {m['with_spend']:,.0f} "
        f"(95 % {lo:,.0f} … {hi:,.0f}; orders alone {m['orders_only']:,.0f})"
    )
    for path, value in summary["estimate"].items():
        lo, hi = summary["interval_95"][path]
        flag = "" if summary["identified"][path] else "  (not identified)"
        print(f"  {path} = {value:.4g}  [{lo:.3g} … {hi:.3g}]{flag}")
    joins = summary.get("private_joining_channels") or {}
    if not joins and summary.get("private_joining"):
        joins = {0: summary["private_joining"]}
    for join in joins.values():
        for name, value in join["estimate"].items():
            lo, hi = join["interval_95"][name]
            flag = "" if join["identified"][name] else "  (not identified)"
            print(f"  {join['channel']} joining {name} = {value:.4g}  [{lo:.3g} … {hi:.3g}]{flag}")
    for measure, chans in summary.get("fitted_vs_actual", {}).items():
        text = ", ".join(f"{c} {v['total_error_pct']:+.0f} %" for c, v in chans.items())
        print(f"  calibration weeks, simulated vs actual {measure.replace('_', ' ')}: {text}")
    if metrics:
        sim, mmm = metrics["simulator"], metrics["mmm"]
        print(
            f"backtest ({summary['seconds']['backtest']:.0f} s), holdout revenue: simulator "
            f"weekly MAPE {sim['weekly_mape_pct']:.1f} %, "
            f"cumulative {sim['cumulative_error_pct']:+.1f} %; "
            f"MMM {mmm['weekly_mape_pct']:.1f} %, {mmm['cumulative_error_pct']:+.1f} %"
        )


def _channel_figure(frame: pd.DataFrame, path: Path, hold) -> None:
    """Weekly new customers, orders and (when the spend file has them) ad clicks and visits
    per channel: actual vs the simulator at the fit."""
    chans = [c for c in frame["channel"].unique() if frame.loc[frame.channel == c, "actual"].any()]
    measures = list(frame["measure"].unique())
    fig, axes = plt.subplots(
        len(measures),
        max(len(chans), 1),
        figsize=(3.6 * max(len(chans), 1), 2.5 * len(measures)),
        squeeze=False,
    )
    for j, ch in enumerate(chans):
        for i, measure in enumerate(measures):
            d = frame[(frame.channel == ch) & (frame.measure == measure)]
            ax = axes[i][j]
            ax.plot(d["week_start"], d["actual"], ".", ms=3, label="actual")
            ax.plot(d["week_start"], d["simulated"], "-", label="simulated at the fit")
            if hold:
                ax.axvspan(pd.Timestamp(hold[0]), d["week_start"].max(), color="grey", alpha=0.15)
            ax.set_title(f"{ch}: {measure.replace('_', ' ')} / week", fontsize=9)
            ax.tick_params(labelsize=7, axis="x", rotation=45)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _backtest_figure(weekly: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.plot(weekly["week_start"], weekly["actual"], "k.", label="actual")
    ax.plot(weekly["week_start"], weekly["simulated"], label="simulator (mean)")
    ax.fill_between(
        weekly["week_start"], weekly["simulated_p5"], weekly["simulated_p95"], alpha=0.25
    )
    ax.plot(weekly["week_start"], weekly["mmm"], "--", label="MMM benchmark")
    hold = weekly[weekly["period"] == "holdout"]["week_start"]
    if len(hold):
        ax.axvspan(hold.min(), hold.max(), color="grey", alpha=0.15, label="holdout")
    ax.set_ylabel("revenue / week (CNY)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def fit_spend(cal, orders: pd.DataFrame, spend: pd.DataFrame, args) -> SpendResponse:
    """Fit the acquisition side on the calibration window and put it into ``cal.raw``."""
    ids = channel_ids(list(cal.families))
    began = time.perf_counter()
    fit, fitted, summary = fit_from_history(
        cal.raw,
        orders,
        spend,
        ids,
        start=cal.start,
        end=cal.end,
        market_size=cal.market_size,
        max_customers=min(args.max_customers, 5000),
        replications=4,
        seed=args.seed,
        workers=args.workers,
    )
    summary["seconds"] = {"fit": round(time.perf_counter() - began, 1)}
    names = [next(k for k, v in ids.items() if v == c["id"]) for c in fitted["channels"]]
    response = SpendResponse(
        fit, summary, fitted, ids, spend, cal.start, cal.end, names, args.max_customers
    )
    cal.raw.clear()
    cal.raw.update(copy.deepcopy(fitted))
    for note in summary["warnings"]:
        print(f"warning: {note}", file=sys.stderr)
    return response
