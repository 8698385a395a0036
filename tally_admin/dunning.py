"""The dunning desk's actions on a failed, open invoice, each through `run_action`.

- `retry_payment`: `POST /v1/invoices/{id}/pay`, once per submission. Stripe
  forgets idempotency keys and localstripe ignores them, so besides the key
  Tally re-reads the invoice first (one retry per invoice at a time) and
  refuses with a clear line when it was paid, voided or written off meanwhile.
- `mark_uncollectible`: `POST /v1/invoices/{id}/mark_uncollectible`.
- `set_collection_paused`: the subscription's `pause_collection` on or off.
- `credit_customer`: a one-off credit to the customer's balance (a negative
  customer balance transaction), which Stripe applies to their next invoices.
- `apply_coupon`: a coupon on the subscription, as a retention offer.
- `recovery_by_source`: what the desk's retries recovered, next to Stripe's own.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
import stripe

from metrics.currency import format_money
from tally_admin import writeback
from tally_admin.actions import ActionResult, Done, Refused, run_action
from tally_admin.audit import AuditLog
from tally_admin.stripe_api import as_dict, fetch_after_write, request_id_of, with_all_lines

log = logging.getLogger("tally.admin")
RETRY = "retry_payment"
PAUSE_BEHAVIORS = {"keep_as_draft": "keep new invoices as drafts",
                   "mark_uncollectible": "mark new invoices uncollectible",
                   "void": "void new invoices"}
_INVOICE_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_GUARD = threading.Lock()


@dataclass(frozen=True)
class InvoiceFacts:
    invoice_id: str
    status: str | None
    customer_id: str | None
    email: str | None
    amount_remaining: int
    currency: str
    attempt_count: int
    next_payment_attempt: int | None
    hosted_invoice_url: str | None
    subscription_id: str | None

    def money(self, amount: int | None = None) -> str:
        return format_money(self.amount_remaining if amount is None else amount, self.currency)

    @property
    def who(self) -> str:
        return f" for {self.email}" if self.email else ""


def invoice_facts(client: stripe.StripeClient, invoice_id: str, invoice: dict | None = None) -> InvoiceFacts:
    invoice = invoice or as_dict(client.v1.invoices.retrieve(invoice_id))
    customer = invoice.get("customer")
    parent = ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription")
    return InvoiceFacts(
        invoice["id"], invoice.get("status"), _id(customer), invoice.get("customer_email"),
        int(invoice.get("amount_remaining") or 0), (invoice.get("currency") or "usd").lower(),
        int(invoice.get("attempt_count") or 0), invoice.get("next_payment_attempt"),
        invoice.get("hosted_invoice_url"), _id(parent or invoice.get("subscription")))


# --- what each action will do, said before it runs ----------------------------

def retry_confirmation(facts: InvoiceFacts) -> str:
    return (f"Charge {facts.money()} now for invoice {facts.invoice_id}{facts.who} with the "
            f"customer's default payment method (attempt {facts.attempt_count + 1}).")


def uncollectible_confirmation(facts: InvoiceFacts) -> str:
    return (f"Mark invoice {facts.invoice_id}{facts.who} uncollectible: Stripe stops retrying it and "
            f"{facts.money()} is written off as bad debt. It can still be paid later.")


def pause_confirmation(facts: InvoiceFacts, pause: bool, behavior: str = "keep_as_draft") -> str:
    if pause:
        return (f"Pause payment collection on subscription {facts.subscription_id}{facts.who}: "
                f"Stripe will {PAUSE_BEHAVIORS[behavior]} until collection resumes.")
    return f"Resume payment collection on subscription {facts.subscription_id}{facts.who}."


def credit_confirmation(facts: InvoiceFacts, amount: int, currency: str) -> str:
    return (f"Credit {format_money(amount, currency)} to the balance of customer "
            f"{facts.customer_id}{facts.who} as a retention offer: Stripe takes it off their "
            f"next invoices (not off {facts.invoice_id}, which is already finalized).")


# --- the actions ---------------------------------------------------------------

def retry_payment(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                  actor: str, invoice_id: str, nonce: str) -> ActionResult:
    return run_action(audit, db_path, actor=actor, action=RETRY, object_id=invoice_id,
                      params={}, nonce=nonce,
                      perform=lambda key: _perform_retry(client, invoice_id, key, db_path),
                      recheck=lambda key: _paid_found(client, invoice_id))


def mark_uncollectible(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                       actor: str, invoice_id: str, nonce: str) -> ActionResult:
    return run_action(audit, db_path, actor=actor, action="mark_uncollectible",
                      object_id=invoice_id, params={}, nonce=nonce,
                      perform=lambda key: _perform_uncollectible(client, invoice_id, key),
                      recheck=lambda key: _uncollectible_found(client, invoice_id))


def set_collection_paused(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                          actor: str, subscription_id: str, pause: bool,
                          behavior: str = "keep_as_draft", nonce: str) -> ActionResult:
    params = {"pause": pause, "behavior": behavior if pause else None}
    return run_action(audit, db_path, actor=actor,
                      action="pause_collection" if pause else "resume_collection",
                      object_id=subscription_id, params=params, nonce=nonce,
                      perform=lambda key: _perform_pause(client, subscription_id, params, key),
                      recheck=lambda key: _pause_found(client, subscription_id, params))


def credit_customer(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                    actor: str, customer_id: str, amount: int, currency: str, invoice_id: str,
                    nonce: str) -> ActionResult:
    params = {"amount": amount, "currency": currency.lower(), "invoice_id": invoice_id}
    return run_action(audit, db_path, actor=actor, action="credit_customer",
                      object_id=customer_id, params=params, nonce=nonce,
                      perform=lambda key: _perform_credit(client, customer_id, params, key))


def apply_coupon(client: stripe.StripeClient, audit: AuditLog, db_path: str | None, *,
                 actor: str, subscription_id: str, coupon_id: str, nonce: str) -> ActionResult:
    params = {"coupon": coupon_id}
    return run_action(audit, db_path, actor=actor, action="apply_coupon",
                      object_id=subscription_id, params=params, nonce=nonce,
                      perform=lambda key: _perform_coupon(client, subscription_id, coupon_id, key))


def offerable_coupons(client: stripe.StripeClient) -> dict[str, str]:
    """Coupon id -> what it gives, for the coupons that can still be applied."""
    coupons = as_dict(client.v1.coupons.list(params={"limit": 100})).get("data") or []
    return {c["id"]: coupon_terms(c) for c in coupons if c.get("valid", True)}


def coupon_terms(coupon: dict) -> str:
    if coupon.get("percent_off"):
        off = f"{coupon['percent_off']:g}% off"
    else:
        off = f"{format_money(coupon.get('amount_off') or 0, coupon.get('currency') or 'usd')} off"
    months = coupon.get("duration_in_months")
    duration = {"once": "once", "forever": "forever"}.get(coupon.get("duration") or "",
                                                         f"for {months} months")
    return f"{coupon.get('name') or coupon['id']}: {off} {duration}"


def coupon_confirmation(facts: InvoiceFacts, coupon_id: str, terms: str) -> str:
    return (f"Apply coupon {coupon_id} ({terms}) to subscription {facts.subscription_id}"
            f"{facts.who} as a retention offer. It replaces any discount the subscription has "
            f"and applies from its next invoice, not to {facts.invoice_id}.")


def _perform_coupon(client, sub_id: str, coupon_id: str, key: str) -> Done:
    sub = as_dict(client.v1.subscriptions.retrieve(sub_id))
    if sub.get("status") == "canceled":
        raise Refused(f"Subscription {sub_id} is canceled; a coupon would change nothing.")
    coupon = as_dict(client.v1.coupons.retrieve(coupon_id))
    if coupon.get("valid") is False:
        raise Refused(f"Coupon {coupon_id} can no longer be applied (expired or used up).")
    updated = client.v1.subscriptions.update(sub_id, params={"discounts": [{"coupon": coupon_id}]},
                                             options={"idempotency_key": key})
    request_id, sub = request_id_of(updated), as_dict(updated)
    return Done(f"Coupon {coupon_id} ({coupon_terms(coupon)}) applies to {sub_id} from its next "
                "invoice.", objects=[sub], request_id=request_id,
                result={"subscription_id": sub_id, "coupon": coupon_id})


def _invoice_lock(invoice_id: str) -> threading.Lock:
    with _GUARD:
        return _INVOICE_LOCKS[invoice_id]


def _perform_retry(client, invoice_id: str, key: str, db_path: str | None) -> Done:
    with _invoice_lock(invoice_id):  # two submissions for one invoice: the second sees it paid
        facts = invoice_facts(client, invoice_id)
        if facts.status == "paid":
            raise Refused(f"Invoice {invoice_id} was paid meanwhile; nothing was charged.")
        if facts.status != "open":
            raise Refused(f"Invoice {invoice_id} is {facts.status} now; only an open invoice "
                          "can be retried. Nothing was charged.")
        try:
            paid = client.v1.invoices.pay(invoice_id, options={"idempotency_key": key})
        except stripe.CardError:
            _save_declined(client, invoice_id, db_path)
            raise
    request_id, invoice = request_id_of(paid), as_dict(paid)
    fresh = fetch_after_write(lambda: with_all_lines(client, client.v1.invoices.retrieve(invoice_id)),
                              f"invoice {invoice_id}")
    invoice = fresh or invoice
    if invoice.get("status") != "paid":
        return Done(f"Stripe accepted the retry of {invoice_id}; it is {invoice.get('status')} "
                    "until the payment settles.", objects=[invoice], request_id=request_id,
                    result=_invoice_result(invoice))
    return Done(f"Invoice {invoice_id} is paid: recovered {facts.money()}{facts.who}.",
                objects=[invoice], request_id=request_id, result=_invoice_result(invoice))


def _save_declined(client, invoice_id: str, db_path: str | None) -> None:
    """A declined retry still changed the invoice (one more attempt, a new failure reason):
    show it now rather than after the next sync. Best-effort: the decline is what matters."""
    invoice = fetch_after_write(lambda: with_all_lines(client, client.v1.invoices.retrieve(invoice_id)),
                                f"invoice {invoice_id}")
    if not (invoice and db_path):
        return
    charges = fetch_after_write(lambda: client.v1.charges.list(
        params={"customer": _id(invoice.get("customer")), "limit": 1}), "its latest charge")
    newest = [c for c in (charges or {}).get("data") or [] if c.get("status") == "failed"]
    try:
        writeback.save_objects([invoice] + newest, db_path)
    except Exception:  # noqa: BLE001 - the next sync brings them
        log.exception("could not save the declined retry of %s", invoice_id)


def _paid_found(client, invoice_id: str) -> Done | None:
    invoice = as_dict(client.v1.invoices.retrieve(invoice_id))
    if invoice.get("status") != "paid":
        return None
    return Done(f"Invoice {invoice_id} is paid.", objects=[invoice], result=_invoice_result(invoice))


def _perform_uncollectible(client, invoice_id: str, key: str) -> Done:
    facts = invoice_facts(client, invoice_id)
    if facts.status != "open":
        raise Refused(f"Invoice {invoice_id} is {facts.status} now; only an open invoice can be "
                      "marked uncollectible.")
    done = client.v1.invoices.mark_uncollectible(invoice_id, options={"idempotency_key": key})
    request_id, invoice = request_id_of(done), as_dict(done)
    return Done(f"Invoice {invoice_id} is marked uncollectible ({facts.money()} written off).",
                objects=[invoice], request_id=request_id, result=_invoice_result(invoice))


def _uncollectible_found(client, invoice_id: str) -> Done | None:
    invoice = as_dict(client.v1.invoices.retrieve(invoice_id))
    if invoice.get("status") != "uncollectible":
        return None
    return Done(f"Invoice {invoice_id} is uncollectible.", objects=[invoice],
                result=_invoice_result(invoice))


def _perform_pause(client, sub_id: str, params: dict, key: str) -> Done:
    sub = as_dict(client.v1.subscriptions.retrieve(sub_id))
    paused = bool(sub.get("pause_collection"))
    if sub.get("status") == "canceled":
        raise Refused(f"Subscription {sub_id} is canceled; there is no collection to change.")
    if params["pause"] and paused:
        raise Refused(f"Collection on {sub_id} is already paused.")
    if not params["pause"] and not paused:
        raise Refused(f"Collection on {sub_id} is not paused.")
    if params["pause"] and params["behavior"] not in PAUSE_BEHAVIORS:
        raise Refused("Choose what Stripe does with new invoices while collection is paused.")
    change = {"pause_collection": {"behavior": params["behavior"]}} if params["pause"] \
        else {"pause_collection": ""}  # "" clears it
    updated = client.v1.subscriptions.update(sub_id, params=change, options={"idempotency_key": key})
    request_id, sub = request_id_of(updated), as_dict(updated)
    word = "paused" if params["pause"] else "resumed"
    return Done(f"Payment collection on {sub_id} is {word}.", objects=[sub], request_id=request_id,
                result={"subscription_id": sub_id, "pause_collection": sub.get("pause_collection")})


def _pause_found(client, sub_id: str, params: dict) -> Done | None:
    sub = as_dict(client.v1.subscriptions.retrieve(sub_id))
    if bool(sub.get("pause_collection")) != params["pause"]:
        return None
    word = "paused" if params["pause"] else "resumed"
    return Done(f"Payment collection on {sub_id} is {word}.", objects=[sub],
                result={"subscription_id": sub_id, "pause_collection": sub.get("pause_collection")})


def _perform_credit(client, customer_id: str, params: dict, key: str) -> Done:
    amount = params["amount"]
    if not isinstance(amount, int) or amount <= 0:
        raise Refused("Enter a credit greater than zero.")
    made = client.v1.customers.balance_transactions.create(
        customer_id, params={"amount": -amount, "currency": params["currency"],
                             "description": f"Retention credit (dunning of {params['invoice_id']})"},
        options={"idempotency_key": key})
    request_id, credit = request_id_of(made), as_dict(made)
    customer = fetch_after_write(lambda: client.v1.customers.retrieve(customer_id),
                                 f"customer {customer_id}")
    return Done(f"Credited {format_money(amount, params['currency'])} to {customer_id} "
                f"({credit.get('id')}); Stripe applies it to their next invoices.",
                objects=[customer] if customer else [], request_id=request_id,
                result={"balance_transaction": credit.get("id"), "amount": amount,
                        "currency": params["currency"]})


def _invoice_result(invoice: dict) -> dict:
    return {"invoice_id": invoice.get("id"), "status": invoice.get("status"),
            "amount_paid": invoice.get("amount_paid"), "currency": invoice.get("currency")}


def _id(value) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


# --- the recovery chart ---------------------------------------------------------

RECOVERY_BY_SOURCE_COLUMNS = ["month", "currency", "failed", "recovered_by_desk",
                              "recovered_by_stripe", "desk_rate", "stripe_rate",
                              "desk_amount", "stripe_amount"]


def desk_recovered_invoices(audit_rows: pd.DataFrame) -> set[str]:
    """Invoices a desk retry paid: the audit trail's succeeded `retry_payment` outcomes."""
    if audit_rows.empty:
        return set()
    done = audit_rows[(audit_rows.action == RETRY) & (audit_rows.phase == "outcome")
                      & (audit_rows.outcome == "succeeded")]
    return set(done.object_id.dropna())


