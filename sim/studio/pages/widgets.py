"""Small pieces the studio's pages share: number formatting in units, HTML tables, the style.

>>> kpi_text("revenue", 48_223_000)
'48.2 M CNY'
>>> kpi_text("repurchase_rate", 0.2513)
'25.1 %'
>>> html_table(["a"], [["<b>"]]).split("<tbody>")[1]
'<tr><td>&lt;b&gt;</td></tr></tbody></table>'
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import solara

from sim.studio.levers import kpi_unit

CSS = """
.studio-table { border-collapse: collapse; font-size: 0.9em; margin: 4px 0 12px; }
.studio-table th, .studio-table td { border-bottom: 1px solid #ddd; padding: 3px 8px;
  text-align: right; white-space: nowrap; }
.studio-table th:first-child, .studio-table td:first-child { text-align: left; }
.studio-wide { overflow-x: auto; max-width: 100%; }
.studio-hint { color: #555; font-size: 0.85em; }
.studio-error { color: #b00020; font-size: 0.85em; }
.verdict-met { color: #1b5e20; font-weight: 600; }
.verdict-missed { color: #b00020; font-weight: 600; }
.verdict-undecided, .verdict-undefined { color: #8a6d00; font-weight: 600; }
.studio-field { display: grid; grid-template-columns: minmax(16em, 24em) 1fr; gap: 0 16px;
  align-items: center; margin-bottom: 4px; }
"""


def number(v: Any, digits: int = 3) -> str:
    """A number for people: thousands separators, M for millions, ``—`` for none."""
    if v is None or isinstance(v, str):
        return "—" if v is None else v
    if isinstance(v, bool):
        return str(v).lower()
    x = float(v)
    if not math.isfinite(x):
        return "undefined"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.1f} M"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x == int(x):
        return f"{int(x)}"
    return f"{x:.{digits}g}"


def kpi_text(kpi: str, v: Any) -> str:
    """A KPI value with its unit: money in M CNY, shares as percentages."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "undefined"
    unit = kpi_unit(kpi)
    if unit == "share":
        return f"{100 * float(v):.1f} %"
    if unit == "CNY":
        return f"{number(v)} CNY"
    return number(v)


def signed(kpi: str, v: Any) -> str:
    """A difference: shares in percentage points, the rest as :func:`kpi_text`."""
    if kpi_unit(kpi) == "share" and v is not None and math.isfinite(float(v)):
        return f"{100 * float(v):+.1f} points"
    text = kpi_text(kpi, v)
    return text if text.startswith(("-", "undefined")) else "+" + text


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (the caller built safe HTML)."""

    def cell(x: Any) -> str:
        return str(x) if raw else html.escape(str(x))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f'<table class="studio-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def verdict_html(verdict: str | None) -> str:
    if not verdict:
        return "—"
    v = html.escape(verdict)
    return f'<span class="verdict-{v}">{v}</span>'


@solara.component
def Table(headers: list[str], rows: list[list[Any]], raw: bool = False) -> None:
    solara.HTML(tag="div", unsafe_innerHTML=html_table(headers, rows, raw), classes=["studio-wide"])


@solara.component
def Hint(text: str, error: bool = False) -> None:
    solara.Text(text, classes=["studio-error" if error else "studio-hint"])


@solara.component
def Heading(text: str) -> None:
    """A small heading (not Markdown: Solara's Markdown pulls KaTeX, which solara-assets lacks)."""
    solara.HTML(tag="h4", unsafe_innerHTML=html.escape(text), style="margin: 12px 0 4px")
