"""Payments: success rate, failures by reason, dunning recovery, fraud."""
from __future__ import annotations

import streamlit as st

from tally_ui import charts, data, layout, show


def payments_page() -> None:
    params = layout.header("Payments")
    if params is None:
        return
    payments = show.metric_frame("payments", params, empty="No charges in this range.")
    if payments is not None:
        success_rate(payments)
    left, right = st.columns(2)
    with left:
        failures(params)
    with right:
        recovery(params)
    fraud(params)


def success_rate(payments) -> None:
    left, right = st.columns(2)
    with left:
        charts.show(charts.lines(payments, "month", "success_rate", title="Charge success rate", money=False, percent=True),
                    key="payments_success")
    with right:
        charts.show(charts.lines(payments, "month", "gross_volume", title="Gross volume"),
                    key="payments_volume")


def failures(params) -> None:
    st.subheader("Failures by reason")
    frame = show.metric_frame("payment_failures", params, empty="No failed charges in this range.")
    if frame is None:
        return
    reason = next((c for c in ("failure_code", "reason", "outcome_reason") if c in frame), frame.columns[0])
    count = next((c for c in ("failed", "charges", "count") if c in frame), None)
    if count:
        totals = frame.groupby(reason, dropna=False, as_index=False)[count].sum().sort_values(count)
        totals[reason] = totals[reason].fillna("unknown")
        charts.show(charts.bars(totals, reason, count, horizontal=True), key="payments_failures")
    show.table(frame, data.money_columns("payment_failures"), height=240)


def recovery(params) -> None:
    st.subheader("Dunning recovery")
    frame = show.metric_frame("recovery", params, empty="No failed subscription invoices in this range.")
    if frame is None:
        return
    charts.show(charts.lines(frame, "month", "recovery_rate", title="Recovered / first-attempt failures", money=False, percent=True),
                key="payments_recovery")
    show.table(frame, data.money_columns("recovery"), height=240)


def fraud(params) -> None:
    st.subheader("Fraud")
    left, right = st.columns(2)
    with left:
        frame = show.metric_frame("fraud", params, empty="No charges in this range.")
        if frame is not None:
            frame = frame.assign(risk_level=frame["risk_level"].fillna("not assessed"),
                                 outcome_type=frame["outcome_type"].fillna("unknown"))
            charts.show(charts.bars(frame, "risk_level", "charges", by="outcome_type",
                                    title="Charges by risk level and outcome"), key="payments_fraud")
    with right:
        disputes = show.metric_frame("disputes_by_reason", params, empty="No disputes in this range.")
        if disputes is not None:
            charts.show(charts.bars(disputes.sort_values("disputes"), "reason", "disputes", horizontal=True,
                                    title="Disputes by reason"), key="payments_disputes")
    warnings = show.metric_frame("early_fraud_warnings", params)
    if warnings is not None:
        st.caption("Radar early fraud warnings")
        show.table(warnings)
