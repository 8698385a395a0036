"""MRR: series split by plan / interval / currency / country, movements, drill-down."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from tally_ui import charts, filters, layout, show

# The split the user picks -> (metric name, the column that names each series).
SPLITS = {"Plan": ("mrr_by_plan", "plan"), "Billing interval": ("mrr_by_interval", "interval"),
          "Currency": ("mrr", None), "Country": ("mrr_by_country", "country")}
MOVEMENTS = ["new", "reactivation", "expansion", "contraction", "churn"]
MOVEMENT_MONEY = ["start_mrr", *MOVEMENTS, "fx", "end_mrr"]


def mrr_page() -> None:
    params = layout.header("MRR", "Monthly recurring revenue at each month end, from invoice lines.")
    if params is None:
        return
    split_series(params)
    movements = show.metric_frame("mrr_movements", params, empty="No MRR movements in this range.")
    if movements is None:
        return
    st.subheader("Movements")
    show.table(movements.sort_values(["month", "currency"], ascending=[False, True]), MOVEMENT_MONEY)
    drilldown(params, sorted(movements["month"].unique()))


def split_series(params) -> None:
    split = st.segmented_control("Split MRR by", list(SPLITS), default="Plan", key="mrr_split") or "Plan"
    name, column = SPLITS[split]
    frame = show.metric_frame(name, params, empty="No MRR in this range yet.")
    if frame is None:
        return
    by = series_column(frame, column)
    charts.show(charts.lines(frame, "month", "mrr", by=by, title=f"MRR by {split.lower()}"),
                key=f"mrr_split_{name}")


def series_column(frame: pd.DataFrame, preferred: str | None) -> str | None:
    """The column naming each series: the preferred one, or the metric's own label column."""
    if preferred is None:
        return None
    for candidate in (preferred, f"{preferred}_name", "product_name", "product", "product_id", "plan_id"):
        if candidate in frame:
            return candidate
    return None


def drilldown(params, months: list) -> None:
    st.subheader("Drill down")
    months = [_as_date(m) for m in months]
    left, right = st.columns(2)
    month = left.selectbox("Month", months[::-1], format_func=filters.month_label, key="drill_month")
    movement = right.selectbox("Movement", ["all", *MOVEMENTS], key="drill_movement",
                               format_func=str.capitalize)
    frame = show.metric_frame("mrr_drilldown", _with_month(params, month),
                              empty="No customers behind this month.")
    if frame is None:
        return
    rows = movement_rows(frame, movement)
    if rows.empty:
        st.info(f"No {movement} movement in {filters.month_label(month)}.")
        return
    st.caption(f"{len(rows):,} customers")
    from tally_ui import data
    show.table(rows, data.money_columns("mrr_drilldown"))


def movement_rows(frame: pd.DataFrame, movement: str) -> pd.DataFrame:
    if movement == "all":
        return frame
    if "movement" in frame:
        return frame[frame["movement"] == movement]
    if movement in frame:
        return frame[frame[movement].fillna(0) != 0]
    return frame.iloc[0:0]


def _with_month(params, month: dt.date):
    import dataclasses
    return dataclasses.replace(params, extra={"month": month})


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, (pd.Timestamp, dt.datetime)) else value
