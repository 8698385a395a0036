"""Small Stripe accounts written by hand, in the shape Stripe serves today (API
2026-10-28 / basil and later), for fakestripe to serve and Tally's sync to read.

A `Book` is one account: customers, prices, subscriptions and their invoices.
Ids carry the book's name, so several books can share one fakestripe server one
after another (`Shelf.sync`) without an id of one case leaking into the next.

    book = Book("annual")
    price = book.price(120000, "year")
    sub = book.subscription(book.customer(), [price], start="2024-01-01")
    book.invoice(sub, [book.line(sub, price, "2024-01-01", "2025-01-01")])
"""
from __future__ import annotations

import calendar
import datetime as dt
import itertools
from pathlib import Path

from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import delete_object, put_objects


def ts(when: str) -> int:
    """'2024-01-15' or '2024-01-15 12:00' as unix seconds, UTC."""
    fmt = "%Y-%m-%d %H:%M" if " " in when else "%Y-%m-%d"
    return calendar.timegm(dt.datetime.strptime(when, fmt).timetuple())


class Book:
    """One small Stripe account; `objects()` lists everything to serve."""

    def __init__(self, name: str):
        self.name = name
        self.serial = itertools.count(1)
        self.tables: dict[str, dict[str, dict]] = {}
        self.deleted: list[tuple[str, str]] = []  # (object, id) to delete once served

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.name}_{next(self.serial)}"

    def _add(self, obj: dict) -> dict:
        self.tables.setdefault(obj["object"], {})[obj["id"]] = obj
        return obj

    def objects(self) -> list[dict]:
        return [obj for table in self.tables.values() for obj in table.values()]

    def get(self, object_id: str) -> dict:
        return next(t[object_id] for t in self.tables.values() if object_id in t)

    # --- catalogue -----------------------------------------------------------
    def customer(self, country: str = "US", created: str = "2023-06-01") -> str:
        return self._add({
            "id": self._id("cus"), "object": "customer", "created": ts(created),
            "email": f"{self.name}@example.test", "name": self.name.title(),
            "address": {"country": country}, "currency": None, "delinquent": False,
            "livemode": False})["id"]

    def delete_customer(self, customer: str) -> None:
        """Deleted after it was served: gone from lists, `{"deleted": true}` by id."""
        self.deleted.append(("customer", customer))

    def price(self, amount: int | None, interval: str | None = "month", count: int = 1,
              currency: str = "usd", usage: str = "licensed", active: bool = True,
              inline: bool = False, tiers: list[dict] | None = None,
              tax_behavior: str = "unspecified") -> str:
        """A price; `inline` marks one created through `price_data` (never listed)."""
        product = self._id("prod")
        self._add({"id": product, "object": "product", "created": ts("2023-01-01"),
                   "name": f"{self.name} plan", "active": True, "livemode": False})
        recurring = ({"interval": interval, "interval_count": count, "usage_type": usage,
                      "meter": f"mtr_{self.name}" if usage == "metered" else None}
                     if interval else None)
        price = {"id": self._id("price"), "object": "price", "created": ts("2023-01-01"),
                 "product": product, "currency": currency, "unit_amount": amount,
                 "unit_amount_decimal": None if amount is None else str(amount),
                 "billing_scheme": "tiered" if tiers else "per_unit",
                 "tiers_mode": "volume" if tiers else None, "tiers": tiers,
                 "type": "recurring" if interval else "one_time", "recurring": recurring,
                 "tax_behavior": tax_behavior, "active": active, "livemode": False}
        if inline:
            price["_tally_inline"] = True  # fakestripe hides it from every list
        return self._add(price)["id"]

    # --- subscriptions ---------------------------------------------------------
    def subscription(self, customer: str, prices: list[str], start: str, status: str = "active",
                     quantities: list[int] | None = None, period: tuple[str, str] | None = None,
                     ended_at: str | None = None, cancel_at_period_end: bool = False,
                     trial: tuple[str, str] | None = None) -> str:
        """A subscription as it stands now; items `si_<sub>_<n>`, one per price."""
        sub = self._id("sub")
        quantities = quantities or [1] * len(prices)
        start_ts = ts(start)
        period_ts = (ts(period[0]), ts(period[1])) if period else (start_ts, start_ts)
        items = [{"id": f"si_{sub}_{n}", "object": "subscription_item", "created": start_ts,
                  "subscription": sub, "price": self.get(price), "quantity": quantity,
                  "current_period_start": period_ts[0], "current_period_end": period_ts[1]}
                 for n, (price, quantity) in enumerate(zip(prices, quantities))]
        self._add({
            "id": sub, "object": "subscription", "created": start_ts, "customer": customer,
            "status": status, "currency": self.get(prices[0])["currency"],
            "start_date": start_ts, "billing_cycle_anchor": start_ts,
            "cancel_at": ts(ended_at) if cancel_at_period_end and ended_at else None,
            "cancel_at_period_end": cancel_at_period_end,
            "canceled_at": ts(ended_at) if ended_at else None,
            "ended_at": ts(ended_at) if ended_at else None,
            "trial_start": ts(trial[0]) if trial else None,
            "trial_end": ts(trial[1]) if trial else None,
            "collection_method": "charge_automatically", "discounts": [],
            "items": {"object": "list", "has_more": False, "data": items,
                      "url": f"/v1/subscription_items?subscription={sub}"},
            "livemode": False})
        return sub

    def item(self, sub: str, n: int = 0) -> str:
        return f"si_{sub}_{n}"

    # --- invoices ------------------------------------------------------------
    def line(self, sub: str | None, price: str, start: str, end: str, quantity: int = 1,
             amount: int | None = None, proration: bool = False, item: str | None = None,
             credited: tuple[str, str] | None = None, discount: int = 0,
             taxes: list[dict] = (), invoice_item: bool = False) -> dict:
        """An invoice line. With `sub`, a subscription item's line (regular or
        proration, `credited` = (invoice id, line id) it gives back); without `sub`,
        or with `invoice_item` (a setup fee added to a subscription's invoice), a
        line from an invoice item."""
        p = self.get(price)
        amount = p["unit_amount"] * quantity if amount is None else amount
        if sub and not invoice_item:
            details = {"invoice_item": self._id("ii") if proration else None,
                       "proration": proration, "subscription": sub,
                       "subscription_item": item or self.item(sub),
                       "proration_details": {"credited_items": {
                           "invoice": credited[0], "invoice_line_items": [credited[1]]}
                           if credited else None}}
            parent = {"type": "subscription_item_details", "invoice_item_details": None,
                      "subscription_item_details": details}
        else:
            parent = {"type": "invoice_item_details", "subscription_item_details": None,
                      "invoice_item_details": {"invoice_item": self._id("ii"), "proration": False,
                                               "proration_details": {"credited_items": None},
                                               "subscription": sub}}
        return {"id": self._id("il"), "object": "line_item", "amount": amount,
                "currency": p["currency"], "description": None, "quantity": quantity,
                "discountable": not proration, "discounts": [],
                "discount_amounts": [{"amount": discount, "discount": f"di_{self.name}"}]
                if discount else [],
                "parent": parent, "period": {"start": ts(start), "end": ts(end)},
                "pricing": {"type": "price_details", "unit_amount_decimal": p["unit_amount_decimal"],
                            "price_details": {"price": price, "product": p["product"]}},
                "taxes": list(taxes), "metadata": {}, "livemode": False}

    def invoice(self, sub: str | None, lines: list[dict], status: str = "paid",
                created: str | None = None, customer: str | None = None,
                billing_reason: str = "subscription_cycle", attempt_count: int | None = None,
                pay: bool = True) -> str:
        """An invoice of `sub` (or of `customer`); paid ones get their InvoicePayment."""
        invoice_id = self._id("in")
        customer = customer or self.get(sub)["customer"]
        created_ts = ts(created) if created else min(ln["period"]["start"] for ln in lines)
        subtotal = sum(ln["amount"] for ln in lines)
        discount = sum(d["amount"] for ln in lines for d in ln["discount_amounts"])
        exclusive = sum(t["amount"] for ln in lines for t in ln["taxes"]
                        if t["tax_behavior"] == "exclusive")
        total = subtotal - discount + exclusive
        due = max(total, 0)
        paid = status == "paid"
        for ln in lines:
            ln["invoice"] = invoice_id
        self._add({
            "id": invoice_id, "object": "invoice", "created": created_ts, "customer": customer,
            "currency": lines[0]["currency"], "status": status, "billing_reason": billing_reason,
            "collection_method": "charge_automatically",
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"subscription": sub, "metadata": {}}}
            if sub else None,
            "subtotal": subtotal, "total": total,
            "total_discount_amounts": [{"amount": discount, "discount": f"di_{self.name}"}]
            if discount else [],
            "total_taxes": [t for ln in lines for t in ln["taxes"]],
            "amount_due": due, "amount_paid": due if paid else 0,
            "amount_remaining": 0 if paid else due,
            "attempted": status != "draft", "attempt_count": attempt_count
            if attempt_count is not None else int(status != "draft"),
            "period_start": created_ts, "period_end": created_ts,
            "status_transitions": {
                "finalized_at": None if status == "draft" else created_ts,
                "paid_at": created_ts if paid else None,
                "voided_at": created_ts if status == "void" else None,
                "marked_uncollectible_at": created_ts if status == "uncollectible" else None},
            "lines": {"object": "list", "has_more": False, "data": lines,
                      "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False})
        if paid and due > 0 and pay:
            self.payment(invoice_id)
        return invoice_id

    def cycles(self, sub: str, price: str, first: str, months: int, quantity: int = 1,
               **line_kw) -> list[tuple[str, str]]:
        """One regular monthly invoice of `sub` per month from `first` (YYYY-MM-DD);
        their (invoice id, line id)."""
        billed, start = [], dt.date.fromisoformat(first)
        for _ in range(months):
            end = add_month(start)
            line = self.line(sub, price, start.isoformat(), end.isoformat(), quantity, **line_kw)
            billed.append((self.invoice(sub, [line]), line["id"]))
            start = end
        return billed

    def payment(self, invoice_id: str) -> str:
        """The charge paying an invoice, linked through its InvoicePayment; its id."""
        inv = self.get(invoice_id)
        amount, currency, when = inv["amount_paid"], inv["currency"], inv["created"]
        charge, intent = self._id("ch"), self._id("pi")
        self._add({"id": self._id("inpay"), "object": "invoice_payment", "created": when,
                   "invoice": invoice_id, "amount_paid": amount, "amount_requested": amount,
                   "currency": currency, "status": "paid", "is_default": True,
                   "payment": {"type": "payment_intent", "payment_intent": intent},
                   "status_transitions": {"paid_at": when, "canceled_at": None},
                   "livemode": False})
        self._add({"id": intent, "object": "payment_intent", "created": when,
                   "customer": inv["customer"], "amount": amount, "amount_received": amount,
                   "currency": currency, "status": "succeeded", "latest_charge": charge,
                   "livemode": False})
        self._add({"id": charge, "object": "charge", "created": when, "customer": inv["customer"],
                   "payment_intent": intent, "amount": amount, "amount_captured": amount,
                   "amount_refunded": 0, "currency": currency, "status": "succeeded",
                   "paid": True, "captured": True, "refunded": False, "disputed": False,
                   "outcome": {"type": "authorized", "risk_level": "normal"},
                   "payment_method_details": {"type": "card", "card": {"country": "US"}},
                   "livemode": False})
        return charge

    def charge_of(self, invoice_id: str) -> str:
        intent = next(p["payment"]["payment_intent"] for p in self.tables["invoice_payment"].values()
                      if p["invoice"] == invoice_id)
        return self.get(intent)["latest_charge"]

    def refund(self, charge: str, amount: int, when: str) -> None:
        c = self.get(charge)
        c.update(amount_refunded=amount, refunded=amount == c["amount"])
        self._add({"id": self._id("re"), "object": "refund", "created": ts(when), "charge": charge,
                   "payment_intent": c["payment_intent"], "amount": amount,
                   "currency": c["currency"], "status": "succeeded",
                   "reason": "requested_by_customer", "livemode": False})

    def dispute(self, charge: str, when: str, status: str = "lost") -> None:
        c = self.get(charge)
        c["disputed"] = True
        self._add({"id": self._id("dp"), "object": "dispute", "created": ts(when), "charge": charge,
                   "payment_intent": c["payment_intent"], "amount": c["amount"],
                   "currency": c["currency"], "status": status, "reason": "fraudulent",
                   "is_charge_refundable": False, "livemode": False})


def add_month(day: dt.date) -> dt.date:
    """The same day one month later (Stripe's monthly cycle; the 31st becomes the month's last day)."""
    year, month = divmod(day.month, 12)
    target_year, target_month = day.year + year, month + 1
    return day.replace(year=target_year, month=target_month,
                       day=min(day.day, calendar.monthrange(target_year, target_month)[1]))


def tax(amount: int, behavior: str, percentage: float = 20.0) -> dict:
    """One `taxes[]` entry of a line (tax rates, not Stripe Tax)."""
    return {"amount": amount, "tax_behavior": behavior, "taxability_reason": None,
            "taxable_amount": None, "type": "tax_rate_details",
            "tax_rate_details": {"tax_rate": f"txr_{behavior}_{int(percentage)}"}}


class Shelf:
    """One fakestripe server that serves one book at a time."""

    def __init__(self, base: str):
        self.base = base
        self.served: list[tuple[str, str]] = []

    def sync(self, book: Book, db: Path) -> str:
        """Serve only `book`, run Tally's real sync into `db`; the database path."""
        from etl.client import StripeHTTP
        from etl.sync import run_sync

        for obj, object_id in self.served:
            delete_object(self.base, obj, object_id)
        objects = book.objects()
        put_objects(self.base, objects)
        self.served = [(o["object"], o["id"]) for o in objects]
        for obj, object_id in book.deleted:
            delete_object(self.base, obj, object_id)
            self.served.remove((obj, object_id))
        client = StripeHTTP(DEFAULT_API_KEY, self.base, rate=500, backoff_base=0.01)
        summary = run_sync(str(db), client=client)
        assert summary.status == "ok", summary.message
        return str(db)
