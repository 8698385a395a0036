"""Stripe API JSON (version 2026-10-28.endive) for the simulation's records.

Each function returns the object exactly as `GET /v1/<objects>` would list it
today (payments: etl/demo/payments_json.py). Ids of related objects are plain strings, except where Stripe embeds
objects by default (subscription items and their prices, invoice lines,
dispute balance transactions) and subscription `discounts`, which we return
expanded (`expand[]=discounts`) so the coupon is known without another call.
"""
from __future__ import annotations

from decimal import Decimal

from etl.demo import catalog
from etl.demo.billing import Line
from etl.demo.state import Customer, Discount, Invoice, Subscription

LIVEMODE = False  # a demo account is a test-mode account
ACCOUNT_NAME = "Tally Demo Co."


def product(p: catalog.Product, created: int) -> dict:
    return {"id": p.id, "object": "product", "active": True, "created": created,
            "default_price": None, "description": None, "images": [], "livemode": LIVEMODE,
            "marketing_features": [], "metadata": {}, "name": p.name, "package_dimensions": None,
            "shippable": None, "statement_descriptor": None, "tax_code": None, "tax_details": None, "type": "service",
            "unit_label": "seat" if p.seats else None, "updated": created, "url": None}


def price(p: catalog.Price, created: int) -> dict:
    obj = {"id": p.id, "object": "price", "active": p.active,
            "billing_scheme": "tiered" if p.tiers else "per_unit", "created": created,
            "currency": p.currency, "custom_unit_amount": None, "livemode": LIVEMODE,
            "lookup_key": None, "metadata": {}, "nickname": None if p.inline else p.nickname,
            "product": p.product,
            "recurring": {"interval": p.interval, "interval_count": p.interval_count, "meter": None,
                          "trial_period_days": None, "usage_type": p.usage_type},
            "tax_behavior": "unspecified",
            "tiers_mode": "graduated" if p.tiers else None, "transform_quantity": None,
            "type": "recurring", "unit_amount": p.unit_amount,
            "unit_amount_decimal": None if p.unit_amount is None else str(p.unit_amount)}
    if p.tiers:  # Stripe sends `tiers` only when asked (`expand[]=tiers`): we show them expanded
        obj["tiers"] = [{"flat_amount": None, "flat_amount_decimal": None, "unit_amount": unit,
                         "unit_amount_decimal": str(unit), "up_to": up_to} for up_to, unit in p.tiers]
    return obj


INLINE_MARKER = "_tally_inline"  # tells fakestripe to hide the price from lists; never served


def inline_price(p: catalog.Price, created: int) -> dict:
    """A price created with `price_data`: retrievable by id, never listed (see fakestripe)."""
    return {**price(p, created), INLINE_MARKER: True}


def plan(price_json: dict) -> dict:
    """The legacy Plan view of a recurring price, which subscription items still carry."""
    r = price_json["recurring"]
    return {"id": price_json["id"], "object": "plan", "active": price_json["active"],
            "amount": price_json["unit_amount"], "amount_decimal": price_json["unit_amount_decimal"],
            "billing_scheme": price_json["billing_scheme"], "created": price_json["created"],
            "currency": price_json["currency"], "interval": r["interval"],
            "interval_count": r["interval_count"], "livemode": price_json["livemode"],
            "metadata": price_json["metadata"], "meter": r["meter"], "nickname": price_json["nickname"],
            "product": price_json["product"], "tiers_mode": price_json["tiers_mode"],
            "transform_usage": None, "trial_period_days": r["trial_period_days"],
            "usage_type": r["usage_type"]}


def coupon(c: catalog.Coupon, created: int) -> dict:
    return {"id": c.id, "object": "coupon", "amount_off": c.amount_off, "created": created,
            "currency": c.currency, "duration": c.duration,
            "duration_in_months": c.duration_in_months, "livemode": LIVEMODE,
            "max_redemptions": None, "metadata": {}, "name": c.name, "percent_off": c.percent_off,
            "redeem_by": None, "times_redeemed": 0, "valid": True}


def tax_rate(t: catalog.TaxRate, created: int) -> dict:
    return {"id": t.id, "object": "tax_rate", "active": True, "country": t.country,
            "created": created, "description": None, "display_name": t.display_name,
            "effective_percentage": t.percentage, "flat_amount": None, "inclusive": t.inclusive,
            "jurisdiction": t.jurisdiction, "jurisdiction_level": "state" if t.state else "country",
            "livemode": LIVEMODE, "metadata": {}, "percentage": t.percentage,
            "rate_type": "percentage", "state": t.state, "tax_type": t.tax_type}


def address(c: Customer) -> dict:
    return {"city": None, "country": c.country, "line1": None, "line2": None,
            "postal_code": None, "state": c.state}


def payment_method_id(c: Customer) -> str:
    return f"pm_{c.id[4:]}"


