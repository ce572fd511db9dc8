"""Did a change move the model, or only the luck? KPI means of shipped scenarios, before vs after.

    python benchmarks/kpi_shift.py record /tmp/before.json      # on the old code
    python benchmarks/kpi_shift.py record /tmp/after.json       # on the new code
    python benchmarks/kpi_shift.py compare /tmp/before.json /tmp/after.json

``record`` evaluates ``--scenarios`` (default baseline, six_schemes, multichannel: all three with
stock) at ``--customers`` (5 000) over their own horizon, ``--replications`` (20) with ``--seed``
(11), one worker, and writes each KPI's mean, 95 % interval and sd. ``compare`` prints how many
KPIs moved by more than 2.1 standard errors of the difference (Welch) and how many after-means
fall outside the before-interval (about 17 % would for two runs of the same model with different
random numbers), then the largest moves. KPIs move in correlated clusters (a channel's revenue,
profit and ROI are one effect), so a share a little above 5 % is not by itself a model change:
re-run the few KPIs that moved with more replications.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def record(args: argparse.Namespace) -> int:
    from sim.experiments.evaluation import evaluate
    from sim.scenario import load_scenario

    out = {}
    for name in args.scenarios.split(","):
        sc = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
        ev = evaluate(
            sc,
            overrides={"market.customers": args.customers},
            replications=args.replications,
            seed=args.seed,
            workers=1,
        )
        s = ev.summary()
        out[name] = {
            k: {c: (None if s.loc[k, c] != s.loc[k, c] else float(s.loc[k, c])) for c in s.columns}
            for k in s.index
        }
    Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


def compare(args: argparse.Namespace) -> int:
    a = json.loads(Path(args.before).read_text())
    b = json.loads(Path(args.after).read_text())
    total = outside = moved = 0
    rows = []
    for sc, kpis in a.items():
        for k, v in kpis.items():
            w = b.get(sc, {}).get(k)
            if w is None or None in (v["mean"], w["mean"], v["ci_low"], v["sd"], w["sd"]):
                continue
            nv, nw = v.get("n") or args.n, w.get("n") or args.n
            se = math.sqrt(v["sd"] ** 2 / nv + w["sd"] ** 2 / nw)
            if se == 0:
                continue
            total += 1
            outside += not (v["ci_low"] <= w["mean"] <= v["ci_high"])
            t = (w["mean"] - v["mean"]) / se
            if abs(t) > 2.1:
                moved += 1
                rows.append((abs(t), sc, k, v["mean"], w["mean"], t))
    print(
        f"{total} KPIs: {moved} ({moved / max(total, 1):.1%}) moved by more than 2.1 standard "
        f"errors; {outside} ({outside / max(total, 1):.1%}) after-means outside the before-interval"
    )
    for _, sc, k, x, y, t in sorted(rows, reverse=True)[: args.top]:
        print(f"  {sc:14s} {k:36s} {x:14.6g} → {y:14.6g}  t = {t:+.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out")
    r.add_argument("--scenarios", default="baseline,six_schemes,multichannel")
    r.add_argument("--customers", type=int, default=5000)
    r.add_argument("--replications", type=int, default=20)
    r.add_argument("--seed", type=int, default=11)
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--top", type=int, default=20)
    c.add_argument("--n", type=int, default=20, help="replications, if a file lacks them")
    args = p.parse_args(argv)
    return record(args) if args.cmd == "record" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
