"""Trials: how many start each month; those ending each month, and how many paid their first invoice."""
from __future__ import annotations

import pandas as pd

from metrics.common import add_months, frame, live_only, month_range, ratio, sql_date, sql_list
from metrics.params import Params
from metrics.registry import metric

TRIAL_COLUMNS = ["month", "trials_ended", "converted", "conversion_rate"]


@metric("trial_conversion",
        "Trials ending each month whose first paid invoice (amount due > 0) was paid")
def trial_conversion(con, params: Params) -> pd.DataFrame:
    span = month_range(con, params)
    if span is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in TRIAL_COLUMNS})
    first, last = span
    sql = f"""
WITH trials AS (
    SELECT id, trial_start, trial_end FROM subscriptions s
    WHERE trial_end IS NOT NULL AND trial_end > coalesce(trial_start, trial_end - INTERVAL 1 DAY)
      AND {live_only('subscriptions', 's')}
      AND trial_end >= {sql_date(first)} AND trial_end < {sql_date(add_months(last, 1))}
      {subscription_filters(params)}
),
first_due AS (  -- the first non-draft invoice asking for money once the trial ended
    SELECT t.id, arg_min(i.status, i.created) AS status
    FROM trials t JOIN invoices i ON i.subscription_id = t.id
    WHERE i.amount_due > 0 AND i.status <> 'draft'
      AND i.created >= t.trial_end  -- not a setup fee paid during the trial
    GROUP BY t.id
)
SELECT date_trunc('month', t.trial_end)::DATE AS month, count(*) AS trials_ended,
       count(*) FILTER (f.status = 'paid') AS converted
FROM trials t LEFT JOIN first_due f USING (id)
GROUP BY ALL ORDER BY 1"""
    df = frame(con, sql, ["month", "trials_ended", "converted"])
    df["conversion_rate"] = ratio(df["converted"], df["trials_ended"])
    return df[TRIAL_COLUMNS]


@metric("trials_started", "Trials starting each month (new trials)")
def trials_started(con, params: Params) -> pd.DataFrame:
    span = month_range(con, params)
    if span is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ["month", "trials_started"]})
    first, last = span
    sql = f"""
SELECT date_trunc('month', trial_start)::DATE AS month, count(*) AS trials_started
FROM subscriptions s
WHERE trial_start IS NOT NULL AND trial_end > trial_start AND {live_only("subscriptions", "s")}
  AND trial_start >= {sql_date(first)} AND trial_start < {sql_date(add_months(last, 1))}
  {subscription_filters(params)}
GROUP BY ALL ORDER BY 1"""
    return frame(con, sql, ["month", "trials_started"])


def subscription_filters(params: Params) -> str:
    """`AND ...` for subscriptions `s`: its customer's country; a plan or interval
    through its items or its invoice lines (METRICS.md "Ranges, filters and exports")."""
    parts = []
    if params.countries:
        parts.append(f"s.customer_id IN (SELECT id FROM customers WHERE country IN {sql_list(params.countries)})")
    if params.plans or params.intervals:
        parts.append(f"""s.id IN (
            SELECT si.subscription_id FROM subscription_items si JOIN prices p ON p.id = si.price_id
            WHERE {_plan_test(params, "p.product_id", "p.interval")}
            UNION SELECT l.subscription_id FROM invoice_lines l LEFT JOIN prices p ON p.id = l.price_id
            WHERE {_plan_test(params, "coalesce(l.product_id, p.product_id)",
                              "coalesce(l.price_interval, p.interval)")})""")
    return "".join(f" AND {p}" for p in parts)


def _plan_test(params: Params, product: str, interval: str) -> str:
    tests = ([f"{product} IN {sql_list(params.plans)}"] if params.plans else []) + \
        ([f"{interval} IN {sql_list(params.intervals)}"] if params.intervals else [])
    return " AND ".join(tests)
