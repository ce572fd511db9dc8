"""Smoke test of the speed benchmark: it runs end to end and its last lines parse (no timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_engine.py"
LINE = re.compile(r"^(?P<key>[a-z_]+(?:\[\w+\])?): (?P<value>[0-9.eE+-]+)$")


def _bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_bench_engine_prints_machine_readable_lines():
    out = _bench(
        "--sizes", "2000,3000", "--days", "20", "--agent-customers", "2000", "--agent-days", "5"
    )
    assert out.returncode == 0, out.stderr
    values = {}
    for line in out.stdout.splitlines():
        if m := LINE.match(line):
            values[m["key"]] = float(m["value"])
    for key in (
        "customer_days_per_s[2000]",
        "customer_days_per_s[3000]",
        "ratio_vs_per_agent_mesa",
        "peak_rss_mb[2000]",
        "peak_rss_mb[3000]",
        "per_agent_customer_days_per_s[2000]",
        "import_s[engine]",  # (each side's imports, kernels loaded: in neither rate)
        "import_s[per_agent]",
    ):
        assert key in values, f"{key} missing from:\n{out.stdout}"
        assert values[key] > 0
    # Like for like: the engine re-run over the per-agent run's customers and days (5, not the
    # 20 of the sizes above), both with construction, over the per-agent rate.
    assert values["like_for_like_days"] == 5
    like = values["like_for_like_customer_days_per_s[2000]"]
    expected = like / values["per_agent_customer_days_per_s[2000]"]
    assert values["ratio_vs_per_agent_mesa"] == pytest.approx(expected, rel=0.02, abs=0.01)
    cpu = values["cpu_like_for_like_customer_days_per_s[2000]"]
    cpu_expected = cpu / values["cpu_per_agent_customer_days_per_s[2000]"]
    assert values["cpu_ratio_vs_per_agent_mesa"] == pytest.approx(cpu_expected, rel=0.02)
    # The per-agent Mesa version and the engine implement the same rules: no KPI differs by more
    # than 10 % and three standard errors (bench_engine.check_rules) on this scenario.
    assert values["rule_check_kpis"] >= 8, out.stdout
    assert values["rule_check_differs"] == 0, out.stdout


@pytest.mark.parametrize("flag", [["--sizes", "10k"], ["--sizes", "0"], ["--days", "-3"]])
def test_bench_engine_rejects_bad_flags(flag):
    out = _bench(*flag)
    assert out.returncode == 2
    assert flag[0] in out.stderr
    assert "Traceback" not in out.stderr


def _per_agent():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from per_agent_mesa import PerAgentMarket

    return PerAgentMarket


def test_per_agent_no_marketing_no_word_of_mouth_no_customers():
    """The per-agent rules obey the same lever test as the engine: nothing in, nothing out."""
    overrides = {
        "market.customers": 800,
        "horizon.days": 30,
        "market.organic_interest": 0,
        "market.word_of_mouth": 0,
        "market.initial_customers": 0,
    }
    for ch in ("tmall", "jd", "douyin", "wecom", "xiaohongshu"):
        overrides |= {f"channels.{ch}.budget.paid": 0, f"channels.{ch}.budget.seeding": 0}
    sc = load_scenario(ROOT / "scenarios" / "baseline.yaml", overrides=overrides)
    model = _per_agent()(sc, seed=3)
    for _ in range(sc.horizon.days):
        model.step()
    s = model.summary()
    assert s["orders_per_day"] == 0 and s["adopters_end"] == 0


def test_per_agent_more_paid_budget_more_orders():
    base = {"market.customers": 1500, "horizon.days": 40}
    more = base | {"channels.tmall.budget.paid": 400000, "channels.douyin.budget.paid": 300000}
    cls = _per_agent()
    orders = []
    for overrides in (base, more):
        sc = load_scenario(ROOT / "scenarios" / "baseline.yaml", overrides=overrides)
        model = cls(sc, seed=5)
        for _ in range(sc.horizon.days):
            model.step()
        orders.append(model.summary()["orders_per_day"])
    assert orders[1] > 1.5 * orders[0]


def test_paired_runs_times_both_trees_and_rejects_a_tree_without_sim(tmp_path):
    """One tiny pair (this tree against itself): both timings and the ratio are printed; a
    folder without the package is refused with exit code 2 and a message naming it."""
    script = ROOT / "benchmarks" / "paired_runs.py"
    run = [sys.executable, str(script)]
    args = ["--customers", "500", "--days", "5", "--pairs", "1", "--repeat", "1"]
    out = subprocess.run([*run, str(ROOT), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^pair 1: before [0-9.]+ ms, after [0-9.]+ ms", out.stdout, re.M)
    assert "median after / before:" in out.stdout
    bad = subprocess.run([*run, str(tmp_path), *args], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "holds no sim/ package" in bad.stderr
    assert "Traceback" not in bad.stderr
