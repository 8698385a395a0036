"""Plotly charts with one look: the same colours, fonts and margins everywhere."""
from __future__ import annotations

import datetime as dt
import html
from collections import OrderedDict

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from metrics.params import Params
from tally_ui.export import money_to_major

PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#64748b", "#ec4899"]
MOVEMENT_COLORS = {"new": "#10b981", "reactivation": "#0ea5e9", "expansion": "#4f46e5",
                   "contraction": "#f59e0b", "churn": "#ef4444", "fx": "#94a3b8"}
NEGATIVE_MOVEMENTS = ("contraction", "churn")

# Building a plotly figure costs tens of milliseconds (plotly validates every
# property); the same frame always gives the same figure, so keep built ones.
# Streamlit only reads a figure it is given, so sharing them is safe.
_built = st.cache_resource(max_entries=256, show_spinner=False)


def _layout(fig: go.Figure, title: str | None, y_title: str | None = None) -> go.Figure:
    fig.update_layout(
        title=title, template="plotly_white", colorway=PALETTE, height=360,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.12, x=0),
        font=dict(family="Inter, system-ui, sans-serif", size=12),
        hovermode="x unified", yaxis_title=y_title, xaxis_title=None)
    return fig


def show(fig: go.Figure, key: str | None = None, **kwargs):
    """Draw a figure; a chart over time also marks the annotations (metrics/annotations.py)."""
    fig = with_annotations(fig, _annotations())
    return st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False}, **kwargs)


def _annotations() -> pd.DataFrame | None:
    from tally_ui import published  # here: published is heavier than the charts need at import

    try:
        return published.metric("annotations", Params())
    except (published.MetricUnavailable, FileNotFoundError, duckdb.Error):
        return None  # no marks rather than no chart


# Marked copies of the cached figures: (figure, the annotations it was marked with, marked copy)
# by id(figure); the entry holds the figure, so its id is not reused while the entry lives.
_marked: OrderedDict[int, tuple[go.Figure, tuple, go.Figure]] = OrderedDict()
MARKED_KEPT = 256
MARKER_COLOR = "#64748b"


def with_annotations(fig: go.Figure, notes: pd.DataFrame | None) -> go.Figure:
    """A copy of `fig` with a marker (hover: the date and text) and a dotted line per
    annotation inside its time range; `fig` itself when it has no time x-axis or no
    annotation falls in its range."""
    if notes is None or notes.empty:
        return fig
    span = _time_span(fig)
    if span is None:
        return fig
    days = pd.to_datetime(notes["day"])
    inside = notes[(days >= span[0]) & (days <= span[1] + pd.Timedelta(days=31))]
    if inside.empty:
        return fig
    key = tuple(inside[["annotation_id", "day", "text"]].astype(str).itertuples(index=False))
    cached = _marked.get(id(fig))
    if cached is not None and cached[0] is fig and cached[1] == key:
        return cached[2]
    marked = _mark(fig, inside)
    _marked[id(fig)] = (fig, key, marked)
    while len(_marked) > MARKED_KEPT:
        _marked.popitem(last=False)
    return marked


def _mark(fig: go.Figure, notes: pd.DataFrame) -> go.Figure:
    marked = go.Figure(fig)
    days = pd.to_datetime(notes["day"])
    for day in days:
        marked.add_shape(type="line", x0=day, x1=day, xref="x", y0=0, y1=1, yref="paper",
                         line=dict(color=MARKER_COLOR, width=1, dash="dot"), layer="below")
    # On an axis of its own (0..1, hidden) so the markers sit at the top whatever the data's scale.
    marked.add_trace(go.Scatter(
        x=days, y=[1] * len(notes), yaxis="y2", mode="markers", name="Annotations",
        marker=dict(symbol="triangle-down", size=11, color=MARKER_COLOR),
        text=[plain(t) for t in notes["text"]], hovertemplate="%{x|%b %d, %Y}: %{text}<extra></extra>"))
    marked.update_layout(yaxis2=dict(overlaying="y", range=[0, 1.04], visible=False, fixedrange=True))
    return marked


def _time_span(fig: go.Figure) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(first, last) x of a figure whose x-axis is time; None for any other figure."""
    values = []
    for trace in fig.data:
        if getattr(trace, "orientation", None) == "h" or trace.x is None or len(trace.x) == 0:
            continue
        if not all(isinstance(x, (dt.date, np.datetime64)) for x in trace.x if x is not None):
            return None
        values.extend(pd.to_datetime(list(trace.x)))
    values = [v for v in values if not pd.isna(v)]
    return (min(values), max(values)) if values else None


def plain(value) -> str:
    """Text from Stripe data (product, customer, metadata) as plotly shows it: never markup.

    Plotly renders a subset of HTML in names, labels and hover text (a product
    named '<a href=...>' would be a live link); escaped, it shows as typed.
    """
    return html.escape(str(value), quote=False)


def plain_values(values: pd.Series) -> pd.Series:
    """Category labels escaped; numbers and dates as they are."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    return values.map(lambda v: v if pd.isna(v) else plain(v))


