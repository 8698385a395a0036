"""MRR: series split by plan / interval / currency / country, movements, drill-down."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import streamlit as st

from tally_ui import charts, filters, goals, layout, published, segment_controls, widgets

# The split the user picks -> (metric name, the column that names each series).
SPLITS = {"Plan": ("mrr_by_plan", "product_name"), "Billing interval": ("mrr_by_interval", "interval"),
          "Currency": ("mrr", None), "Country": ("mrr_by_country", "country")}
MOVEMENTS = ["new", "reactivation", "expansion", "contraction", "churn"]
MOVEMENT_MONEY = ["start_mrr", *MOVEMENTS, "fx", "end_mrr"]
CHART = "mrr_movements_chart"
SHOWN_ROWS = 2_000  # a browser table of 50,000 rows costs every rerun; the export has the rest


def mrr_page() -> None:
    params = layout.header("MRR", "Monthly recurring revenue at each month end, from invoice lines.")
    if params is None:
        return
    split_series(params)
    movements = widgets.metric_frame("mrr_movements", params, empty="No MRR movements in this range.")
    if movements is None:
        return
    st.subheader("Movements")
    currency = layout.pick_currency(movements, key="mrr_movements_currency")
    # The click that started this run picks the month first, so the chart drawn below shows it.
    follow_click(st.session_state.get(CHART))
    charts.show(charts.movements(widgets.of_currency(movements, currency),
                                 title="MRR movements (click a month to drill down)", selected=clicked_month()),
                key=CHART, on_select="rerun", selection_mode="points")
    widgets.table(movements.sort_values(["month", "currency"], ascending=[False, True]), MOVEMENT_MONEY)
    drilldown(params, sorted(movements["month"].unique()))


def follow_click(event) -> None:
    """A click on a month's bar picks that month below (once per new click)."""
    points = event.get("selection", {}).get("points", []) if event else []
    month = _as_date(pd.Timestamp(points[0]["x"])) if points else None
    if month and month != st.session_state.get("drill_clicked"):
        st.session_state["drill_clicked"] = month
        st.session_state["drill_month"] = month


def clicked_month() -> dt.date | None:
    """The drilled month, once a click on the chart has picked one (the selectbox may have moved it since)."""
    return st.session_state.get("drill_month") if "drill_clicked" in st.session_state else None


def split_series(params) -> None:
    # Metadata keys split too: the mrr metric once per value (metrics/segments.py)
    by_key = {segment_controls.key_label(*key): key for key in segment_controls.split_keys()}
    split = st.segmented_control("Split MRR by", list(SPLITS) + list(by_key), default="Plan",
                                 key="mrr_split") or "Plan"
    name, column = SPLITS.get(split, ("mrr", "segment"))
    if split in by_key:
        params = dataclasses.replace(params, split_by=by_key[split])
    frame = widgets.metric_frame(name, params, empty="No MRR in this range yet.")
    if frame is None:
        return
    goal, label = None, ""
    if column is None and frame["currency"].nunique() == 1:  # total MRR: the goal's pace fits it
        goal, label = goals.chart_goal(params, frame, frame["currency"].iloc[0]) or (None, "")
    charts.show(charts.lines(frame, "month", "mrr", by=column, title=f"MRR by {split.lower()}",
                             goal=goal, goal_label=label), key=f"mrr_split_{name}")


def drilldown(params, months: list) -> None:
    st.subheader("Drill down")
    months = [_as_date(pd.Timestamp(m)) for m in months]
    if st.session_state.get("drill_month") not in months:
        st.session_state.pop("drill_month", None)
    left, right = st.columns(2)
    month = left.selectbox("Month", months[::-1], format_func=filters.month_label, key="drill_month")
    movement = right.selectbox("Movement", ["all", *MOVEMENTS], key="drill_movement",
                               format_func=str.capitalize)
    frame = widgets.metric_frame("mrr_drilldown", _with_month(params, month),
                              empty="No customers behind this month.")
    if frame is None:
        return
    rows = movement_rows(frame, movement)
    if rows.empty:
        st.info(f"No {movement} movement in {filters.month_label(month)}.")
        return
    shown = f" (the first {SHOWN_ROWS:,} here; Data & export has them all)" if len(rows) > SHOWN_ROWS else ""
    st.caption(f"{filters.month_label(month)}: {rows['customer_id'].nunique():,} customers, "
               f"{len(rows):,} subscriptions{shown}")
    widgets.table(rows.head(SHOWN_ROWS), published.money_columns("mrr_drilldown"))


def movement_rows(frame: pd.DataFrame, movement: str) -> pd.DataFrame:
    return frame if movement == "all" else frame[frame["movement"] == movement]


def _with_month(params, month: dt.date):
    return dataclasses.replace(params, extra={"month": month})


def _as_date(value: pd.Timestamp) -> dt.date:
    return value.date()
