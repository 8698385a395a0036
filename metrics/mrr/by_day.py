"""MRR at the end of each day or week of a range.

Same rules as the month-end chain, computed as changes rather than points: a
subscription's MRR only changes where one of its lines starts or stops
counting, so each line adds its monthly value at the first period end it
covers and removes it after the last. Running sums give each subscription's
value between changes (floored at 0), then each customer's, then the daily
totals and the number of customers above 0. Work grows with lines, not with
lines x days.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics.common import MetricError, add_months, frame, month_range, sql_date, sql_text
from metrics.mrr import stage_cache, stored_stages
from metrics.mrr.chain_sql import STEPS, counted_lines_cte, line_filters, valued_lines_cte
from metrics.mrr.points import cursor_for
from metrics.params import Params
from metrics.registry import metric

COLUMNS = ["date", "currency", "mrr", "arr", "customers", "arpa"]


def day_range(con, params: Params) -> tuple[dt.date, dt.date] | None:
    """Days asked for, or the days of the default range (METRICS.md: 12 months)."""
    span = month_range(con, params)
    if span is None:
        return None
    last = params.end or (add_months(span[1], 1) - dt.timedelta(days=1))
    first = params.start or span[0]
    if first > last:
        raise MetricError(f"start {first} is after end {last}")
    return first, last


def valued_sql(cur, params: Params, last: dt.date) -> str:
    """`WITH ... valued`: the month-end cache's valued lines when a page filled it,
    else the stored ones when they match the database, else computed."""
    cached = stage_cache.monthly_tables(cur, params, last.replace(day=1), None, fill=False)
    if cached is not None:
        return f"WITH valued AS (SELECT * FROM {stage_cache.stage(cur, cached, 'valued')})"
    return "WITH " + (stored_stages.valued_cte(cur, params)
                      or counted_lines_cte(params) + "," + valued_lines_cte())


def changes_sql(cur, params: Params, grain: str, first: dt.date, last: dt.date) -> str:
    """`WITH ... changes(currency, point, mrr_delta, customers_delta)` at period starts:
    from the stored daily changes when there are no filters, else from valued lines."""
    return (stored_changes_sql(cur, params, grain, first, last)
            or valued_sql(cur, params, last) + line_changes_ctes(params, grain, first, last))


def stored_changes_sql(cur, params: Params, grain: str, first: dt.date, last: dt.date) -> str | None:
    """The stored whole-history daily changes, cut to the range.

    Changes before `first` add up to the values at `first` (so they are folded
    into it); a week's change is the sum of its days' changes, as a line counts
    at the end of week P exactly when it counts at the end of P's Sunday."""
    stored = None if params.filtered else stored_stages.usable(cur)
    if stored is None:
        return None
    return f"""WITH changes AS (
    SELECT currency, greatest(date_trunc('{grain}', point)::DATE, {sql_date(first)}) AS point,
           sum(mrr_delta) AS mrr_delta, sum(customers_delta) AS customers_delta
    FROM {stored.table(stored_stages.DAILY_CHANGES)}
    WHERE date_trunc('{grain}', point) <= {sql_date(last)}
    GROUP BY ALL
)"""


