"""Plotly figures of the HTML reports, each with the table of the numbers it draws.

Every builder returns a :class:`Chart`: a title that states the units and the
data year, a source line, the figure (a plotly JSON dict, built and validated
with :mod:`plotly.graph_objects`, its template left to the page) and the
frame of the numbers behind it, shown beside the chart. The builders only
arrange what they are given: a few of them lump the smallest items into an
"other" row so that a chart stays legible, and the table keeps every item.

plotly is imported here only, and only :mod:`riskengine.report.html` imports
this module, so that no other command pays for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

#: Colour of each stage, and of the roles of a supply-chain Sankey.
STAGE_COLOURS: dict[str, str] = {
    "mining": "#8c564b",
    "intermediate": "#ff7f0e",
    "refining": "#1f77b4",
    "component": "#9467bd",
}

#: Colours of series without a fixed colour (suppliers, factors), in order.
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
)  # fmt: skip

#: Colour of an "other" series or node.
OTHER_COLOUR = "#c7c7c7"

ROW_HEIGHT = 22  # pixels per bar of a horizontal bar chart

#: Legend to the right of the plot, where it never covers an axis.
LEGEND: dict[str, Any] = {
    "orientation": "v",
    "x": 1.02,
    "xanchor": "left",
    "y": 1.0,
    "yanchor": "top",
    "traceorder": "normal",
}


@dataclass(frozen=True)
class Chart:
    """One chart of a report and the numbers behind it.

    Attributes
    ----------
    title : str
        What the chart shows.
    units : str
        Units of its values (``"t cobalt content"``, ``"% of demand"``).
    year : str
        Data year or years (``"2024"``, ``"2021-2025"``).
    source : str
        Source line (data, and the riskengine computation).
    figure : dict
        Plotly figure JSON (``data``, ``layout``), without a template.
    table : pandas.DataFrame
        The numbers behind the chart, with display column names.
    formats : dict
        Column -> format spec of the table (``",.0f"``; ``"%"`` for a fraction
        shown in percent).
    note : str
        A sentence shown under the chart (what is lumped, what is missing).
    """

    title: str
    units: str
    year: str
    source: str
    figure: dict[str, Any]
    table: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def heading(self) -> str:
        """Title with units and data year, as drawn above the chart."""
        return f"{self.title} ({self.units}), {self.year}"


def _figure(fig: go.Figure) -> dict[str, Any]:
    """Figure JSON without its template (the page sets one template for every chart)."""
    spec: dict[str, Any] = json.loads(pio.to_json(fig, validate=False))
    spec.get("layout", {}).pop("template", None)
    return spec


def _layout(height: int, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 60, "b": 40},
        "font": {"size": 12},
    }
    layout.update(extra)
    return layout


def _wrap(text: str, width: int = 90) -> str:
    """Break a long title into lines (plotly titles do not wrap)."""
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(lines)


def make_chart(
    fig: go.Figure,
    *,
    title: str,
    units: str,
    year: str,
    source: str,
    table: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    note: str = "",
) -> Chart:
    """Wrap a figure into a :class:`Chart`, its title set to the chart's heading."""
    chart = Chart(title, units, year, source, {}, table, dict(formats or {}), note)
    fig.update_layout(title_text=_wrap(chart.heading))
    return replace(chart, figure=_figure(fig))


