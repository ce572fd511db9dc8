"""The README's Python API example runs as written (from the repository root)."""

from __future__ import annotations

import os
import re

import pandas as pd

from tests.conftest import ROOT


def readme_block(section: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", body, re.S).group(1)


def test_python_api_example_runs(capsys):
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(readme_block("Python API"), "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert namespace["kpis"]["revenue"] > 0
    assert list(namespace["ev"].kpis["replication"]) == [0, 1, 2]
    assert len(namespace["daily"]) == 90
    assert isinstance(namespace["cmp"].diffs, pd.DataFrame)
    assert "revenue" in capsys.readouterr().out


def test_readme_plan_figures_are_what_the_shipped_scenarios_give():
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from plan_revenues import double11_peak, revenues, sentence

    said = sentence(revenues(), double11_peak())
    assert said in (ROOT / "README.md").read_text(encoding="utf-8"), said
