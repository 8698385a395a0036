"""Refunds & disputes: volumes, rates, and the latest refunds and disputes."""
from __future__ import annotations

import streamlit as st

from tally_ui import charts, data, layout, show

RECENT = 200


def refunds_page() -> None:
    params = layout.header("Refunds & disputes")
    if params is None:
        return
    payments = show.metric_frame("payments", params, empty="No charges in this range.")
    if payments is not None:
        left, right = st.columns(2)
        with left:
            charts.show(charts.lines(payments, "month", "refunds", title="Refunds"), key="refunds_amount")
        with right:
            charts.show(charts.lines(payments, "month", "refund_rate", title="Refund rate", money=False, percent=True),
                        key="refunds_rate")
    recent_refunds()
    disputes = show.metric_frame("disputes_by_reason", params)
    if disputes is not None:
        st.subheader("Disputes by reason")
        show.table(disputes, data.money_columns("disputes_by_reason"))
    recent_disputes()


def recent_refunds() -> None:
    st.subheader("Latest refunds")
    # The newest first, whatever the date range: a refund made today shows at once.
    frame = data.query(f"""
        SELECT r.created, r.id, r.charge_id, c.customer_id, r.amount, r.currency, r.status, r.reason
        FROM refunds r LEFT JOIN charges c ON c.id = r.charge_id
        ORDER BY r.created DESC LIMIT {RECENT}""")
    if frame.empty:
        st.info("No refunds yet.")
        return
    show.table(frame, ["amount"], height=300)


def recent_disputes() -> None:
    st.subheader("Latest disputes")
    frame = data.query(f"""
        SELECT d.created, d.id, d.charge_id, c.customer_id, d.amount, d.currency, d.status, d.reason
        FROM disputes d LEFT JOIN charges c ON c.id = d.charge_id
        ORDER BY d.created DESC LIMIT {RECENT}""")
    if frame.empty:
        st.info("No disputes yet.")
        return
    show.table(frame, ["amount"], height=300)