def recovery_by_source(failed: pd.DataFrame, desk_invoices: set[str]) -> pd.DataFrame:
    """By month the invoice failed and currency: how many failed, and how many (and how much)
    the desk and Stripe's own retries recovered. `failed` is the `failed_invoices` metric."""
    if failed is None or failed.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RECOVERY_BY_SOURCE_COLUMNS})
    rows = failed.assign(
        paid=failed.status == "paid", desk=failed.invoice_id.isin(desk_invoices))
    rows = rows.assign(by_desk=rows.paid & rows.desk, by_stripe=rows.paid & ~rows.desk)
    rows = rows.assign(desk_amount=rows.amount_due.where(rows.by_desk, 0),
                       stripe_amount=rows.amount_due.where(rows.by_stripe, 0))
    out = rows.groupby(["month", "currency"], as_index=False).agg(
        failed=("invoice_id", "count"), recovered_by_desk=("by_desk", "sum"),
        recovered_by_stripe=("by_stripe", "sum"), desk_amount=("desk_amount", "sum"),
        stripe_amount=("stripe_amount", "sum"))
    out["desk_rate"] = out.recovered_by_desk / out.failed
    out["stripe_rate"] = out.recovered_by_stripe / out.failed
    return out[RECOVERY_BY_SOURCE_COLUMNS]


def when(ts) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "—"
