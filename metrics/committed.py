"""Committed MRR (CMRR): today's MRR plus the changes Stripe already has scheduled."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.common import as_of, first_of_month, frame, has_table, live_only, sql_date, sql_list, sql_text
from metrics.mrr.chain_sql import MONTHS_PER_INTERVAL, line_filters
from metrics.mrr.points import chain_sql, cursor_for
from metrics.params import Params
from metrics.registry import metric

CMRR_COLUMNS = ["date", "currency", "mrr", "scheduled_cancellations", "scheduled_phase_changes",
                "ending_discounts", "cmrr", "cancelling_subscriptions", "next_phases",
                "discounts_ending"]
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
    SELECT s.id AS subscription_id, s.ended_at IS NULL AND s.status <> 'canceled' AS open,
           s.ended_at IS NULL AND s.status <> 'canceled'
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


def _next_phases(params: Params, day: dt.date, customer: str | None, synced: bool) -> str:
    """`next_phase`: per active schedule whose next phase starts after `day`, the
    MRR of that phase's items (subscription_id NULL: a schedule not started yet)."""
    if not synced:  # a database written before schedules were synced
        return """,
next_phase AS (SELECT NULL::VARCHAR AS subscription_id, NULL::VARCHAR AS currency,
                      NULL::DOUBLE AS mrr WHERE false)"""
    who = f"AND sc.customer_id = {sql_text(customer)}" if customer else ""
    countries = f"AND v.country IN {sql_list(params.countries)}" if params.countries else ""
    months = MONTHS_PER_INTERVAL.replace("interval", "v.interval")
    return f""",
schedules AS (
    SELECT sc.id AS schedule_id, sc.subscription_id, sc.customer_id, min(pi.phase) AS phase
    FROM subscription_schedules sc JOIN subscription_schedule_phase_items pi ON pi.schedule_id = sc.id
    WHERE {live_only('subscription_schedules', 'sc')} AND sc.status IN ('active', 'not_started')
      AND pi.start_date >= {sql_date(day)} + INTERVAL 1 DAY {who}
    GROUP BY ALL
),
phase_discounts AS (  -- percent-off coupons of the phase and the item, compounded
    SELECT pi.schedule_id, pi.phase, pi.price_id, product(1 - c.percent_off / 100) AS factor
    FROM (SELECT DISTINCT schedule_id, phase, price_id, unnest(coupon_ids) AS coupon_id
          FROM subscription_schedule_phase_items) pi
    JOIN coupons c ON c.id = pi.coupon_id AND c.percent_off IS NOT NULL
    GROUP BY ALL
),
phase_taxes AS (  -- inclusive tax rates are inside the price, and MRR is net of them
    SELECT pi.schedule_id, pi.phase, pi.price_id, 1 + sum(t.percentage) / 100 AS divisor
    FROM (SELECT DISTINCT schedule_id, phase, price_id, unnest(tax_rate_ids) AS tax_rate_id
          FROM subscription_schedule_phase_items) pi
    JOIN tax_rates t ON t.id = pi.tax_rate_id AND t.inclusive
    GROUP BY ALL
),
phase_items AS (
    SELECT sc.schedule_id, sc.subscription_id, sc.customer_id, cu.country, p.product_id,
           p.interval, coalesce(p.interval_count, 1) AS interval_count, p.usage_type,
           lower(coalesce(pi.currency, p.currency)) AS currency,
           p.unit_amount * coalesce(pi.quantity, 1) * coalesce(pd.factor, 1) / coalesce(pt.divisor, 1)
               AS amount
    FROM schedules sc
    JOIN subscription_schedule_phase_items pi USING (schedule_id, phase)
    LEFT JOIN phase_discounts pd USING (schedule_id, phase, price_id)
    LEFT JOIN phase_taxes pt USING (schedule_id, phase, price_id)
    LEFT JOIN prices p ON p.id = pi.price_id
    LEFT JOIN customers cu ON cu.id = sc.customer_id
),
next_phase AS (  -- a phase with an item of unknown amount (tiered, missing price) is left out
    SELECT v.subscription_id, any_value(v.currency) AS currency,
           greatest(round(coalesce(sum(v.amount / (v.interval_count * {months}))
                FILTER (WHERE v.usage_type IS DISTINCT FROM 'metered' {countries} {line_filters(params)}),
                0), 4), 0) AS mrr
    FROM phase_items v
    GROUP BY v.schedule_id, v.subscription_id
    HAVING bool_and(v.amount IS NOT NULL OR v.usage_type = 'metered')
       AND bool_and(v.interval IN ('day', 'week', 'month', 'year'))
)"""


