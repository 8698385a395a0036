"""Refunds & disputes: volumes, rates, and the latest refunds and disputes."""
from __future__ import annotations

import streamlit as st

from metrics.params import Params
from metrics.refunds import RECENT
from pages.views.payments_page import cash_page_head
from tally_ui import charts, filters, published, widgets


def refunds_page() -> None:
    head = cash_page_head("Refunds & disputes")
    if head is None:
        return
    params, payments = head
    if payments is not None:
        left, right = st.columns(2)
        with left:
            charts.show(charts.lines(payments, "month", "refunds", title="Refunds"), key="refunds_amount")
        with right:
            charts.show(charts.lines(payments, "month", "refund_rate", title="Refund rate", money=False, percent=True),
                        key="refunds_rate")
    recent_refunds()
    disputes = widgets.metric_frame("disputes_by_reason", params)
    if disputes is not None:
        st.subheader("Disputes by reason")
        widgets.table(disputes, published.money_columns("disputes_by_reason"))
    recent_disputes(params)


def recent_refunds() -> None:
    st.subheader("Latest refunds")
    st.caption(f"The newest {RECENT}, whatever the date range and filters.")
    frame = widgets.metric_frame("recent_refunds", Params(), empty="No refunds yet.")
    if frame is not None:
        widgets.table(frame, published.money_columns("recent_refunds"), height=300)


def recent_disputes(params) -> None:
    """The newest disputes opened in the selected months (the table above counts the same ones)."""
    start, end = params.start or params.end, params.end
    st.subheader(f"Latest disputes, {filters.month_label(start)} – {filters.month_label(end)}")
    st.caption(f"The newest {RECENT} opened in these months; plan, interval and country filters do not apply.")
    frame = widgets.metric_frame("recent_disputes", Params(start=start, end=end),
                                 empty="No disputes opened in this range.")
    if frame is not None:
        widgets.table(frame, published.money_columns("recent_disputes"), height=300)
