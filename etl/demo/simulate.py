"""Simulate one customer's life month by month: signup, trial, billing, changes, churn.

Each customer has its own random stream (seed, index), so customers can be
generated one at a time (flat memory) and the same seed gives the same history.
"""
from __future__ import annotations

import random
import unicodedata

from etl.demo import billing, payments
from etl.demo.billing import Line
from etl.demo.catalog import (
    COUPONS,
    LEGACY_PRICE,
    MARKETS,
    PERIODS,
    PLANS,
    PRICE_BY_ID,
    TAX_RATE_BY_ID,
    Price,
    local_amount,
    price_for,
)
from etl.demo.clock import DAY, add_months, to_datetime
from etl.demo.customer_metadata import customer_metadata
from etl.demo.state import Customer, Discount, Ids, Invoice, Item, Subscription

FIRST_NAMES = ("Ada", "Ben", "Chloé", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
               "Kemi", "Liam", "Mei", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sven", "Yuki")
LAST_NAMES = ("Okafor", "Schmidt", "Dubois", "Tanaka", "Smith", "García", "Jansen", "Kowalski",
              "Brown", "Rossi", "Nakamura", "Müller", "Martin", "Patel", "Wilson", "Lee")
COMPANY = ("Labs", "Studio", "Works", "Cloud", "Analytics", "Systems", "Digital", "Health")
PERIOD_WEIGHTS = (("month", 65), ("quarter", 10), ("year", 25))
PLAN_WEIGHTS = (50, 35, 15)
SEATS = {"prod_demo_starter": (1, 3), "prod_demo_team": (3, 15), "prod_demo_business": (10, 60)}
MONTHLY_CHURN = 0.03
TRIAL_DAYS = 14
LEGACY_SHARE = 0.4  # Team's prices went up 40% into the history: earlier subscribers keep theirs
ENTERPRISE = 0.12  # share of Business subscriptions with extra workspaces at negotiated prices
WORKSPACES = (9, 13)  # how many: their invoices have more lines than Stripe embeds (10)
PAUSE = 0.015  # chance per paid monthly period that collection pauses (invoices voided)
SWITCH = 0.03  # chance per month of period of switching between monthly and yearly billing
SWITCHABLE = {"prod_demo_starter", "prod_demo_team", "prod_demo_business", "prod_demo_storage"}


def simulate_customer(index: int, seed: int, start: int, now: int) -> Customer:
    rng = random.Random(seed * 1_000_003 + index)
    ids = Ids(index)
    customer = _new_customer(index, rng, ids, start, now)
    reliability = rng.choices((0.97, 0.7, 0.3), weights=(85, 12, 3))[0]
    at, first = customer.created + rng.randint(0, 2 * DAY), True
    legacy_until = start + int((now - start) * LEGACY_SHARE)
    while at < now:
        sub = _subscribe(customer, rng, ids, at, now, first, reliability, at < legacy_until)
        first = False
        # Former customers come back sometimes (reactivation), after a voluntary churn.
        if sub.ended_at is None or sub.cancellation_reason != "cancellation_requested":
            break
        if rng.random() > 0.25:
            break
        at = sub.ended_at + rng.randint(20, 240) * DAY
    customer.metadata = customer_metadata(customer, seed)
    return customer


def _new_customer(index: int, rng: random.Random, ids: Ids, start: int, now: int) -> Customer:
    market = rng.choices(MARKETS, weights=[m.weight for m in MARKETS])[0]
    state, _, tax_id = rng.choices(market.regions, weights=[r[1] for r in market.regions])[0]
    # Growth: more signups lately.
    created = start + int((now - start) * rng.random() ** 0.7)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company = f"{last} {rng.choice(COMPANY)}"
    return Customer(
        id=ids.next("cus"), index=index, created=created, name=company,
        email=_ascii(f"{first}.{index}@{last}-{company.split()[1]}.example".lower()),
        country=market.country, state=state, currency=market.currency,
        tax_rate=TAX_RATE_BY_ID.get(tax_id) if tax_id else None,
        invoice_prefix=f"D{index:07X}"[-8:])


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _choose_items(rng: random.Random, ids: Ids, currency: str, at: int,
                  legacy: bool = False) -> tuple[list[Item], str]:
    if currency in ("usd", "eur") and rng.random() < 0.03:
        return [Item(ids.next("si"), PRICE_BY_ID[f"price_demo_pass_week_{currency}"], 1, at)], "week"
    product = rng.choices(PLANS, weights=PLAN_WEIGHTS)[0]
    period = rng.choices([p for p, _ in PERIOD_WEIGHTS], weights=[w for _, w in PERIOD_WEIGHTS])[0]
    low, high = SEATS[product]
    seats = rng.randint(low, high)
    price = price_for(product, period, currency)
    if legacy:  # subscribed before the price went up: the archived price, for good
        price = LEGACY_PRICE.get(price.id, price)
    items = [Item(ids.next("si"), price, seats, at)]
    if rng.random() < 0.2:
        items.append(Item(ids.next("si"), price_for("prod_demo_storage", period, currency),
                          rng.randint(1, 3), at))
    if product == "prod_demo_business" and rng.random() < ENTERPRISE:
        for _ in range(rng.randint(*WORKSPACES)):
            items.append(Item(ids.next("si"), _workspace_price(rng, ids, currency, period), 1, at))
    if period == "month" and currency == "usd":
        if rng.random() < 0.15:
            items.append(Item(ids.next("si"), PRICE_BY_ID["price_demo_support_month_usd"], seats, at))
        if rng.random() < 0.15:
            items.append(Item(ids.next("si"), PRICE_BY_ID["price_demo_api_month_usd"], 0, at))
    return items, period


def _workspace_price(rng: random.Random, ids: Ids, currency: str, period: str) -> Price:
    """A negotiated price created with the subscription (`price_data`): inline, never listed."""
    usd = rng.choice((1500, 2000, 2500)) * {"month": 1, "quarter": 3, "year": 10}[period]
    return Price(ids.next("price"), "prod_demo_workspace", currency, *PERIODS[period],
                 local_amount(usd, currency), nickname="Extra workspace", active=False, inline=True)


def _choose_discount(rng: random.Random, ids: Ids, currency: str, at: int) -> Discount | None:
    if rng.random() >= 0.15:
        return None
    usable = [c for c in COUPONS if c.currency in (None, currency)]
    coupon = rng.choice(usable)
    end = None
    if coupon.duration == "repeating":
        assert coupon.duration_in_months is not None, f"repeating coupon {coupon.id} has no duration_in_months"
        end = add_months(at, coupon.duration_in_months)
    return Discount(ids.next("di"), coupon, at, end)


def _subscribe(customer: Customer, rng, ids: Ids, at: int, now: int, first: bool,
               reliability: float, legacy: bool = False) -> Subscription:
    items, period = _choose_items(rng, ids, customer.currency, at, legacy)
    sub = Subscription(ids.next("sub"), at, customer.currency, items, items[0].price,
                       discount=_choose_discount(rng, ids, customer.currency, at))
    customer.subscriptions.append(sub)
    anchor = at
    if first and rng.random() < 0.3:
        converted = _trial(customer, sub, rng, ids, at, now)
        if converted is None:
            return sub
        anchor = converted
    sub.billing_cycle_anchor = anchor
    _bill_periods(customer, sub, rng, ids, anchor, now, reliability)
    return sub


def _trial(customer, sub, rng, ids, at, now) -> int | None:
    """A free trial: a $0 invoice now; at its end the customer converts or lapses."""
    sub.trial_start, sub.trial_end = at, at + TRIAL_DAYS * DAY
    lines = [Line(ids.next("il"), i.id, i.price, i.quantity, at, sub.trial_end, 0,
                  description=f"Trial period for {i.price.nickname}")
             for i in sub.items if not i.price.metered]
    invoice = _invoice(customer, sub, ids, at, "subscription_create", at, at, lines, [])
    invoice.status, invoice.paid_at = "paid", at
    sub.period_start, sub.period_end = at, sub.trial_end
    if sub.trial_end > now:
        sub.status = "trialing"
        return None
    if rng.random() < 0.35:  # no payment method at the end of the trial
        sub.status, sub.canceled_at, sub.ended_at = "canceled", sub.trial_end, sub.trial_end
        sub.cancellation_reason = "cancellation_requested"
        return None
    return sub.trial_end


def _bill_periods(customer, sub, rng, ids, anchor, now, reliability, count: int = 0) -> None:
    """Invoice period `count` onwards of a subscription anchored at `anchor`."""
    anchor_day = to_datetime(anchor).day
    start = _period_boundary(sub.billing_price, anchor, count, anchor_day)
    while start < now:
        end = _period_boundary(sub.billing_price, anchor, count + 1, anchor_day)
        sub.period_start, sub.period_end = start, end
        reason = "subscription_cycle" if count or sub.trial_end else "subscription_create"
        previous = _period_boundary(sub.billing_price, anchor, count - 1, anchor_day) if count else None
        invoice = _regular_invoice(customer, sub, rng, ids, start, end, previous, reason)
        if sub.pause is not None and sub.pause[1] <= start < sub.pause[2]:
            # pause_collection with behavior `void`: Stripe voids each invoice it creates
            invoice.status, invoice.voided_at = "void", start
            customer.balance = invoice.starting_balance  # voiding gives the credit back
            start, count = end, count + 1
            continue
        payments.collect(invoice, sub, customer, rng, ids, now, reliability)
        if sub.status in ("canceled", "unpaid") or invoice.status != "paid":
            return
        if _mid_period(customer, sub, rng, ids, start, end, now, reliability):
            return
        _maybe_pause(sub, rng, anchor, count, anchor_day, start, end)
        start, count = end, count + 1


def _maybe_pause(sub, rng, anchor, count, anchor_day, start, end) -> None:
    """The merchant pauses collection for 1-3 months from the next period (a monthly
    customer taking a break); once per subscription."""
    if sub.pause is not None or sub.billing_price.months != 1 or sub.billing_price.interval != "month":
        return
    if sub.cancel_at_period_end or rng.random() >= PAUSE:
        return
    resumes = _period_boundary(sub.billing_price, anchor, count + 1 + rng.randint(1, 3), anchor_day)
    requested = start + rng.randint(DAY, end - start - DAY)
    sub.pause = (requested, end, resumes)
    sub.updates.append((requested, {"pause_collection": None}))
    sub.updates.append((resumes, {"pause_collection": {"behavior": "void", "resumes_at": resumes}}))


def _period_boundary(price, anchor: int, periods: int, anchor_day: int) -> int:
    """Start of period number `periods` (0 is the anchor) of a subscription billed on `price`."""
    if price.interval == "week":
        return anchor + periods * price.interval_count * 7 * DAY
    return add_months(anchor, price.months * periods, anchor_day)


def _mid_period(customer, sub, rng, ids, start, end, now, reliability) -> bool:
    """A plan change at mid-period, or a cancellation. True when the subscription stops."""
    months = float(sub.billing_price.months)
    mid = start + (end - start) // 2
    if _switchable(sub) and rng.random() < SWITCH * months ** 0.5 and mid < now:
        _switch_interval(customer, sub, rng, ids, start, end, mid, now, reliability)
        return True  # the switch bills the rest of the subscription itself
    changeable = sub.billing_price.product in PLANS
    if changeable and rng.random() < 0.05 * months ** 0.5 and mid < now:
        return not _change_plan(customer, sub, rng, ids, start, end, mid, now, reliability)
    if rng.random() >= 1 - (1 - MONTHLY_CHURN) ** months:
        return False
    at = start + rng.randint(DAY, end - start - DAY)
    if at > now:
        return False
    sub.canceled_at, sub.cancellation_reason = at, "cancellation_requested"
    if rng.random() < 0.7:
        sub.cancel_at_period_end, sub.cancel_at = True, end
        sub.updates.append((at, {"cancel_at": None, "cancel_at_period_end": False,
                                 "canceled_at": None, "cancellation_details": {"reason": None}}))
        if end <= now:
            sub.status, sub.ended_at = "canceled", end
    else:
        sub.status, sub.ended_at = "canceled", at
    return True


def _change_plan(customer, sub, rng, ids, start, end, at, now, reliability) -> bool:
    """Upgrade, downgrade or seat change at `at`, invoiced at once with proration lines.
    False when the proration invoice is not paid (billing stops)."""
    item = sub.items[0]
    product, period = item.price.product, _period_name(item.price)
    tier = PLANS.index(product)
    move = rng.choice(("up", "down", "seats+", "seats-"))
    quantity = item.quantity
    if move == "up" and tier < len(PLANS) - 1:
        product = PLANS[tier + 1]
    elif move == "down" and tier > 0:
        product = PLANS[tier - 1]
    elif move == "seats+":
        quantity += rng.randint(1, 5)
    else:
        quantity = max(1, quantity - rng.randint(1, 3))
    new_price = price_for(product, period, sub.currency)
    if LEGACY_PRICE.get(new_price.id) == item.price:
        new_price = item.price  # a seat change keeps a grandfathered (archived) price
    if new_price == item.price and quantity == item.quantity:
        return True
    full = end - start
    credited = next(((inv.id, ln.id) for inv in reversed(sub.invoices) for ln in inv.lines
                     if ln.item_id == item.id and not ln.proration and ln.start <= at < ln.end), None)
    old = Line(ids.next("il"), item.id, item.price, item.quantity, at, end,
               -(item.price.amount(item.quantity) * (end - at) // full), proration=True,
               full_period=full, description=f"Unused time on {item.quantity} × {item.price.nickname}",
               credits=credited)
    new = Line(ids.next("il"), item.id, new_price, quantity, at, end,
               new_price.amount(quantity) * (end - at) // full, proration=True,
               # a new price has no regular line around `at`: its nominal interval
               full_period=full if new_price == item.price else billing.nominal_period(new_price),
               description=f"Remaining time on {quantity} × {new_price.nickname}")
    sub.updates.append((at, {"items": {"object": "list", "data": [
        {"id": item.id, "object": "subscription_item", "price": {"id": item.price.id},
         "quantity": item.quantity}]}}))
    item.price, item.quantity = new_price, quantity
    discounts = _active_discounts(sub, at, proration=True)
    invoice = _priced_invoice(customer, sub, ids, at, "subscription_update", at, at, [old, new], discounts)
    payments.collect(invoice, sub, customer, rng, ids, now, reliability)
    return invoice.status == "paid"


def _switchable(sub: Subscription) -> bool:
    """Monthly or yearly, on current catalog prices (no inline, usage or archived ones)."""
    return sub.billing_price.months in (1, 12) and sub.billing_price.interval != "week" and all(
        i.price.product in SWITCHABLE and i.price.active for i in sub.items)


def _switch_interval(customer, sub, rng, ids, start, end, at, now, reliability) -> None:
    """Monthly -> yearly (or back) at `at`: Stripe credits the unused time of every item,
    bills the new interval's first full period at once and moves the billing cycle
    anchor to `at`. A credit's full period is the period of the line it credits."""
    period = "year" if sub.billing_price.months == 1 else "month"
    credits, firsts, old = [], [], []
    new_end = _period_boundary(price_for(sub.billing_price.product, period, sub.currency),
                               at, 1, to_datetime(at).day)
    for item in sub.items:
        credited = next(((inv.id, ln.id) for inv in reversed(sub.invoices) for ln in inv.lines
                         if ln.item_id == item.id and not ln.proration and ln.start <= at < ln.end), None)
        credits.append(Line(ids.next("il"), item.id, item.price, item.quantity, at, end,
                            -(item.price.amount(item.quantity) * (end - at) // (end - start)),
                            proration=True, full_period=end - start, credits=credited,
                            description=f"Unused time on {item.quantity} × {item.price.nickname}"))
        new_price = price_for(item.price.product, period, sub.currency)
        firsts.append(Line(ids.next("il"), item.id, new_price, item.quantity, at, new_end,
                           new_price.amount(item.quantity),
                           description=f"{item.quantity} × {new_price.nickname}"))
        old.append({"id": item.id, "object": "subscription_item", "price": {"id": item.price.id},
                    "quantity": item.quantity})
        item.price = new_price
    sub.updates.append((at, {"billing_cycle_anchor": sub.billing_cycle_anchor,
                             "items": {"object": "list", "data": old}}))
    sub.billing_price, sub.billing_cycle_anchor = sub.items[0].price, at
    sub.period_start, sub.period_end = at, new_end
    discounts = _active_discounts(sub, at, proration=True)
    invoice = _priced_invoice(customer, sub, ids, at, "subscription_update", at, at,
                              credits + firsts, discounts)
    payments.collect(invoice, sub, customer, rng, ids, now, reliability)
    if invoice.status == "paid" and sub.status not in ("canceled", "unpaid"):
        _bill_periods(customer, sub, rng, ids, at, now, reliability, count=1)


def _period_name(price) -> str:
    return {1: "month", 3: "quarter", 12: "year"}[price.months]


def _regular_invoice(customer, sub, rng, ids, start, end, previous, reason) -> Invoice:
    lines = []
    for item in sub.items:
        if item.price.metered:
            if previous is None:
                continue  # usage is billed in arrears
            usage = rng.randint(0, 3000)
            lines.append(Line(ids.next("il"), item.id, item.price, usage, previous, start,
                              item.price.amount(usage), description=f"{usage} × API calls per 1,000"))
        else:
            lines.append(Line(ids.next("il"), item.id, item.price, item.quantity, start, end,
                              item.price.amount(item.quantity),
                              description=f"{item.quantity} × {item.price.nickname}"))
    discounts = _active_discounts(sub, start)
    # Stripe's invoice period is the one just ended (when usage accrued), not the one billed.
    return _priced_invoice(customer, sub, ids, start, reason, previous or start, start, lines,
                           discounts)


def _active_discounts(sub: Subscription, at: int, proration: bool = False) -> list[Discount]:
    discount = sub.discount
    if discount is None or (discount.end is not None and at >= discount.end):
        return []
    if discount.coupon.duration == "once":
        if proration or sub.once_used:
            return []
        sub.once_used = True
    if proration and discount.coupon.amount_off:
        return []  # an amount off applies per regular invoice, not to prorations
    return [discount]


def _priced_invoice(customer, sub, ids, at, reason, period_start, period_end, lines, discounts):
    for discount in discounts:
        if discount.coupon.percent_off:
            billing.apply_percent(lines, discount.coupon)
        else:
            billing.apply_amount_off(lines, discount.coupon)
    billing.apply_tax(lines, customer.tax_rate)
    return _invoice(customer, sub, ids, at, reason, period_start, period_end, lines, discounts)


def _invoice(customer, sub, ids, at, reason, period_start, period_end, lines, discounts) -> Invoice:
    invoice = Invoice(ids.next("in"), customer.next_invoice_number(), at, reason, period_start,
                      period_end, lines, billing.totals(lines), discounts,
                      starting_balance=customer.balance)
    customer.balance = invoice.ending_balance  # a credit (e.g. a switch to monthly) carries on
    sub.invoices.append(invoice)
    return invoice
