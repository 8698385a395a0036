"""Forecast: a 12-month MRR projection with its band, clearly labelled as such."""
from __future__ import annotations

import streamlit as st

from tally_ui import charts, layout, published, widgets


def forecast_page() -> None:
    params = layout.header("Forecast")
    if params is None:
        return
    st.warning("**Projection, not a promise.** The next 12 months extrapolate the trailing 6 months' "
               "new, expansion and reactivation MRR and contraction and churn rates, plus scheduled "
               "cancellations. The band spans the best and worst trailing month.", icon=":material/trending_up:")
    frame = widgets.metric_frame("forecast", params, empty="Not enough history for a projection yet (6 months needed).")
    if frame is None:
        return
    currency = layout.pick_currency(frame, key="forecast_currency")
    frame = widgets.of_currency(frame, currency)
    history = widgets.of_currency(widgets.metric_frame("mrr", params), currency)
    charts.show(charts.band(frame, "month", "mrr", "low", "high", history=history,
                            title="MRR projection (next 12 months)"), key="forecast_chart")
    projection = frame[frame["kind"] == "projection"].drop(columns=["kind"])
    widgets.table(projection, published.money_columns("forecast"))