def customer(c: Customer, now: int) -> dict:
    delinquent = any(inv.status == "open" and inv.charges
                     for sub in c.subscriptions for inv in sub.invoices)
    return {"id": c.id, "object": "customer", "address": address(c), "balance": c.balance,
            "created": c.created, "currency": c.currency if c.subscriptions else None,
            "default_source": None, "delinquent": delinquent, "description": None,
            "discount": None, "email": c.email, "invoice_prefix": c.invoice_prefix,
            "invoice_settings": {"custom_fields": None, "default_payment_method": payment_method_id(c),
                                 "footer": None, "rendering_options": None},
            "livemode": LIVEMODE, "metadata": dict(c.metadata), "name": c.name,
            "next_invoice_sequence": c.invoice_count + 1, "phone": None, "preferred_locales": [],
            "shipping": None, "tax_exempt": "none", "test_clock": None}


def discount(d: Discount, c: Customer, sub: Subscription) -> dict:
    return {"id": d.id, "object": "discount", "checkout_session": None, "customer": c.id,
            "customer_account": None, "end": d.end, "invoice": None, "invoice_item": None, "promotion_code": None,
            "source": {"coupon": d.coupon.id, "type": "coupon"}, "start": d.start,
            "subscription": sub.id, "subscription_item": None}


def _current_discounts(sub: Subscription, now: int) -> list:
    d = sub.discount
    if d is None or (d.end is not None and d.end <= now) or (d.coupon.duration == "once" and sub.once_used):
        return []
    return [d]


def _pause_collection(sub: Subscription, now: int) -> dict | None:
    if sub.pause is None or not sub.pause[0] <= now < sub.pause[2]:
        return None
    return {"behavior": "void", "resumes_at": sub.pause[2]}


def _subscription_item(sub: Subscription, i, price_json: dict) -> dict:
    item = {"id": i.id, "object": "subscription_item", "billing_thresholds": None,
            "created": i.created, "current_period_end": sub.period_end,
            "current_period_start": sub.period_start, "current_trial": None, "discounts": [],
            "metadata": {}, "plan": plan(price_json), "price": price_json,
            "subscription": sub.id, "tax_rates": []}
    if not i.price.metered:  # metered items have no quantity at all
        item["quantity"] = i.quantity
    return item


def subscription(sub: Subscription, c: Customer, now: int, prices: dict) -> dict:
    """`prices`: the catalog's price and tax rate objects by id (both embedded whole)."""
    items = [_subscription_item(sub, i, prices.get(i.price.id) or price(i.price, i.created))
             for i in sub.items]
    return {
        "id": sub.id, "object": "subscription", "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": sub.billing_cycle_anchor or sub.created,
        "billing_cycle_anchor_config": None, "billing_mode": {"flexible": None, "type": "classic"},
        "billing_schedules": [], "billing_thresholds": None, "cancel_at": sub.cancel_at,
        "cancel_at_period_end": sub.cancel_at_period_end, "canceled_at": sub.canceled_at,
        "cancellation_details": {"comment": None, "feedback": None, "feedback_option": None,
                                 "reason": sub.cancellation_reason},
        "collection_method": "charge_automatically", "created": sub.created,
        "currency": sub.currency, "customer": c.id, "customer_account": None, "days_until_due": None,
        "default_payment_method": payment_method_id(c), "default_source": None,
        "default_tax_rates": [prices[c.tax_rate.id]] if c.tax_rate else [], "description": None,
        "discounts": [discount(d, c, sub) for d in _current_discounts(sub, now)],
        "ended_at": sub.ended_at,
        "invoice_settings": {"account_tax_ids": None, "custom_fields": None, "description": None,
                             "footer": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": items, "has_more": False, "total_count": len(items),
                  "url": f"/v1/subscription_items?subscription={sub.id}"},
        "latest_invoice": sub.invoices[-1].id if sub.invoices else None,
        "livemode": LIVEMODE, "managed_payments": None, "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None, "pause_collection": _pause_collection(sub, now),
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None,
        "pending_update": None, "schedule": None, "start_date": sub.created,
        "status": sub.status, "test_clock": None, "transfer_data": None,
        "trial_end": sub.trial_end, "trial_settings": {"end_behavior": {"billing_cycle_anchor": None,
                                                                 "missing_payment_method": "cancel"}},
        "trial_start": sub.trial_start,
    }


def _unit_amount_decimal(line: Line) -> str:
    if line.price.unit_amount is not None:
        return str(line.price.unit_amount)
    if not line.quantity:
        return "0"
    return str((Decimal(abs(line.amount)) / line.quantity).normalize())


def _credited(line: Line) -> dict | None:
    if line.credits is None:
        return None
    return {"invoice": line.credits[0], "invoice_line_items": [line.credits[1]]}


