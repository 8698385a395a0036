"""Tax: collected by jurisdiction and month (paid invoices)."""
from __future__ import annotations

import streamlit as st

from tally_ui import charts, layout, published, widgets


def tax_page() -> None:
    params = layout.header("Tax", "Tax collected on paid invoices, by tax rate and by the month the invoice was paid.")
    if params is None:
        return
    frame = widgets.metric_frame("tax", params, empty="No tax collected in this range.")
    if frame is None:
        return
    currency = layout.pick_currency(frame, key="tax_currency")
    frame = widgets.of_currency(frame, currency)
    charts.show(charts.bars(frame, "month", "tax_collected", by="jurisdiction", money=True,
                            title="Tax collected by jurisdiction"), key="tax_chart")
    totals = (frame.groupby(["jurisdiction", "country", "rate", "currency"], dropna=False, as_index=False)
              ["tax_collected"].sum().sort_values("tax_collected", ascending=False))
    st.subheader("Totals for the range")
    widgets.table(totals, ["tax_collected"])
    st.subheader("By month")
    widgets.table(frame.sort_values("month", ascending=False), published.money_columns("tax"))
