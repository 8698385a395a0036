"""Payments: success rate, failures by reason, dunning recovery, fraud."""
from __future__ import annotations

import streamlit as st

from tally_ui import banners, charts, layout, published, widgets


def cash_page_head(title: str):
    """The header, the cash filter note and the payments frame a cash page starts with:
    (params, payments), or None when the header stopped the page."""
    params = layout.header(title)
    if params is None:
        return None
    banners.cash_filter_note(params)
    return params, widgets.metric_frame("payments", params, empty="No charges in this range.")


def payments_page() -> None:
    head = cash_page_head("Payments")
    if head is None:
        return
    params, payments = head
    if payments is not None:
        success_rate(payments)
    left, right = st.columns(2)
    with left:
        failed = failures(params)
    with right:
        recovered = recovery(params)
    # The tables go full width under both charts: in half a page their right columns were cut off.
    if failed is not None:
        st.caption("Failed charges by month and reason")
        widgets.table(failed, published.money_columns("payment_failures"), height=240)
    if recovered is not None:
        st.caption("Dunning recovery by month of the first failed attempt")
        widgets.table(recovered, published.money_columns("recovery"), height=240)
    fraud(params)


def success_rate(payments) -> None:
    left, right = st.columns(2)
    with left:
        charts.show(charts.lines(payments, "month", "success_rate", title="Charge success rate",
                                 money=False, percent=True), key="payments_success")
    with right:
        charts.show(charts.lines(payments, "month", "gross_volume", title="Gross volume"),
                    key="payments_volume")


def failures(params):
    """The failures chart; returns the frame for the table below both charts."""
    st.subheader("Failures by reason")
    frame = widgets.metric_frame("payment_failures", params, empty="No failed charges in this range.")
    if frame is None:
        return None
    # The bank's reason (do_not_honor, insufficient_funds...) says more than the code card_declined.
    reasons = frame.assign(reason=frame["outcome_reason"].fillna(frame["failure_code"]).fillna("unknown")
                           .map(widgets.code_words))
    totals = reasons.groupby("reason", as_index=False)["failed"].sum().sort_values("failed")
    charts.show(charts.bars(totals, "reason", "failed", horizontal=True, title="Failed charges by reason"),
                key="payments_failures")
    return frame


def recovery(params):
    """The recovery chart; returns the frame for the table below both charts."""
    st.subheader("Dunning recovery")
    frame = widgets.metric_frame("recovery", params, empty="No failed subscription invoices in this range.")
    if frame is None:
        return None
    charts.show(charts.lines(frame, "month", "recovery_rate", title="Recovered / first-attempt failures",
                             money=False, percent=True), key="payments_recovery")
    return frame


def fraud(params) -> None:
    st.subheader("Fraud")
    left, right = st.columns(2)
    with left:
        frame = widgets.metric_frame("fraud", params, empty="No charges in this range.")
        if frame is not None:
            frame = (frame.assign(risk_level=frame["risk_level"].fillna("not_assessed").map(widgets.code_words),
                                  outcome_type=frame["outcome_type"].fillna("unknown").map(widgets.code_words))
                     .groupby(["risk_level", "outcome_type"], as_index=False)["charges"].sum())
            charts.show(charts.bars(frame, "risk_level", "charges", by="outcome_type",
                                    title="Charges by risk level and outcome"), key="payments_fraud")
    with right:
        disputes = widgets.metric_frame("disputes_by_reason", params, empty="No disputes in this range.")
        if disputes is not None:
            disputes = (disputes.assign(reason=disputes["reason"].fillna("unknown").map(widgets.code_words))
                        .groupby("reason", as_index=False)["disputes"].sum())
            charts.show(charts.bars(disputes.sort_values("disputes"), "reason", "disputes", horizontal=True,
                                    title="Disputes by reason"), key="payments_disputes")
    warnings = widgets.metric_frame("early_fraud_warnings", params)
    if warnings is not None:
        st.caption("Radar early fraud warnings")
        widgets.table(warnings)
