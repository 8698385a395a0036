"""Turn simulated histories into the stream of Stripe objects (and events)."""
from __future__ import annotations

from etl.demo import catalog, payments_json, stripe_json
from etl.demo.clock import DAY
from etl.demo.schedules import schedule_json, schedules_for
from etl.demo.state import Customer, Ids
from etl.schema import API_VERSION

EVENT_WINDOW = 30 * DAY  # Stripe keeps 30 days of events
REQUESTED = {"customer.created", "customer.subscription.created", "customer.subscription.updated"}


def catalog_objects(created: int) -> list[dict]:
    return ([stripe_json.product(p, created) for p in catalog.PRODUCTS]
            + [stripe_json.price(p, created) for p in catalog.PRICES]
            + [stripe_json.coupon(c, created) for c in catalog.COUPONS]
            + [stripe_json.tax_rate(t, created) for t in catalog.TAX_RATES])


def customer_objects(c: Customer, now: int, prices: dict) -> list[dict]:
    """Every object of one customer, oldest kinds first, then its recent events."""
    out = [stripe_json.customer(c, now)] + _inline_prices(c)
    events = _Events(c, now)
    events.add("customer.created", c.created, out[0])
    schedules = schedules_for(c, now)
    managed = {s.subscription.id: s.id for s in schedules if s.status == "active"}
    for sub in c.subscriptions:
        sub_json = stripe_json.subscription(sub, c, now, prices)
        sub_json["schedule"] = managed.get(sub.id)
        out.append(sub_json)
        events.add("customer.subscription.created", sub.created, sub_json)
        for at, previous in sub.updates:
            events.add("customer.subscription.updated", at, sub_json, previous)
        if sub.ended_at is not None:
            events.add("customer.subscription.deleted", sub.ended_at, sub_json)
        for inv in sub.invoices:
            out.extend(_invoice_objects(inv, sub, c, now, events))
    for schedule in schedules:  # after the others: their events keep their ids
        schedule_obj = schedule_json(schedule, c, stripe_json.payment_method_id(c),
                                     [prices[c.tax_rate.id]] if c.tax_rate else [])
        out.append(schedule_obj)
        events.add("subscription_schedule.created", schedule.created, schedule_obj)
        if schedule.ended_at is not None:
            events.add(f"subscription_schedule.{schedule.status}", schedule.ended_at, schedule_obj)
    out.extend(events.objects)
    return out


def _inline_prices(c: Customer) -> list[dict]:
    """The prices this customer's subscriptions created with `price_data`."""
    created: dict[catalog.Price, int] = {}
    for sub in c.subscriptions:
        for item in sub.items:
            if item.price.inline:
                created.setdefault(item.price, item.created)
    return [stripe_json.inline_price(p, at) for p, at in created.items()]


def _invoice_objects(inv, sub, c: Customer, now: int, events: "_Events") -> list[dict]:
    inv_json = stripe_json.invoice(inv, sub, c)
    out = [inv_json]
    events.add("invoice.created", inv.created, inv_json)
    events.add("invoice.finalized", inv.created, inv_json)
    if inv.paid_at is not None:
        events.add("invoice.paid", inv.paid_at, inv_json)
    if inv.marked_uncollectible_at is not None:
        events.add("invoice.marked_uncollectible", inv.marked_uncollectible_at, inv_json)
    if inv.voided_at is not None:
        events.add("invoice.voided", inv.voided_at, inv_json)
    if inv.payment_intent is None:
        return out
    out.append(payments_json.invoice_payment(inv, sub))
    pi_json = payments_json.payment_intent(inv, sub, c)
    out.append(pi_json)
    for ch in inv.charges:
        out.extend(_charge_objects(ch, inv, sub, c, now, events))
        if not ch.succeeded:
            events.add("invoice.payment_failed", ch.created, inv_json)
    if inv.paid_at is not None:
        events.add("payment_intent.succeeded", inv.paid_at, pi_json)
    return out


def _charge_objects(ch, inv, sub, c: Customer, now: int, events: "_Events") -> list[dict]:
    currency = sub.currency
    ch_json = payments_json.charge(ch, inv, sub, c)
    out = [ch_json]
    events.add("charge.succeeded" if ch.succeeded else "charge.failed", ch.created, ch_json)
    if ch.succeeded:
        out.append(payments_json.balance_transaction(
            ch.balance_transaction, ch.created, ch.amount, ch.fee, currency, "charge", "charge",
            ch.id, now, _description(inv)))
    for r in ch.refunds:
        out.append(payments_json.refund(r, ch, inv, c, currency))
        out.append(payments_json.credit_note(r, inv, c, currency))
        out.append(payments_json.balance_transaction(
            r.balance_transaction, r.created, -r.amount, 0, currency, "refund", "refund", r.id,
            now, "REFUND FOR CHARGE"))
        events.add("charge.refunded", r.created, ch_json)
    if ch.dispute is not None:
        txns = [payments_json.balance_transaction(txn_id, at, amount, fee, currency, "adjustment", category,
                                           ch.dispute.id, now, f"Chargeback {category}")
                for txn_id, at, amount, fee, category in ch.dispute.balance_transactions]
        dispute_json = payments_json.dispute(ch, inv, c, currency, txns)
        out.append(dispute_json)
        out.extend(txns)
        events.add("charge.dispute.created", ch.dispute.created, dispute_json)
    if ch.early_fraud_warning is not None:
        out.append(payments_json.early_fraud_warning(ch, inv))
    return out


def _description(inv) -> str:
    return f"Invoice {inv.number}"


class _Events:
    """Events Stripe still lists at `now`: those of the last 30 days."""

    def __init__(self, c: Customer, now: int):
        self.ids = Ids(c.index)
        self.now = now
        self.objects: list[dict] = []

    def add(self, kind: str, created: int, obj: dict, previous: dict | None = None) -> None:
        if self.now - EVENT_WINDOW <= created <= self.now:
            event_id = self.ids.next("evt")
            # Changes the merchant made through the API carry its request; Stripe's own do not.
            request = f"req_{event_id[4:]}" if kind in REQUESTED else None
            self.objects.append(stripe_json.event(event_id, kind, created, obj, API_VERSION,
                                             previous, request))
