"""Customers & retention: active customers, churn, cohorts, LTV, trials, top customers, search."""
from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from metrics.params import Params
from tally_ui import charts, filters, layout, published, widgets

CHURN_RATES = {"logo_churn_rate": "Logo churn", "gross_mrr_churn": "Gross MRR churn",
               "net_mrr_churn": "Net MRR churn"}


def customers_page() -> None:
    params = layout.header("Customers & retention")
    if params is None:
        return
    mrr = widgets.metric_frame("mrr", params, empty="No active customers in this range yet.")
    if mrr is not None:
        left, right = st.columns(2)
        with left:
            charts.show(charts.lines(mrr, "month", "customers", title="Active customers", money=False),
                        key="customers_active")
        with right:
            churn_rates(params)
    cohorts(params)
    ltv_and_trials(params)
    top_customers(params)
    customer_search(params)


def churn_rates(params) -> None:
    churn = widgets.metric_frame("churn", params, empty="No churn figures in this range.")
    if churn is None:
        return
    long = churn.melt(id_vars=["month", "currency"], value_vars=[c for c in CHURN_RATES if c in churn],
                      var_name="rate", value_name="value")
    long["rate"] = long["rate"].map(CHURN_RATES)
    charts.show(charts.lines(long, "month", "value", by="rate", title="Churn rates", money=False, percent=True),
                key="customers_churn")


def cohorts(params) -> None:
    st.subheader("Cohorts")
    frame = widgets.metric_frame("cohorts", params, empty="No cohorts in this range.")
    if frame is None:
        return
    currency = layout.pick_currency(frame, key="cohort_currency")
    frame = widgets.of_currency(frame, currency)
    left, right = st.columns(2)
    for column, title, where in (("logo_retention", "Logo retention", left),
                                 ("revenue_retention", "Revenue retention", right)):
        if column not in frame:
            continue
        grid = frame.pivot_table(index="cohort", columns="months_since", values=column, aggfunc="first")
        grid.index = [pd.Timestamp(i).strftime("%Y-%m") for i in grid.index]
        with where:
            charts.show(charts.heatmap(grid, title=title), key=f"cohort_{column}")
    cohort_members(params, sorted({pd.Timestamp(c).date() for c in frame["cohort"]}, reverse=True))


def cohort_members(params, cohorts: list) -> None:
    """The customers behind one cohort's row, each linked to its page (once a cohort is picked:
    nothing is computed for a page view that does not ask)."""
    cohort = st.selectbox("Customers of the cohort", cohorts, format_func=filters.month_label, key="cohort_pick",
                          index=None, placeholder="Pick a cohort to list its customers")
    if cohort is None:
        return
    frame = widgets.metric_frame("cohort_customers", dataclasses.replace(params, extra={"cohort": cohort}),
                                 empty="No customers in this cohort.")
    if frame is not None:
        widgets.table(frame, published.money_columns("cohort_customers"))


def ltv_and_trials(params) -> None:
    left, right = st.columns(2)
    with left:
        ltv = widgets.metric_frame("ltv", params, empty="No LTV yet: it needs churned customers.")
        if ltv is not None and ltv["ltv"].notna().any():
            charts.show(charts.lines(ltv.dropna(subset=["ltv"]), "month", "ltv", title="LTV"),
                        key="customers_ltv")
        elif ltv is not None:
            st.info("No LTV yet: it needs churned customers in the 6 months before.")
    with right:
        trials = widgets.metric_frame("trial_conversion", params, empty="No trials ended in this range.")
        if trials is not None:
            charts.show(charts.lines(trials.assign(series="Trials"), "month", "conversion_rate", by="series",
                               title="Trial conversion", money=False, percent=True), key="customers_trials")


def top_customers(params) -> None:
    st.subheader("Top customers")
    month = params.end
    frame = widgets.metric_frame("mrr_drilldown", dataclasses.replace(params, extra={"month": month}),
                              empty="No paying customers at the end of this range.")
    if frame is None:
        return
    customers = (frame.drop_duplicates(["customer_id", "currency"])
                 [["customer_id", "customer_name", "customer_email", "currency", "customer_end_mrr"]]
                 .rename(columns={"customer_end_mrr": "mrr"}))
    top = customers[customers["mrr"] > 0].sort_values("mrr", ascending=False).head(10)
    st.caption(f"By MRR at the end of {filters.month_label(month)}.")
    widgets.table(top, ["mrr"])


def customer_search(params) -> None:
    st.subheader("Find a customer")
    text = st.text_input("Name, email or customer id", key="customer_search").strip()
    if not text:
        return
    matches = widgets.metric_frame("customer_search", Params(extra={"text": text}),  # whatever the range
                                   empty="No customer matches that search.")  # not echoed: st.info renders markdown
    if matches is None:
        return
    widgets.table(matches.rename(columns={"id": "customer_id"}))  # each links to its page per customer
    labels = {row.id: f"{row.name or '(no name)'} · {row.email or '-'} · {row.id}" for row in matches.itertuples()}
    customer = st.selectbox("Customer", list(labels), format_func=labels.get, key="customer_pick")
    timeline(params, customer)


def timeline(params, customer_id: str) -> None:
    frame = widgets.metric_frame("customer_timeline", dataclasses.replace(params, extra={"customer_id": customer_id}),
                              empty="Nothing recorded for this customer yet.")
    if frame is None:
        return
    widgets.table(frame, published.money_columns("customer_timeline"))
