"""The MRR the simulation meant, per month end and customer (METRICS.md rules).

Computed from the simulation's records, never from emitted JSON: for every
line the simulation billed, its monthly value (net x F / months); a line counts
at the last instant of month M when its invoice is open or paid, its price is
licensed, its period holds that instant, and its subscription has not ended.
Each subscription is floored at 0.
"""
from __future__ import annotations

import bisect
import datetime as dt
from fractions import Fraction

from etl.demo.billing import monthly_value
from etl.demo.clock import next_month_start_ts
from etl.demo.state import Customer, Subscription

COUNTED_STATUSES = ("open", "paid")
# The generator's own answer in a demo database: the MRR it meant, per month end
# and customer, in minor units (fractional: $10/week is 4333.33 cents).
TRUTH_DDL = """CREATE TABLE IF NOT EXISTS demo_truth_mrr (
    month DATE, customer_id VARCHAR, currency VARCHAR, mrr DOUBLE)"""


def subscription_month_ends(sub: Subscription, boundaries: list[int]) -> dict[int, Fraction]:
    """MRR at each month's last instant, by index into `boundaries` (each the next
    month's first second, ascending). Months with nothing counted are absent."""
    values: dict[int, Fraction] = {}
    for inv in sub.invoices:
        if inv.status not in COUNTED_STATUSES:
            continue
        for line in inv.lines:
            if line.price.metered:
                continue
            # Month ends inside the period: start < boundary <= end.
            first = bisect.bisect_right(boundaries, line.start)
            last = bisect.bisect_right(boundaries, line.end)
            if first < last:
                value = monthly_value(line)
                for index in range(first, last):
                    values[index] = values.get(index, 0) + value
    ended = sub.ended_at
    return {i: v for i, v in values.items()
            if v > 0 and (ended is None or ended >= boundaries[i])}


def subscription_mrr_at_month_end(sub: Subscription, month: dt.date) -> Fraction:
    return subscription_month_ends(sub, [next_month_start_ts(month)]).get(0, Fraction(0))


def customer_truth(c: Customer, months: list[dt.date], boundaries: list[int] | None = None) -> list[tuple]:
    """(month, customer_id, currency, mrr) for each month end with MRR > 0."""
    boundaries = boundaries or [next_month_start_ts(m) for m in months]
    totals: dict[int, Fraction] = {}
    for sub in c.subscriptions:
        for index, value in subscription_month_ends(sub, boundaries).items():
            totals[index] = totals.get(index, 0) + value
    return [(months[i], c.id, c.currency, float(totals[i])) for i in sorted(totals)]