def series_label(frame: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return plain_values(frame["currency"].str.upper()) if "currency" in frame else pd.Series("", index=frame.index)
    if "currency" in frame and frame["currency"].nunique() > 1:
        return frame[by].astype(str).map(plain) + " · " + plain_values(frame["currency"].str.upper())
    return frame[by].astype(str).map(plain)


@_built
def lines(frame: pd.DataFrame, x: str, y: str, *, by: str | None = None, title=None,
          money: bool = True, area: bool = False, percent: bool = False,
          goal: pd.DataFrame | None = None, goal_label: str = "Goal pace") -> go.Figure:
    """One line per currency (or per `by` value); money shown in major units.

    `goal`: (month, currency, pace) in minor units, drawn as a dashed line named
    `goal_label` up to the goal's month (tally_ui/goals.py, metrics/goals.py).
    """
    data = money_to_major(frame, [y]) if money else frame
    fig = go.Figure()
    labels = series_label(data, by)
    for label in labels.drop_duplicates():
        part = data[labels == label].sort_values(x)
        fig.add_trace(go.Scatter(x=part[x], y=part[y], name=label, mode="lines+markers",
                                 stackgroup="one" if area else None))
    if goal is not None and not goal.empty:
        pace = money_to_major(goal, ["pace"]).sort_values("month")
        fig.add_trace(go.Scatter(x=pace["month"], y=pace["pace"], name=plain(goal_label), mode="lines",
                                 line=dict(color="#f59e0b", dash="dash", width=2)))
    if percent:
        fig.update_yaxes(tickformat=".1~%", rangemode="tozero")  # 0.5%, not two "1%" ticks
    return _layout(fig, title, _money_axis(frame) if money else None)


@_built
def movements(frame: pd.DataFrame, *, title="MRR movements", selected=None) -> go.Figure:
    """Stacked bars (gains up, losses down) with the net change as a line.

    `selected`: a month whose bars stay bright while the others are dimmed (the
    month picked by a click). Plotly's own click selection does not survive the
    rerun the click starts, so the figure carries it.
    """
    data = money_to_major(frame, list(MOVEMENT_COLORS))
    fig = go.Figure()
    net = 0
    highlight = _highlight(data["month"], selected)
    for name, color in MOVEMENT_COLORS.items():
        if name not in data:
            continue
        values = -data[name] if name in NEGATIVE_MOVEMENTS else data[name]
        net = net + values.fillna(0)
        fig.add_trace(go.Bar(x=data["month"], y=values, name=name.capitalize(), marker_color=color, **highlight))
    fig.add_trace(go.Scatter(x=data["month"], y=net, name="Net", mode="lines+markers",
                             line=dict(color="#111827", width=2)))
    fig.update_layout(barmode="relative")
    return _layout(fig, title, _money_axis(frame))


def _highlight(months: pd.Series, selected) -> dict:
    """Bar settings that keep the selected month's bars bright and dim the rest."""
    if selected is None:
        return {}
    chosen = [i for i, month in enumerate(pd.to_datetime(months)) if month == pd.Timestamp(selected)]
    if not chosen:
        return {}
    return dict(selectedpoints=chosen, selected=dict(marker=dict(opacity=1)),
                unselected=dict(marker=dict(opacity=0.3)))


@_built
def bars(frame: pd.DataFrame, x: str, y: str, *, by: str | None = None, title=None,
         money: bool = False, horizontal: bool = False) -> go.Figure:
    data = money_to_major(frame, [y]) if money else frame
    fig = go.Figure()
    groups = [(None, data)] if by is None else list(data.groupby(by, sort=False))
    for name, part in groups:
        if horizontal:
            fig.add_trace(go.Bar(y=plain_values(part[x]), x=part[y], name=plain(name), orientation="h"))
        else:
            fig.add_trace(go.Bar(x=plain_values(part[x]), y=part[y], name=plain(name)))
    fig.update_layout(barmode="stack", showlegend=by is not None)
    return _layout(fig, title, _money_axis(frame) if money else None)


@_built
def heatmap(pivot: pd.DataFrame, *, title=None, percent: bool = True) -> go.Figure:
    """A cohort grid: rows are cohorts, columns months since start."""
    values = pivot.to_numpy(dtype=float)
    text = [[("" if pd.isna(v) else (f"{v:.0%}" if percent else f"{v:,.0f}")) for v in row] for row in values]
    fig = go.Figure(go.Heatmap(z=values, x=[plain(c) for c in pivot.columns],
                               y=[plain(i) for i in pivot.index], text=text, texttemplate="%{text}",
                               textfont=dict(size=10),
                               colorscale=[[0, "#eef2ff"], [1, "#4f46e5"]], showscale=False,
                               hoverongaps=False))
    fig.update_yaxes(autorange="reversed", type="category")
    fig = _layout(fig, title)
    fig.update_layout(hovermode="closest", height=max(300, 24 * len(pivot) + 80))
    return fig


@_built
def band(frame: pd.DataFrame, x: str, y: str, low: str, high: str, *, history: pd.DataFrame | None = None,
         title=None) -> go.Figure:
    """A projection line with its band, after the actual history."""
    data = money_to_major(frame, [y, low, high])
    fig = go.Figure()
    if history is not None and not history.empty:
        past = money_to_major(history, [y])
        fig.add_trace(go.Scatter(x=past[x], y=past[y], name="Actual", line=dict(color=PALETTE[0])))
    fig.add_trace(go.Scatter(x=data[x], y=data[high], line=dict(width=0), showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=data[x], y=data[low], fill="tonexty", fillcolor="rgba(79,70,229,0.15)",
                             line=dict(width=0), name="Range (best / worst month)"))
    fig.add_trace(go.Scatter(x=data[x], y=data[y], name="Projection",
                             line=dict(color=PALETTE[0], dash="dash")))
    return _layout(fig, title, _money_axis(frame))


def _money_axis(frame: pd.DataFrame) -> str | None:
    if "currency" in frame and frame["currency"].nunique() == 1:
        return plain(frame["currency"].iloc[0].upper())
    return None
