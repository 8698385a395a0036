"""Cancel a subscription now or at period end, with or without the unused time back; undo."""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

import stripe

from etl.schema import TABLES
from metrics.currency import format_money
from tally_admin.actions import ActionResult, Done, Refused, run_action
from tally_admin.audit import AuditLog
from tally_admin.lookup import customer_email, invoice_charges
from tally_admin.refunds import charge_facts, refund_made_with, refund_params
from tally_admin.stripe_api import as_dict, explain, fetch_after_write, request_id_of, with_all_lines

WHEN = ("now", "period_end")
# none: nothing back; prorate: Stripe credits the unused time on a final invoice
# (to the customer balance); refund: the unused share of the last payment is refunded.
UNUSED = ("none", "prorate", "refund")
_SUB_COLUMNS = {c.name: c.read for c in TABLES["subscriptions"].columns}


@dataclass(frozen=True)
class SubscriptionFacts:
    subscription_id: str
    status: str | None
    email: str | None
    cancel_at_period_end: bool
    cancel_at: int | None
    period_start: int | None
    period_end: int | None
    latest_invoice_id: str | None

    @property
    def cancellation_scheduled(self) -> bool:
        return self.status != "canceled" and (self.cancel_at_period_end or bool(self.cancel_at))


@dataclass(frozen=True)
class UnusedRefund:
    charge_id: str
    amount: int
    currency: str

    def money(self) -> str:
        return format_money(self.amount, self.currency)


def subscription_facts(client: stripe.StripeClient, subscription_id: str,
                       sub: dict | None = None) -> SubscriptionFacts:
    sub = sub or as_dict(client.v1.subscriptions.retrieve(subscription_id))
    latest = sub.get("latest_invoice")
    return SubscriptionFacts(
        sub["id"], sub.get("status"), customer_email(client, sub),
        bool(sub.get("cancel_at_period_end")), sub.get("cancel_at"),
        # Since 2025-03-31 the period lives on the items; the schema readers know both shapes.
        _SUB_COLUMNS["current_period_start"](sub), _SUB_COLUMNS["current_period_end"](sub),
        latest.get("id") if isinstance(latest, dict) else latest)