def hbar(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    axis_title: str,
    colours: Mapping[str, str] | None = None,
    hover: Sequence[str] | None = None,
    stacked: bool = True,
    percent: bool = False,
    line_at: float | None = None,
    line_label: str = "",
    error: tuple[Sequence[float], Sequence[float]] | None = None,
) -> go.Figure:
    """Horizontal bars, first label on top; several series stacked or grouped.

    Parameters
    ----------
    labels
        One label per bar (row).
    series
        Series name -> one value per label.
    axis_title
        Title of the value axis (with units).
    colours
        Series name -> colour (default: :data:`PALETTE` in order).
    hover
        Extra hover text per label.
    stacked
        Stack the series (else group them).
    percent
        Values are percentages (axis ticks end in %).
    line_at
        Draw a vertical reference line at this value (a threshold).
    line_label
        Its label.
    error
        Low and high ends per label of the first series (an error band).
    """
    colours = dict(colours or {})
    fig = go.Figure()
    rows = list(labels)
    drawn = {
        name: [None if pd.isna(v) else float(v) for v in values] for name, values in series.items()
    }
    drawn = {name: values for name, values in drawn.items() if any(v is not None for v in values)}
    for i, (name, values) in enumerate(drawn.items()):
        trace: dict[str, Any] = {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "y": rows,
            "x": values,
            "marker": {"color": colours.get(name, PALETTE[i % len(PALETTE)])},
            "hovertemplate": "%{y}: %{x:,.4~g}"
            + ("%" if percent else "")
            + ("<br>%{customdata}" if hover is not None else "")
            + f"<extra>{name}</extra>",
        }
        if hover is not None:
            trace["customdata"] = list(hover)
        if error is not None and i == 0:
            trace["error_x"] = _band(values, *error)
        fig.add_trace(go.Bar(trace))
    bars = ROW_HEIGHT * len(rows) * (1 if stacked else max(len(drawn), 1))
    layout = _layout(
        max(220, 110 + bars, 130 + 24 * len(drawn) if len(drawn) > 1 else 0),
        barmode="relative" if stacked else "group",
        xaxis={"title": {"text": axis_title}, "ticksuffix": "%" if percent else ""},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        legend=LEGEND,
        showlegend=len(drawn) > 1,
    )
    fig.update_layout(layout)
    if line_at is not None:
        fig.add_vline(
            x=line_at,
            line={"color": "#d62728", "dash": "dash", "width": 1.5},
            annotation={"text": line_label, "font": {"color": "#d62728"}},
            annotation_position="top",
        )
    return fig


def _band(
    values: Sequence[float | None], low: Sequence[float], high: Sequence[float]
) -> dict[str, Any]:
    """Asymmetric error bars from ``values`` down to ``low`` and up to ``high`` (0: unknown)."""

    def gap(a: float | None, b: float | None) -> float:
        if a is None or b is None or pd.isna(a) or pd.isna(b):
            return 0.0
        return max(float(b) - float(a), 0.0)

    return {
        "type": "data",
        "symmetric": False,
        "array": [gap(v, h) for v, h in zip(values, high, strict=True)],
        "arrayminus": [gap(lo, v) for lo, v in zip(low, values, strict=True)],
        "color": "#333",
    }


def lines(
    x: Sequence[int],
    series: Mapping[str, Sequence[float]],
    *,
    axis_title: str,
    colours: Mapping[str, str] | None = None,
    reference: tuple[float, str] | None = None,
) -> go.Figure:
    """Lines over years, one per series; ``reference`` draws a labelled level (value, label)."""
    colours = dict(colours or {})
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        fig.add_trace(
            go.Scatter(
                x=list(x),
                y=[None if pd.isna(v) else float(v) for v in values],
                name=name,
                mode="lines+markers",
                line={"color": colours.get(name, PALETTE[i % len(PALETTE)]), "width": 2},
                hovertemplate="%{x}: %{y:,.0f}<extra>" + name + "</extra>",
            )
        )
    if reference is not None:
        fig.add_hline(
            y=reference[0],
            line={"color": "#d62728", "dash": "dash", "width": 1},
            annotation={"text": reference[1], "font": {"size": 10, "color": "#d62728"}},
            annotation_position="top left",
        )
    fig.update_layout(
        _layout(
            360,
            xaxis={"title": {"text": "year"}, "dtick": 1},
            yaxis={"title": {"text": axis_title}, "rangemode": "tozero"},
            legend=LEGEND,
        )
    )
    return fig


def choropleth(
    codes: Sequence[str],
    values: Sequence[float],
    names: Sequence[str],
    *,
    colorbar_title: str,
    hover: Sequence[str] | None = None,
) -> go.Figure:
    """World map of one value per country (ISO3), on the bundled Natural Earth geometry."""
    fig = go.Figure(
        go.Choropleth(
            locations=list(codes),
            z=[float(v) for v in values],
            locationmode="ISO-3",
            text=list(names),
            customdata=list(hover) if hover is not None else None,
            colorscale="YlOrRd",
            zmin=0,
            marker={"line": {"color": "#999", "width": 0.4}},
            colorbar={"title": {"text": colorbar_title}, "thickness": 14},
            hovertemplate="%{text}: %{z:,.4~g}"
            + ("<br>%{customdata}" if hover is not None else "")
            + "<extra></extra>",
        )
    )
    fig.update_layout(
        _layout(
            430,
            geo={
                "scope": "world",
                "resolution": 110,
                "projection": {"type": "natural earth"},
                "showframe": False,
                "showcoastlines": True,
                "coastlinecolor": "#999",
                "showcountries": True,
                "countrycolor": "#ccc",
                "showland": True,
                "landcolor": "#f3f3f3",
                "lataxis": {"range": [-58, 85]},
            },
            margin={"l": 0, "r": 0, "t": 60, "b": 10},
        )
    )
    return fig


