"""Committed MRR (CMRR): today's MRR plus the changes Stripe already has scheduled."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.common import as_of, first_of_month, frame, live_only, sql_date, sql_text
from metrics.mrr.chain_sql import MONTHS_PER_INTERVAL
from metrics.mrr.points import chain_sql, cursor_for
from metrics.params import Params
from metrics.registry import metric

CMRR_COLUMNS = ["date", "currency", "mrr", "scheduled_cancellations", "ending_discounts", "cmrr",
                "cancelling_subscriptions", "discounts_ending", "note"]
# Stripe's subscription schedules are not synced (etl/schema.py has no table for them).
NOTE = "subscription schedules are not synced: their next phases are not included"
# A subscription's discount end: older API versions embed `discount`, newer ones
# `discounts` (ids unless expanded: then no end is known).
DISCOUNT_END = ("coalesce(json_extract(s.raw, '$.discount.end')::BIGINT, "
                "list_min(CAST(json_extract(s.raw, '$.discounts[*].end') AS BIGINT[])))")


def _subscription_changes(day: dt.date, customer: str | None) -> str:
    """Per live subscription with MRR now: does it cancel, does a discount end, and
    the monthly discount its current regular lines carry (what the end gives back)."""
    who = f"AND s.customer_id = {sql_text(customer)}" if customer else ""
    return f""",
now AS (
    SELECT subscription_id, any_value(currency) AS currency, sum(mrr) AS mrr
    FROM sub_points WHERE period = {sql_date(day)} GROUP BY subscription_id HAVING sum(mrr) > 0
),
subs AS (
    SELECT s.id AS subscription_id, s.ended_at IS NULL AND s.status <> 'canceled'
               AND (coalesce(s.cancel_at_period_end, false) OR s.cancel_at IS NOT NULL) AS cancels,
           to_timestamp({DISCOUNT_END}) AS discount_end
    FROM subscriptions s WHERE {live_only('subscriptions', 's')} {who}
),
discounts AS (
    SELECT l.subscription_id,
           sum(l.discount_amount / (coalesce(l.price_interval_count, p.interval_count, 1)
               * {MONTHS_PER_INTERVAL.replace('interval', 'coalesce(l.price_interval, p.interval)')})) AS monthly
    FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id LEFT JOIN prices p ON p.id = l.price_id
    WHERE i.status IN ('open', 'paid') AND NOT coalesce(l.proration, false) AND l.discount_amount > 0
      AND date_trunc('day', l.period_start) <= {sql_date(day)}
      AND {sql_date(day)} < date_trunc('day', l.period_end)
    GROUP BY l.subscription_id
)"""


@metric("cmrr",
        "Committed MRR now: MRR less scheduled cancellations plus discounts that end, per currency",
        money=("mrr", "scheduled_cancellations", "ending_discounts", "cmrr"))
def cmrr(con, params: Params) -> pd.DataFrame:
    """CMRR = MRR at the end of the "as of" day (the newest sync) - the MRR of
    subscriptions set to cancel (`cancel_at_period_end`, or a `cancel_at`) +
    the monthly discount on the current regular lines of subscriptions whose
    discount has an `end` after that day (when it ends, MRR rises by it).
    A subscription that cancels counts only as a cancellation. Subscription
    schedules' next phases are not included: Tally does not sync schedules."""
    day = as_of(con)
    month = first_of_month(day)
    cur = cursor_for(con, params, month, month)
    convert = "* f.factor" if params.currency else ""
    fx_join = (f"JOIN fx_factors f ON f.currency = n.currency AND f.month = {sql_date(month)}"
               if params.currency else "")
    currency = sql_text(params.currency.lower()) if params.currency else "n.currency"
    sql = chain_sql(cur, params, day, "day", day) + _subscription_changes(
        day, params.extra.get("customer_id")) + f"""
SELECT {sql_date(day)} AS date, {currency} AS currency, sum(n.mrr {convert}) AS mrr,
       -coalesce(sum(n.mrr {convert}) FILTER (s.cancels), 0) AS scheduled_cancellations,
       coalesce(sum(d.monthly {convert}) FILTER (NOT s.cancels AND s.discount_end > {sql_date(day)}), 0)
           AS ending_discounts,
       count(*) FILTER (s.cancels) AS cancelling_subscriptions,
       count(d.monthly) FILTER (NOT s.cancels AND s.discount_end > {sql_date(day)}) AS discounts_ending
FROM now n JOIN subs s USING (subscription_id) LEFT JOIN discounts d USING (subscription_id) {fx_join}
GROUP BY ALL ORDER BY currency"""
    df = cur.execute(sql).df()
    if df.empty:
        return frame(con, "SELECT 1 WHERE false", CMRR_COLUMNS)
    df["scheduled_cancellations"] += 0.0  # -0.0 (nothing cancels) is shown as 0
    df["cmrr"] = df["mrr"] + df["scheduled_cancellations"] + df["ending_discounts"]
    df["note"] = NOTE
    return df[CMRR_COLUMNS].reset_index(drop=True)
