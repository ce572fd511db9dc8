"""Sweep designs: which scenario parameters vary, how they are sampled, what is analysed.

A design is a YAML file (see ``scenarios/designs/``)::

    name: budgets-grid
    sampler: grid            # grid | lhs | sobol | morris | montecarlo
    n: 16                    # lhs/montecarlo: points; sobol: base N; morris: trajectories
    seed: 7                  # sampler seed and simulation seed
    replications: 3          # per point
    kpis: [revenue, profit]  # analysed (every KPI is still recorded)
    overrides: {market.customers: 5000}   # fixed for every point (a resolution, not the market)
    parameters:
      channels.tmall.budget.paid: {low: 20000, high: 60000, steps: 3}
      channels.wecom.price_index: {levels: [0.85, 0.9, 0.95]}
      market.word_of_mouth: {distribution: lognormal, median: 0.002, sigma: 0.3}
    targets:
      - {kpi: profit, at_least: 0}

Every sampler first draws points in the unit hypercube (with SALib for lhs, sobol and morris,
with ``numpy`` for montecarlo, the product of level positions for grid); each parameter then maps
its coordinate ``u`` to a value: ``low + u (high − low)`` for a range, the ``⌊u k⌋``-th of ``k``
levels, or the quantile ``F⁻¹(u)`` of a distribution. So a Sobol design over a lognormal input is
a Sobol design over its quantiles, as in SALib.

    >>> d = Design.model_validate({"sampler": "grid", "parameters": {
    ...     "market.churn": {"low": 0.001, "high": 0.003, "steps": 3}}})
    >>> [round(v, 4) for v in sample(d)["market.churn"]]
    [0.001, 0.002, 0.003]
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import stats

from sim.scenario import Scenario, ScenarioError
from sim.scenario.kpi_names import kpi_names, kpi_problem, kpi_shape_problem
from sim.scenario.loading import _format_errors
from sim.scenario.yaml_io import read_yaml

Sampler = Literal["grid", "lhs", "sobol", "morris", "montecarlo"]
Distribution = Literal["uniform", "normal", "lognormal", "triangular", "truncnormal"]
# Unbounded quantile functions are evaluated inside (EPS, 1 − EPS): a Sobol or Morris point on
# the edge of the cube would otherwise map to ±∞.
EPS = 1e-3


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Parameter(_Frozen):
    """One varied input: a range, explicit levels, or a distribution (exactly one)."""

    low: float | None = None
    high: float | None = None
    steps: int = Field(default=3, ge=2, description="grid levels of a range or distribution")
    levels: list[Any] | None = Field(default=None, min_length=1)
    distribution: Distribution | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    median: float | None = Field(default=None, gt=0)
    sigma: float | None = Field(default=None, gt=0)
    mode: float | None = None
    integer: bool = Field(default=False, description="round sampled values to integers")

    @model_validator(mode="after")
    def _one_kind(self) -> Parameter:
        has_range = self.low is not None or self.high is not None
        kinds = [
            has_range and self.distribution is None,
            self.levels is not None,
            self.distribution is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of low/high, levels, or distribution")
        if (
            self.distribution in (None, "uniform", "triangular", "truncnormal")
            and self.levels is None
        ):
            if self.low is None or self.high is None:
                raise ValueError("a range needs both low and high")
            if not self.low < self.high:
                raise ValueError(f"low must be < high, got low={self.low}, high={self.high}")
        need = {
            "normal": ("mean", "sd"),
            "truncnormal": ("mean", "sd"),
            "lognormal": ("median", "sigma"),
            "triangular": ("mode",),
        }
        missing = [k for k in need.get(self.distribution or "", ()) if getattr(self, k) is None]
        if missing:
            raise ValueError(f"distribution {self.distribution} needs {', '.join(missing)}")
        if self.distribution == "triangular" and not self.low <= self.mode <= self.high:
            raise ValueError(f"mode must lie in [low, high], got {self.mode}")
        return self

    def values(self, u: np.ndarray) -> np.ndarray | list[Any]:
        """Map unit coordinates ``u`` to parameter values."""
        u = np.asarray(u, dtype=float)
        if self.levels is not None:
            idx = np.minimum((u * len(self.levels)).astype(int), len(self.levels) - 1)
            return [self.levels[i] for i in idx]
        if self.distribution in (None, "uniform"):
            x = self.low + u * (self.high - self.low)
        else:
            x = self._dist().ppf(np.clip(u, EPS, 1 - EPS))
        return np.round(x).astype(int) if self.integer else x

    def _dist(self):
        d = self.distribution
        if d == "normal":
            return stats.norm(self.mean, self.sd)
        if d == "lognormal":
            return stats.lognorm(self.sigma, scale=self.median)
        if d == "triangular":
            width = self.high - self.low
            return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)

    def grid_positions(self) -> np.ndarray:
        """Unit coordinates of the grid levels: every level, or ``steps`` evenly spaced."""
        if self.levels is not None:
            k = len(self.levels)
            return (np.arange(k) + 0.5) / k
        if self.distribution in (None, "uniform"):
            return np.linspace(0.0, 1.0, self.steps)
        return (np.arange(self.steps) + 0.5) / self.steps  # quantile midpoints


class DesignTarget(_Frozen):
    """A threshold on a KPI's mean over a point's replications (scenario discovery)."""

    kpi: str
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> DesignTarget:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("a target needs exactly one of at_least / at_most")
        return self

    def met(self, values: pd.Series) -> pd.Series:
        if self.at_least is not None:
            return values >= self.at_least
        return values <= self.at_most

    def label(self) -> str:
        op, bound = ("≥", self.at_least) if self.at_least is not None else ("≤", self.at_most)
        shown = f"{bound:,.0f}" if abs(bound) >= 1000 else f"{bound:g}"
        return f"{self.kpi} {op} {shown}"


class Design(_Frozen):
    """A validated, frozen sweep design (see the module docstring for the YAML)."""

    name: str = "sweep"
    description: str = ""
    sampler: Sampler = "grid"
    n: int = Field(
        default=16,
        ge=1,
        description="points (lhs, montecarlo), base N (sobol), "
        "trajectories (morris); unused by grid",
    )
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=1, ge=1)
    common_random_numbers: bool = Field(
        default=True, description="replication r of every point shares its random streams"
    )
    second_order: bool = Field(default=False, description="Sobol: also second-order indices")
    morris_levels: int = Field(default=4, ge=2)
    kpis: list[str] = Field(default_factory=list, description="KPIs to analyse (empty: all)")
    overrides: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Parameter] = Field(min_length=1)
    targets: list[DesignTarget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if self.sampler in ("sobol", "morris") and len(self.parameters) < 2:
            raise ValueError(f"sampler {self.sampler} needs at least 2 parameters")
        if self.sampler == "sobol" and self.n & (self.n - 1):
            raise ValueError(
                f"sobol: n must be a power of 2 (Sobol' sequence balance), got {self.n}"
            )
        clash = sorted(set(self.parameters) & set(self.overrides))
        if clash:
            raise ValueError(f"parameters also fixed in overrides: {clash}")
        return self

    @property
    def names(self) -> list[str]:
        return list(self.parameters)

    def problem(self) -> dict[str, Any]:
        """The SALib problem on the unit hypercube (values are mapped per parameter)."""
        return {
            "num_vars": len(self.parameters),
            "names": self.names,
            "bounds": [[0.0, 1.0]] * len(self.parameters),
        }

    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def load_design(path: str | Path, *, replications: int | None = None) -> Design:
    """Read and validate a design YAML; every problem is reported with its path.

    Raises :class:`sim.scenario.ScenarioError` (the CLI prints it and exits with code 2).
    """
    path = Path(path)
    try:  # the scenario's safe reader: UTF-8, no aliases, no repeated keys
        data = read_yaml(path)
    except ScenarioError as exc:
        raise ScenarioError(
            [p.replace("cannot read file", "cannot read design") for p in exc.problems]
        ) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{path}: a design must be a mapping, got {type(data).__name__}"])
    if replications is not None:
        data["replications"] = replications
    return build_design(data, source=str(path))


def build_design(data: dict[str, Any], *, source: str = "design") -> Design:
    try:
        return Design.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([f"{source}: {p}" for p in _format_errors(exc, data)]) from None


def kpi_problems(design: Design, scenario: Scenario | None = None) -> list[str]:
    """KPI names in ``design.kpis`` and its targets that the sweep would not record: checked
    against ``scenario`` (its channels, families, stock), or without one for the names that no
    scenario has. A typo otherwise surfaces only in ``channelsim analyze``, after the sweep."""
    named = [(f"kpis[{i}]", k) for i, k in enumerate(design.kpis)]
    named += [(f"targets[{i}].kpi", t.kpi) for i, t in enumerate(design.targets)]
    names = kpi_names(scenario) if scenario is not None else None
    out = []
    for where, kpi in named:
        problem = kpi_problem(kpi, scenario, names) if scenario else kpi_shape_problem(kpi)
        if problem is not None:
            out.append(f"{where}: {problem}")
    return out


def unit_sample(design: Design) -> np.ndarray:
    """Points in the unit hypercube, one row per point, in the sampler's order."""
    problem = design.problem()
    d = len(design.parameters)
    if design.sampler == "grid":
        axes = [p.grid_positions() for p in design.parameters.values()]
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, d)
    if design.sampler == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, design.n, seed=design.seed)
    if design.sampler == "sobol":
        from SALib.sample import sobol

        return sobol.sample(
            problem, design.n, calc_second_order=design.second_order, seed=design.seed
        )
    if design.sampler == "morris":
        from SALib.sample import morris

        return morris.sample(problem, design.n, num_levels=design.morris_levels, seed=design.seed)
    return np.random.default_rng(design.seed).random((design.n, d))  # montecarlo


def sample(design: Design) -> pd.DataFrame:
    """The design's points: column ``point`` then one column per parameter (dotted path)."""
    u = unit_sample(design)
    frame = pd.DataFrame({"point": np.arange(len(u), dtype="int64")})
    for j, (name, param) in enumerate(design.parameters.items()):
        frame[name] = param.values(u[:, j])
    return frame


def points_count(design: Design) -> int:
    """How many points the sampler will produce (without drawing them)."""
    d = len(design.parameters)
    if design.sampler == "grid":
        return math.prod(len(p.grid_positions()) for p in design.parameters.values())
    if design.sampler == "sobol":
        return design.n * (2 * d + 2 if design.second_order else d + 2)
    if design.sampler == "morris":
        return design.n * (d + 1)
    return design.n
