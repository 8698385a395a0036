"""One customer's whole story at /customer?id=cus_...: every block is a customer_* metric."""
from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from tally_admin.audit import actions_on, audit_path_from_env
from tally_ui import charts, layout, published, widgets
from tally_ui.export import money_to_major

log = logging.getLogger("tally.dashboard")

# (metric, subheader, what to say when it has no rows)
BLOCKS = [("customer_subscriptions", "Subscriptions", "No subscriptions."),
          ("customer_items", "Subscription items over time", "Nothing billed for a subscription yet."),
          ("customer_invoices", "Invoices", "No invoices."),
          ("customer_payments", "Payments", "No payments."),
          ("customer_refunds_disputes", "Refunds and disputes", "No refunds or disputes."),
          ("customer_events", "Stripe events held", "No Stripe events held for this customer "
                                                     "(Stripe keeps events 30 days).")]
NO_ID = "Open a customer from any table of customers (its “Open” link), or add ?id=cus_... to this page's address."


def customer_page() -> None:
    params = layout.header("Customer", "The whole customer: the date range and filters apply to its MRR chart only.")
    if params is None:
        return
    who = (st.query_params.get("id") or "").strip()
    if not who:
        st.info(NO_ID)
        return
    params = dataclasses.replace(params, extra={"customer_id": who})
    compute_side_by_side(params)
    if not profile(params):
        return
    timeline(params)
    frames = {}
    for name, title, empty in BLOCKS:
        st.subheader(title)
        frames[name] = widgets.metric_frame(name, params, empty=empty)
        if frames[name] is not None:
            widgets.table(frames[name], published.money_columns(name))
    admin_actions(who, frames)


def compute_side_by_side(params) -> None:
    """Fill the cache with every block at once (DuckDB runs cursors of one connection in
    parallel, and each block is small): the page then draws from the cache."""
    db, version = published.db_path(), published.version()
    names = ["customer_profile", "customer_timeline", *[name for name, _, _ in BLOCKS]]

    def compute(name: str) -> None:
        try:
            published.cached_metric(db, version, name, params)
        except Exception:  # noqa: BLE001 - drawing the block computes it again and says what failed
            log.debug("computing %s ahead failed", name, exc_info=True)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="tally-customer") as pool:
        list(pool.map(compute, names))


def profile(params) -> bool:
    """The header; False (after saying so) when no customer has this id."""
    frame = widgets.metric_frame("customer_profile", params)
    if frame is None:
        # The id is not echoed: it comes from the address, and st.warning renders markdown.
        st.warning("No customer has the id in this page's address. Check the link, or find the "
                   "customer on Customers & retention.")
        return False
    first = frame.iloc[0]
    st.text(" · ".join(str(v) for v in (first["name"] or "(no name)", first["email"] or "no email",
                                        first["country"] or "no country", first["customer_id"]) if v))
    if first["deleted"]:
        st.caption("Deleted in Stripe.")
    for _, row in frame.iterrows():
        currency = row["currency"]
        columns = st.columns(4)
        paid = row["first_paid_at"]
        columns[0].metric("First paid", "—" if pd.isna(paid) else f"{pd.Timestamp(paid):%Y-%m-%d}", border=True)
        if pd.isna(currency):
            continue
        widgets.card(columns[1], "MRR now", row["current_mrr"], None, "money", currency)
        widgets.card(columns[2], "Lifetime revenue", row["lifetime_revenue"], None, "money", currency,
                     help="Succeeded charges less succeeded refunds.")
        widgets.card(columns[3], "Refunded", row["refunded"], None, "money", currency)
    return True


def timeline(params) -> None:
    st.subheader("MRR over time")
    frame = widgets.metric_frame("customer_timeline", params, empty="No MRR in this range.")
    if frame is None:
        return
    charts.show(mrr_with_movements(frame), key="customer_mrr")


def mrr_with_movements(frame: pd.DataFrame) -> go.Figure:
    """The customer's MRR line, with a labelled marker on each month it moved."""
    fig = charts.lines(frame, "month", "mrr", title="MRR at each month end")
    moved = money_to_major(frame[frame["movement"] != "unchanged"], ["mrr", "movement_amount"])
    if not moved.empty:
        fig.add_trace(go.Scatter(
            x=moved["month"], y=moved["mrr"], mode="markers+text", name="Movement",
            text=moved["movement"].map(widgets.code_words), textposition="top center",
            marker={"size": 12, "symbol": "diamond"},
            hovertext=[f"{widgets.code_words(m)}: {a:,.2f} {c.upper()}" for m, a, c in
                       zip(moved["movement"], moved["movement_amount"], moved["currency"])],
            hoverinfo="text+x"))
    return fig


def admin_actions(who: str, frames: dict) -> None:
    """Refunds and cancellations admins made on this customer's charges and subscriptions."""
    st.subheader("Admin actions")
    ids = {who}
    for name, column in (("customer_subscriptions", "subscription_id"), ("customer_payments", "charge_id"),
                         ("customer_invoices", "invoice_id")):
        if frames.get(name) is not None:
            ids.update(frames[name][column].dropna())
    try:
        rows = actions_on(audit_path_from_env(published.db_path()), sorted(ids))
    except duckdb.Error as error:  # busy or damaged: one line, the rest of the page stands
        log.warning("cannot read the audit trail: %s", error)
        st.warning("The audit trail cannot be read just now; try again in a moment.")
        return
    if rows.empty:
        st.info("No admin actions on this customer.")
        return
    widgets.table(rows)
