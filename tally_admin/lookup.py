"""Find the charge or subscription an admin means, by id, email or invoice number.

Lookups ask Stripe (the local copy may be stale); only an invoice number,
which Stripe cannot list by, is first resolved through the local database.
"""
from __future__ import annotations

import logging
from typing import Any

import stripe

from etl.store import open_published
from tally_admin.stripe_api import as_dict

log = logging.getLogger("tally.admin")
MAX_RESULTS = 20


def find_charges(client: stripe.StripeClient, query: str, db_path: str | None = None) -> list[dict]:
    """Charges matching a charge / payment intent / invoice / customer id, an email or an invoice number."""
    query = (query or "").strip()
    if not query:
        return []
    if query.startswith(("ch_", "py_")):
        return [_retrieve(client.v1.charges, query)]
    if query.startswith("pi_"):
        intent = _retrieve(client.v1.payment_intents, query)
        latest = intent.get("latest_charge")
        latest = latest.get("id") if isinstance(latest, dict) else latest
        return [_retrieve(client.v1.charges, latest)] if latest else []
    if query.startswith("in_"):
        return invoice_charges(client, _retrieve(client.v1.invoices, query))
    if query.startswith("cus_"):
        return _customer_charges(client, query)
    if "@" in query:
        return [c for cus in customers_by_email(client, query)
                for c in _customer_charges(client, cus["id"])][:MAX_RESULTS]
    invoice_id = invoice_id_for_number(query, db_path)
    if invoice_id:
        return invoice_charges(client, _retrieve(client.v1.invoices, invoice_id))
    return []


def find_subscriptions(client: stripe.StripeClient, query: str) -> list[dict]:
    query = (query or "").strip()
    if query.startswith("sub_"):
        return [_retrieve(client.v1.subscriptions, query)]
    if query.startswith("cus_"):
        return _customer_subscriptions(client, query)
    if "@" in query:
        return [s for cus in customers_by_email(client, query)
                for s in _customer_subscriptions(client, cus["id"])][:MAX_RESULTS]
    return []


def customers_by_email(client: stripe.StripeClient, email: str) -> list[dict]:
    found = client.v1.customers.list(params={"email": email, "limit": MAX_RESULTS})
    return [as_dict(c) for c in found.data]


def customer_email(client: stripe.StripeClient, charge_or_sub: dict) -> str | None:
    """Whom the money goes back to, for the confirmation line."""
    email = (charge_or_sub.get("billing_details") or {}).get("email") or charge_or_sub.get("receipt_email")
    if email:
        return email
    customer = charge_or_sub.get("customer")
    if isinstance(customer, dict):
        return customer.get("email")
    if customer:
        try:
            return _retrieve(client.v1.customers, customer).get("email")
        except stripe.StripeError:
            return None
    return None


def invoice_charges(client: stripe.StripeClient, invoice: dict) -> list[dict]:
    """An invoice's charges: `invoice.charge` in older shapes, InvoicePayments since 2025-03-31."""
    charge = invoice.get("charge")
    if isinstance(charge, dict):
        return [charge]
    if charge:
        return [_retrieve(client.v1.charges, charge)]
    try:
        payments = client.v1.invoice_payments.list(params={"invoice": invoice["id"], "limit": 10})
    except stripe.StripeError:  # older servers (localstripe) have no invoice payments
        return []
    charges = []
    for payment in payments.data:
        details = as_dict(payment).get("payment") or {}
        if details.get("charge"):
            charges.append(_retrieve(client.v1.charges, _id(details["charge"])))
        elif details.get("payment_intent"):
            charges += find_charges(client, _id(details["payment_intent"]))
    return charges


def invoice_id_for_number(number: str, db_path: str | None) -> str | None:
    if not db_path:
        return None
    try:
        con = open_published(db_path)
    except Exception:  # noqa: BLE001 - no published database yet: nothing to resolve
        return None
    try:
        row = con.execute("SELECT id FROM invoices WHERE number = ? LIMIT 1", [number]).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def _customer_charges(client, customer_id: str) -> list[dict]:
    found = client.v1.charges.list(params={"customer": customer_id, "limit": MAX_RESULTS})
    return [as_dict(c) for c in found.data]


def _customer_subscriptions(client, customer_id: str) -> list[dict]:
    found = client.v1.subscriptions.list(
        params={"customer": customer_id, "status": "all", "limit": MAX_RESULTS})
    return [as_dict(s) for s in found.data]


def _retrieve(service, object_id: str) -> dict:
    return as_dict(service.retrieve(object_id))


def _id(value) -> Any:
    return value.get("id") if isinstance(value, dict) else value
