"""Forecast: a 12-month MRR projection with its band, clearly labelled as such."""
from __future__ import annotations

import streamlit as st

from tally_ui import charts, data, layout, show


def forecast_page() -> None:
    params = layout.header("Forecast")
    if params is None:
        return
    st.warning("**Projection, not a promise.** The next 12 months extrapolate the trailing 6 months' "
               "new, expansion and reactivation MRR and contraction and churn rates, plus scheduled "
               "cancellations. The band spans the best and worst trailing month.", icon=":material/trending_up:")
    frame = show.metric_frame("forecast", params, empty="Not enough history for a projection yet (6 months needed).")
    if frame is None:
        return
    currency = layout.pick_currency(frame, key="forecast_currency")
    frame = show.of_currency(frame, currency)
    history = show.of_currency(show.metric_frame("mrr", params), currency)
    charts.show(charts.band(frame, "month", "mrr", "low", "high", history=history,
                            title="MRR projection (next 12 months)"), key="forecast_chart")
    projection = frame[frame["kind"] == "projection"].drop(columns=["kind"])
    show.table(projection, data.money_columns("forecast"))
