"""Budget optimiser: curves recover known responses, LP + loop ≈ brute-force grid, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from optimizers.budget import InfeasibleError, optimize_budget
from optimizers.response import Curve, fit_curve, simulate_points
from sim.experiments import make_executor
from sim.scenario import load_scenario

from .conftest import SCENARIOS

TINY = {"market.customers": 1500, "horizon.days": 45, "market.scale": 1000}
LEVERS = ["tmall.paid", "douyin.paid"]
TOTAL = 60_000.0
ROI_FLOOR = 3.0
COST_SHARE_MAX = 0.6


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(SCENARIOS / "baseline.yaml", overrides=TINY)


@pytest.mark.parametrize("scale,amp", [(20_000.0, 900.0), (5_000.0, 3.0e6)])
def test_fit_recovers_a_known_exp_curve(scale, amp):
    x = np.linspace(0, 60_000, 7)
    c = fit_curve(x, 100 + amp * (1 - np.exp(-x / scale)))
    assert c.kind == "exp"
    assert c.scale == pytest.approx(scale, rel=1e-3)
    assert c.amplitude == pytest.approx(amp, rel=1e-3)
    xs, ys = c.pwl(0, 60_000, segments=6)
    assert np.all(np.diff(np.diff(ys) / np.diff(xs)) <= 1e-9)  # concave pieces


def test_fit_recovers_a_known_hill_curve():
    truth = Curve("hill", 10.0, 500.0, 8_000.0, 0.8)
    x = np.linspace(0, 50_000, 9)
    c = fit_curve(x, truth(x), kind="hill")
    assert np.allclose(c(x), truth(x), rtol=1e-4)


def test_fit_never_bends_upward_on_noise():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 10_000, 6)
    c = fit_curve(x, 50 - 0.001 * x + rng.normal(0, 1, 6))  # falling data, increasing=True
    assert c.amplitude >= 0


def _grid_optimum(sc, objective: str):
    """Brute force: simulate every split on a grid and keep the best one meeting all limits."""
    steps = np.linspace(0, TOTAL, 9)
    pts = [(a, b) for a in steps for b in steps if a + b <= TOTAL + 1e-9]
    with make_executor(workers=1) as ex:
        evs = simulate_points(
            sc,
            [{"channels.tmall.budget.paid": a, "channels.douyin.budget.paid": b} for a, b in pts],
            replications=1,
            seed=1,
            executor=ex,
        )
    best = -np.inf
    for (a, b), ev in zip(pts, evs, strict=True):
        if _violations(ev, {"tmall.paid": a, "douyin.paid": b}):
            continue
        best = max(best, ev.kpis[objective].mean())
    return best


def _violations(ev, spend) -> list[str]:
    k = ev.kpis
    out = []
    if sum(spend.values()) > TOTAL + 1e-6:
        out.append("total")
    for name, x in spend.items():
        ch = name.split(".")[0]
        if x > 0.5 and k[f"roi_paid.{ch}"].mean() < ROI_FLOOR - 1e-9:
            out.append(f"roi_paid.{ch}")
    if (k["cost_share"] * k["revenue"]).mean() / k["revenue"].mean() > COST_SHARE_MAX + 1e-9:
        out.append("cost_share")
    return out


def test_lp_loop_is_within_one_percent_of_the_grid_optimum_and_meets_every_constraint(tiny):
    res = optimize_budget(
        tiny,
        levers=LEVERS,
        total=TOTAL,
        objective="profit",
        roi_floor=ROI_FLOOR,
        cost_share_max=COST_SHARE_MAX,
        replications=1,
        seed=1,
        workers=1,
        max_iter=6,
    )
    grid = _grid_optimum(tiny, "profit")
    assert res.value >= grid - 0.01 * abs(grid)
    assert res.feasible and res.constraints["holds"].all()
    # Re-simulate the answer independently of the optimiser's own bookkeeping.
    with make_executor(workers=1) as ex:
        ev = simulate_points(res.scenario, [{}], replications=1, seed=1, executor=ex)[0]
    assert _violations(ev, res.spend) == []
    assert ev.kpis["profit"].mean() == pytest.approx(res.value)
    it = res.iterations
    assert list(it["iteration"]) == list(range(len(it)))
    assert it.loc[0, "status"] == "start"
    assert res.value >= it["simulated"][it["feasible"]].max() - 1e-6


def test_infeasible_linear_constraints_name_the_conflict(tiny):
    with pytest.raises(InfeasibleError) as err:
        optimize_budget(
            tiny,
            levers=LEVERS,
            total=10_000,
            roi_floor=None,
            bounds={"tmall.paid": (8_000, None), "douyin": (8_000, None)},
            replications=1,
            workers=1,
        )
    assert set(err.value.conflicts) == {"total", "bound tmall.paid", "bound douyin"}
    assert "tmall.paid ≥ 8,000" in str(err.value) and "before any simulation" in str(err.value)


def test_roi_floor_against_a_minimum_spend_is_reported(tiny):
    with pytest.raises(InfeasibleError) as err:
        optimize_budget(
            tiny,
            levers=LEVERS,
            total=TOTAL,
            roi_floor=1_000.0,
            bounds={"tmall.paid": (20_000, None)},
            replications=1,
            seed=1,
            workers=1,
            max_iter=1,
        )
    assert {"roi_paid.tmall", "bound tmall.paid"} <= set(err.value.conflicts)


def test_bad_arguments_name_the_field(tiny):
    with pytest.raises(ValueError, match="bounds: unknown lever or channel 'nope'"):
        optimize_budget(tiny, bounds={"nope": (0, 1)}, workers=1)
    with pytest.raises(ValueError, match="levers: unknown"):
        optimize_budget(tiny, levers=["tmall.seeding"], workers=1)
    with pytest.raises(ValueError, match="objective"):
        optimize_budget(tiny, objective="gmv", workers=1)  # type: ignore[arg-type]


def test_cli_reports_conflicts_with_exit_code_2(capsys):
    from sim.commands.cli import main

    code = main(
        [
            "optimize",
            "budget",
            str(SCENARIOS / "baseline.yaml"),
            "--total",
            "1000",
            "--bound",
            "tmall.paid=5000:",
            "--roi-floor",
            "0",
            "--workers",
            "1",
            *[f"--set={k}={v}" for k, v in TINY.items()],
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "bound tmall.paid" in err and "total" in err and "Traceback" not in err
    assert (
        main(["optimize", "budget", str(SCENARIOS / "baseline.yaml"), "--bound", "nope=1:2"]) == 2
    )
    assert "--bound: unknown lever or channel 'nope'" in capsys.readouterr().err


def test_milp_activation_respects_max_active_and_fixed_costs(tiny):
    res = optimize_budget(
        tiny,
        levers=LEVERS,
        total=TOTAL,
        objective="profit",
        roi_floor=None,
        fixed_costs={"tmall": 2_000.0, "douyin": 2_000.0},
        max_active=1,
        replications=1,
        seed=1,
        workers=1,
        max_iter=2,
    )
    assert sum(res.active.values()) <= 1
    assert res.constraints.set_index("constraint").loc["max_active", "holds"]
    spent = sum(res.spend.values()) + sum(2_000.0 for on in res.active.values() if on)
    assert spent <= TOTAL + 1e-6
