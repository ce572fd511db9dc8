"""Scenario discovery: the box of parameter space where every target is met.

A point *meets the targets* when its mean (over its replications) meets every one. A shallow
decision tree (scikit-learn, CART) separates such points from the rest, and its purest leaf that
predicts "met" is the box, stated as ranges, with its *density* (share of points in the box that
meet every target) and *coverage* (share of all such points that fall in the box) — the measures
PRIM uses.

    >>> describe_box({"a": {"low": 1, "high": None}, "b": {"low": 0.5, "high": 2500.0}})
    ['a > 1', '0.5 < b ≤ 2,500']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.design import DesignTarget
from sim.scenario import ScenarioError


def discover(
    means: pd.DataFrame, targets: list[DesignTarget], parameters: list[str]
) -> dict[str, Any]:
    """The box of parameter space where every target is met (decision-tree leaf).

    ``means`` has one row per point; ``parameters`` are its numeric parameter columns, the
    ones a box can be stated in."""
    if not targets:
        return {"targets": [], "note": "no targets in the design: nothing to discover"}
    missing = [t.kpi for t in targets if t.kpi not in means.columns]
    if missing:
        raise ScenarioError([f"targets: KPI {k!r} is not in this sweep" for k in missing])
    met = np.ones(len(means), dtype=bool)
    for t in targets:
        met &= t.met(means[t.kpi]).fillna(False).to_numpy(dtype=bool)
    out: dict[str, Any] = {
        "targets": [t.label() for t in targets],
        "points": len(means),
        "points_met": int(met.sum()),
    }
    if met.all() or not met.any() or not parameters:
        out["box"] = {} if met.all() else None
        out["note"] = (
            "every point meets every target"
            if met.all()
            else "no point meets every target"
            if not met.any()
            else "no numeric parameter to describe a box"
        )
        return out
    box, inside = tree_box(means[parameters], met)
    out.update(
        box=box,
        readable=describe_box(box),
        points_in_box=int(inside.sum()),
        density=float(met[inside].mean()),
        coverage=float(met[inside].sum() / met.sum()),
    )
    return out


def tree_box(x: pd.DataFrame, met: np.ndarray) -> tuple[dict[str, dict], np.ndarray]:
    """The purest 'met' leaf of a shallow CART tree, as per-parameter bounds."""
    from sklearn.tree import DecisionTreeClassifier

    leaf_min = max(2, int(0.05 * len(x)))
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=leaf_min, random_state=0)
    tree.fit(x.to_numpy(dtype=float), met)
    leaves = tree.apply(x.to_numpy(dtype=float))
    best = _purest_leaf(leaves, met)
    bounds: dict[str, dict[str, float | None]] = {}
    t = tree.tree_
    for node, went_left in _path_to(t, best):
        name = x.columns[t.feature[node]]
        b = bounds.setdefault(name, {"low": None, "high": None})
        thr = float(t.threshold[node])
        if went_left:  # x ≤ threshold
            b["high"] = thr if b["high"] is None else min(b["high"], thr)
        else:
            b["low"] = thr if b["low"] is None else max(b["low"], thr)
    return bounds, leaves == best


def _purest_leaf(leaves: np.ndarray, met: np.ndarray) -> int:
    """The leaf with the highest share of 'met' points, then the most of them."""
    best, best_key = None, None
    for leaf in np.unique(leaves):
        inside = leaves == leaf
        key = (met[inside].mean(), met[inside].sum())  # density first, then coverage
        if best_key is None or key > best_key:
            best, best_key = leaf, key
    return best


def _path_to(t, leaf: int) -> list[tuple[int, bool]]:
    parent: dict[int, tuple[int, bool]] = {}
    for node in range(t.node_count):
        if t.children_left[node] != -1:
            parent[t.children_left[node]] = (node, True)
            parent[t.children_right[node]] = (node, False)
    path = []
    while leaf in parent:
        node, left = parent[leaf]
        path.append((node, left))
        leaf = node
    return path[::-1]


def describe_box(box: dict[str, dict[str, float | None]]) -> list[str]:
    """``{"a": {"low": 1, "high": None}}`` → ``["a > 1"]``."""
    lines = []
    for name, b in box.items():
        lo, hi = b["low"], b["high"]
        if lo is not None and hi is not None:
            lines.append(f"{_num(lo)} < {name} ≤ {_num(hi)}")
        elif lo is not None:
            lines.append(f"{name} > {_num(lo)}")
        else:
            lines.append(f"{name} ≤ {_num(hi)}")
    return lines or ["anywhere in the sampled space"]


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