def unused_refund(client: stripe.StripeClient, facts: SubscriptionFacts,
                  now: float | None = None) -> UnusedRefund | None:
    """The unused share of the latest payment, capped by what its charge can still refund."""
    if not (facts.latest_invoice_id and facts.period_start and facts.period_end):
        return None
    now = now or time.time()
    length = facts.period_end - facts.period_start
    remaining = max(0.0, min(facts.period_end - now, length))
    invoice = as_dict(client.v1.invoices.retrieve(facts.latest_invoice_id))
    charges = [c for c in invoice_charges(client, invoice) if c.get("status") == "succeeded"]
    if not charges or length <= 0:
        return None
    charge = charge_facts(client, charges[0]["id"], charges[0])
    amount = min(int(int(invoice.get("amount_paid") or 0) * remaining // length), charge.refundable)
    return UnusedRefund(charge.charge_id, amount, charge.currency) if amount > 0 else None


def _day(ts: int | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d") if ts else "the period end"


def cancel_confirmation(facts: SubscriptionFacts, when: str, unused: str,
                        refund: UnusedRefund | None) -> str:
    who = f" for {facts.email}" if facts.email else ""
    if when == "period_end":
        return (f"Cancel {facts.subscription_id}{who} at the end of the current period, "
                f"{_day(facts.period_end)}; it stays active and is not charged again.")
    text = f"Cancel {facts.subscription_id}{who} now"
    if unused == "prorate":
        return text + "; credit the unused time to the customer's balance on a final prorated invoice."
    if unused == "refund" and refund:
        return text + f"; refund {refund.money()} for the unused time on {refund.charge_id}."
    return text + f"; no credit or refund for the time left until {_day(facts.period_end)}."


def undo_confirmation(facts: SubscriptionFacts) -> str:
    who = f" for {facts.email}" if facts.email else ""
    return (f"Undo the scheduled cancellation of {facts.subscription_id}{who}: "
            f"it renews on {_day(facts.period_end)} as before.")


def cancel_subscription(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                        actor: str, subscription_id: str, when: str, unused: str = "none",
                        refund: UnusedRefund | None = None, nonce: str) -> ActionResult:
    params = {"when": when, "unused": unused if when == "now" else "none",
              "refund_amount": refund.amount if refund else None,
              "refund_charge": refund.charge_id if refund else None}
    return run_action(audit, db_path, actor=actor, action="cancel_subscription",
                      object_id=subscription_id, params=params, nonce=nonce,
                      perform=lambda key: _perform_cancel(client, audit, subscription_id,
                                                          params, refund, key),
                      recheck=lambda key: _cancel_found(client, subscription_id, params))


def undo_cancellation(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                      actor: str, subscription_id: str, nonce: str) -> ActionResult:
    return run_action(audit, db_path, actor=actor, action="undo_cancellation",
                      object_id=subscription_id, params={}, nonce=nonce,
                      perform=lambda key: _perform_undo(client, subscription_id, key),
                      recheck=lambda key: _undo_found(client, subscription_id))


def _cancel_found(client, sub_id: str, params: dict) -> Done | None:
    """After a lost answer: the cancellation, if Stripe shows it (read only).

    The unused-time refund comes after the cancel call, so that case stays
    unknown: confirming again finishes it without canceling twice.
    """
    if params["unused"] == "refund":
        return None
    sub = as_dict(client.v1.subscriptions.retrieve(sub_id))
    if params["when"] == "period_end" and sub.get("cancel_at_period_end"):
        message = f"{sub_id} will cancel at the end of the period."
    elif params["when"] == "now" and sub.get("status") == "canceled":
        message = f"{sub_id} is canceled."
    else:
        return None
    return Done(message, objects=[sub], result=_sub_result(sub_id, sub))


def _undo_found(client, sub_id: str) -> Done | None:
    """After a lost answer: the undone cancellation, if Stripe shows it (read only)."""
    sub = as_dict(client.v1.subscriptions.retrieve(sub_id))
    if sub.get("status") == "canceled" or sub.get("cancel_at_period_end") or sub.get("cancel_at"):
        return None
    return Done(f"{sub_id} is no longer scheduled to cancel.", objects=[sub],
                result=_sub_result(sub_id, sub))


def _sub_result(sub_id: str, sub: dict) -> dict:
    return {"subscription_id": sub_id, "status": sub.get("status"),
            "cancel_at_period_end": sub.get("cancel_at_period_end")}


def _perform_cancel(client, audit: AuditLog, sub_id: str, params: dict,
                    refund: UnusedRefund | None, key: str) -> Done:
    facts = subscription_facts(client, sub_id)
    when, unused = params["when"], params["unused"]
    if when not in WHEN or unused not in UNUSED:
        raise Refused("Choose when to cancel (now or at period end) and what to do with the unused time.")
    if unused == "refund" and refund is None:
        raise Refused("There is no paid, unused time to refund on this subscription.")
    retry = facts.status == "canceled" and audit.had_unknown_outcome(key)
    if facts.status == "canceled" and not retry:
        raise Refused(f"{sub_id} is already canceled.")
    request_id = None
    if when == "period_end":
        sub = client.v1.subscriptions.update(sub_id, params={"cancel_at_period_end": True},
                                             options={"idempotency_key": key})
        message = f"{sub_id} will cancel at the end of the period, {_day(facts.period_end)}."
    elif retry:  # the earlier try of this submission canceled it; its answer was lost
        sub = client.v1.subscriptions.retrieve(sub_id)
        message = f"{sub_id} is canceled."
    else:
        prorate = unused == "prorate"
        sub = client.v1.subscriptions.cancel(sub_id, params={"prorate": prorate, "invoice_now": prorate},
                                             options={"idempotency_key": key})
        message = f"{sub_id} is canceled."
    request_id, sub = request_id_of(sub), as_dict(sub)
    objects, result = [sub], {"subscription_id": sub_id, "status": sub.get("status"),
                              "cancel_at_period_end": sub.get("cancel_at_period_end")}
    if unused == "prorate" and sub.get("latest_invoice"):  # the final invoice with the credit
        invoice_id = _id(sub["latest_invoice"])
        invoice = fetch_after_write(
            lambda: with_all_lines(client, client.v1.invoices.retrieve(invoice_id)), f"invoice {invoice_id}")
        objects += [invoice] if invoice else []
    if unused == "refund" and refund is not None:
        message, refunded = _refund_unused(client, refund, key, message)
        objects += refunded
        result["refund_id"] = refunded[0]["id"] if refunded else None
    return Done(message, objects=objects, request_id=request_id, result=result)


def _refund_unused(client, refund: UnusedRefund, key: str, message: str) -> tuple[str, list[dict]]:
    """After canceling: refund the unused time, with its own key so a retry cannot repeat it."""
    refund_key = f"{key}-refund"
    try:
        made = refund_made_with(client, refund.charge_id, refund_key)
        if made is None:
            facts = charge_facts(client, refund.charge_id)
            if refund.amount > facts.refundable:
                return (message + f" The unused-time refund was not sent: only "
                        f"{facts.money(facts.refundable)} is still refundable.", [])
            made = as_dict(client.v1.refunds.create(
                params=refund_params(refund.charge_id, refund.amount, "requested_by_customer",
                                      refund_key),
                options={"idempotency_key": refund_key}))
    except stripe.StripeError as error:
        return message + f" The unused-time refund failed: {explain(error)}", []
    # The refund exists: re-reading its charge is best-effort.
    charge = fetch_after_write(lambda: client.v1.charges.retrieve(refund.charge_id),
                               f"charge {refund.charge_id}")
    return (message + f" Refunded {refund.money()} for the unused time ({made['id']}).",
            [made] + ([charge] if charge else []))


def _id(value) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def _perform_undo(client, sub_id: str, key: str) -> Done:
    facts = subscription_facts(client, sub_id)
    if facts.status == "canceled":
        raise Refused(f"{sub_id} has already ended; a canceled subscription cannot be resumed.")
    if not facts.cancellation_scheduled:
        raise Refused(f"Nothing to undo: {sub_id} is not scheduled to cancel.")
    params: dict[str, Any] = {"cancel_at_period_end": False}
    if facts.cancel_at and not facts.cancel_at_period_end:
        params["cancel_at"] = ""  # an explicit cancel date; "" clears it
    sub = client.v1.subscriptions.update(sub_id, params=params, options={"idempotency_key": key})
    request_id, sub = request_id_of(sub), as_dict(sub)
    return Done(f"{sub_id} is no longer scheduled to cancel; it renews on {_day(facts.period_end)}.",
                objects=[sub], request_id=request_id,
                result={"subscription_id": sub_id, "status": sub.get("status"),
                        "cancel_at_period_end": sub.get("cancel_at_period_end")})
