"""Refunds & disputes: volumes, rates, and the latest refunds and disputes."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from tally_ui import banners, charts, filters, layout, published, widgets

RECENT = 200


def refunds_page() -> None:
    params = layout.header("Refunds & disputes")
    if params is None:
        return
    banners.cash_filter_note(params)
    payments = widgets.metric_frame("payments", params, empty="No charges in this range.")
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
    # The newest first, whatever the date range: a refund made today shows at once.
    st.caption(f"The newest {RECENT}, whatever the date range and filters.")
    frame = published.query(f"""
        SELECT r.created, r.id, r.charge_id, c.customer_id, r.amount, r.currency, r.status, r.reason
        FROM refunds r LEFT JOIN charges c ON c.id = r.charge_id
        ORDER BY r.created DESC LIMIT {RECENT}""")
    if frame.empty:
        st.info("No refunds yet.")
        return
    widgets.table(frame, ["amount"], height=300)


def recent_disputes(params) -> None:
    """The newest disputes opened in the selected months (the table above counts the same ones)."""
    start, end = params.start or params.end, params.end
    st.subheader(f"Latest disputes, {filters.month_label(start)} – {filters.month_label(end)}")
    st.caption(f"The newest {RECENT} opened in these months; plan, interval and country filters do not apply.")
    after = (end.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    frame = published.query(f"""
        SELECT d.created, d.id, d.charge_id, c.customer_id, d.amount, d.currency, d.status, d.reason
        FROM disputes d LEFT JOIN charges c ON c.id = d.charge_id
        WHERE d.created >= ? AND d.created < ?
        ORDER BY d.created DESC LIMIT {RECENT}""", (start.replace(day=1), after))
    if frame.empty:
        st.info("No disputes opened in this range.")
        return
    widgets.table(frame, ["amount"], height=300)
