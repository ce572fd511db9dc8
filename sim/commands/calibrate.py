"""``channelsim calibrate ORDERS.csv --out scenarios/my_baseline.yaml``: a baseline from orders.

Fits the customer model to an order export (see :mod:`sim.calibration.fitting`), writes the baseline
scenario, a calibration directory (``calibration.json``, ``switching.csv``, ``customers.csv``)
and, with ``--holdout-period``, a validation report (:mod:`sim.calibration.validation`) in it.

    channelsim calibrate scenarios/data/sample_orders.csv --out /tmp/my_baseline.yaml \\
        --columns customer=customer_id,date=order_date,order_id=order_id \\
        --calibration-period 2025-01-01:2025-12-30 --holdout-period 2025-12-31:2026-06-29
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import sys
from pathlib import Path

import pandas as pd
import yaml

from sim.calibration.day_variants import DAY_VARIANTS
from sim.calibration.fitting import calibrate
from sim.calibration.heterogeneity import FORCEABLE, VARIANTS
from sim.calibration.orders import parse_columns, read_orders
from sim.calibration.segment_spread import CHOICES as SEGMENT_CHOICES
from sim.calibration.segment_spread import UNCONDITIONAL
from sim.commands.options import add_override_options
from sim.commands.published_options import add_published_options, check_published, published
from sim.commands.spend_options import add_spend_options, read_spend_option
from sim.results import claim, write_tool_columns
from sim.results.directories import atomic_dir, default_run_dir, write_json
from sim.results.provenance import reproducibility
from sim.scenario import FAMILIES, parse_set_options


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate", help="fit the customer model to an order history and write a baseline scenario"
    )
    p.add_argument("orders", metavar="ORDERS.csv", help="one row per order")
    p.add_argument("--out", required=True, help="scenario YAML to write")
    p.add_argument(
        "--columns",
        default=None,
        metavar="FIELD=COLUMN,...",
        help="customer=...,date=...,amount=...,channel=...[,order_id=...][,status=...] "
        "(default: the fields' own or common names, e.g. CustomerID, InvoiceDate, 买家会员名; "
        "no amount: quantity × unit price, else 1 per order; no channel: one channel 'all'; "
        "a status column leaves out cancelled, unpaid and refunded orders)",
    )
    p.add_argument(
        "--families",
        default=None,
        metavar="CHANNEL=FAMILY,...",
        help="family of each channel (public/private/social/offline); "
        "default: guessed from the name, with a warning",
    )
    p.add_argument("--segments", type=int, default=1, help="segments from quantiles (default 1)")
    p.add_argument("--segment-by", choices=("frequency", "spend", "latent"), default="frequency")
    p.add_argument(
        "--heterogeneity",
        choices=("auto", *FORCEABLE),
        default="auto",
        help="customers' spread of purchase rates and dropout: auto = the variant chosen by "
        "--select-by on the calibration period (one segment only; docs/calibration.md)",
    )
    p.add_argument(
        "--select-by",
        choices=("bic+forecast", "forecast", "bic"),
        default="bic+forecast",
        help="how --heterogeneity auto chooses: bic+forecast = among the variants within 6 BIC "
        "points of the lowest, the one whose fit on the first 2/3 of the calibration period "
        "best forecasts its last 1/3; forecast = that forecast among all variants (near-ties "
        "to the lower BIC); bic = the lowest BIC (default bic+forecast)",
    )
    p.add_argument(
        "--calibration-period",
        default=None,
        metavar="START:END",
        help="fit on orders dated START..END (inclusive; default: all)",
    )
    p.add_argument(
        "--holdout-period",
        default=None,
        metavar="START:END",
        help="simulate this period with the calibrated model and compare",
    )
    p.add_argument(
        "--report",
        default=None,
        help="calibration/validation directory (default results/calibrate-NAME-TIME)",
    )
    p.add_argument("--replications", "-r", type=int, default=5, help="for the holdout check")
    add_published_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument(
        "--guide-price",
        type=float,
        default=None,
        help="unit guide price (CNY); default: the busiest channel's commonest amount",
    )
    p.add_argument(
        "--max-customers",
        type=int,
        default=20000,
        help="simulated agents at most (a resolution: the market stays the fitted size)",
    )
    p.add_argument("--horizon-days", type=int, default=365, help="horizon of the baseline")
    p.add_argument("--name", default=None, help="scenario name (default: the --out file stem)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out file and --report directory (default: refuse, exit 2)",
    )
    add_override_options(
        p,
        help="hold a behaviour constant at another value, e.g. "
        "market.interest_lapse=0.3 (the fit accounts for it)",
        uncertainty=False,
    )
    p.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip unreadable rows (counted and reported) instead of failing",
    )
    p.add_argument(
        "--date-format",
        default=None,
        metavar="FORMAT",
        help="strftime format of the order dates when they do not put the year first, "
        "e.g. '%%m/%%d/%%Y %%H:%%M' (default: year first, or year last as the file settles it)",
    )
    p.add_argument(
        "--line-items",
        action="store_true",
        help="rows are order lines: rows sharing an order id are one order, amounts summed",
    )
    p.add_argument(
        "--keep-outliers",
        action="store_true",
        help="fit on rows that look implausible too (a date far outside the order history, "
        "an amount beyond 1000 × the median); by default they are set aside and reported",
    )
    add_spend_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from sim.commands.cli import UsageError

    _check_numbers(args, UsageError)
    orders = read_orders(
        args.orders,
        columns=parse_columns(args.columns),
        skip_bad_rows=args.skip_bad_rows,
        set_aside_outliers=not args.keep_outliers,
        line_items=args.line_items,
        date_format=args.date_format,
    )
    for note in orders.notes:  # what the export lacked or was found under another name
        print(f"note: {note}", file=sys.stderr)
    table = orders.table
    spend = read_spend_option(args)  # a bad spend file stops here, before anything is fitted
    for note in spend.attrs.get("notes", []) if spend is not None else []:
        print(f"note: {note}", file=sys.stderr)  # what was decided about it (a decimal comma)
    start, end, hold = _periods(args, table, UsageError)
    families = _families(args.families, set(table["channel"]), UsageError)
    out = Path(args.out)
    name = args.name or re.sub(r"[^A-Za-z0-9_]", "_", out.stem)
    if os.path.lexists(out) and not args.force:  # a baseline may have been edited by hand
        raise UsageError(f"--out {out}: already exists; pass --force to replace it")
    report = claim(  # refused now, before fitting, if it exists or is being written
        Path(args.report) if args.report else default_run_dir(f"calibrate-{name}"),
        force=args.force,
    )
    try:
        cal = calibrate(
            table,
            start=start,
            end=end,
            families=families,
            segments=args.segments,
            segment_by=args.segment_by,
            heterogeneity=args.heterogeneity,
            select_by=args.select_by,
            guide_price=args.guide_price,
            max_customers=args.max_customers,
            horizon_days=args.horizon_days,
            name=name,
            overrides=parse_set_options(args.overrides),
        )
    except ValueError as exc:
        raise UsageError(f"{args.orders}: {exc}") from None
    skipped = [f"skipped {orders.n_skipped} unreadable row(s)", *orders.skipped]
    for note in (skipped if orders.n_skipped else []) + _set_aside_notes(orders) + cal.notes:
        print(f"warning: {note}", file=sys.stderr)

    response = None
    if spend is not None:
        from sim.calibration.response_cli import fit_spend

        response = fit_spend(cal, table, spend, args)
    metrics = _write_calibration_dir(report, cal, orders, hold, args, response)
    if response is not None:  # the draws first: the scenario names them
        response.write_draws(out, cal.raw)
    _write_yaml(out, cal, args)
    _print_summary(cal, out, report, metrics)
    return 0


def _periods(args, table: pd.DataFrame, error) -> tuple[dt.date, dt.date, tuple | None]:
    """The calibration window and the holdout (or None): a holdout alone fits on everything
    before it; no period fits on every order."""
    cal_period = _period(args.calibration_period, "--calibration-period", error)
    hold = _period(args.holdout_period, "--holdout-period", error)
    first, last = table["date"].min().date(), table["date"].max().date()
    if hold and not cal_period:
        cal_period = (first, hold[0] - dt.timedelta(days=1))
    start, end = cal_period or (first, last)
    if hold and hold[0] <= end:
        raise error(
            f"--holdout-period: starts {hold[0]}, on or before the end of the "
            f"calibration period ({end})"
        )
    if hold and hold[0] > last:
        raise error(f"--holdout-period: starts {hold[0]}, after the last order ({last})")
    return start, end, hold


def _write_calibration_dir(report: Path, cal, orders, hold, args, response=None) -> dict | None:
    """calibration.json, the channel and customer tables and, with a holdout, the validation
    report, written atomically to ``report``; the validation metrics (or None)."""
    metrics = None
    with atomic_dir(report) as tmp:
        summary = cal.summary() | {
            "source": str(args.orders),
            "rows_skipped": orders.n_skipped,
            "skipped_examples": orders.skipped,
            "rows_set_aside": orders.n_set_aside,
            "column_notes": orders.notes,
            "order_lines_merged": orders.line_orders,
            "set_aside": [{"rows": n, "why": why} for n, why in orders.set_aside],
            # command, git commit + dirty flag, code hash, every dependency, Python, OS
            "reproduce": reproducibility(),
        }
        write_json(tmp / "calibration.json", summary)
        cal.channels["switching"].to_csv(tmp / "switching.csv")
        cal.channels["after_first"].to_csv(tmp / "after_first_order.csv")
        cal.customers.to_csv(tmp / "customers.csv")
        if hold:
            from sim.calibration.validation import validate_holdout, write_report

            v = validate_holdout(
                orders.table,
                cal,
                holdout=hold,
                replications=args.replications,
                seed=args.seed,
                workers=args.workers,
                published=published(args.published_bgnbd),
                published_gamma_gamma=published(args.published_gamma_gamma),
                # a spend fit's holdout: its market, the actual spend (not a constant budget)
                spend_run=None if response is None else response.validation_run(orders.table, hold),
            )
            write_report(v, tmp / "validation")
            metrics = v.metrics
        if response is not None:
            response.write_report(tmp / "response", orders.table, hold, args)
        write_tool_columns(tmp)  # columns.csv: every column of every table written above
    return metrics


def _set_aside_notes(orders) -> list[str]:
    """What :func:`read_orders` set aside as implausible, said before anything is fitted."""
    if not orders.n_set_aside:
        return []
    return [
        f"set aside {orders.n_set_aside} implausible row(s), not used in the fit "
        "(--keep-outliers keeps them)",
        *(f"  {n} with {why}" for n, why in orders.set_aside),
    ]


def _check_numbers(args, error) -> None:
    for flag, value, low in (
        ("--segments", args.segments, 1),
        ("--replications", args.replications, 1),
        ("--max-customers", args.max_customers, 10),
        ("--horizon-days", args.horizon_days, 1),
    ):
        if value < low:
            raise error(f"{flag}: must be ≥ {low}, got {value}")
    check_published(args, error)
    if args.guide_price is not None and args.guide_price <= 0:
        raise error(f"--guide-price: must be > 0, got {args.guide_price}")
    if args.segments > 1 and args.heterogeneity not in SEGMENT_CHOICES:
        raise error(
            f"--heterogeneity {args.heterogeneity}: not with --segments {args.segments} (one "
            f"churn hazard for the market: only {', '.join(SEGMENT_CHOICES)} per segment)"
        )


def _period(text: str | None, flag: str, error) -> tuple[dt.date, dt.date] | None:
    if text is None:
        return None
    parts = re.split(r"\.\.|:|/(?=\d{4})", text.strip(), maxsplit=1)
    if len(parts) != 2:
        raise error(f"{flag}: expected START:END (e.g. 2025-01-01:2025-12-31), got {text!r}")
    try:
        lo, hi = (pd.Timestamp(p.strip()).date() for p in parts)
    except ValueError:
        raise error(f"{flag}: cannot read {text!r} as two dates START:END") from None
    if hi < lo:
        raise error(f"{flag}: ends ({hi}) before it starts ({lo})")
    if lo < dt.date(1678, 1, 1) or hi > dt.date(2261, 12, 31):  # datetime64[ns], as the orders
        raise error(f"{flag}: {text!r} leaves the dates a calibration can hold (1678 … 2261)")
    return lo, hi


def _families(text: str | None, channels: set[str], error) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        ch, sep, fam = part.partition("=")
        ch, fam = ch.strip(), fam.strip()
        if not sep or fam not in FAMILIES:
            raise error(
                f"--families {part!r}: expected CHANNEL=FAMILY with FAMILY one of "
                f"{', '.join(FAMILIES)}"
            )
        if ch not in channels:
            print(f"warning: --families: channel {ch!r} has no orders in the file", file=sys.stderr)
        out[ch] = fam
    return out


def _write_yaml(out: Path, cal, args) -> None:
    header = (
        f"# Calibrated by `channelsim calibrate {args.orders}` on "
        f"{dt.date.today().isoformat()}\n# from orders dated {cal.start} … {cal.end}.\n"
        "# Fitted: market real_customers (customers = simulated agents), initial_customers,\n"
        "# initial_private, organic_interest, churn; segments (share, basket_units,\n"
        "# purchase_cycle_days, cycle_cv, affinity); channels (family, price_index, private\n"
        "# join_base).\n"
        "# Everything else is held at the calibration template (docs/calibration.md).\n"
        "# Budgets are zero: add your spend here or in a plan that extends this file.\n"
    )
    if args.spend:  # the acquisition side and the budgets came from the spend history
        header = header.replace(
            "# Budgets are zero: add your spend here or in a plan that extends this file.\n",
            f"# From the spend history {args.spend}: market size, organic_interest,\n"
            "# word_of_mouth, each spending lever's response (and the private pool's join\n"
            "# response when its spend moved), budgets = the last four weeks' mean spend,\n"
            "# budget.observed = the spend range the history covered; draws in `uncertainty`.\n",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(
        header + yaml.safe_dump(cal.raw, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    os.replace(tmp, out)


def _interval_text(low: float, high: float) -> str:
    """``[low, high]``, or "not estimable" where a flat or singular fit gave no interval."""
    if math.isnan(low) or math.isnan(high):  # e.g. a latent class of a few customers
        return "[not estimable]"
    return f"[{low:.4g}, {high:.4g}]"


def _print_summary(cal, out: Path, report: Path, metrics) -> None:
    s, r, bg = cal.summary(), cal.renewal, cal.bgnbd
    m = cal.raw["market"]
    print(f"calibrated on {s['customers']} customers, {cal.start} … {cal.end}")
    print(
        f"  purchase cycle {r.cycle_days:.1f} days (cv {r.cycle_cv:.2f}), mean gap "
        f"{r.mean_gap():.1f} days, churn {r.hazard:.5f}/day"
    )
    print(f"  BG/NBD (weeks): r={bg.r:.3f} alpha={bg.alpha:.3f} a={bg.a:.3f} b={bg.b:.3f}")
    print(
        f"  market {cal.market_size:,.0f} customers, {cal.alive:,.0f} alive at the end; "
        f"guide price {m['guide_price']:g} CNY"
    )
    if len(cal.segment_fits) > 1:
        print(
            "  segments: "
            + "; ".join(
                f"{k} {cal.baskets[k]['share']:.0%} cycle {f.cycle_days:.1f} d "
                f"(cv {f.cycle_cv:.2f})"
                for k, f in cal.segment_fits.items()
            )
        )
    if cal.spread is not None:
        t = cal.spread.table
        bic = ", ".join(f"{v} {t[v]['bic']:,.1f}" for v in VARIANTS)
        bic += f" with {t['latent']['classes']} classes"
        days = [v for v in DAY_VARIANTS if v in t]  # the structure chosen, in purchase days
        if days:
            bic += "; in purchase days " + ", ".join(f"{v} {t[v]['bic']:,.1f}" for v in days)
            bic += f" with {t['latent/day']['classes']}" if "latent/day" in t else ""
        print(f"  heterogeneity: {cal.spread.winner} by {cal.spread.selected_by} (BIC {bic})")
        inner = cal.spread.forecast
        if inner is not None and inner.reason:
            print(f"  inner forecast: not used: {inner.reason}")
        if inner is not None and inner.scores:
            print(
                f"  inner forecast ({inner.weeks} weeks after {inner.cut}, {inner.actual:,.0f} "
                "repeats; score = (|cum. error| + weekly MAPE) / 2, ties within "
                f"{inner.margin:.1f}): "
                + ", ".join(
                    f"{v} {sc['score']:.1f} ({sc['cumulative_error_pct']:+.1f} %, "
                    f"MAPE {sc['weekly_mape_pct']:.1f} %)"
                    for v, sc in inner.scores.items()
                )
            )
        for seg in cal.raw["market"]["segments"] if cal.spread.winner != "none" else []:
            spread = ", ".join(
                f"{k} {seg[k]:g}"
                for k in (
                    "share",
                    "rate_shape",
                    "rate_beta",
                    "churn_shape",
                    "dropout_a",
                    "dropout_b",
                    "basket_shape",
                    "basket_units",
                    "first_basket_units",
                )
                if k in seg
            )
            print(
                f"  simulated {seg['id']}: exponential needs, cycle "
                f"{seg['purchase_cycle_days']:g} days, {spread}, churn {m['churn']:g}/day"
            )
        if cal.spread_intervals:
            print("  95 % intervals (* weakly identified: the data pin down a combination):")
            print(
                "    "
                + ", ".join(
                    f"{k}{'*' if e['weakly_identified'] else ''} {e['value']:.4g} "
                    + _interval_text(e["low"], e["high"])
                    for k, e in cal.spread_intervals.items()
                )
            )
    if cal.segment_spread is not None:  # several segments: a BG/NBD per segment, or none
        table = cal.segment_spread.table
        bic = ", ".join(f"{v} {t['bic']:,.1f}" for v, t in table.items() if "scale" not in t)
        unlabelled = cal.segment_spread.criterion == UNCONDITIONAL
        given = "no labels" if unlabelled else "given the segment labels"
        print(
            f"  heterogeneity per segment: {cal.segment_spread.winner} (BIC {bic}, {given}; "
            "only these two: market.churn is market-wide)"
        )
        if cal.segment_spread.winner != "none":  # the labels' shares, or the mixture's
            days = ", ".join(f"{v} {t['bic']:,.1f}" for v, t in table.items() if "scale" in t)
            shares = ", ".join(f"{k} {v:.0%}" for k, v in cal.segment_spread.shares.items())
            days = f"estimated in purchase days ({days}); " if days else ""
            print(f"    {days}segments simulated at: {shares}")
    shares = ", ".join(f"{k} {v:.0%}" for k, v in s["channels"]["order_share"].items())
    print(f"  order shares: {shares}")
    if metrics:
        print(
            f"holdout: weekly MAPE {metrics['weekly_mape_pct']:.1f} % (BG/NBD "
            f"{metrics['weekly_mape_pct_bgnbd']:.1f} %), cumulative error "
            f"{metrics['cumulative_error_pct']:+.1f} % (BG/NBD "
            f"{metrics['cumulative_error_pct_bgnbd']:+.1f} %)"
        )
        print(f"  (repeat orders of the calibration cohort; simulated: {metrics['acquisition']})")
        if "revenue_error_pct" in metrics:
            print(
                f"  holdout repeat revenue: error {metrics['revenue_error_pct']:+.1f} % "
                f"(BG/NBD × gamma-gamma {metrics['revenue_error_pct_bgnbd_gamma_gamma']:+.1f} %)"
            )
    print(f"scenario written to {out}; calibration report in {report}")