def line_changes_ctes(params: Params, grain: str, first: dt.date, last: dt.date) -> str:
    """`, spans, ..., changes` from `valued`.

    A line counts at the end of period P when P >= trunc(start) and
    P + step <= counts_until, i.e. for P in [trunc(start), trunc(counts_until)).
    Values are rounded to 1/10,000 of a minor unit at each running sum so that
    a cancelled-out pair is exactly 0.
    """
    step = STEPS[grain]
    return (f""",
spans AS (
    SELECT v.subscription_id, v.customer_id, v.currency, v.monthly,
           greatest(date_trunc('{grain}', v.period_start), {sql_date(first)}::TIMESTAMP)::DATE AS p0,
           date_trunc('{grain}', v.counts_until)::DATE AS p_end
    FROM valued v
    WHERE v.counts_until > {sql_date(first)}
      AND v.period_start < {sql_date(last)}::TIMESTAMP + {step} {line_filters(params)}
),
line_events AS (
    SELECT subscription_id, customer_id, currency, p0 AS point, monthly AS delta
    FROM spans WHERE p0 < p_end
    UNION ALL
    SELECT subscription_id, customer_id, currency, p_end, -monthly
    FROM spans WHERE p0 < p_end AND p_end <= {sql_date(last)}
),
sub_steps AS (
    SELECT subscription_id, any_value(customer_id) AS customer_id,
           any_value(currency) AS currency, point, sum(delta) AS delta
    FROM line_events GROUP BY subscription_id, point
),
sub_values AS (
    SELECT *, greatest(round(sum(delta) OVER (PARTITION BY subscription_id ORDER BY point), 4), 0)
              AS value
    FROM sub_steps
),
sub_changes AS (
    SELECT customer_id, currency, point,
           value - coalesce(lag(value) OVER (PARTITION BY subscription_id ORDER BY point), 0)
               AS delta
    FROM sub_values
),
customer_steps AS (
    SELECT customer_id, currency, point, sum(delta) AS delta FROM sub_changes GROUP BY ALL
),
customer_values AS (
    SELECT customer_id, currency, point,
           round(sum(delta) OVER (PARTITION BY customer_id, currency ORDER BY point), 4) AS value
    FROM customer_steps
),
changes AS (
    SELECT currency, point, sum(value - coalesce(prev, 0)) AS mrr_delta,
           sum((value > 0)::INT - (coalesce(prev, 0) > 0)::INT) AS customers_delta
    FROM (SELECT *, lag(value) OVER (PARTITION BY customer_id, currency ORDER BY point) AS prev
          FROM customer_values)
    GROUP BY ALL
)""")


@metric("mrr_daily", "MRR, ARR, customers and ARPA at the end of each day or week (granularity)",
        money=("mrr", "arr", "arpa"))
def mrr_daily(con, params: Params) -> pd.DataFrame:
    grain = params.granularity if params.granularity in ("day", "week") else "day"
    span = day_range(con, params)
    if span is None:
        return frame(con, "SELECT 1 WHERE false", COLUMNS)
    first, last = span
    if grain == "week":
        first = first - dt.timedelta(days=first.weekday())
    cur = cursor_for(con, params, first.replace(day=1), last.replace(day=1))
    sql = changes_sql(cur, params, grain, first, last) + f""",
grid AS (
    SELECT unnest(generate_series({sql_date(first)}::TIMESTAMP, {sql_date(last)}::TIMESTAMP,
                                  {STEPS[grain]}))::DATE AS point
),
series AS (
    SELECT g.point AS date, c.currency,
           round(sum(coalesce(d.mrr_delta, 0)) OVER w, 4) AS mrr,
           (sum(coalesce(d.customers_delta, 0)) OVER w)::BIGINT AS customers
    FROM grid g CROSS JOIN (SELECT DISTINCT currency FROM changes) c
    LEFT JOIN changes d ON d.currency = c.currency AND d.point = g.point
    WINDOW w AS (PARTITION BY c.currency ORDER BY g.point)
),
{_reported(params)}
SELECT date, currency, mrr, 12 * mrr AS arr, customers, mrr / nullif(customers, 0) AS arpa
FROM reported WHERE customers > 0 ORDER BY date, currency"""
    return frame(cur, sql, COLUMNS)


def _reported(params: Params) -> str:
    """Native series, or converted at each day's month rate and summed.

    In a reporting currency `customers` adds up the customers of each currency
    (a customer billed in two currencies counts twice; rare)."""
    if not params.currency:
        return "reported AS (SELECT * FROM series)"
    return f"""reported AS (
    SELECT s.date, {sql_text(params.currency.lower())} AS currency,
           sum(s.mrr * f.factor) AS mrr, sum(s.customers)::BIGINT AS customers
    FROM series s JOIN fx_factors f ON f.currency = s.currency
     AND f.month = date_trunc('month', s.date)::DATE
    GROUP BY s.date
)"""
