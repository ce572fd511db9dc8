"""The holdout validation's report (:func:`write_report`): validation.md, validation.json, the
weekly and conditional-expectation tables and the tracking plots of
:class:`sim.calibration.validation.Validation`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.calibration import holdout_value  # noqa: E402
from sim.calibration.cohort_replay import market_markdown  # noqa: E402
from sim.results.directories import write_json  # noqa: E402

if TYPE_CHECKING:
    from sim.calibration.validation import Validation

ORDERS_ONLY = (
    "the order fit's market size and acquisition, at the scenario's constant budget "
    "(no spend history given)"
)


def write_report(v: Validation, out: Path) -> list[str]:
    """validation.md, validation.json, weekly.csv, conditional_expectation.csv and 4 PNGs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    v.weekly.to_csv(out / "weekly.csv", index=False)
    v.conditional.to_csv(out / "conditional_expectation.csv", index=False)
    write_json(out / "validation.json", v.to_dict())
    figs = [
        _plot_tracking(v.weekly, cumulative=False, path=out / "tracking_weekly.png"),
        _plot_tracking(v.weekly, cumulative=True, path=out / "tracking_cumulative.png"),
        _plot_conditional(v.conditional, out / "conditional_expectation.png"),
        _plot_revenue(v.weekly, out / "tracking_revenue.png"),
    ]
    (out / "validation.md").write_text(_markdown(v), encoding="utf-8")
    return [
        "validation.md",
        "validation.json",
        "weekly.csv",
        "conditional_expectation.csv",
        *[f.name for f in figs],
    ]


