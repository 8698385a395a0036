"""Stripe API JSON (version 2026-10-28.endive) for the simulation's payments:
invoice payments, payment intents, charges, balance transactions, refunds,
credit notes, disputes and early fraud warnings, each exactly as
`GET /v1/<objects>` would list it (see etl/demo/stripe_json.py for the rest).
"""
from __future__ import annotations

from etl.demo.clock import DAY
from etl.demo.state import Charge, Customer, Invoice, Subscription
from etl.demo.stripe_json import LIVEMODE, address, payment_method_id


def invoice_payment(inv: Invoice, sub: Subscription) -> dict:
    status = {"paid": "paid", "open": "open"}.get(inv.status, "canceled")
    return {"id": inv.invoice_payment, "object": "invoice_payment",
            "amount_paid": inv.amount_paid if inv.status == "paid" else None,
            "amount_requested": inv.amount_due, "created": inv.created, "currency": sub.currency,
            "invoice": inv.id, "is_default": True, "livemode": LIVEMODE,
            "payment": {"payment_intent": inv.payment_intent, "type": "payment_intent"},
            "status": status,
            "status_transitions": {"canceled_at": inv.marked_uncollectible_at or inv.voided_at,
                                   "paid_at": inv.paid_at}}


def _description(inv: Invoice) -> str:
    return {"subscription_create": "Subscription creation",
            "subscription_update": "Subscription update"}.get(inv.billing_reason, "Subscription cycle")


def _last_error(charge: Charge | None) -> dict | None:
    if charge is None or charge.succeeded:
        return None
    return {"charge": charge.id, "code": charge.failure_code,
            "decline_code": charge.outcome.get("reason"), "message": charge.failure_message,
            "type": "card_error"}


def payment_intent(inv: Invoice, sub: Subscription, c: Customer) -> dict:
    latest = inv.charges[-1] if inv.charges else None
    status = {"paid": "succeeded", "void": "canceled"}.get(inv.status, "requires_payment_method")
    return {"id": inv.payment_intent, "object": "payment_intent", "allowed_payment_method_types": None,
            "amount": inv.amount_due,
            "amount_capturable": 0, "amount_details": {"tip": {}},
            "amount_received": inv.amount_paid, "application": None,
            "application_fee_amount": None, "automatic_payment_methods": None,
            "canceled_at": inv.voided_at, "cancellation_reason": "void_invoice" if inv.voided_at else None,
            "capture_method": "automatic",
            "client_secret": None, "confirmation_method": "automatic", "created": inv.created,
            "currency": sub.currency, "customer": c.id, "customer_account": None,
            "description": _description(inv), "excluded_payment_method_types": None,
            "last_payment_error": _last_error(latest), "latest_charge": latest.id if latest else None,
            "livemode": LIVEMODE, "managed_payments": None, "metadata": {}, "next_action": None,
            "on_behalf_of": None, "payment_method": payment_method_id(c),
            "payment_method_configuration_details": None, "payment_method_options": {},
            "payment_method_types": ["card"], "payment_record": None, "processing": None, "receipt_email": None,
            "review": None, "setup_future_usage": "off_session", "shipping": None, "source": None,
            "statement_descriptor": None, "statement_descriptor_suffix": None, "status": status,
            "transfer_data": None, "transfer_group": None}


def _card(c: Customer, authorized: int | None = None) -> dict:
    brand = ("visa", "mastercard", "visa", "amex")[c.index % 4]
    return {"amount_authorized": authorized, "authorization_code": None, "brand": brand,
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": c.country, "electronic_commerce_indicator": None,
            "exp_month": 1 + c.index % 12, "exp_year": 2027 + c.index % 4,
            "fingerprint": None, "funding": "credit", "installments": None,
            "last4": f"{4242 + c.index % 5000:04d}"[-4:], "mandate": None, "network": brand,
            "network_transaction_id": None, "regulated_status": "unregulated",
            "three_d_secure": None, "transaction_link_id": None, "wallet": None}


def charge(ch: Charge, inv: Invoice, sub: Subscription, c: Customer) -> dict:
    refunded = ch.amount_refunded
    return {"id": ch.id, "object": "charge", "amount": ch.amount,
            "amount_captured": ch.amount if ch.succeeded else 0, "amount_refunded": refunded,
            "application": None, "application_fee": None, "application_fee_amount": None,
            "balance_transaction": ch.balance_transaction,
            "billing_details": {"address": address(c), "email": c.email, "name": c.name, "phone": None,
                                "tax_id": None},
            "calculated_statement_descriptor": "TALLY DEMO", "captured": ch.succeeded,
            "created": ch.created, "currency": sub.currency, "customer": c.id,
            "description": _description(inv), "disputed": ch.dispute is not None,
            "failure_balance_transaction": None, "failure_code": ch.failure_code,
            "failure_message": ch.failure_message, "fraud_details": {}, "livemode": LIVEMODE,
            "metadata": {}, "on_behalf_of": None,
            "outcome": {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
                        **ch.outcome}, "paid": ch.succeeded,
            "payment_intent": inv.payment_intent, "payment_method": payment_method_id(c),
            "payment_method_details": {"card": _card(c, ch.amount if ch.succeeded else None),
                                       "type": "card"},
            "receipt_email": None, "receipt_number": None, "receipt_url": None,
            "refunded": ch.succeeded and refunded >= ch.amount, "review": None, "shipping": None,
            "source": None, "source_transfer": None, "statement_descriptor": None,
            "statement_descriptor_suffix": None, "status": "succeeded" if ch.succeeded else "failed",
            "transfer_data": None, "transfer_group": None}


