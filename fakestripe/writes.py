"""The few Stripe writes the dunning desk needs, over the fake store.

- POST /v1/invoices/{id}/pay: charges the customer's default payment method.
  Stripe's test payment method `pm_card_chargeCustomerFail` (and any id
  containing `chargeDeclined`) declines: 402 `card_declined`, a failed charge,
  `attempt_count` + 1. Anything else succeeds: the invoice is `paid`. A paid,
  void or uncollectible invoice answers 400.
- POST /v1/invoices/{id}/mark_uncollectible: open invoices only.
- POST /v1/subscriptions/{id}: `pause_collection[behavior]` pauses collection,
  `pause_collection=` (empty) resumes it; `discounts[0][coupon]` replaces the
  discounts with that coupon's; other parameters are refused.
- POST /v1/customers/{id}/balance_transactions: `amount` (negative = credit),
  `currency`, `description`; the customer's `balance` moves by `amount`.

An `Idempotency-Key` seen before is answered with the first response, as
Stripe does (for 24 hours; here for the server's life).
"""
from __future__ import annotations

import itertools
from typing import Callable
from urllib.parse import parse_qsl

import orjson

from fakestripe import errors
from fakestripe.store import Store

DECLINING = ("pm_card_chargeCustomerFail", "chargeDeclined")
PAUSE_BEHAVIORS = ("keep_as_draft", "mark_uncollectible", "void")
_ids = itertools.count(1)


def form(body: bytes) -> dict[str, str]:
    """Stripe's form encoding, flat: `pause_collection[behavior]` stays one key."""
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


