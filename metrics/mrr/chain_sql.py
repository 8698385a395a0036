"""The MRR chain of METRICS.md as SQL: counted lines -> monthly value per line ->
MRR per subscription at each point in time -> MRR per customer.

Every MRR-based metric starts from `mrr_ctes(...)` and appends its own CTEs,
so one rule lives in one place. Points are the ends of days, weeks or months:
the row for period P holds MRR at the last instant of P.
"""
from __future__ import annotations

import datetime as dt

from metrics.common import live_only, sql_date, sql_list, sql_text
from metrics.params import Params
from metrics.segments import where_sql

STEPS = {"day": "INTERVAL 1 DAY", "week": "INTERVAL 1 WEEK", "month": "INTERVAL 1 MONTH"}

# Price interval in months: METRICS.md's months(price).
MONTHS_PER_INTERVAL = ("CASE interval WHEN 'day' THEN 12.0 / 365 WHEN 'week' THEN 12.0 / 52 "
                       "WHEN 'month' THEN 1.0 WHEN 'year' THEN 12.0 END")
# A proration's last-resort full period: one interval of its price (month = 365.25/12 days).
NOMINAL_SECONDS = ("CASE interval WHEN 'day' THEN 86400.0 WHEN 'week' THEN 604800.0 "
                   "WHEN 'month' THEN 365.25 / 12 * 86400 WHEN 'year' THEN 365.25 * 86400 END")

# Breakdowns: MRR by plan (product), billing interval or customer country.
DIMENSIONS = {"product_id": "product_id", "interval": "interval", "country": "country"}


def counted_lines_cte(params: Params, with_country: bool = False) -> str:
    """Lines that carry MRR (rules 1-3) with their net value; filters by customer country."""
    with_country = with_country or bool(params.countries)
    country_join = "LEFT JOIN customers cu ON cu.id = i.customer_id" if with_country else ""
    country_filter = f"AND cu.country IN {sql_list(params.countries)}" if params.countries else ""
    if params.extra.get("customer_id"):  # one customer's timeline: skip everyone else early
        country_filter += f" AND i.customer_id = {sql_text(params.extra['customer_id'])}"
    return f"""
counted AS (
    SELECT l.invoice_id, l.id AS line_id, l.subscription_id, i.customer_id,
           l.subscription_item_id, l.price_id, l.credited_invoice_id, l.credited_line_id,
           lower(coalesce(l.currency, i.currency)) AS currency,
           coalesce(l.proration, false) AS proration, l.period_start, l.period_end,
           coalesce(l.amount, 0) - coalesce(l.discount_amount, 0)
               - coalesce(l.inclusive_tax_amount, 0) AS net,
           coalesce(l.price_interval, p.interval) AS interval,
           coalesce(l.price_interval_count, p.interval_count, 1) AS interval_count,
           coalesce(l.product_id, p.product_id) AS product_id,
           {"cu.country" if with_country else "NULL::VARCHAR AS country"},
           -- a canceled subscription stops at its end, whatever its lines cover
           least(l.period_end, coalesce(s.ended_at, l.period_end)) AS counts_until
    FROM invoice_lines l
    JOIN invoices i ON i.id = l.invoice_id
    LEFT JOIN prices p ON p.id = l.price_id
    LEFT JOIN subscriptions s ON s.id = l.subscription_id
    {country_join}
    WHERE i.status IN ('open', 'paid') AND {live_only('invoices', 'i')}
      AND l.subscription_id IS NOT NULL
      AND coalesce(l.price_usage_type, p.usage_type, 'licensed') <> 'metered'
      AND coalesce(l.price_interval, p.interval) IN ('day', 'week', 'month', 'year')
      AND l.period_end > l.period_start
      {country_filter}
)"""