def _plot_tracking(w: pd.DataFrame, *, cumulative: bool, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    suffix = "_cum" if cumulative else ""
    low, high = ("sim_cum_low", "sim_cum_high") if cumulative else ("sim_low", "sim_high")
    x = w["week"]
    ax.fill_between(
        x, w[low], w[high], alpha=0.25, color="tab:blue", label="simulator 5–95 % over replications"
    )
    ax.plot(
        x, w[f"sim{'_cum' if cumulative else '_mean'}"], color="tab:blue", label="simulator (mean)"
    )
    ax.plot(x, w[f"bgnbd{suffix}"], color="tab:green", ls="--", label="BG/NBD forecast")
    ax.plot(x, w[f"actual{suffix}"], color="black", lw=1.5, label="actual")
    ax.set_ylabel(("cumulative " if cumulative else "weekly ") + "repeat transactions (orders)")
    ax.set_title(
        ("Cumulative" if cumulative else "Weekly")
        + " repeat transactions of the calibration cohort: actual vs calibrated model"
    )
    return _weeks_figure(fig, ax, w, path)


def _weeks_figure(fig, ax, w: pd.DataFrame, path: Path) -> Path:
    """A tracking plot's common end: the holdout shaded, the week axis, legend, saved."""
    hold = w.loc[w["period"] == "holdout", "week"]
    if len(hold):
        ax.axvspan(hold.min() - 0.5, hold.max() + 0.5, color="grey", alpha=0.1, label="holdout")
    ax.set_xlabel("week since the start of the calibration period")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_revenue(w: pd.DataFrame, path: Path) -> Path:
    """Cumulative repeat revenue of the cohort: actual, the simulator's band, the benchmark."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = w["week"]
    ax.fill_between(
        x,
        w["sim_revenue_cum_low"],
        w["sim_revenue_cum_high"],
        alpha=0.25,
        color="tab:blue",
        label="simulator 5–95 % over replications",
    )
    ax.plot(x, w["sim_revenue_cum"], color="tab:blue", label="simulator (mean)")
    ax.plot(
        x,
        w["bgnbd_gamma_gamma_revenue_cum"],
        color="tab:green",
        ls="--",
        label="BG/NBD E[X] × gamma-gamma mean value (unconditional)",
    )
    ax.plot(x, w["actual_revenue_cum"], color="black", lw=1.5, label="actual")
    ax.set_ylabel("cumulative repeat revenue (order currency)")
    ax.set_title("Cumulative repeat revenue of the calibration cohort: actual vs calibrated model")
    return _weeks_figure(fig, ax, w, path)


def _plot_conditional(c: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(c["x"], c["actual"], "ko-", label="actual")
    ax.plot(c["x"], c["bgnbd"], "s--", color="tab:green", label="BG/NBD E[Y | x, t_x, T]")
    ax.plot(c["x"], c["simulator"], "^-", color="tab:blue", label="simulator")
    ax.set_xlabel("repeat purchases in the calibration period (x)")
    ax.set_ylabel("mean purchases per customer in the holdout")
    ax.set_title("Conditional expectation: holdout purchases by calibration purchases")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown(v: Validation) -> str:
    m = v.metrics
    band = m["holdout_repeat_simulated_band"]
    cond = v.conditional.copy()
    lines = [
        "# Holdout validation of the calibrated customer model",
        "",
        f"Calibration period {m['calibration_period'][0]} … {m['calibration_period'][1]} "
        f"(cohort: {m['cohort']} customers whose first order falls in it); holdout "
        f"{m['holdout_period'][0]} … {m['holdout_period'][1]}; {m['replications']} simulator "
        f"replications (seed {m['seed']}).",
        "",
        f"Simulated acquisition: {m.get('acquisition', ORDERS_ONLY)}.",
        "",
        "| figure | simulator | BG/NBD |",
        "|---|---|---|",
        f"| MAPE of weekly repeat transactions, holdout ({m['holdout_weeks']} weeks) | "
        f"{m['weekly_mape_pct']:.1f} % | {m['weekly_mape_pct_bgnbd']:.1f} % |",
        f"| holdout repeat transactions: actual {m['holdout_repeat_actual']:,.0f} | "
        f"{m['holdout_repeat_simulated']:,.0f} (5–95 %: {band[0]:,.0f}–{band[1]:,.0f}) | "
        f"{m['holdout_repeat_bgnbd']:,.0f} |",
        f"| error of the cumulative total at the end of the holdout | "
        f"{m['cumulative_error_pct']:+.1f} % | {m['cumulative_error_pct_bgnbd']:+.1f} % |",
        f"| error of the cumulative total since the start | "
        f"{m['cumulative_since_start_error_pct']:+.1f} % | |",
        "",
        *market_markdown(m.get("whole_market")),
        *holdout_value.markdown(m),
        *_models_markdown(m.get("models", {})),
        "![weekly](tracking_weekly.png)",
        "",
        "![cumulative](tracking_cumulative.png)",
        "",
        "## Conditional expectation",
        "",
        "Mean purchases in the holdout by repeat purchases in the calibration period.",
        "",
        "| x | customers | actual | BG/NBD | simulator | simulated customers per replication |",
        "|---|---|---|---|---|---|",
    ]
    for _, r in cond.iterrows():
        lines.append(
            f"| {r['x']} | {_num(r['customers'])} | {_f(r['actual'])} | "
            f"{_f(r['bgnbd'])} | {_f(r['simulator'])} | {_num(r['sim_customers'])} |"
        )
    lines += [
        "",
        "![conditional expectation](conditional_expectation.png)",
        "",
        "Tables: `weekly.csv`, `conditional_expectation.csv`; figures as PNG; every "
        "number in `validation.json`.",
        "",
    ]
    return "\n".join(lines)


def _models_markdown(models: dict[str, Any]) -> list[str]:
    """The fitted models: which heterogeneity variant was chosen and why, and the BG/NBD."""
    lines = []
    het = models.get("heterogeneity")
    if het:
        lines += [
            "## Models fitted on the calibration period",
            "",
            f"Customer heterogeneity: **{het['chosen']}** simulated ({het['criterion']}).",
            "",
            "| variant | log-likelihood (per day) | parameters | AIC | BIC |",
            "|---|---|---|---|---|",
        ]
        if "why_only_these" in het:  # several segments
            lines[-2:-2] = [f"Per segment: {het['why_only_these']}.", ""]
        for name, row in het["variants"].items():
            mark = " ←" if name == het["chosen"] else ""
            k = f" ({row['classes']} classes)" if "classes" in row else ""
            lines.append(
                f"| {name}{k}{mark} | {row['loglik']:,.1f} | {row['parameters']} | "
                f"{row['aic']:,.1f} | {row['bic']:,.1f} |"
            )
        lines.append("")
        inner = het.get("inner_forecast") or {}
        if inner.get("used"):  # the criterion's own evidence: calibration data only
            lines += [
                f"Inner forecast of the {inner['holdout_weeks']} weeks after {inner['cut']} "
                f"({inner['actual_repeats']:,.0f} repeats; score {inner['score']}): "
                + ", ".join(
                    f"{v} {s['score']:.1f} ({s['cumulative_error_pct']:+.1f} %, "
                    f"MAPE {s['weekly_mape_pct']:.1f} %)"
                    for v, s in inner["variants"].items()
                ),
                "",
            ]
    bg, pub = models.get("bgnbd_weeks"), models.get("bgnbd_published")
    if bg:
        lines += ["| BG/NBD (weeks) | r | α | a | b |", "|---|---|---|---|---|"]
        lines.append(
            "| this fit | " + " | ".join(f"{bg[k]:.3f}" for k in "r alpha a b".split()) + " |"
        )
        if pub:
            lines.append(
                "| published | " + " | ".join(f"{pub[k]:.3f}" for k in "r alpha a b".split()) + " |"
            )
        lines.append("")
    return lines


def _f(x) -> str:
    with contextlib.suppress(TypeError, ValueError):
        if not np.isnan(x):
            return f"{x:.3f}"
    return "–"


def _num(x) -> str:
    with contextlib.suppress(TypeError, ValueError):
        if not np.isnan(x):
            return f"{x:,.0f}"
    return "–"
