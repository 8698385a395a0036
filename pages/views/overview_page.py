"""Overview: the morning glance. KPI cards, MRR over time, MRR movements."""
from __future__ import annotations

import dataclasses
import datetime as dt

import streamlit as st

from tally_ui import charts, filters, goals, layout, widgets


def with_previous_month(params):
    """The range plus the month before its end, so every card has a previous value."""
    end = params.end
    previous = (end.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    start = min(params.start or previous, previous)
    return dataclasses.replace(params, start=start)


def overview_page() -> None:
    params = layout.header("Overview")
    if params is None:
        return
    mrr = widgets.metric_frame("mrr", with_previous_month(params), empty="No MRR in this range yet.")
    if mrr is None:
        return
    currency = layout.pick_currency(mrr, key="overview_currency")
    st.caption(f"At the end of {filters.month_label(params.end)}, compared with the month before.")
    kpi_cards(params, currency)
    goal_status(params)
    history = widgets.of_currency(widgets.metric_frame("mrr", params), currency)
    if history is not None:
        goal, label = goals.chart_goal(params, mrr, currency) or (None, "")
        charts.show(charts.lines(history, "month", "mrr", title="MRR", goal=goal, goal_label=label),
                    key="overview_mrr")
    movements = widgets.of_currency(widgets.metric_frame("mrr_movements", params), currency)
    if movements is not None:
        charts.show(charts.movements(movements), key="overview_movements")


def goal_status(params) -> None:
    """One line per goal: on track, or behind by how much (the sentences hold no user text)."""
    for on_track, line in goals.status_lines(params.end):
        (st.success if on_track else st.warning)(line)


def kpi_cards(params, currency) -> None:
    wide = with_previous_month(params)
    mrr = widgets.of_currency(widgets.metric_frame("mrr", wide), currency)
    churn = widgets.of_currency(widgets.metric_frame("churn", wide), currency)
    moves = widgets.of_currency(widgets.metric_frame("mrr_movements", wide), currency)
    pays = widgets.of_currency(widgets.metric_frame("payments", wide), currency)
    growth = None
    if moves is not None and {"start_mrr", "end_mrr"} <= set(moves):
        growth = moves.assign(growth=(moves["end_mrr"] - moves["start_mrr"])
                              / moves["start_mrr"].where(moves["start_mrr"] != 0))
    top = st.columns(4)
    widgets.card(top[0], "MRR", *widgets.last_two(mrr, "mrr"), "money", currency)
    widgets.card(top[1], "ARR", *widgets.last_two(mrr, "arr"), "money", currency)
    widgets.card(top[2], "Active customers", *widgets.last_two(mrr, "customers"), "number")
    widgets.card(top[3], "ARPA", *widgets.last_two(mrr, "arpa"), "money", currency,
              help="Average revenue per account: MRR / active customers.")
    bottom = st.columns(4)
    widgets.card(bottom[0], "Net MRR growth", *widgets.last_two(growth, "growth"), "percent",
              help="(MRR at month end − MRR at the previous month end) / MRR at the previous month end.")
    widgets.card(bottom[1], "Logo churn", *widgets.last_two(churn, "logo_churn_rate"), "percent", inverse=True,
              help="Customers lost this month / active customers at the previous month end.")
    widgets.card(bottom[2], "NRR", *widgets.last_two(churn, "nrr"), "percent",
              help="Net revenue retention for the month.")
    widgets.card(bottom[3], "Payment success rate", *widgets.last_two(pays, "success_rate"), "percent",
              help="Succeeded / (succeeded + failed) charges created in the month.")