def sankey(
    links: pd.DataFrame,
    *,
    names: Mapping[str, str],
    units: str,
    keep: int = 10,
    share: float = 0.01,
) -> tuple[go.Figure, int]:
    """Sankey of supply-chain links (:func:`riskengine.sourcing.supply_chain`).

    Origins and refiners beyond the ``keep`` largest (by tonnes through them)
    or carrying less than ``share`` of their role's tonnes are drawn as one
    "other" node each; returns the figure and how many countries were lumped.

    Parameters
    ----------
    links
        ``source, source_role, target, target_role, stage, content_t``.
    names
        ISO3 -> readable name, for hover text.
    units
        Units of the tonnes, for hover text.
    keep
        Nodes kept per role.
    share
        Smallest share of its role's tonnes (all origins', all refiners') drawn as
        its own node.
    """
    role_names = {"origin": "ore/intermediate", "refiner": "refinery", "maker": "maker"}
    frame = links.copy()
    lumped = 0
    for role in ("origin", "refiner", "maker"):
        # tonnes through each node: what it sends on (a refiner's intake is the same)
        sums = (
            frame[frame["source_role"] == role]
            .groupby("source")["content_t"]
            .sum()
            .sort_values(ascending=False)
        )
        small = set(sums.index[keep:]) | set(sums.index[sums < share * sums.sum()])
        if len(small) > 1:
            lumped += len(small)
            other = f"other {len(small)}"
            frame.loc[(frame["source_role"] == role) & frame["source"].isin(small), "source"] = (
                other
            )
            frame.loc[(frame["target_role"] == role) & frame["target"].isin(small), "target"] = (
                other
            )
    frame = frame.groupby(
        ["source", "source_role", "target", "target_role", "stage"], as_index=False, sort=False
    ).agg(content_t=("content_t", "sum"))
    nodes: dict[tuple[str, str], int] = {}
    for side in ("source", "target"):
        for code, role in zip(frame[side], frame[f"{side}_role"], strict=True):
            nodes.setdefault((code, role), len(nodes))
    labels, colours, hovers = [], [], []
    for code, role in nodes:
        if role == "importer":
            labels.append(code)
            colours.append("#333333")
        else:
            labels.append(f"{code} {role_names.get(role, role)}")
            colours.append(OTHER_COLOUR if code.startswith("other") else _role_colour(role))
        hovers.append(names.get(code, code))
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=",.4~g",
            valuesuffix=f" {units}",
            node={
                "label": labels,
                "color": colours,
                "customdata": hovers,
                "hovertemplate": "%{customdata}<br>%{value}<extra></extra>",
                "pad": 12,
                "thickness": 16,
            },
            link={
                "source": [
                    nodes[(s, r)]
                    for s, r in zip(frame["source"], frame["source_role"], strict=True)
                ],
                "target": [
                    nodes[(t, r)]
                    for t, r in zip(frame["target"], frame["target_role"], strict=True)
                ],
                "value": frame["content_t"].astype(float).tolist(),
                "color": [_fade(STAGE_COLOURS.get(s, OTHER_COLOUR)) for s in frame["stage"]],
                "customdata": frame["stage"].tolist(),
                "hovertemplate": "%{source.label} → %{target.label}<br>%{value}"
                " (%{customdata} imports)<extra></extra>",
            },
        )
    )
    column = max(
        frame.loc[frame["source_role"] == "origin", "source"].nunique(),
        frame.loc[frame["target_role"] == "refiner", "target"].nunique(),
    )
    fig.update_layout(_layout(min(max(380, 120 + 44 * int(column)), 720)))
    return fig, lumped


def _role_colour(role: str) -> str:
    return {
        "origin": STAGE_COLOURS["mining"],
        "refiner": STAGE_COLOURS["refining"],
        "maker": STAGE_COLOURS["component"],
    }.get(role, OTHER_COLOUR)


def _fade(colour: str, alpha: float = 0.45) -> str:
    """``#rrggbb`` as ``rgba(r, g, b, alpha)``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


__all__ = [
    "PALETTE",
    "STAGE_COLOURS",
    "Chart",
    "choropleth",
    "hbar",
    "lines",
    "make_chart",
    "sankey",
]
