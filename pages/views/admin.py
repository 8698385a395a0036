"""Admin pages: refund a charge, cancel or resume a subscription, the audit trail.

Page functions only (dashboard.py registers them for admins): importing this
module renders nothing, because Streamlit runs files in pages/ directly on a
deep link. Each page checks the verified role itself with `require_admin`.

Every action has two steps: a form, then a confirmation that restates what
will happen in the customer's currency. The form nonce (made when the form is
first shown, replaced once an action has a final outcome) goes into the
idempotency key, so a double click or a rerun of one submission acts once.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import secrets as _secrets

import duckdb
import streamlit as st
import stripe

from etl.store import db_path_from_env
from metrics.currency import exponent, format_money, to_major
from tally_admin import writeback
from tally_admin.actions import ActionResult
from tally_admin.audit import AuditLog, audit_path_from_env
from tally_admin.lookup import find_charges, find_subscriptions
from tally_admin.refunds import (
    REASONS,
    amount_hint,
    charge_facts,
    refund_charge,
    refund_confirmation,
    refusal,
    to_minor,
)
from tally_admin.stripe_api import NotConfigured, client_from_env, explain
from tally_admin.subscriptions import (
    UnusedRefund,
    cancel_confirmation,
    cancel_subscription,
    subscription_facts,
    undo_cancellation,
    undo_confirmation,
    unused_refund,
)
from tally_auth import ENABLE_HINT, User, require_admin
from tally_ui.export import csv_bytes
from tally_ui.widgets import header

log = logging.getLogger("tally.admin")
UNUSED_LABELS = {"none": "Nothing back", "prorate": "Credit the unused time (prorated invoice)",
                 "refund": "Refund the unused time"}
WHEN_LABELS = {"now": "Now", "period_end": "At the end of the current period"}


# --- shared -----------------------------------------------------------------

def _setup(title: str) -> tuple[User, stripe.StripeClient, AuditLog, str]:
    user = require_admin()
    st.title(title)
    try:
        client = client_from_env()
    except NotConfigured as missing:
        st.error(f"Admin actions need a Stripe account: {missing}")
        st.stop()
    return user, client, _audit_log(), db_path_from_env()


def _audit_log() -> AuditLog:
    """The audit trail, or one line on why it cannot be opened (then the page stops)."""
    path = audit_path_from_env()
    try:
        return AuditLog(path)
    except (duckdb.Error, OSError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("cannot open the audit trail %s: %s", path, reason)
        st.error(f"The audit trail {path} cannot be opened for writing ({reason}), so admin actions "
                 "are off: nothing changes without a record. Make its folder writable, or set "
                 "TALLY_AUDIT_DB to a file in a writable folder, and reload.")
        st.stop()


def _nonce(form: str, object_id: str) -> str:
    """The nonce of this form for this object; stays until an action on it is final."""
    nonces = st.session_state.setdefault("_tally_admin_nonces", {})
    return nonces.setdefault(f"{form}:{object_id}", _secrets.token_hex(16))


def _next_nonce(form: str, object_id: str) -> None:
    st.session_state.setdefault("_tally_admin_nonces", {}).pop(f"{form}:{object_id}", None)


def _show_result(result: ActionResult) -> None:
    prefix = "Already done (same submission): " if result.repeated else ""
    if result.ok and not result.audited:
        st.warning(prefix + _md(result.message))
    elif result.ok:
        st.success(prefix + _md(result.message))
        if result.saved == writeback.QUEUED:
            st.info("A sync is writing the database right now, so this change is queued: "
                    "it appears on the dashboard after that sync finishes.")
    elif result.outcome == "unknown":
        st.warning(_md(result.message) + " Confirm again to check: it will not act twice.")
    else:
        st.error(prefix + _md(result.message))
    if result.request_id:
        st.caption(f"Stripe request id: {result.request_id}")


def _md(text: str) -> str:
    """Show text as typed: customer emails, ids and search terms are not markdown."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~$:-])", r"\\\1", text)