def _rows(day: dt.date) -> str:
    """`committed`: per subscription with MRR now or a next phase, what may change it.
    One change per subscription: a cancellation wins over a next phase, and a next
    phase over an ending discount (the phase brings its own discounts)."""
    after = sql_date(day)
    return f""",
committed AS (
    SELECT n.subscription_id, n.currency, n.mrr, s.cancels,
           CASE WHEN NOT s.cancels THEN np.mrr - n.mrr END AS phase_change,
           CASE WHEN NOT s.cancels AND np.mrr IS NULL AND s.discount_end > {after} THEN d.monthly END
               AS discount_back
    FROM now n JOIN subs s USING (subscription_id) LEFT JOIN discounts d USING (subscription_id)
    LEFT JOIN next_phase np USING (subscription_id)
    UNION ALL  -- a next phase of a subscription without MRR now, or of one not started yet
    SELECT np.subscription_id, np.currency, 0, false, np.mrr, NULL
    FROM next_phase np LEFT JOIN subs s USING (subscription_id)
    WHERE (np.subscription_id IS NULL OR (s.open AND NOT s.cancels))
      AND NOT EXISTS (SELECT 1 FROM now WHERE now.subscription_id = np.subscription_id) AND np.mrr > 0
)"""


@metric("cmrr",
        "Committed MRR now: MRR less scheduled cancellations, plus the change subscription "
        "schedules' next phases make, plus discounts that end, per currency",
        money=("mrr", "scheduled_cancellations", "scheduled_phase_changes", "ending_discounts", "cmrr"))
def cmrr(con, params: Params) -> pd.DataFrame:
    """CMRR = MRR at the end of the "as of" day (the newest sync)
    - the MRR of subscriptions set to cancel (`cancel_at_period_end`, or a `cancel_at`)
    + scheduled phase changes: for each subscription schedule with status
      `active` or `not_started` whose next phase starts after that day, the MRR of
      that phase's items minus the subscription's MRR now. A phase item's MRR is
      its price's `unit_amount` x quantity, less the phase's and the item's
      percent-off coupons and the inclusive tax of its tax rates (the item's,
      else the phase's defaults), over the price's months (METRICS.md's months(price));
      metered items count 0, and a phase with an item of unknown amount (a tiered
      price, a price Tally lacks) is left out. Released, completed and canceled
      schedules do not count.
    + the monthly discount on the current regular lines of subscriptions whose
      discount has an `end` after that day (when it ends, MRR rises by it).
    Each subscription counts once: a cancellation wins over a next phase (the
    subscription ends whatever its schedule says), and a next phase over an
    ending discount (the phase's own coupons say what it is billed)."""
    day = as_of(con)
    month = first_of_month(day)
    cur = cursor_for(con, params, month, month)
    convert = "* f.factor" if params.currency else ""
    fx_join = (f"JOIN fx_factors f ON f.currency = n.currency AND f.month = {sql_date(month)}"
               if params.currency else "")
    currency = sql_text(params.currency.lower()) if params.currency else "n.currency"
    customer = params.extra.get("customer_id")
    synced = has_table(cur, "subscription_schedule_phase_items")
    sql = (chain_sql(cur, params, day, "day", day) + _subscription_changes(day, customer)
           + _next_phases(params, day, customer, synced) + _rows(day) + f"""
SELECT {sql_date(day)} AS date, {currency} AS currency, sum(n.mrr {convert}) AS mrr,
       -coalesce(sum(n.mrr {convert}) FILTER (n.cancels), 0) AS scheduled_cancellations,
       coalesce(sum(n.phase_change {convert}), 0) AS scheduled_phase_changes,
       coalesce(sum(n.discount_back {convert}), 0) AS ending_discounts,
       count(*) FILTER (n.cancels) AS cancelling_subscriptions,
       count(n.phase_change) AS next_phases,
       count(n.discount_back) AS discounts_ending
FROM committed n {fx_join}
GROUP BY ALL ORDER BY currency""")
    df = cur.execute(sql).df()
    if df.empty:
        return frame(con, "SELECT 1 WHERE false", CMRR_COLUMNS)
    df["scheduled_cancellations"] += 0.0  # -0.0 (nothing cancels) is shown as 0
    df["cmrr"] = (df["mrr"] + df["scheduled_cancellations"] + df["scheduled_phase_changes"]
                  + df["ending_discounts"])
    return df[CMRR_COLUMNS].reset_index(drop=True)