class Writes:
    def __init__(self, store: Store, now: Callable[[], float]) -> None:
        self.store, self.now = store, now
        self.replays: dict[str, tuple[int, bytes]] = {}

    def route(self, tail: str):
        """(endpoint name, handler, object id) for a POST path after /v1/, or KeyError."""
        parts = tail.split("/")
        if len(parts) == 3 and parts[0] == "invoices" and parts[2] in ("pay", "mark_uncollectible"):
            handler = self.pay if parts[2] == "pay" else self.mark_uncollectible
            return f"POST /v1/invoices/{{id}}/{parts[2]}", handler, parts[1]
        if len(parts) == 2 and parts[0] == "subscriptions":
            return "POST /v1/subscriptions/{id}", self.update_subscription, parts[1]
        if len(parts) == 3 and parts[0] == "customers" and parts[2] == "balance_transactions":
            return "POST /v1/customers/{id}/balance_transactions", self.credit, parts[1]
        raise KeyError(tail)

    def answer(self, handler, object_id: str, params: dict, key: str | None) -> tuple[int, bytes]:
        if key and key in self.replays:
            return self.replays[key]
        try:
            status, body = 200, orjson.dumps(handler(object_id, params))
        except errors.StripeError as error:
            status, body = error.status, orjson.dumps(error.body())
        if key:
            self.replays[key] = (status, body)
        return status, body

    # --- objects ----------------------------------------------------------

    def get(self, table: str, object_name: str, object_id: str) -> dict:
        collection = self.store.collections[table]
        if object_id not in collection.raw:
            raise errors.no_such(object_name, object_id)
        obj = orjson.loads(collection.raw_of(object_id))
        if table == "invoices" and object_id in collection.lines:  # keep every line
            obj["lines"]["data"] = [orjson.loads(line) for _, line in collection.lines[object_id]]
        return obj

    def put(self, table: str, obj: dict) -> None:
        self.store.collections[table].upsert(obj)

    # --- invoices ---------------------------------------------------------

    def pay(self, invoice_id: str, params: dict) -> dict:
        invoice = self.get("invoices", "invoice", invoice_id)
        if invoice.get("status") == "paid":
            raise errors.StripeError(400, "Invoice is already paid", code="invoice_already_paid")
        if invoice.get("status") != "open":
            raise errors.StripeError(400, f"You cannot pay an invoice with status "
                                          f"{invoice.get('status')}.", code="invoice_not_open")
        customer = self.get("customers", "customer", _id(invoice.get("customer")))
        method = (customer.get("invoice_settings") or {}).get("default_payment_method") or ""
        now = int(self.now())
        declined = any(mark in str(method) for mark in DECLINING)
        self.charge(invoice, now, declined)
        invoice["attempt_count"] = int(invoice.get("attempt_count") or 0) + 1
        invoice["attempted"] = True
        if declined:
            self.put("invoices", invoice)
            raise errors.StripeError(402, "Your card was declined.", type_="card_error",
                                     code="card_declined")
        remaining = int(invoice.get("amount_remaining") or 0)
        invoice.update(status="paid", paid=True, amount_paid=int(invoice.get("amount_paid") or 0) + remaining,
                       amount_remaining=0, next_payment_attempt=None)
        invoice.setdefault("status_transitions", {})["paid_at"] = now
        self.put("invoices", invoice)
        return invoice

    def charge(self, invoice: dict, now: int, declined: bool) -> dict:
        charge = {
            "id": f"ch_fake{next(_ids):08d}", "object": "charge", "created": now,
            "amount": invoice.get("amount_remaining"), "currency": invoice.get("currency"),
            "customer": _id(invoice.get("customer")), "invoice": invoice["id"],
            "livemode": invoice.get("livemode", False),
            "status": "failed" if declined else "succeeded", "paid": not declined,
            "captured": not declined, "amount_captured": 0 if declined else invoice.get("amount_remaining"),
            "amount_refunded": 0, "refunded": False,
            "failure_code": "card_declined" if declined else None,
            "failure_message": "Your card was declined." if declined else None,
            "outcome": ({"type": "issuer_declined", "reason": "generic_decline",
                         "network_status": "declined_by_network"} if declined else
                        {"type": "authorized", "reason": None, "network_status": "approved_by_network"}),
        }
        self.put("charges", charge)
        return charge

    def mark_uncollectible(self, invoice_id: str, params: dict) -> dict:
        invoice = self.get("invoices", "invoice", invoice_id)
        if invoice.get("status") != "open":
            raise errors.StripeError(400, f"You can only mark open invoices uncollectible; this one is "
                                          f"{invoice.get('status')}.")
        invoice.update(status="uncollectible", next_payment_attempt=None)
        invoice.setdefault("status_transitions", {})["marked_uncollectible_at"] = int(self.now())
        self.put("invoices", invoice)
        return invoice

    # --- subscriptions and customers ---------------------------------------

    def update_subscription(self, sub_id: str, params: dict) -> dict:
        sub = self.get("subscriptions", "subscription", sub_id)
        for name in params:
            if not name.startswith(("pause_collection", "discounts[0][coupon]")):
                raise errors.StripeError(400, f"This fake Stripe only updates pause_collection "
                                              f"and discounts, not {name}.", param=name)
        if "discounts[0][coupon]" in params:
            sub["discounts"] = [self.discount(sub, params["discounts[0][coupon]"])]
        if params.get("pause_collection") == "":
            sub["pause_collection"] = None
        elif "pause_collection[behavior]" in params:
            behavior = params["pause_collection[behavior]"]
            if behavior not in PAUSE_BEHAVIORS:
                raise errors.StripeError(400, f"Invalid pause_collection[behavior]: {behavior}",
                                         param="pause_collection[behavior]")
            resumes = params.get("pause_collection[resumes_at]")
            sub["pause_collection"] = {"behavior": behavior,
                                       "resumes_at": int(resumes) if resumes else None}
        self.put("subscriptions", sub)
        return sub

    def discount(self, sub: dict, coupon_id: str) -> dict:
        coupon = self.get("coupons", "coupon", coupon_id)
        if coupon.get("valid") is False:
            raise errors.StripeError(400, f"Coupon {coupon_id} is no longer valid.",
                                     param="discounts[0][coupon]")
        return {"id": f"di_fake{next(_ids):08d}", "object": "discount",
                "source": {"type": "coupon", "coupon": coupon_id},
                "customer": sub.get("customer"), "subscription": sub["id"],
                "start": int(self.now()), "end": None}

    def credit(self, customer_id: str, params: dict) -> dict:
        customer = self.get("customers", "customer", customer_id)
        try:
            amount = int(params["amount"])
        except (KeyError, ValueError):
            raise errors.bad_parameter("amount", "Missing or invalid integer: amount") from None
        if not params.get("currency"):
            raise errors.StripeError(400, "Missing required param: currency.", param="currency")
        customer["balance"] = int(customer.get("balance") or 0) + amount
        self.put("customers", customer)
        return {"id": f"cbtxn_fake{next(_ids):08d}", "object": "customer_balance_transaction",
                "amount": amount, "currency": params["currency"].lower(), "customer": customer_id,
                "description": params.get("description"), "ending_balance": customer["balance"],
                "type": "adjustment", "created": int(self.now()),
                "livemode": customer.get("livemode", False)}


def _id(value) -> str:
    return str(value.get("id")) if isinstance(value, dict) else str(value)