def balance_transaction(txn_id: str, created: int, amount: int, fee: int, currency: str,
                        kind: str, category: str, source: str, now: int, description: str) -> dict:
    available_on = (created // DAY + 2) * DAY
    fee_details = [{"amount": fee, "application": None, "currency": currency,
                    "description": "Stripe processing fees", "type": "stripe_fee"}] if fee else []
    return {"id": txn_id, "object": "balance_transaction", "amount": amount,
            "available_on": available_on, "balance_type": "payments", "created": created,
            "currency": currency, "description": description, "exchange_rate": None, "fee": fee,
            "fee_details": fee_details, "net": amount - fee, "reporting_category": category,
            "source": source, "status": "available" if available_on <= now else "pending",
            "type": kind}


def refund(r, ch: Charge, inv: Invoice, c: Customer, currency: str) -> dict:
    return {"id": r.id, "object": "refund", "amount": r.amount,
            "balance_transaction": r.balance_transaction, "charge": ch.id, "created": r.created,
            "currency": currency, "customer": c.id, "customer_account": None,
            "destination_details": {"card": {"reference_status": "pending",
                                             "reference_type": "acquirer_reference_number",
                                             "type": "refund"}, "type": "card"},
            "metadata": {}, "payment_intent": inv.payment_intent,
            "payment_method": payment_method_id(c), "reason": r.reason,
            "receipt_number": None, "source_transfer_reversal": None, "status": "succeeded",
            "transfer_reversal": None}


def credit_note(r, inv: Invoice, c: Customer, currency: str) -> dict:
    reason = "duplicate" if r.reason == "duplicate" else "product_unsatisfactory"
    return {"id": r.credit_note, "object": "credit_note", "amount": r.amount, "amount_shipping": 0,
            "created": r.created, "currency": currency, "customer": c.id, "customer_account": None,
            "customer_balance_transaction": None, "discount_amount": 0, "discount_amounts": [],
            "effective_at": r.created, "invoice": inv.id,
            "lines": {"object": "list", "data": [], "has_more": False,
                      "url": f"/v1/credit_notes/{r.credit_note}/lines"},
            "livemode": LIVEMODE, "memo": None, "metadata": {}, "number": r.credit_note_number,
            "out_of_band_amount": None,
            "pdf": f"https://pay.stripe.com/credit_notes/acct_demo/{r.credit_note}/pdf",
            "post_payment_amount": r.amount,
            "pre_payment_amount": 0, "pretax_credit_amounts": [], "reason": reason,
            "refunds": [{"amount_refunded": r.amount, "payment_record_refund": None, "refund": r.id,
                         "type": "refund"}], "shipping_cost": None,
            "status": "issued", "subtotal": r.amount, "subtotal_excluding_tax": r.amount,
            "total": r.amount, "total_excluding_tax": r.amount, "total_taxes": [],
            "type": "post_payment", "voided_at": None}


# the evidence fields a dispute has before anyone submits evidence
_NO_EVIDENCE = dict.fromkeys((
    "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
    "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
    "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt",
    "refund_policy", "refund_policy_disclosure", "refund_refusal_explanation", "service_date",
    "service_documentation", "shipping_address", "shipping_carrier", "shipping_date",
    "shipping_documentation", "shipping_tracking_number", "uncategorized_file",
    "uncategorized_text"))


def dispute(ch: Charge, inv: Invoice, c: Customer, currency: str, txns: list[dict]) -> dict:
    d = ch.dispute
    assert d is not None, f"charge {ch.id} has no dispute"
    brand = _card(c)["brand"]
    return {"id": d.id, "object": "dispute", "amount": d.amount, "balance_transactions": txns,
            "charge": ch.id, "created": d.created, "currency": currency,
            "enhanced_eligibility_types": [], "evidence": dict(_NO_EVIDENCE, enhanced_evidence={}),
            "evidence_details": {"due_by": d.created + 7 * DAY, "enhanced_eligibility": {},
                                 "has_evidence": d.closed_at is not None, "past_due": False,
                                 "submission_count": int(d.closed_at is not None),
                                 "submission_method": "manual" if d.closed_at else "not_submitted"},
            "intended_submission_method": None, "is_charge_refundable": False,
            "livemode": LIVEMODE, "metadata": {}, "payment_intent": inv.payment_intent,
            "payment_method_details": {"card": {"brand": brand, "case_type": "chargeback",
                                                "network": brand, "network_reason_code": None},
                                       "type": "card"},
            "reason": d.reason, "status": d.status}


def early_fraud_warning(ch: Charge, inv: Invoice) -> dict:
    w = ch.early_fraud_warning
    assert w is not None, f"charge {ch.id} has no early fraud warning"
    return {"id": w.id, "object": "radar.early_fraud_warning", "actionable": ch.dispute is None,
            "charge": ch.id, "created": w.created, "fraud_type": w.fraud_type,
            "livemode": LIVEMODE, "payment_intent": inv.payment_intent}