def valued_lines_cte() -> str:
    """m(L): net x F / months(price); F scales a proration to its full period.

    The full period (METRICS.md), in order: (1) the regular line a credit names
    in `credited_items`; (2) the regular line of the same item and price whose
    period holds the proration's start; (3) the nominal length of the line's
    own price interval. Never another price's line: a monthly credit on a
    switch to yearly is scaled by the month, not the new year. A credit of an
    earlier proration (two changes in one period) is valued by (2)/(3), as
    that proration was, so the pair cancels.
    """
    return f"""
credited_periods AS (
    SELECT c.invoice_id, c.line_id, max(epoch(r.period_end) - epoch(r.period_start)) AS seconds
    FROM invoice_lines r
    JOIN (SELECT invoice_id, line_id, credited_invoice_id, credited_line_id FROM counted
          WHERE proration AND credited_line_id IS NOT NULL) c
      ON r.invoice_id = c.credited_invoice_id AND r.id = c.credited_line_id
    WHERE NOT coalesce(r.proration, false) AND r.period_end > r.period_start
    GROUP BY c.invoice_id, c.line_id
),
item_periods AS (
    SELECT c.invoice_id, c.line_id, max(epoch(r.period_end) - epoch(r.period_start)) AS seconds
    FROM counted r
    JOIN (SELECT invoice_id, line_id, subscription_id, subscription_item_id, price_id, period_start
          FROM counted WHERE proration) c
      ON r.subscription_id = c.subscription_id AND NOT r.proration
     AND r.price_id IS NOT DISTINCT FROM c.price_id
     -- old payloads may not name the item: then the subscription and price decide
     AND (r.subscription_item_id = c.subscription_item_id
          OR r.subscription_item_id IS NULL OR c.subscription_item_id IS NULL)
     AND r.period_start <= c.period_start AND c.period_start < r.period_end
    GROUP BY c.invoice_id, c.line_id
),
valued AS (
    SELECT c.*,
           c.net * (CASE WHEN c.proration
                         THEN coalesce(cp.seconds, ip.seconds, c.interval_count * {NOMINAL_SECONDS})
                              / (epoch(c.period_end) - epoch(c.period_start))
                         ELSE 1 END)
                 / (c.interval_count * {MONTHS_PER_INTERVAL}) AS monthly
    FROM counted c
    LEFT JOIN credited_periods cp USING (invoice_id, line_id)
    LEFT JOIN item_periods ip USING (invoice_id, line_id)
)"""


def line_filters(params: Params) -> str:
    """` AND ...` on valued lines `v`: plan, interval and metadata (segment) filters."""
    filters = []
    if params.plans:
        filters.append(f"v.product_id IN {sql_list(params.plans)}")
    if params.intervals:
        filters.append(f"v.interval IN {sql_list(params.intervals)}")
    return "".join(f" AND {f}" for f in filters) + where_sql(params)


def points_ctes(params: Params, grain: str, first: dt.date | None, last: dt.date,
                dimension: str | None) -> str:
    """MRR per subscription and per customer at the end of each period."""
    return sub_points_ctes(params, grain, first, last, dimension) + ",\n" + customer_points_cte()


def sub_points_ctes(params: Params, grain: str, first: dt.date | None, last: dt.date,
                    dimension: str | None) -> str:
    """`line_points, sub_points`: MRR per subscription at the end of each period.

    A line covers the end of period P when start <= end(P) < end and end(P) <
    the subscription's `ended_at`, i.e. P runs from the period containing
    `start` to the one before the period containing min(end, ended_at).
    Subscription MRR is rounded to 1/10,000 of a minor unit so that a proration
    pair that cancels exactly is 0, not 1e-12.
    """
    step = STEPS[grain]
    dim = f"v.{DIMENSIONS[dimension]}" if dimension else "''"
    # Lines that end before `first` cover no point we need; the others start at `first`.
    lower = f"AND v.counts_until > {sql_date(first)}" if first else ""
    series_start = f"date_trunc('{grain}', v.period_start)"
    if first:
        series_start = f"greatest({series_start}, {sql_date(first)}::TIMESTAMP)"
    return f"""
line_points AS (
    SELECT v.subscription_id, v.customer_id, v.currency, {dim} AS dimension, v.monthly,
           v.product_id, v.interval, v.country,
           unnest(generate_series({series_start},
                                  least(date_trunc('{grain}', v.counts_until) - {step},
                                        {sql_date(last)}::TIMESTAMP),
                                  {step}))::DATE AS period
    FROM valued v
    WHERE true {lower} {line_filters(params)}
),
sub_points AS (
    SELECT subscription_id, dimension, period, any_value(customer_id) AS customer_id,
           any_value(currency) AS currency, greatest(round(sum(monthly), 4), 0) AS mrr
    FROM line_points
    GROUP BY subscription_id, dimension, period
)"""


