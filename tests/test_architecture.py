"""The architecture as the README draws it, checked on the source: sizes, layers, no cycles,
the optimisers on ``sim``'s public API only, the day's state typed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "optimizers")
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300

# Layers of sim, in the order data flows; a module may import its own layer or lower ones.
LAYER = {
    "errors": 0,
    "scenario": 1,
    "core": 2,
    "levers": 2,
    "inventory": 2,
    "rules": 2,
    "kpis": 3,
    "results": 3,
    "experiments": 4,
    "reports": 5,
    "calibration": 6,
    "studio": 7,
    "commands": 8,
}
# A scenario is made of the levers' and the stock's own schemas (pydantic models only).
SCHEMA_MODULES = {
    "sim.levers.pricing",
    "sim.levers.promotions",
    "sim.levers.tiers",
    "sim.inventory.schema",
}


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def runtime_imports(path: Path) -> list[str]:
    """Modules imported when the module runs (``if TYPE_CHECKING:`` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }
    names = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


ALL = {**modules("sim"), **modules("optimizers")}


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_module_over_the_size_limit(name):
    lines = len(ALL[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{name}: {lines} lines"


def test_no_class_over_the_size_limit():
    big = []
    for name, path in ALL.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno > MAX_CLASS_LINES:
                big.append(f"{name}.{node.name}: {node.end_lineno - node.lineno} lines")
    assert not big


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYER.get(parts[1]) if parts[0] == "sim" and len(parts) > 1 else None


def test_data_flows_one_way_through_the_layers():
    wrong = []
    for name, path in modules("sim").items():
        mine = _layer(name)
        if mine is None:
            continue
        for imp in runtime_imports(path):
            theirs = _layer(imp)
            if theirs is not None and theirs > mine and imp not in SCHEMA_MODULES:
                wrong.append(f"{name} imports {imp}")
            if imp.startswith("optimizers"):
                wrong.append(f"{name} imports {imp} (sim never imports optimizers)")
    assert not wrong


def test_no_import_cycles_between_modules():
    graph = {
        name: {i for i in runtime_imports(path) if i in ALL and i != name}
        for name, path in ALL.items()
    }
    # A package's __init__ re-exports its modules; cycles through it are not dependencies.
    graph = {n: {i for i in deps if not n.startswith(i + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" → ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles


PUBLIC = {"sim", "sim.errors"} | {f"sim.{p}" for p in LAYER if p not in ("errors", "kpis")}


def test_optimizers_use_the_public_api_only():
    wrong = [
        f"{name} imports {imp}"
        for name, path in modules("optimizers").items()
        for imp in runtime_imports(path)
        if imp.startswith("sim") and imp not in PUBLIC | {"sim.kpis"}
    ]
    assert not wrong


def test_the_public_api_exports_what_a_notebook_needs():
    needed = {"load_scenario", "ChannelMarket", "simulate", "evaluate", "compare"}
    needed |= {"compute_kpis", "run_sweep", "Scenario", "Ledger", "write_report"}
    assert needed <= set(sim.__all__)
    assert all(hasattr(sim, name) for name in sim.__all__)
    assert (ROOT / "sim" / "py.typed").is_file()


def test_phases_are_typed_and_share_a_typed_day():
    for path in [*(ROOT / "sim/core/phases").glob("*.py"), ROOT / "sim/levers/promote.py"]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                args = node.args.args
                assert all(a.annotation is not None for a in args), (path.name, node.name)
                assert node.returns is not None, (path.name, node.name)
    for path in ALL.values():
        assert "model.today[" not in path.read_text(encoding="utf-8"), path
