"""The dunning desk: invoices whose payment failed and are still open, what to do about
each, and what the desk recovered next to Stripe's own retries.

Page functions only (dashboard.py registers it for admins at /dunning). Each action
has the admin pages' two steps: a form, then a confirmation restating it, confirmed
once per submission (the nonce goes into the idempotency key; see pages/views/admin.py).
The list comes from the last sync; the chosen invoice is re-read from Stripe.
"""
from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from metrics.currency import exponent
from metrics.params import Params
from pages.views.admin import _finish, _md, _nonce, _safely, _setup, _show_result
from tally_admin import dunning
from tally_admin.refunds import amount_hint, to_minor
from tally_ui import charts, filters, published, widgets

ACTIONS = {"retry": "Retry the payment now", "pause": "Pause collection",
           "resume": "Resume collection", "uncollectible": "Mark uncollectible",
           "credit": "Credit the customer (retention offer)",
           "coupon": "Apply a coupon (retention offer)"}
PENDING = "_tally_dunning_pending"


def dunning_page() -> None:
    user, client, audit, db_path = _setup("Dunning desk")
    st.caption("Open invoices whose payment failed, as of the last sync. Every action is "
               "restated before it runs, recorded in the audit trail, and sent to Stripe once.")
    _last_result()
    frame = widgets.metric_frame("invoices_in_dunning", Params(),
                                 empty="No invoice is in dunning: every failed payment was "
                                       "recovered, written off or voided.")
    if frame is not None:
        _invoice_desk(frame, user, client, audit, db_path)
    recovery_chart(audit)


def _invoice_desk(frame: pd.DataFrame, user, client, audit, db_path) -> None:
    shown = frame.drop(columns=["hosted_invoice_url", "customer_id", "subscription_id"])
    widgets.table(shown, published.money_columns("invoices_in_dunning"), height=240)
    rows = frame.set_index("invoice_id")
    invoice_id = st.selectbox("Invoice", list(rows.index), key="dunning_invoice",
                              format_func=lambda i: _label(i, rows.loc[i]))
    facts = _safely(dunning.invoice_facts, client, invoice_id)
    if facts is None:
        return
    due, attempts, retry = st.columns(3)
    due.metric("Amount due", facts.money())
    attempts.metric("Attempts", facts.attempt_count)
    retry.metric("Next retry", dunning.when(facts.next_payment_attempt))
    if facts.hosted_invoice_url:
        st.caption("Hosted invoice link, to send to the customer (copy it with the button "
                   "at the right of the box):")
        st.code(facts.hosted_invoice_url, language=None)
    if facts.status != "open":
        st.info(f"{invoice_id} is {facts.status} at Stripe now; the list shows it until the "
                "next sync. There is nothing to chase.")
        return
    paused = bool(rows.loc[invoice_id, "collection_paused"])
    coupons = (_safely(dunning.offerable_coupons, client) or {}) if facts.subscription_id else {}
    _action_form(facts, paused, coupons)
    _confirmation(user, client, audit, db_path, facts)


def _label(invoice_id: str, row) -> str:
    who = row.customer_email or row.customer_id
    amount = widgets.money(row.amount_due, row.currency)
    return f"{invoice_id} · {who} · {amount} · {row.attempt_count} attempts"


def _action_form(facts: dunning.InvoiceFacts, paused: bool, coupons: dict[str, str]) -> None:
    choices = [a for a in ACTIONS if a != ("pause" if paused else "resume")]
    if not facts.subscription_id:
        choices = [a for a in choices if a not in ("pause", "resume")]
    if not coupons:
        choices = [a for a in choices if a != "coupon"]
    digits = exponent(facts.currency)
    with st.form(f"dunning_form_{facts.invoice_id}"):
        action = st.radio("Action", choices, format_func=ACTIONS.get, key="dunning_action")
        behaviors: list[str] = list(dunning.PAUSE_BEHAVIORS)
        behavior = st.selectbox("While paused, Stripe should", behaviors,
                                format_func=lambda b: dunning.PAUSE_BEHAVIORS[b], key="dunning_behavior")
        credit = st.number_input(f"Credit ({facts.currency.upper()}), for a credit",
                                 value=0.0, step=float(10 ** -digits), format=f"%.{digits}f",
                                 key="dunning_credit")
        coupon_ids: list[str] = list(coupons)
        coupon = st.selectbox("Coupon, for a coupon", coupon_ids, key="dunning_coupon",
                              format_func=lambda c: coupons[c]) if coupons else None
        if st.form_submit_button("Review"):
            amount = to_minor(round(credit, 9), facts.currency) if action == "credit" else None
            if action == "credit" and not amount:
                st.session_state.pop(PENDING, None)
                st.error(_md(amount_hint(facts.currency) if amount is None
                             else "Enter a credit greater than zero."))
                return
            st.session_state[PENDING] = {"invoice_id": facts.invoice_id, "action": action,
                                         "behavior": behavior, "amount": amount,
                                         "coupon": coupon, "terms": coupons.get(coupon or ""),
                                         "nonce": _nonce(f"dunning_{action}", facts.invoice_id)}


