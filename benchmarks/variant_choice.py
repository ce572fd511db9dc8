"""How well does each rule choose the heterogeneity variant? A study on histories with known truth.

Order histories are drawn exactly from known repeat processes (the truths below: BG/NBD,
2-class BG/NBD, Pareto/NBD, the homogeneous renewal process, and a mix that none of the
variants is), with a cohort whose first orders are spread over the first 12 weeks, a 39-week
calibration window and the 39 weeks after it as the holdout, as in Fader, Hardie & Lee's
CDNOW split. On each
history every variant is fitted once on the whole window (as ``calibrate`` does) and once at
each inner origin (fitted on the window's first f, forecasting the rest of it, as
:func:`sim.calibration.inner_forecast.inner_forecast` does); the holdout is only used to score
the choice afterwards. Each rule then picks from the same fits, so the rules are compared on
identical data:

* ``bic``: the lowest BIC on the whole window;
* ``cut2/3`` (the default until this study), ``cut1/2``, ``cut1/3``: one inner origin, the best
  score wins, variants within the margin (the SE of the inner actual total, %) tie, lowest BIC;
* ``rolling``: the scores averaged over the origins 1/3, 1/2 and 2/3 (margin averaged too);
* ``rolling2``: the same over the origins 1/2 and 2/3;
* ``every``: only variants within the margin of the best at *every* origin 1/3, 1/2, 2/3 are
  candidates, the lowest BIC among them (none at every origin: ``rolling``'s choice);
* ``simplest``: as ``every``, but the fewest parameters among the candidates (then BIC);
* ``guarded`` (``guarded2``): the lowest BIC, unless another variant beats it by more than the
  margin at every origin 1/3, 1/2, 2/3 (1/2, 2/3);
* ``band6``, ``band10``: among the variants within 6 (10) BIC points of the lowest — Kass &
  Raftery's "strong" ("very strong") evidence against the others — the best mean inner score
  over the origins 1/3, 1/2, 2/3; ``band6-2/3``: the same with the 2/3 origin only (the
  ``bic+forecast`` default of ``calibrate`` since this study).

The rules after ``simplest`` were added after a first look at seeds 0-3 (sizes 2000 and 5000);
``band6-2/3`` was then fixed as the candidate before any result of the confirmation histories
(size 20 000 seeds 0-3; sizes 2000 and 5000 seeds 4-9) was looked at. docs/calibration.md
has both tables.

Reported per truth and rule: how often the true variant is chosen (``true``), how often the
choice forecasts the holdout about as well as the true variant fitted on the same window
(``ok``: |cumulative error| no more than 2 points worse; for ``mixed``, which has no true
variant, as well as the best variant on that history), the mean |cumulative error| and the
mean weekly MAPE of the choice's closed-form holdout forecast (each variant's own conditional
expectation; the renewal's by its renewal equation), and the mean regret (|error| − the best
variant's |error| on that history).

    python benchmarks/variant_choice.py [--sizes 2000,5000,20000] [--seeds 0,1,2,3]
        [--truths bgnbd,latent,pareto,renewal,mixed] [--cache /tmp/variant_choice.json]

Since the purchase-day estimate (docs/calibration.md, "Purchase days") each history also gets
the purchase-day BG/NBD, its latent classes and the purchase-day Pareto/NBD and one-hazard
NBD (:mod:`sim.calibration.day_variants`), and the
summary ends with, per truth, the holdout error of the default rule's structure as fitted
(continuous) and as ``calibrate`` now simulates it (its purchase-day estimate).

With ``--cache`` the per-history fits are kept (and reused: delete the file to refit), so the
rules can be re-scored without refitting. The last line is ``best: RULE``, the rule with the
smallest mean |holdout error| among those whose ``ok`` count is the highest.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibration.bgnbd import fit_bgnbd
from sim.calibration.day_variants import (
    DAY_VARIANTS,
    STRUCTURES,
    TWINS,
    fit_day_variants,
    fit_lifetime_twin,
)
from sim.calibration.heterogeneity import VARIANTS, fit_variants
from sim.calibration.histories import customer_histories
from sim.calibration.inner_forecast import cumulative_forecast, forecast_score, inner_forecast
from sim.calibration.renewal import fit_renewal, gap_pmf

START = pd.Timestamp("2025-01-01")
CAL_DAYS, HOLD_WEEKS, ACQUISITION = 273, 39, 84  # window days 0..272, holdout 39 weeks after
CONVERSION, LAPSE = 0.5, 0.35  # the sample template's, for the renewal variant
ORIGINS = (1 / 3, 1 / 2, 2 / 3)
# Weekly parameters. bgnbd: FHL's published CDNOW BG/NBD; pareto: Fader & Hardie's CDNOW
# Pareto/NBD; latent: a few regular buyers and many who buy once or twice and leave (not a
# fit to anything); renewal: the shipped sample's homogeneous process (days).
TRUTHS = {
    "bgnbd": ("rate+dropout", {"classes": [(1.0, 0.243, 4.414, 0.793, 2.426)]}),
    "latent": ("latent", {"classes": [(0.6, 0.5, 20.0, 1.5, 1.0), (0.4, 2.0, 10.0, 0.5, 5.0)]}),
    "pareto": ("rate+lifetime", {"pareto": (0.553, 10.578, 0.606, 11.669)}),
    "renewal": ("none", {"renewal": (30.0, 0.3, 0.004)}),
    # none of the variants: half Pareto/NBD customers (as above), half BG/NBD regulars
    "mixed": (
        None,
        {"pareto": (0.553, 10.578, 0.606, 11.669), "classes": [(0.5, 2.0, 10.0, 0.5, 5.0)]},
    ),
}


def draw_orders(truth: str, n: int, seed: int) -> pd.DataFrame:
    """Purchase days of ``n`` customers over 78 weeks under ``truth`` (one order per day)."""
    rng = np.random.default_rng(seed)
    spec = TRUTHS[truth][1]
    first = rng.integers(0, ACQUISITION, n)
    horizon = CAL_DAYS + 7 * HOLD_WEEKS - 1 - first  # last observed day, from the first order
    if "renewal" in spec:
        cycle, cv, h = spec["renewal"]
        pmf = gap_pmf(cycle, cv, CONVERSION, LAPSE, 1500)
        step = lambda m: rng.choice(len(pmf), m, p=pmf / pmf.sum()).astype(float)  # noqa: E731
        stop = rng.exponential(1 / h, n)  # lifetime, days
        return _walk(first, np.minimum(horizon, stop), step, None, rng)
    lam, p, until = np.zeros(n), np.zeros(n), horizon.astype(float)
    classes = spec.get("classes", [])
    k = rng.choice(
        len(classes) + 1, n, p=[1 - sum(c[0] for c in classes)] + [c[0] for c in classes]
    )
    if "pareto" in spec:  # class 0: Pareto/NBD customers
        r, alpha, s, beta = spec["pareto"]
        m = k == 0
        lam[m] = rng.gamma(r, 1 / alpha, m.sum()) / 7
        until[m] = np.minimum(until[m], 7 * rng.exponential(1 / rng.gamma(s, 1 / beta, m.sum())))
    for j, (_, r, alpha, a, b) in enumerate(classes, start=1):
        m = k == j
        lam[m] = rng.gamma(r, 1 / alpha, m.sum()) / 7
        p[m] = rng.beta(a, b, m.sum())
    return _walk(first, until, None, (lam, p), rng)


def _walk(first, until, gap, poisson, rng) -> pd.DataFrame:
    """Repeat purchases after each first order until ``until`` days later: renewal gaps
    (``gap``) or Poisson at rate λ/day with dropout p after each repeat (``poisson``)."""
    n = len(first)
    cust, day = [np.arange(n)], [first.copy()]
    t, live = np.zeros(n), np.ones(n, bool)
    while live.any():
        idx = np.flatnonzero(live)
        if gap is not None:
            t[idx] += gap(len(idx))
        else:
            lam = poisson[0][idx]
            t[idx] += np.where(lam > 0, rng.exponential(1 / np.maximum(lam, 1e-12)), np.inf)
        bought = t[idx] <= until[idx]
        got = idx[bought]
        cust.append(got)
        day.append(first[got] + np.floor(t[got]).astype(int))
        live[idx[~bought]] = False
        if poisson is not None:
            live[got[rng.random(len(got)) < poisson[1][got]]] = False
    c, d = np.concatenate(cust), np.concatenate(day)
    frame = pd.DataFrame({"customer": c, "day": d}).drop_duplicates()
    return pd.DataFrame(
        {
            "customer": frame["customer"].to_numpy(),
            "date": START + pd.to_timedelta(frame["day"].to_numpy(), "D"),
            "amount": 1.0,
        }
    )


def study_one(truth: str, n: int, seed: int) -> dict:
    """Every variant fitted on the window and at each origin; their holdout errors."""
    orders = draw_orders(truth, n, seed)
    end = START + pd.Timedelta(days=CAL_DAYS - 1)
    window = orders[orders["date"] <= end]
    hist, gaps = customer_histories(window, start=START, end=end)
    silences = (CAL_DAYS - 1 - hist["last"]).to_numpy(int)
    renewal = fit_renewal(gaps, silences, conversion=CONVERSION, lapse=LAPSE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = fit_bgnbd(hist["x"], hist["t_x"] / 7.0, hist["T"] / 7.0, unit_days=7.0)
        table, fits = fit_variants(hist, renewal, bg)
        origins = {}
        for f in ORIGINS:
            inner = inner_forecast(
                window, START, end, conversion=CONVERSION, lapse=LAPSE, fraction=f
            )
            origins[f"{f:.4f}"] = {
                "margin": inner.margin,
                "reason": inner.reason,
                "scores": {v: s["score"] for v, s in inner.scores.items()},
            }
    later = (orders["date"] - end).dt.days.to_numpy()
    d = later[(later >= 1) & (later <= 7 * HOLD_WEEKS)]
    actual = np.bincount((d - 1) // 7, minlength=HOLD_WEEKS).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        day_rows, day_fits = fit_day_variants(hist, bg)
        for structure in ("rate", "rate+lifetime"):
            rows, twin = fit_lifetime_twin(hist, fits[structure], TWINS[structure][0])
            day_rows, day_fits = day_rows | rows, day_fits | twin
    fits |= day_fits
    holdout = {}
    for v in (*VARIANTS, *DAY_VARIANTS):
        s = forecast_score(cumulative_forecast(v, fits[v], hist, silences, HOLD_WEEKS), actual)
        holdout[v] = {"err": s["cumulative_error_pct"], "mape": s["weekly_mape_pct"]}
    return {
        "truth": truth,
        "n": n,
        "seed": seed,
        "day_bic": {v: day_rows[v]["bic"] for v in DAY_VARIANTS},
        "bic": {v: table[v]["bic"] for v in VARIANTS},
        "k": {v: table[v]["parameters"] for v in VARIANTS},
        "origins": origins,
        "holdout": holdout,
    }


def _pick_one(rec: dict, origin: dict) -> str:
    if origin["reason"]:
        return min(VARIANTS, key=lambda v: rec["bic"][v])
    best = min(origin["scores"].values())
    near = [v for v in VARIANTS if origin["scores"][v] <= best + origin["margin"]]
    return min(near, key=lambda v: rec["bic"][v])


def _rolling(rec: dict, origins: tuple[float, ...] = ORIGINS) -> str:
    used = [rec["origins"][f"{f:.4f}"] for f in origins]
    used = [o for o in used if not o["reason"]]
    if not used:
        return min(VARIANTS, key=lambda v: rec["bic"][v])
    mean = {v: np.mean([o["scores"][v] for o in used]) for v in VARIANTS}
    margin = float(np.mean([o["margin"] for o in used]))
    near = [v for v in VARIANTS if mean[v] <= min(mean.values()) + margin]
    return min(near, key=lambda v: rec["bic"][v])


def _every(rec: dict, simplest: bool) -> str:
    used = [o for o in rec["origins"].values() if not o["reason"]]
    near = set(VARIANTS)
    for o in used:
        best = min(o["scores"].values())
        near &= {v for v in VARIANTS if o["scores"][v] <= best + o["margin"]}
    if not used or not near:
        return _rolling(rec)
    key = (lambda v: (rec["k"][v], rec["bic"][v])) if simplest else (lambda v: rec["bic"][v])
    return min(near, key=key)


def _guarded(rec: dict, origins: tuple[float, ...] = ORIGINS) -> str:
    """The lowest BIC, unless another variant forecasts better by more than the margin at
    every origin (then the best of those by mean score)."""
    w = min(VARIANTS, key=lambda v: rec["bic"][v])
    used = [rec["origins"][f"{f:.4f}"] for f in origins]
    used = [o for o in used if not o["reason"]]
    if not used:
        return w
    beat = [v for v in VARIANTS if all(o["scores"][v] < o["scores"][w] - o["margin"] for o in used)]
    return min(beat, key=lambda v: sum(o["scores"][v] for o in used)) if beat else w


def _band(rec: dict, width: float, origins: tuple[float, ...] = ORIGINS) -> str:
    """Among the variants within ``width`` BIC points of the lowest (no strong evidence
    against them), the best mean inner score over ``origins``."""
    low = min(rec["bic"].values())
    band = [v for v in VARIANTS if rec["bic"][v] <= low + width]
    used = [rec["origins"][f"{f:.4f}"] for f in origins]
    used = [o for o in used if not o["reason"]]
    if not used:
        return min(band, key=lambda v: rec["bic"][v])
    return min(band, key=lambda v: (sum(o["scores"][v] for o in used), rec["bic"][v]))


RULES = {
    "bic": lambda rec: min(VARIANTS, key=lambda v: rec["bic"][v]),
    "cut2/3": lambda rec: _pick_one(rec, rec["origins"][f"{2 / 3:.4f}"]),
    "cut1/2": lambda rec: _pick_one(rec, rec["origins"][f"{1 / 2:.4f}"]),
    "cut1/3": lambda rec: _pick_one(rec, rec["origins"][f"{1 / 3:.4f}"]),
    "rolling": _rolling,
    "rolling2": lambda rec: _rolling(rec, (1 / 2, 2 / 3)),
    "every": lambda rec: _every(rec, simplest=False),
    "simplest": lambda rec: _every(rec, simplest=True),
    "guarded": _guarded,
    "guarded2": lambda rec: _guarded(rec, (1 / 2, 2 / 3)),
    "band6": lambda rec: _band(rec, 6.0),
    "band10": lambda rec: _band(rec, 10.0),
    "band6-2/3": lambda rec: _band(rec, 6.0, (2 / 3,)),
}


def summarise(records: list[dict]) -> str:
    """One line per truth × rule and an overall line per rule; the last line names the best."""
    lines, overall = [], {}
    for truth in [*TRUTHS, "all"]:
        recs = [r for r in records if truth in ("all", r["truth"])]
        if not recs:
            continue
        for name, rule in RULES.items():
            true = ok = 0
            errs, mapes, regrets = [], [], []
            for rec in recs:
                chosen, right = rule(rec), TRUTHS[rec["truth"]][0]
                h = rec["holdout"]
                true += chosen == right
                if right is None:  # no true variant: as well as the best one
                    right = min(VARIANTS, key=lambda v: abs(h[v]["err"]))  # noqa: B023
                ok += abs(h[chosen]["err"]) <= abs(h[right]["err"]) + 2.0
                errs.append(abs(h[chosen]["err"]))
                mapes.append(h[chosen]["mape"])
                regrets.append(abs(h[chosen]["err"]) - min(abs(h[v]["err"]) for v in VARIANTS))
            lines.append(
                f"{truth:8s} {name:9s} true {true:2d}/{len(recs)}  ok {ok:2d}/{len(recs)}  "
                f"|err| {np.mean(errs):5.2f} %  MAPE {np.mean(mapes):5.2f} %  "
                f"regret {np.mean(regrets):5.2f}"
            )
            if truth == "all":
                overall[name] = (ok, -np.mean(errs))
    best = max(overall, key=lambda k: overall[k])
    return "\n".join([*lines, *in_purchase_days(records), f"best: {best}"])


def in_purchase_days(records: list[dict], rule: str = "band6-2/3") -> list[str]:
    """Per truth: the histories where ``rule`` chose a structure with a purchase-day estimate
    (all but ``none``), the mean |holdout error| and weekly MAPE of that continuous fit and of
    the purchase-day estimate ``calibrate`` simulates instead (for a BG/NBD one class or
    latent classes by BIC in purchase days), and on how many histories the latter's |error|
    was smaller."""
    lines = []
    for truth in [*TRUTHS, "all"]:
        recs = [r for r in records if truth in ("all", r["truth"]) and "day_bic" in r]
        pairs = []
        for rec in recs:
            chosen = RULES[rule](rec)
            if chosen in STRUCTURES:
                day = min(TWINS[chosen], key=lambda v: rec["day_bic"][v])  # noqa: B023
                pairs.append((rec["holdout"][chosen], rec["holdout"][day]))
        if not pairs:
            continue
        cont, day = ([abs(p[i]["err"]) for p in pairs] for i in (0, 1))
        mape = [np.mean([p[i]["mape"] for p in pairs]) for i in (0, 1)]
        better = sum(d < c for c, d in zip(cont, day, strict=True))
        lines.append(
            f"{truth:8s} {rule} in purchase days: {len(pairs)} histories re-estimated, "
            f"|err| {np.mean(cont):5.2f} % → {np.mean(day):5.2f} %, MAPE "
            f"{mape[0]:5.2f} % → {mape[1]:5.2f} %, smaller |err| in {better}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,5000,20000")
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--truths", default=",".join(TRUTHS))
    ap.add_argument("--cache", default=None, help="JSON file of per-history fits (reused)")
    args = ap.parse_args()
    cache = Path(args.cache) if args.cache else None
    records = json.loads(cache.read_text()) if cache and cache.exists() else []
    done = {(r["truth"], r["n"], r["seed"]) for r in records}
    for seed in map(int, args.seeds.split(",")):  # seed-major: a cut-short run stays balanced
        for n in map(int, args.sizes.split(",")):
            for truth in args.truths.split(","):
                if (truth, n, seed) in done:
                    continue
                t0 = time.perf_counter()
                rec = study_one(truth, n, seed)
                records.append(rec)
                picks = " ".join(f"{k}={rule(rec)}" for k, rule in RULES.items())
                print(f"{truth} n={n} seed={seed} ({time.perf_counter() - t0:.0f} s): {picks}")
                if cache:
                    cache.write_text(json.dumps(records))
    sizes, seeds = set(map(int, args.sizes.split(","))), set(map(int, args.seeds.split(",")))
    truths = set(args.truths.split(","))
    asked = [r for r in records if r["n"] in sizes and r["seed"] in seeds and r["truth"] in truths]
    print(summarise(asked))  # the histories asked for (a cache may hold more)


if __name__ == "__main__":
    main()
