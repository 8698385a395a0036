"""The MRR the simulation meant, per month end and customer (METRICS.md rules).

Computed from the simulation's records, never from emitted JSON: for every
line the simulation billed, its monthly value (net x F / months); a line counts
at the last instant of month M when its invoice is open or paid, its price is
licensed, its period holds that instant, and its subscription has not ended.
Each subscription is floored at 0.
"""
from __future__ import annotations

import datetime as dt
from fractions import Fraction

from etl.demo.billing import monthly_value
from etl.demo.clock import next_month_start_ts
from etl.demo.state import Customer, Subscription

COUNTED_STATUSES = ("open", "paid")


def subscription_mrr_at_month_end(sub: Subscription, month: dt.date) -> Fraction:
    boundary = next_month_start_ts(month)  # the month's last instant is just before it
    if sub.ended_at is not None and sub.ended_at < boundary:
        return Fraction(0)
    value = Fraction(0)
    for inv in sub.invoices:
        if inv.status not in COUNTED_STATUSES:
            continue
        for line in inv.lines:
            if not line.price.metered and line.start < boundary <= line.end:
                value += monthly_value(line)
    return max(value, Fraction(0))


def customer_truth(c: Customer, months: list[dt.date]) -> list[tuple]:
    """(month, customer_id, currency, mrr) for each month end with MRR > 0."""
    rows = []
    for month in months:
        mrr = sum((subscription_mrr_at_month_end(s, month) for s in c.subscriptions), Fraction(0))
        if mrr > 0:
            rows.append((month, c.id, c.currency, float(mrr)))
    return rows
