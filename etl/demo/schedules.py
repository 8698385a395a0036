"""Subscription schedules of the demo account: changes customers booked for their
next renewal, and a few schedules that are over.

Chosen from each subscription's own record by the customer's index (never from
the simulation's random stream, so every other demo object stays as it was):
- index % 10 == 3: seats added at renewal (quantity + 2 on the first item);
- index % 10 == 6: a seat removed at renewal (quantity - 1, when above 1);
- index % 10 == 8: an upgrade at renewal (Starter -> Team, Team -> Business);
  these three are `active`, phase 1 is the current period and phase 2 the next;
  on a subscription that has ended, the same booking is `canceled` with it;
- index % 10 == 1: `released` (the booked change was dropped: it still lists a
  future phase, which must not count);
- index % 10 == 9: `completed` (a first-year term that ran its course).
Only simple subscriptions qualify: active, not cancelling or paused, no current
discount, every item a listed per-unit licensed price.
"""
from __future__ import annotations

from dataclasses import dataclass

from etl.demo import catalog
from etl.demo.clock import DAY
from etl.demo.state import Customer, Ids, Subscription

UPGRADES = {"prod_demo_starter": "prod_demo_team", "prod_demo_team": "prod_demo_business"}


@dataclass
class Schedule:
    id: str
    created: int
    status: str  # active, released, completed, canceled
    subscription: Subscription
    phases: list[tuple[int, int, list[tuple[catalog.Price, int]]]]  # (start, end, [(price, quantity)])
    ended_at: int | None = None  # released_at, completed_at or canceled_at


def _simple(sub: Subscription, now: int) -> bool:
    return (sub.ended_at is None and sub.status == "active" and not sub.cancel_at_period_end
            and sub.cancel_at is None and (sub.pause is None or sub.pause[2] <= now)
            and (sub.discount is None or (sub.discount.end is not None and sub.discount.end <= now))
            and sub.period_start <= now < sub.period_end
            and all(i.price.unit_amount is not None and not i.price.metered and not i.price.inline
                    and i.price.active for i in sub.items))


def _changed(kind: int, items: list[tuple[catalog.Price, int]]) -> list[tuple[catalog.Price, int]] | None:
    (price, quantity), rest = items[0], items[1:]
    if kind == 3:
        return [(price, quantity + 2), *rest]
    if kind == 6:
        return [(price, quantity - 1), *rest] if quantity > 1 else None
    to = UPGRADES.get(price.product)
    target = catalog.PRICE_BY_ID.get(price.id.replace(price.product[10:], to[10:], 1)) if to else None
    return [(target, quantity), *rest] if target is not None and target.active else None


def schedules_for(c: Customer, now: int) -> list[Schedule]:
    """This customer's schedules (at most one per subscription)."""
    kind, ids, out = c.index % 10, Ids(c.index), []
    for sub in c.subscriptions:
        items = [(i.price, i.quantity) for i in sub.items]
        length = sub.period_end - sub.period_start
        if kind in (3, 6, 8) and _simple(sub, now) and (new := _changed(kind, items)):
            created = min(sub.period_start + (c.index % 7 + 1) * DAY, now)
            out.append(Schedule(ids.next("sub_sched"), created, "active", sub,
                                [(sub.period_start, sub.period_end, items),
                                 (sub.period_end, sub.period_end + length, new)]))
        elif kind in (3, 6, 8) and sub.ended_at is not None and sub.ended_at > sub.created + 60 * DAY \
                and sub.items and sub.items[0].price.unit_amount is not None:
            start = sub.ended_at - 30 * DAY
            out.append(Schedule(ids.next("sub_sched"), start, "canceled", sub,
                                [(start, sub.ended_at, items),
                                 (sub.ended_at, sub.ended_at + 30 * DAY, _changed(3, items) or items)],
                                ended_at=sub.ended_at))
        elif kind == 1 and _simple(sub, now) and (new := _changed(3, items)):
            created = min(sub.period_start + DAY, now)
            out.append(Schedule(ids.next("sub_sched"), created, "released", sub,
                                [(sub.period_start, sub.period_end, items),
                                 (sub.period_end, sub.period_end + length, new)],
                                ended_at=min(created + 2 * DAY, now)))
        elif kind == 9 and sub.created + 400 * DAY < now and sub.items:
            end = sub.created + 365 * DAY
            out.append(Schedule(ids.next("sub_sched"), sub.created, "completed", sub,
                                [(sub.created, end, items)], ended_at=end))
    return out


def schedule_json(s: Schedule, c: Customer, payment_method: str | None, tax_rates: list[dict]) -> dict:
    """The schedule as `GET /v1/subscription_schedules` lists it (API 2026-10-28.endive).
    `tax_rates`: the subscription's default tax rates, which its phases carry on."""
    active = s.status == "active"
    first = {"start_date": s.phases[0][0], "end_date": s.phases[0][1]}
    current = first if active else None
    return {
        "id": s.id, "object": "subscription_schedule", "application": None,
        "billing_mode": {"flexible": None, "type": "classic"},
        "canceled_at": s.ended_at if s.status == "canceled" else None,
        "completed_at": s.ended_at if s.status == "completed" else None,
        "created": s.created, "current_phase": current, "customer": c.id, "customer_account": None,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic", "billing_thresholds": None,
            "collection_method": "charge_automatically", "default_payment_method": payment_method,
            "description": None,
            "invoice_settings": {"account_tax_ids": None, "custom_fields": None, "days_until_due": None,
                                 "description": None, "footer": None, "issuer": {"type": "self"}},
            "on_behalf_of": None, "transfer_data": None},
        "end_behavior": "release", "livemode": False, "metadata": {}, "pause_schedules": [],
        "phases": [_phase(s, start, end, items, tax_rates) for start, end, items in s.phases],
        "released_at": s.ended_at if s.status == "released" else None,
        "released_subscription": s.subscription.id if s.status == "released" else None,
        "status": s.status,
        "subscription": None if s.status == "released" else s.subscription.id,
        "test_clock": None,
    }


def _phase(s: Schedule, start: int, end: int, items: list[tuple[catalog.Price, int]],
           tax_rates: list[dict]) -> dict:
    return {
        "add_invoice_items": [], "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": None, "billing_thresholds": None, "collection_method": None,
        "currency": s.subscription.currency, "default_payment_method": None, "default_tax_rates": tax_rates,
        "description": None, "discounts": [], "end_date": end, "invoice_settings": None,
        "items": [{"billing_thresholds": None, "discounts": [], "metadata": {}, "plan": price.id,
                   "price": price.id, "quantity": quantity, "tax_rates": []} for price, quantity in items],
        "metadata": {}, "on_behalf_of": None, "proration_behavior": "create_prorations",
        "start_date": start, "transfer_data": None, "trial_end": None,
    }
