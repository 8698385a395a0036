"""A small Stripe account in the current API shape, for the sync tests.

Every object type the sync reads, a few hundred objects, one invoice with more
lines than an invoice embeds, and `created` spread over a year so backfills
split into windows. Deterministic: the same call gives the same account.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

DAY = 86400


def build(customers: int = 230, now: int | None = None) -> dict[str, list[dict]]:
    now = now or int(time.time()) - 3600
    start = now - 365 * DAY
    step = (now - start) // max(customers, 1)
    account: dict[str, list[dict]] = {name: [] for name in TABLES}
    account["products"] = [_product(i, start) for i in range(2)]
    account["prices"] = [_price(i, start) for i in range(3)]
    account["coupons"] = [{"id": "SAVE10", "object": "coupon", "created": start, "percent_off": 10.0,
                           "duration": "forever", "valid": True, "livemode": False}]
    account["tax_rates"] = [{"id": "txr_1", "object": "tax_rate", "created": start,
                             "display_name": "VAT", "percentage": 20.0, "inclusive": False,
                             "country": "DE", "active": True, "livemode": False}]
    for i in range(customers):
        created = start + i * step
        _customer_history(account, i, created)
    # The last weeks' signups also appear as events (Stripe keeps 30 days of them).
    account["events"] = [event(f"evt_{c['id']}", "customer.created", c, c["created"])
                         for c in account["customers"] if c["created"] > now - 25 * DAY]
    account["invoices"][0]["lines"]["data"] += [
        _line(f"il_extra{j}", account["invoices"][0]["id"], "price_0", 100 + j, start)
        for j in range(24)]
    return account


TABLES = ["customers", "products", "prices", "coupons", "tax_rates", "subscriptions",
          "subscription_schedules", "invoices", "invoice_payments", "charges", "payment_intents", "refunds", "disputes",
          "balance_transactions", "credit_notes", "early_fraud_warnings", "events"]


def write(account: dict[str, list[dict]], data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    for table, objects in account.items():
        with open(data_dir / f"{table}.jsonl", "w") as f:
            for obj in objects:
                f.write(json.dumps(obj) + "\n")
    return data_dir


def ids(account: dict[str, list[dict]], table: str) -> set[str]:
    return {o["id"] for o in account[table]}


def _product(i: int, created: int) -> dict:
    return {"id": f"prod_{i}", "object": "product", "created": created, "name": f"Plan {i}",
            "active": True, "livemode": False}


def _price(i: int, created: int) -> dict:
    interval = "year" if i == 2 else "month"
    return {"id": f"price_{i}", "object": "price", "created": created, "product": f"prod_{i % 2}",
            "currency": "usd", "unit_amount": 1000 * (i + 1), "type": "recurring",
            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
            "billing_scheme": "per_unit", "active": True, "livemode": False}


def _line(line_id: str, invoice_id: str, price: str, amount: int, created: int,
          sub: str | None = None) -> dict:
    parent = {"type": "subscription_item_details",
              "subscription_item_details": {"subscription": sub, "subscription_item": f"si_{sub}",
                                            "proration": False}} if sub else None
    return {"id": line_id, "object": "line_item", "invoice": invoice_id, "amount": amount,
            "currency": "usd", "quantity": 1, "parent": parent,
            "pricing": {"type": "price_details", "price_details": {"price": price, "product": "prod_0"}},
            "period": {"start": created, "end": created + 30 * DAY}, "taxes": [],
            "discount_amounts": [], "livemode": False}


def schedule(schedule_id: str, customer: str, sub: str, created: int, status: str,
             phase_items: list[tuple[str, int]]) -> dict:
    """A schedule whose phases each run 30 days from `created`, one item each."""
    phases = [{"start_date": created + n * 30 * DAY, "end_date": created + (n + 1) * 30 * DAY,
               "currency": "usd", "discounts": [], "add_invoice_items": [],
               "items": [{"price": price, "plan": price, "quantity": quantity, "discounts": []}]}
              for n, (price, quantity) in enumerate(phase_items)]
    released = status == "released"
    return {"id": schedule_id, "object": "subscription_schedule", "created": created + DAY,
            "customer": customer, "subscription": None if released else sub, "status": status,
            "current_phase": None if released else {"start_date": created, "end_date": created + 30 * DAY},
            "end_behavior": "release", "phases": phases, "canceled_at": None, "completed_at": None,
            "released_at": created + 2 * DAY if released else None,
            "released_subscription": sub if released else None, "livemode": False}


def _customer_history(account: dict, i: int, created: int) -> None:
    """A customer, their subscription, first invoice, payment, and what followed."""
    cus, sub, inv = f"cus_{i:04d}", f"sub_{i:04d}", f"in_{i:04d}"
    ch, pi, txn = f"ch_{i:04d}", f"pi_{i:04d}", f"txn_{i:04d}"
    price = f"price_{i % 3}"
    amount = 1000 * (i % 3 + 1)
    account["customers"].append({
        "id": cus, "object": "customer", "created": created, "email": f"c{i}@example.com",
        "name": f"Customer {i}", "address": {"country": "DE" if i % 2 else "US"},
        "currency": "usd", "delinquent": False, "livemode": False})
    status = "canceled" if i % 7 == 0 else "active"
    account["subscriptions"].append({
        "id": sub, "object": "subscription", "created": created, "customer": cus,
        "status": status, "currency": "usd", "start_date": created,
        "canceled_at": created + 40 * DAY if status == "canceled" else None,
        "cancel_at_period_end": False, "collection_method": "charge_automatically",
        "items": {"object": "list", "has_more": False, "data": [{
            "id": f"si_{sub}", "object": "subscription_item", "created": created,
            "subscription": sub, "price": {"id": price, "object": "price"}, "quantity": 1,
            "current_period_start": created, "current_period_end": created + 30 * DAY}]},
        "livemode": False})
    if i % 10 in (4, 8):  # a change booked for the renewal; every fifth one released
        account["subscription_schedules"].append(schedule(
            f"sub_sched_{i:04d}", cus, sub, created, "active" if i % 10 == 4 else "released",
            [(price, 1), (f"price_{(i + 1) % 3}", 2)]))
    account["invoices"].append({
        "id": inv, "object": "invoice", "created": created, "customer": cus,
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": sub}},
        "status": "paid", "billing_reason": "subscription_create", "currency": "usd",
        "amount_due": amount, "amount_paid": amount, "amount_remaining": 0, "subtotal": amount,
        "total": amount, "total_taxes": [], "period_start": created, "period_end": created,
        "status_transitions": {"finalized_at": created, "paid_at": created},
        "lines": {"object": "list", "has_more": False,
                  "data": [_line(f"il_{i:04d}", inv, price, amount, created, sub)]},
        "livemode": False})
    account["invoice_payments"].append({
        "id": f"inpay_{i:04d}", "object": "invoice_payment", "created": created, "invoice": inv,
        "amount_paid": amount, "amount_requested": amount, "currency": "usd", "status": "paid",
        "is_default": True, "payment": {"type": "payment_intent", "payment_intent": pi},
        "status_transitions": {"paid_at": created}, "livemode": False})
    failed = i % 11 == 0
    account["charges"].append({
        "id": ch, "object": "charge", "created": created, "customer": cus, "payment_intent": pi,
        "amount": amount, "amount_captured": 0 if failed else amount, "amount_refunded": 0,
        "currency": "usd", "status": "failed" if failed else "succeeded", "paid": not failed,
        "captured": not failed, "refunded": False, "disputed": i % 50 == 3,
        "failure_code": "card_declined" if failed else None,
        "outcome": {"type": "issuer_declined" if failed else "authorized",
                    "risk_level": "normal", "risk_score": i % 100, "network_status":
                    "declined_by_network" if failed else "approved_by_network"},
        "balance_transaction": None if failed else txn,
        "payment_method_details": {"type": "card", "card": {"country": "US"}}, "livemode": False})
    account["payment_intents"].append({
        "id": pi, "object": "payment_intent", "created": created, "customer": cus,
        "amount": amount, "amount_received": 0 if failed else amount, "currency": "usd",
        "status": "requires_payment_method" if failed else "succeeded", "latest_charge": ch,
        "livemode": False})
    if not failed:
        account["balance_transactions"].append({
            "id": txn, "object": "balance_transaction", "created": created, "amount": amount,
            "fee": 59, "net": amount - 59, "currency": "usd", "type": "charge",
            "status": "available", "reporting_category": "charge", "source": ch,
            "available_on": created + 2 * DAY, "livemode": False})
    if i % 9 == 1:
        account["refunds"].append({
            "id": f"re_{i:04d}", "object": "refund", "created": created + DAY, "charge": ch,
            "payment_intent": pi, "amount": amount // 2, "currency": "usd",
            "status": "succeeded", "reason": "requested_by_customer", "livemode": False})
        account["credit_notes"].append({
            "id": f"cn_{i:04d}", "object": "credit_note", "created": created + DAY,
            "invoice": inv, "customer": cus, "number": f"CN-{i}", "amount": amount // 2,
            "subtotal": amount // 2, "total": amount // 2, "currency": "usd", "status": "issued",
            "type": "post_payment", "livemode": False})
    if i % 50 == 3:
        account["disputes"].append({
            "id": f"dp_{i:04d}", "object": "dispute", "created": created + 3 * DAY, "charge": ch,
            "payment_intent": pi, "amount": amount, "currency": "usd", "status": "needs_response",
            "reason": "fraudulent", "is_charge_refundable": False, "livemode": False})
        account["early_fraud_warnings"].append({
            "id": f"issfr_{i:04d}", "object": "radar.early_fraud_warning",
            "created": created + 2 * DAY, "charge": ch, "fraud_type": "stolen_card",
            "actionable": True, "livemode": False})


def event(event_id: str, event_type: str, obj: dict, created: int | None = None,
          api_version: str | None = None) -> dict:
    """An event as Stripe sends it: the object's state after the change."""
    import stripe
    return {"id": event_id, "object": "event", "type": event_type,
            "created": created or int(time.time()), "api_version": api_version or stripe.api_version,
            "data": {"object": obj}, "livemode": False, "request": {"id": None}}