def _safely(step, *args, **kwargs):
    """Run a step that talks to Stripe; on failure show one line and return None."""
    try:
        return step(*args, **kwargs)
    except stripe.StripeError as error:
        st.error(explain(error))
    except Exception:  # noqa: BLE001 - the admin gets one line; the log gets the details
        log.exception("admin page step %s failed", getattr(step, "__name__", step))
        st.error("Something went wrong; nothing more is known here. See the server log.")
    return None


def _when(ts) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "—"


# --- refund -----------------------------------------------------------------

def _charge_label(charge: dict) -> str:
    amount = format_money(charge.get("amount"), charge.get("currency") or "usd")
    refunded = charge.get("amount_refunded") or 0
    extra = f", {format_money(refunded, charge['currency'])} refunded" if refunded else ""
    return f"{charge['id']} · {amount} · {_when(charge.get('created'))} · {charge.get('status')}{extra}"


def _picked_facts(found, what: str, query: str, key: str, label, facts_of, client):
    """The facts of the one the user picks among what a search found; None when the search or
    the facts failed (already said) or the search found nothing (said here)."""
    if found is None:
        return None
    if not found:
        st.warning(f"No {what.lower()} found for “{_md(query.strip())}”.")
        return None
    by_id = {o["id"]: o for o in found}
    picked = by_id[st.selectbox(what, list(by_id), key=key, format_func=lambda i: label(by_id[i]))]
    return _safely(facts_of, client, picked["id"], picked)


def refund_page() -> None:
    user, client, audit, db_path = _setup("Refund a charge")
    query = st.text_input("Find a charge", key="admin_refund_query",
                          placeholder="charge id, payment intent, invoice id or number, customer email")
    if not query.strip():
        st.caption("Search by charge id (ch_…), payment intent (pi_…), invoice id (in_…) "
                   "or number, customer id (cus_…) or email.")
        return
    facts = _picked_facts(_safely(find_charges, client, query, db_path), "Charge", query,
                          "admin_refund_charge", _charge_label, charge_facts, client)
    if facts is None:
        return
    paid, refunded, left = st.columns(3)
    paid.metric("Paid", facts.money(facts.paid))
    refunded.metric("Already refunded", facts.money(facts.refunded))
    left.metric("Refundable", facts.money(facts.refundable))
    _refund_result(facts.charge_id)
    blocked = refusal(facts, max(facts.refundable, 1), REASONS[0])
    if blocked:
        st.info(blocked)
        return
    _refund_form(facts)
    _refund_confirmation(user, client, audit, db_path, facts)


def _refund_form(facts) -> None:
    digits = exponent(facts.currency)
    with st.form(f"admin_refund_form_{facts.charge_id}"):
        # No min/max: a browser silently blocks an out-of-range amount; Tally says why instead.
        amount = st.number_input(
            f"Amount ({facts.currency.upper()})",
            value=float(to_major(facts.refundable, facts.currency)),
            step=float(10 ** -digits), format=f"%.{digits}f")
        reason = st.selectbox("Reason", REASONS)
        if st.form_submit_button("Review refund"):
            # round(…, 9): the browser's step buttons leave binary noise (0.30000000000000004)
            minor = to_minor(round(amount, 9), facts.currency)
            why_not = amount_hint(facts.currency) if minor is None else refusal(facts, minor, reason)
            if why_not:
                st.session_state.pop("_tally_admin_refund", None)
                st.error(_md(why_not))
                return
            st.session_state["_tally_admin_refund"] = {
                "charge_id": facts.charge_id, "amount": minor,
                "reason": reason, "nonce": _nonce("refund", facts.charge_id)}


