"""A small hand-written account with the awkward cases: created ties, every
subscription status, an invoice with more lines than Stripe embeds, event types."""
from __future__ import annotations

import json
from pathlib import Path

SUBSCRIPTION_STATUSES = ["active", "trialing", "past_due", "canceled", "incomplete_expired",
                         "unpaid", "canceled"]
EVENT_TYPES = ["customer.created", "customer.updated", "invoice.paid", "invoice.created",
               "charge.refunded", "customer.subscription.deleted"]


# The account's clock: every event below is within Stripe's 30 days of it.
NOW = 5000


def customers() -> list[dict]:
    # created repeats every third customer, so id must break the ties
    return [{"id": f"cus_{n:03d}", "object": "customer", "created": 1000 + (n // 3) * 10,
             "email": f"c{n}@example.test"} for n in range(25)]


def subscriptions() -> list[dict]:
    return [{"id": f"sub_{n:03d}", "object": "subscription", "created": 2000 + n,
             "status": status, "customer": f"cus_{n % 2:03d}"}
            for n, status in enumerate(SUBSCRIPTION_STATUSES)]


def line(invoice: str, n: int) -> dict:
    return {"id": f"il_{invoice}_{n:03d}", "object": "line_item", "amount": 100 * n,
            "currency": "usd"}


def invoice(invoice_id: str, created: int, line_count: int) -> dict:
    return {"id": invoice_id, "object": "invoice", "created": created, "customer": "cus_001",
            "currency": "usd",
            "lines": {"object": "list", "data": [line(invoice_id, n) for n in range(line_count)],
                      "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"}}


def served_invoice(invoice_id: str, created: int, line_count: int) -> dict:
    """An invoice already in the shape Stripe serves (as the demo generator writes it)."""
    served = invoice(invoice_id, created, line_count)
    served["lines"]["total_count"] = line_count
    return served


def invoices() -> list[dict]:
    return [invoice("in_big", 3000, 25), invoice("in_small", 3001, 3),
            served_invoice("in_exact", 3002, 2)]


def invoice_payments() -> list[dict]:
    return [{"id": f"inpay_{n}", "object": "invoice_payment", "created": 3100 + n,
             "invoice": "in_big" if n % 2 else "in_small", "status": "paid"} for n in range(4)]


def events() -> list[dict]:
    return [{"id": f"evt_{n:03d}", "object": "event", "created": 4000 + n, "type": kind,
             "data": {"object": {"id": "x"}}} for n, kind in enumerate(EVENT_TYPES)]


def write(directory: Path) -> Path:
    tables = {"customers": customers(), "subscriptions": subscriptions(), "invoices": invoices(),
              "invoice_payments": invoice_payments(), "events": events()}
    for table, objects in tables.items():
        (directory / f"{table}.jsonl").write_text("".join(json.dumps(o) + "\n" for o in objects))
    return directory


def newest_first(objects: list[dict]) -> list[str]:
    return [o["id"] for o in sorted(objects, key=lambda o: (o["created"], o["id"]), reverse=True)]
