"""Rendering a report's blocks: one self-contained HTML page, and the same in Markdown.

Both renderings take the format-neutral blocks of :mod:`sim.reports.sections`; every text is
escaped (HTML: :func:`html.escape`; Markdown: escaped too, as a renderer may allow raw HTML).
"""

from __future__ import annotations

import base64
import html

from sim.reports.sections.blocks import Block, Table
from sim.reports.store import Stored

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem}h1{font-size:1.5rem}h2{border-bottom:1px solid #ccc;padding-top:1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}caption{text-align:left;font-weight:600;padding:.25rem 0}
figure{margin:1rem 0}img{max-width:100%}figcaption{font-style:italic;color:#444}
.met{background:#d9f2d9}.undecided,.at-risk{background:#fff2cc}.missed{background:#f8d0d0}
.undefined{background:#e4e4e4}
nav a{margin-right:.8rem}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem}.scroll table{margin:0}
td{max-width:32rem}td.met,td.undecided,td.missed,td.undefined{white-space:nowrap}
.subtitle{color:#444;max-width:60rem}
#summary p{font-size:1.05rem;line-height:1.5}
@media print{body{max-width:none;margin:0;font-size:10pt}nav{display:none}
.scroll{overflow:visible}table{font-size:8pt}td{max-width:none}
section{break-inside:auto}h2{break-after:avoid}figure,tr{break-inside:avoid}
img{max-width:100%!important}
td{-webkit-print-color-adjust:exact;print-color-adjust:exact}#summary p{font-size:11pt}}
"""


def render_html(title: str, st: Stored, blocks: list[Block], subtitle: str = "") -> str:
    """One self-contained page: inline CSS, base64 PNGs, every text HTML-escaped, no script."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="subtitle">{e(subtitle)}</p>' if subtitle else "",
        "<nav>" + "".join(f'<a href="#{b.id}">{e(b.title)}</a>' for b in blocks) + "</nav>",
    ]
    for b in blocks:
        out.append(f'<section id="{b.id}"><h2>{e(b.title)}</h2><p>{e(b.intro)}</p>')
        for t in b.tables:
            out.append(_html_table(t))
        for f in b.figures:
            data = base64.b64encode(f.png).decode("ascii")
            out.append(
                f'<figure><img alt="{e(f.title)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{e(f.reading)}</figcaption></figure>"
            )
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _html_table(t: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in t.columns)
    body = []
    for r in t.rows:
        cells = []
        for c, v in zip(t.columns, r, strict=True):
            cls = f' class="{v.replace(" ", "-")}"' if c == "verdict" else ""
            cells.append(f"<td{cls}>{e(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{e(t.caption)}</caption>" if t.caption else ""
    empty = "" if t.rows else f'<tr><td colspan="{len(t.columns)}">(none)</td></tr>'
    return (
        f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}{empty}</tbody></table></div>"
    )


def render_md(title: str, st: Stored, blocks: list[Block], subtitle: str = "") -> str:
    """The same report in Markdown (figures linked from ``figures/``)."""
    out = [f"# {_md(title)}", ""] + ([_md(subtitle), ""] if subtitle else [])
    for b in blocks:
        out += [f"## {b.title}", "", _md(b.intro), ""]
        for t in b.tables:
            out += _md_table(t)
        for f in b.figures:
            out += [f"![{_md(f.title)}](figures/{f.slug}.png)", "", f"*{_md(f.reading)}*", ""]
    return "\n".join(out)


def _md_table(t: Table) -> list[str]:
    out = [f"**{_md(t.caption)}**", ""] if t.caption else []
    out.append("| " + " | ".join(_md(c) for c in t.columns) + " |")
    out.append("|" + "---|" * len(t.columns))
    out += ["| " + " | ".join(_md(str(v)) for v in r) + " |" for r in t.rows]
    out.append("")
    return out


def _md(text: str) -> str:
    """Markdown-safe text: HTML-escaped (a renderer may allow raw HTML) and pipes escaped."""
    return html.escape(text).replace("|", "\\|").replace("\n", " ")