def line_months_sql(last: dt.date) -> str:
    """Per subscription, plan, interval and month end: the lines' monthly value
    summed (before the floor at 0), from the `valued` lines of everyone.

    Month ends for any plan or interval filter or breakdown are sums of these
    rows (`sub_points_from_line_months`), as a line's plan, interval and
    customer country are the same at each month end it covers."""
    return (sub_points_ctes(Params(), "month", None, last, None) + """
SELECT subscription_id, product_id, interval, period, any_value(customer_id) AS customer_id,
       any_value(currency) AS currency, any_value(country) AS country, sum(monthly) AS monthly
FROM line_points
GROUP BY subscription_id, product_id, interval, period""")


def sub_points_from_line_months(params: Params, line_months: str, dimension: str | None) -> str:
    """`sub_points` columns from `line_months` rows: the same values as
    `sub_points_ctes` over all valued lines, for these filters and breakdown."""
    dim = f"v.{DIMENSIONS[dimension]}" if dimension else "''"
    countries = f"AND v.country IN {sql_list(params.countries)}" if params.countries else ""
    return f"""
SELECT v.subscription_id, {dim} AS dimension, v.period, any_value(v.customer_id) AS customer_id,
       any_value(v.currency) AS currency, greatest(round(sum(v.monthly), 4), 0) AS mrr
FROM {line_months} v
WHERE true {countries} {line_filters(params)}
GROUP BY v.subscription_id, {dim}, v.period"""


def customer_points_cte(last: dt.date | None = None) -> str:
    """Customer MRR = sum of its subscriptions; only positive month ends are kept."""
    until = f"WHERE period <= {sql_date(last)}" if last else ""
    return f"""customer_points AS (
    SELECT customer_id, currency, dimension, period, sum(mrr) AS mrr
    FROM sub_points {until} GROUP BY ALL HAVING sum(mrr) > 0
)"""


def mrr_ctes(params: Params, last: dt.date, grain: str = "month", first: dt.date | None = None,
             dimension: str | None = None, valued: str | None = None) -> str:
    """The whole chain as `WITH ...`; append `, more AS (...) SELECT ...`.
    `valued`: a ready `valued AS (...)` (the stored lines) instead of computing it."""
    valued = valued or (counted_lines_cte(params, dimension == "country") + "," + valued_lines_cte())
    return "WITH " + valued + "," + points_ctes(params, grain, first, last, dimension)


def native_movements_ctes(last: dt.date) -> str:
    """`, seq, changes, native_movements`: each customer's movement per month and currency.

    With p = MRR at the end of M-1 and c = at the end of M (METRICS.md):
    new, reactivation (p = 0, positive at an earlier month end), expansion,
    contraction, churn. One row per customer, currency and month in which MRR
    at the start or end is positive; the month after the last positive month
    end is a churn row (up to `last`).
    """
    return f""",
seq AS (
    SELECT customer_id, currency, period AS month, mrr,
           lag(period) OVER w AS prev_month, lag(mrr) OVER w AS prev_mrr,
           lead(period) OVER w AS next_month
    FROM customer_points
    WINDOW w AS (PARTITION BY customer_id, currency ORDER BY period)
),
changes AS (
    SELECT customer_id, currency, month,
           CASE WHEN prev_month = month - INTERVAL 1 MONTH THEN prev_mrr ELSE 0 END AS p,
           mrr AS c, prev_month IS NOT NULL AS seen_before
    FROM seq
    UNION ALL
    -- the month after a customer's last positive month end: churn
    SELECT customer_id, currency, (month + INTERVAL 1 MONTH)::DATE, mrr, 0, true
    FROM seq
    WHERE (next_month IS NULL OR next_month > month + INTERVAL 1 MONTH)
      AND month < {sql_date(last)}
),
native_movements AS (
    SELECT customer_id, currency, month, p AS start_mrr, c AS end_mrr,
           CASE WHEN p = 0 AND NOT seen_before THEN 'new'
                WHEN p = 0 THEN 'reactivation'
                WHEN c = 0 THEN 'churn'
                WHEN c > p THEN 'expansion'
                WHEN c < p THEN 'contraction' END AS movement,
           CASE WHEN p = 0 AND NOT seen_before THEN c ELSE 0 END AS new,
           CASE WHEN p = 0 AND seen_before THEN c ELSE 0 END AS reactivation,
           CASE WHEN p > 0 AND c > p THEN c - p ELSE 0 END AS expansion,
           CASE WHEN c > 0 AND c < p THEN p - c ELSE 0 END AS contraction,
           CASE WHEN c = 0 THEN p ELSE 0 END AS churn,
           0.0 AS fx
    FROM changes
)"""
