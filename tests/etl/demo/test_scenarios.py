"""Whole simulated customers whose MRR is easy to state by hand, checked against the truth."""
from fractions import Fraction

import pytest

from etl.demo import billing
from etl.demo.clock import DEFAULT_NOW, add_months, complete_months, next_month_start_ts, to_ts
from etl.demo.simulate import simulate_customer
from etl.demo.truth import customer_truth

NOW = to_ts(DEFAULT_NOW)
START = add_months(NOW, -30)
MONTHS = complete_months(START, NOW)


def plain_customers(seed=1, limit=1500):
    """Customers with one subscription, one licensed item, no tax inside prices, all paid,
    no trial and no plan change: their MRR is price x quantity (less the coupon) / months."""
    for index in range(limit):
        c = simulate_customer(index, seed, START, NOW)
        if len(c.subscriptions) != 1 or (c.tax_rate and c.tax_rate.inclusive):
            continue
        sub = c.subscriptions[0]
        if (len(sub.items) == 1 and sub.trial_start is None and sub.invoices
                and all(i.status == "paid" and i.billing_reason != "subscription_update"
                        for i in sub.invoices)):
            yield c, sub


def month_ends_covered(sub) -> int:
    first = sub.invoices[0].lines[0].start
    last = sub.invoices[-1].lines[0].end
    if sub.ended_at is not None:
        last = min(last, sub.ended_at)
    return sum(1 for m in MONTHS if first < next_month_start_ts(m) <= last)


def test_plain_and_forever_coupon_subscriptions_earn_their_price_every_month():
    checked = set()
    for c, sub in plain_customers():
        item = sub.items[0]
        coupon = sub.discount.coupon if sub.discount else None
        if coupon is not None and coupon.id != "demo_launch20":
            continue  # once/repeating coupons change the value over time
        factor = Fraction(8, 10) if coupon else 1
        expected = item.price.unit_amount * item.quantity * factor / item.price.months
        rows = customer_truth(c, MONTHS)
        assert len(rows) == month_ends_covered(sub), c.id
        assert all(mrr == float(expected) for _, _, _, mrr in rows), c.id
        checked.add((item.price.interval, item.price.months, bool(coupon)))
    # Monthly, quarterly, yearly and weekly plans, with and without the forever coupon.
    assert {("month", 1, False), ("month", 3, False), ("year", 12, False), ("month", 1, True)} <= checked
    assert any(interval == "week" for interval, _, _ in checked)


def test_a_mid_cycle_plan_change_counts_the_new_price_from_the_change():
    checked = inside_prorations = 0
    for index in range(2500):
        c = simulate_customer(index, 2, START, NOW)
        if len(c.subscriptions) != 1 or c.tax_rate is not None:
            continue
        sub = c.subscriptions[0]
        updates = [i for i in sub.invoices if i.billing_reason == "subscription_update"]
        if (len(sub.items) != 1 or sub.discount or sub.trial_start or len(updates) != 1
                or any(i.status != "paid" for i in sub.invoices)
                or not all(line.proration for line in updates[0].lines)):  # not an interval switch
            continue
        unused, remaining = updates[0].lines  # Stripe's two proration lines
        change, months = unused.start, unused.price.months
        before = Fraction(unused.price.amount(unused.quantity), months)
        after = Fraction(remaining.price.amount(remaining.quantity), months)
        # Until the period's end the prorations say it (METRICS.md): the credit over
        # its regular line cancels "before"; the debit is scaled by the same line
        # for a seat change, by the nominal interval of a new price.
        regular = next(line for i in sub.invoices for line in i.lines
                       if not line.proration and line.start <= change < line.end)
        full = (regular.end - regular.start if remaining.price == unused.price
                else billing.nominal_period(remaining.price))
        inside = Fraction(remaining.amount * full, remaining.end - remaining.start) / months
        truth = {month: mrr for month, _, _, mrr in customer_truth(c, MONTHS)}
        first = sub.invoices[0].lines[0].start
        last = min(sub.ended_at or NOW, sub.invoices[-1].lines[0].end)
        for month in MONTHS:
            boundary = next_month_start_ts(month)
            if first < boundary <= last:
                # A month end between the change and the period's end: prorations alone.
                between = change < boundary <= unused.end
                expected = before if boundary <= change else inside if between else after
                assert truth[month] == pytest.approx(float(expected)), (c.id, month)
                inside_prorations += between
        checked += 1
    assert checked >= 3 and inside_prorations >= 1