def line_item(line: Line, inv: Invoice, sub: Subscription, discount_id: str | None) -> dict:
    taxes = []
    if line.tax_rate is not None:
        taxes.append({"amount": line.tax,
                      "tax_behavior": "inclusive" if line.tax_rate.inclusive else "exclusive",
                      "tax_rate_details": {"tax_rate": line.tax_rate.id},
                      "taxability_reason": "standard_rated",
                      "taxable_amount": line.amount - line.discount - line.inclusive_tax,
                      "type": "tax_rate_details"})
    discounts = [{"amount": line.discount, "discount": discount_id}] if discount_id else []
    return {
        "id": line.id, "object": "line_item", "amount": line.amount, "currency": sub.currency,
        "description": line.description, "discount_amounts": discounts,
        "discountable": not line.proration, "discounts": [], "invoice": inv.id,
        "livemode": LIVEMODE, "metadata": {},
        "parent": {"invoice_item_details": None, "type": "subscription_item_details",
                   "subscription_item_details": {
                       "invoice_item": f"ii_{line.id[3:]}" if line.proration else None,
                       "proration": line.proration, "proration_details": {"credited_items": _credited(line)},
                       "subscription": sub.id, "subscription_item": line.item_id}},
        "period": {"end": line.end, "start": line.start}, "pretax_credit_amounts": [],
        "pricing": {"price_details": {"price": line.price.id, "product": line.price.product},
                    "type": "price_details", "unit_amount_decimal": _unit_amount_decimal(line)},
        "quantity": line.quantity,
        "quantity_decimal": None if line.quantity is None else str(line.quantity),
        "subscription": sub.id, "subtotal": line.amount, "taxes": taxes,
    }


def invoice(inv: Invoice, sub: Subscription, c: Customer) -> dict:
    discount_id = inv.discounts[0].id if inv.discounts else None
    lines = [line_item(line, inv, sub, discount_id) for line in inv.lines]
    t = inv.totals
    total_taxes = [{"amount": amount, "tax_behavior": "inclusive" if catalog.TAX_RATE_BY_ID[rate].inclusive
                    else "exclusive", "tax_rate_details": {"tax_rate": rate},
                    "taxability_reason": "standard_rated", "taxable_amount": taxable,
                    "type": "tax_rate_details"} for rate, (amount, taxable) in t.taxes.items()]
    credited = sum(r.amount for ch in inv.charges for r in ch.refunds)
    due, paid = inv.amount_due, inv.amount_paid
    return {
        "id": inv.id, "object": "invoice", "account_country": "US", "account_name": ACCOUNT_NAME,
        "account_tax_ids": None, "amount_due": due, "amount_overpaid": 0, "amount_paid": paid,
        "amount_remaining": 0 if inv.status == "void" else due - paid, "amount_shipping": 0, "application": None,
        "attempt_count": len(inv.charges), "attempted": bool(inv.charges) or inv.status == "paid",
        "auto_advance": inv.status == "open",
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None,
                          "provider": None, "status": None},
        "automatically_finalizes_at": None, "billing_reason": inv.billing_reason,
        "collection_method": "charge_automatically", "confirmation_secret": None,
        "created": inv.created, "currency": sub.currency, "custom_fields": None,
        "customer": c.id, "customer_account": None, "customer_address": address(c),
        "customer_email": c.email,
        "customer_name": c.name, "customer_phone": None, "customer_shipping": None,
        "customer_tax_exempt": "none", "customer_tax_ids": [], "default_payment_method": None,
        "default_source": None, "default_tax_rates": [], "description": None,
        "discounts": [discount_id] if discount_id else [], "due_date": None,
        "effective_at": inv.created, "ending_balance": inv.ending_balance, "footer": None, "from_invoice": None,
        "hosted_invoice_url": None, "invoice_pdf": None, "issuer": {"type": "self"},
        "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                  "url": f"/v1/invoices/{inv.id}/lines"},
        "livemode": LIVEMODE, "metadata": {}, "next_payment_attempt": inv.next_payment_attempt,
        "number": inv.number, "on_behalf_of": None,
        "parent": {"quote_details": None, "type": "subscription_details",
                   "subscription_details": {"metadata": {}, "subscription": sub.id}},
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "period_end": inv.period_end, "period_start": inv.period_start,
        "post_payment_credit_notes_amount": credited, "pre_payment_credit_notes_amount": 0,
        "receipt_number": None, "rendering": None, "shipping_cost": None, "shipping_details": None,
        "starting_balance": inv.starting_balance, "statement_descriptor": None, "status": inv.status,
        "status_transitions": {"finalized_at": inv.created,
                               "marked_uncollectible_at": inv.marked_uncollectible_at,
                               "paid_at": inv.paid_at, "voided_at": inv.voided_at},
        "subtotal": t.subtotal, "subtotal_excluding_tax": t.subtotal - (t.tax - t.exclusive_tax),
        "test_clock": None, "total": t.total,
        "total_discount_amounts": [{"amount": t.discount, "discount": discount_id}] if discount_id else [],
        "total_excluding_tax": t.total - t.tax, "total_pretax_credit_amounts": [],
        "total_taxes": total_taxes, "webhooks_delivered_at": inv.created,
    }


def event(event_id: str, kind: str, created: int, obj: dict, api_version: str,
          previous: dict | None = None, request: str | None = None) -> dict:
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id, "object": "event", "api_version": api_version, "created": created,
            "data": data, "livemode": LIVEMODE, "pending_webhooks": 0,
            "request": {"id": request, "idempotency_key": None}, "type": kind}