def _confirmed(slot: str, label: str) -> bool:
    """Confirm and Change buttons under a pending action: Change drops it; True on Confirm."""
    confirm, back = st.columns(2)
    if back.button("Change", key=f"admin_{slot}_back"):
        st.session_state.pop(f"_tally_admin_{slot}", None)
        st.rerun()
    return confirm.button(label, type="primary", key=f"admin_{slot}_confirm")


def _refund_confirmation(user, client, audit, db_path, facts) -> None:
    pending = st.session_state.get("_tally_admin_refund")
    if not pending or pending["charge_id"] != facts.charge_id:
        return
    amount, reason = pending["amount"], pending["reason"]
    st.warning("Please confirm: " + _md(refund_confirmation(facts, amount, reason)))
    if _confirmed("refund", "Confirm refund"):
        with st.spinner("Refunding…"):
            result = _safely(refund_charge, client, audit, db_path, actor=user.label,
                             charge_id=facts.charge_id, amount=amount, reason=reason,
                             nonce=pending["nonce"])
        if result is None:
            return
        _finish("refund", facts.charge_id, result, nonce_form="refund",
                pending_key="_tally_admin_refund")


def _finish(slot: str, object_id: str, result: ActionResult, *, nonce_form: str,
            pending_key: str | None = None) -> None:
    """Keep the result to show; a final outcome ends this submission (new nonce next time)."""
    st.session_state[f"_tally_admin_{slot}_result"] = (object_id, result)
    # Not final while the outcome is unknown or its audit row is only held: keep the nonce,
    # so confirming again is answered from the record instead of acting again.
    if result.outcome != "unknown" and result.audited:
        if pending_key:
            st.session_state.pop(pending_key, None)
        _next_nonce(nonce_form, object_id)
    st.rerun()


def _refund_result(charge_id: str) -> None:
    shown = st.session_state.get("_tally_admin_refund_result")
    if shown and shown[0] == charge_id:
        _show_result(shown[1])


# --- cancel / undo ----------------------------------------------------------

def _subscription_label(sub: dict) -> str:
    scheduled = " · cancels at period end" if sub.get("cancel_at_period_end") else ""
    since = _when(sub.get("start_date") or sub.get("created"))
    return f"{sub['id']} · {sub.get('status')} · since {since}{scheduled}"


def cancel_page() -> None:
    user, client, audit, db_path = _setup("Cancel a subscription")
    query = st.text_input("Find a subscription", key="admin_cancel_query",
                          placeholder="subscription id, customer id or customer email")
    if not query.strip():
        st.caption("Search by subscription id (sub_…), customer id (cus_…) or email.")
        return
    facts = _picked_facts(_safely(find_subscriptions, client, query), "Subscription", query,
                          "admin_cancel_subscription", _subscription_label, subscription_facts, client)
    if facts is None:
        return
    status, period = st.columns(2)
    status.metric("Status", facts.status or "—")
    period.metric("Current period ends", _when(facts.period_end))
    _cancel_result(facts.subscription_id)
    if facts.status == "canceled":
        st.info(f"{facts.subscription_id} is canceled; there is nothing to change.")
    elif facts.cancellation_scheduled:
        ends = _when(facts.cancel_at or facts.period_end)
        st.info(f"{facts.subscription_id} is scheduled to cancel at {ends}.")
        _undo_flow(user, client, audit, db_path, facts)
    else:
        _cancel_form(client, facts)
        _cancel_confirmation(user, client, audit, db_path, facts)


def _cancel_form(client, facts) -> None:
    with st.form(f"admin_cancel_form_{facts.subscription_id}"):
        when = st.radio("Cancel", list(WHEN_LABELS), format_func=WHEN_LABELS.get)
        unused = st.radio("Unused time (when canceling now)", list(UNUSED_LABELS),
                          format_func=UNUSED_LABELS.get)
        if st.form_submit_button("Review cancellation"):
            unused = unused if when == "now" else "none"
            refund = _safely(unused_refund, client, facts) if unused == "refund" else None
            st.session_state["_tally_admin_cancel"] = {
                "subscription_id": facts.subscription_id, "when": when, "unused": unused,
                "refund": refund, "nonce": _nonce("cancel", facts.subscription_id)}


