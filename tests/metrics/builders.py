"""Hand-built Stripe objects (current API shape unless asked), loaded through the real loader."""
from __future__ import annotations

import calendar
import datetime as dt
import itertools

from etl.load import connect, load_objects
from metrics.mrr.by_month import mrr
from metrics.params import Params

_ids = itertools.count(1)


def ts(day: str) -> int:
    """'2024-01-15' or '2024-01-15 12:00' as unix seconds, UTC."""
    fmt = "%Y-%m-%d %H:%M" if " " in day else "%Y-%m-%d"
    return calendar.timegm(dt.datetime.strptime(day, fmt).timetuple())


def month(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y-%m").date()


class Account:
    """A tiny Stripe account in a fresh in-memory DuckDB."""

    def __init__(self, con=None):
        self.con = con or connect(":memory:")
        self.prices: dict[str, dict] = {}

    # --- catalogue and customers ---------------------------------------
    def customer(self, id: str, country: str | None = None, email: str | None = None,
                 metadata: dict | None = None) -> str:
        load_objects(self.con, "customers", [{
            "id": id, "object": "customer", "created": ts("2020-01-01"), "email": email,
            "name": id.title(), "address": {"country": country} if country else None,
            "metadata": metadata or {}, "livemode": False}])
        return id

    def product(self, id: str, name: str | None = None, metadata: dict | None = None) -> str:
        load_objects(self.con, "products", [{
            "id": id, "object": "product", "created": ts("2020-01-01"), "name": name or id,
            "active": True, "metadata": metadata or {}, "livemode": False}])
        return id

    def price(self, id: str, amount: int, interval: str | None = "month", count: int = 1,
              currency: str = "usd", usage: str = "licensed", product: str = "prod_a") -> str:
        recurring = ({"interval": interval, "interval_count": count, "usage_type": usage}
                     if interval else None)
        price = {"id": id, "object": "price", "created": ts("2020-01-01"), "currency": currency,
                 "unit_amount": amount, "product": product, "livemode": False,
                 "type": "recurring" if interval else "one_time", "recurring": recurring}
        self.prices[id] = price
        load_objects(self.con, "prices", [price])
        return id

    def subscription(self, id: str, customer: str, status: str = "active", ended_at=None,
                     trial_start=None, trial_end=None, cancel_at=None,
                     cancel_at_period_end=False, current_period_end=None, currency="usd",
                     price: str | None = None, quantity: int = 1, metadata: dict | None = None) -> str:
        items = []
        if price:
            items.append({"id": f"si_{id}_{price}", "object": "subscription_item",
                          "price": self.prices[price], "quantity": quantity,
                          "current_period_end": current_period_end})
        load_objects(self.con, "subscriptions", [{
            "id": id, "object": "subscription", "customer": customer, "status": status,
            "created": ts("2020-01-01"), "currency": currency, "ended_at": ended_at,
            "trial_start": trial_start, "trial_end": trial_end, "cancel_at": cancel_at,
            "cancel_at_period_end": cancel_at_period_end, "livemode": False, "metadata": metadata or {},
            "items": {"object": "list", "data": items}}])
        return id

    # --- invoices ------------------------------------------------------
    def line(self, price: str, start: str, end: str, quantity: int = 1, amount: int | None = None,
             proration: bool = False, discount: int = 0, taxes=(), subscription: str | None = None,
             item: str = "si_x", credited: tuple[str, str] | None = None, id: str | None = None):
        """`credited`: (invoice id, line id) a credit proration gives back time on."""
        p = self.prices[price]
        credited_items = {"invoice": credited[0], "invoice_line_items": [credited[1]]} if credited else None
        return {"id": id or f"il_{next(_ids)}", "object": "line_item",
                "amount": p["unit_amount"] * quantity if amount is None else amount,
                "currency": p["currency"], "quantity": quantity,
                "period": {"start": ts(start), "end": ts(end)},
                "discount_amounts": [{"amount": discount, "discount": "di_1"}] if discount else [],
                "taxes": [dict(t) for t in taxes],
                "parent": {"type": "subscription_item_details",
                           "subscription_item_details": {
                               "subscription": subscription, "subscription_item": item,
                               "proration": proration,
                               "proration_details": {"credited_items": credited_items}}},
                "pricing": {"type": "price_details",
                            "price_details": {"price": price, "product": p["product"]}}}

    def invoice(self, customer: str, subscription: str | None, lines: list[dict],
                status: str = "paid", created: str | None = None, billing_reason="subscription_cycle",
                attempt_count: int = 1, attempted: bool = True, amount_due: int | None = None,
                paid_at: str | None = None, id: str | None = None, currency: str | None = None):
        id = id or f"in_{next(_ids)}"
        for line in lines:
            details = line.get("parent", {}).get("subscription_item_details")
            if details is not None and details["subscription"] is None:
                details["subscription"] = subscription
        first_start = min((line["period"]["start"] for line in lines), default=ts(created or "2024-01-01"))
        created_ts = ts(created) if created else first_start
        total = sum(line["amount"] for line in lines)
        load_objects(self.con, "invoices", [{
            "id": id, "object": "invoice", "customer": customer, "status": status,
            "created": created_ts, "currency": currency or (lines[0]["currency"] if lines else "usd"),
            "billing_reason": billing_reason, "attempt_count": attempt_count,
            "attempted": attempted, "amount_due": total if amount_due is None else amount_due,
            "amount_paid": total if status == "paid" else 0, "total": total, "livemode": False,
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": subscription}},
            "status_transitions": {"paid_at": (ts(paid_at) if paid_at else created_ts)
                                   if status == "paid" else None},
            "lines": {"object": "list", "data": lines, "has_more": False}}])
        return id

    def monthly_invoices(self, customer: str, subscription: str, price: str, first: str,
                         months: int, quantity: int = 1, status: str = "paid", **line_kw):
        """One regular invoice per month from `first` (YYYY-MM-DD), `months` times."""
        start = dt.date.fromisoformat(first)
        for _ in range(months):
            end = _add_month(start)
            self.invoice(customer, subscription, [self.line(
                price, start.isoformat(), end.isoformat(), quantity=quantity, **line_kw)],
                status=status)
            start = end


def _add_month(day: dt.date) -> dt.date:
    year, month_index = divmod(day.month, 12)
    target_year, target_month = day.year + year, month_index + 1
    last_day = calendar.monthrange(target_year, target_month)[1]
    return day.replace(year=target_year, month=target_month, day=min(day.day, last_day))


def series(con, start="2024-01", end="2024-12", **kw) -> dict:
    """The `mrr` metric over a range as {'YYYY-MM': mrr}."""
    df = mrr(con, Params(start=month(start), end=month(end), **kw))
    return {row.month.strftime("%Y-%m"): row.mrr for row in df.itertuples()}