def _restated(facts: dunning.InvoiceFacts, pending: dict) -> str:
    action = pending["action"]
    if action == "retry":
        return dunning.retry_confirmation(facts)
    if action in ("pause", "resume"):
        return dunning.pause_confirmation(facts, action == "pause", pending["behavior"])
    if action == "uncollectible":
        return dunning.uncollectible_confirmation(facts)
    if action == "coupon":
        return dunning.coupon_confirmation(facts, pending["coupon"], pending["terms"])
    return dunning.credit_confirmation(facts, pending["amount"], facts.currency)


def _confirmation(user, client, audit, db_path, facts: dunning.InvoiceFacts) -> None:
    pending = st.session_state.get(PENDING)
    if not pending or pending["invoice_id"] != facts.invoice_id:
        return
    st.warning("Please confirm: " + _md(_restated(facts, pending)))
    confirm, back = st.columns(2)
    if back.button("Change", key="dunning_back"):
        st.session_state.pop(PENDING, None)
        st.rerun()
    if confirm.button("Confirm", type="primary", key="dunning_confirm"):
        with st.spinner("Sending to Stripe…"):
            result = _safely(_run, pending, client, audit, db_path, user.label, facts)
        if result is None:
            return
        _finish("dunning", facts.invoice_id, result,
                nonce_form=f"dunning_{pending['action']}", pending_key=PENDING)


def _run(pending: dict, client, audit, db_path, actor: str, facts: dunning.InvoiceFacts):
    action, nonce = pending["action"], pending["nonce"]
    if action == "retry":
        return dunning.retry_payment(client, audit, db_path, actor=actor,
                                     invoice_id=facts.invoice_id, nonce=nonce)
    if action == "uncollectible":
        return dunning.mark_uncollectible(client, audit, db_path, actor=actor,
                                          invoice_id=facts.invoice_id, nonce=nonce)
    if action in ("pause", "resume"):
        return dunning.set_collection_paused(client, audit, db_path, actor=actor,
                                             subscription_id=facts.subscription_id or "",
                                             pause=action == "pause",
                                             behavior=pending["behavior"], nonce=nonce)
    if action == "coupon":
        return dunning.apply_coupon(client, audit, db_path, actor=actor,
                                    subscription_id=facts.subscription_id or "",
                                    coupon_id=pending["coupon"], nonce=nonce)
    return dunning.credit_customer(client, audit, db_path, actor=actor,
                                   customer_id=facts.customer_id or "", amount=pending["amount"],
                                   currency=facts.currency, invoice_id=facts.invoice_id, nonce=nonce)


def _last_result() -> None:
    """The outcome of the last action, once: a paid invoice has left the list by now."""
    shown = st.session_state.pop("_tally_admin_dunning_result", None)
    if shown:
        st.caption(f"Last action, on {shown[0]}:")
        _show_result(shown[1])


def recovery_chart(audit) -> None:
    """By month of the failed invoice: the share the desk's retries recovered, next to Stripe's.

    The sidebar's months and filters apply; amounts stay in each invoice's currency."""
    st.subheader("Recovered by the desk and by Stripe's retries")
    params = dataclasses.replace(filters.current(), currency=None, granularity="month")
    failed = widgets.metric_frame("failed_invoices", params,
                                  empty="No subscription invoice failed in these months.")
    if failed is None:
        return
    desk = _safely(lambda: dunning.desk_recovered_invoices(audit.frame()))
    by_source = dunning.recovery_by_source(failed, desk or set())
    rates = pd.concat([
        by_source.assign(source="Dunning desk", rate=by_source.desk_rate),
        by_source.assign(source="Stripe's retries", rate=by_source.stripe_rate)])
    if by_source.currency.nunique() > 1:
        rates = rates.assign(source=rates.source + " (" + rates.currency.str.upper() + ")")
    charts.show(charts.lines(rates, "month", "rate", by="source", money=False, percent=True,
                             title="Recovery rate by month the invoice failed"),
                key="dunning_recovery")
    widgets.table(by_source, ("desk_amount", "stripe_amount"), height=240)
