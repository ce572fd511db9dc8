"""What ``channelsim optimize budget`` says: the console lines, ``summary.json`` and ``report.md``.

Written twice: once when the loop ends (``status: unverified``; nothing claims the plan is
feasible), then again from the verified choice (:class:`optimizers.budget.BudgetChoice`). The
words "feasible" and "every constraint holds" appear only when the verification shows every
constraint holding and every target ``met``; the target verdicts shown are
:func:`sim.experiments.evaluate_targets`'s, as in ``channelsim compare``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimizers.commands.common import REPORT_FOOTER, table_md


def console_lines(res, choice) -> str:
    """The split (start → recommended) and the verdict line."""
    rec = choice.chosen.spend if choice is not None else res.spend
    lines = [f"{'lever':<24}{'start':>14}{'recommended':>14}  (CNY/day)"]
    for name in rec:
        lines.append(f"{name:<24}{res.start_spend[name]:>14,.0f}{rec[name]:>14,.0f}")
    lines += [f"! extrapolated response: {e}" for e in res.extrapolated(rec)]
    n_it = len(res.iterations) - 1
    if choice is None:
        lines.append(
            f"{res.objective} (loop estimate, not verified): {res.start_value:,.0f} → "
            f"{res.value:,.0f} ({n_it} iterations)"
        )
        return "\n".join(lines)
    lines.append(
        f"{res.objective} (verified): {choice.start.value:,.0f} → {choice.chosen.value:,.0f} "
        f"({n_it} iterations, recommended: {choice.chosen.label}); {choice.headline()}"
    )
    lines += [f"- {f}" for f in choice.findings]
    return "\n".join(lines)


def failures_table(res, choice) -> pd.DataFrame:
    """Every failed replication: in the loop (iteration, point) and at verification (plan)."""
    rows = [{"stage": "loop", **r} for r in res.failures.to_dict("records")]
    if choice is not None:
        rows += [{"stage": "verification", **r} for r in choice.failures.to_dict("records")]
    cols = ["stage", "iteration", "point", "plan", "replication", "error"]
    return pd.DataFrame(rows, columns=cols)


def summary(res, choice, ver_summary: dict | None) -> dict[str, Any]:
    """``summary.json``: the verified recommendation (or ``status: unverified``)."""
    loop = {
        "spend": res.spend,
        "value": res.value,
        "start_value": res.start_value,
        "constraints_hold": res.feasible,  # at the loop's estimate, few replications
        "candidates": [{"iteration": it, "spend": s} for it, s in res.candidates],
    }
    out: dict[str, Any] = {
        "optimizer": "budget",
        "objective": res.objective,
        "start": res.start_spend,
        "iterations": len(res.iterations) - 1,
        "targets": res.targets,
        "failures": failures_table(res, choice).to_dict("records"),
        "loop": loop,
    }
    if choice is None:
        return out | {
            "status": "unverified",
            "feasible": None,
            "recommendation": None,
            "verification": {"status": "pending"},
        }
    from optimizers.response import spend_overrides

    chosen = choice.chosen
    return out | {
        "status": choice.status,
        "feasible": choice.feasible,
        "headline": choice.headline(),
        "findings": choice.findings,
        "recommended_plan": chosen.label,
        "recommendation": chosen.spend,
        "extrapolated": res.extrapolated(chosen.spend),
        "overrides": spend_overrides(res.levers, list(chosen.spend.values())),
        "value": chosen.value,
        "start_value": choice.start.value,
        "active": res.problem.active(pd.Series(chosen.spend).to_numpy()),
        "constraints": chosen.checks,
        "plans": choice.summary()["plans"],
        "target_constraints": choice.target_constraints,
        "verification": {"status": "done", **(ver_summary or {})},
    }


def report(res, choice, figs: list[Path], root: Path, replications: int) -> str:
    """``report.md``."""
    from optimizers.verification import markdown

    rec = choice.chosen.spend if choice is not None else res.spend
    split = pd.DataFrame(
        {
            "lever": list(rec),
            "start (CNY/day)": [res.start_spend[k] for k in rec],
            ("recommended" if choice is not None else "loop's best") + " (CNY/day)": list(
                rec.values()
            ),
        }
    )
    name = (res.start_scenario or res.scenario).name
    parts = [f"# Budget optimisation: {name}"]
    if choice is None:
        parts += [
            "## Verdict: not verified",
            "The loop has ended; its answer has not been verified yet (or the verification "
            "failed: see `summary.json`). Nothing here says the plan meets its constraints.",
        ]
    else:
        parts += [
            f"## Verdict ({res.objective}, verified)",
            f"{choice.headline()}.",
            "\n".join(f"- {f}" for f in choice.findings),
        ]
    parts += ["## Recommended split" if choice else "## The loop's best split", table_md(split)]
    if extrapolated := res.extrapolated(rec):
        parts += [
            "**Relies on extrapolated response**: these levers leave the spend range the "
            "history observed (`budget.observed`), where the response was not fitted:\n"
            + "\n".join(f"- {e}" for e in extrapolated)
        ]
    if choice is not None:
        parts += [
            "## Verified plans: the start and every accepted candidate",
            f"Full replications ({choice.replications}, common random numbers, the "
            "replications every plan completed); a plan counts as meeting the constraints "
            "only if each one holds and each target's verdict is `met`.",
            table_md(choice.table()),
            "## Constraints at the recommendation (verified)",
            table_md(pd.DataFrame(choice.chosen.checks)),
        ]
    if res.targets:
        parts += [
            "## The plan's targets as constraints",
            "\n".join(f"- {t}: {how}" for t, how in res.targets.items()),
        ]
    fails = failures_table(res, choice)
    if len(fails):
        parts += ["## Failed replications", table_md(fails)]
    loop_it = res.iterations.rename(columns={"feasible": "constraints hold (loop estimate)"})
    parts += [
        f"## Iterations (trust-region loop, {replications} replications per point: estimates)",
        table_md(loop_it),
    ]
    if choice is not None:
        parts += [
            "## Verification (full replications, common random numbers)",
            markdown(choice.verification),
        ]
    parts += ["## Figures", *[f"![{f.stem}]({f.relative_to(root).as_posix()})" for f in figs]]
    parts.append(REPORT_FOOTER)
    return "\n\n".join(parts) + "\n"