def _cancel_confirmation(user, client, audit, db_path, facts) -> None:
    pending = st.session_state.get("_tally_admin_cancel")
    if not pending or pending["subscription_id"] != facts.subscription_id:
        return
    refund: UnusedRefund | None = pending["refund"]
    if pending["unused"] == "refund" and refund is None:
        st.error("There is no paid, unused time to refund on this subscription.")
        return
    st.warning("Please confirm: " + _md(cancel_confirmation(facts, pending["when"],
                                                          pending["unused"], refund)))
    if _confirmed("cancel", "Confirm cancellation"):
        with st.spinner("Canceling…"):
            result = _safely(cancel_subscription, client, audit, db_path, actor=user.label,
                             subscription_id=facts.subscription_id, when=pending["when"],
                             unused=pending["unused"], refund=refund, nonce=pending["nonce"])
        if result is None:
            return
        _finish("cancel", facts.subscription_id, result, nonce_form="cancel",
                pending_key="_tally_admin_cancel")


def _undo_flow(user, client, audit, db_path, facts) -> None:
    nonce = _nonce("undo", facts.subscription_id)
    st.warning("Please confirm: " + _md(undo_confirmation(facts)))
    if st.button("Undo the cancellation", type="primary", key="admin_undo_confirm"):
        with st.spinner("Resuming…"):
            result = _safely(undo_cancellation, client, audit, db_path, actor=user.label,
                             subscription_id=facts.subscription_id, nonce=nonce)
        if result is None:
            return
        _finish("cancel", facts.subscription_id, result, nonce_form="undo")


def _cancel_result(subscription_id: str) -> None:
    shown = st.session_state.get("_tally_admin_cancel_result")
    if shown and shown[0] == subscription_id:
        _show_result(shown[1])


# --- audit ------------------------------------------------------------------

def audit_page() -> None:
    require_admin()
    st.title("Audit trail")
    st.caption("Every admin action attempted in this dashboard: an attempt row before Stripe "
               "is called and an outcome row after. Rows are never changed or removed.")
    frame = _safely(lambda: _audit_log().frame())
    if frame is None:
        return
    if frame.empty:
        st.info("No admin action has been attempted yet.")
        return
    frame = _filtered(frame)
    st.dataframe(frame, hide_index=True, width="stretch", column_config={c: header(c) for c in frame.columns})
    st.download_button("Download the audit trail (CSV)", csv_bytes(frame),
                       file_name="tally-audit.csv", mime="text/csv", key="admin_audit_csv")


def _filtered(frame):
    """Narrow the trail by action, outcome and a search over ids, people and messages."""
    action, outcome, search = st.columns(3)
    actions = action.multiselect("Action", sorted(frame.action.dropna().unique()),
                                 key="admin_audit_actions")
    outcomes = outcome.multiselect("Outcome", sorted(frame.outcome.dropna().unique()),
                                   key="admin_audit_outcomes")
    text = search.text_input("Search", key="admin_audit_search",
                             placeholder="object id, actor, message").strip().lower()
    if actions:
        frame = frame[frame.action.isin(actions)]
    if outcomes:  # keep each chosen outcome's attempt row too
        keys = frame.loc[frame.outcome.isin(outcomes), "idempotency_key"]
        frame = frame[frame.idempotency_key.isin(keys)]
    if text:
        haystack = (frame.object_id.fillna("") + " " + frame.actor.fillna("") + " "
                    + frame.message.fillna("")).str.lower()
        frame = frame[haystack.str.contains(text, regex=False)]
    return frame


# --- no auth configured -----------------------------------------------------

def locked_page() -> None:
    st.title("Admin")
    st.info("Admin actions (refunds, cancellations, audit trail) are locked because no "
            "sign-in is configured. " + ENABLE_HINT)
