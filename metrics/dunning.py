"""Subscription invoices: first-attempt failures and their recovery (dunning),
tax collected, and trial conversion."""
from __future__ import annotations

import pandas as pd

from metrics.cash import between, created_range, grain, kept, with_filters
from metrics.common import add_months, frame, live_only, month_range, ratio, sql_date, sql_list
from metrics.mrr.points import convert_frame
from metrics.params import Params
from metrics.registry import metric

SUBSCRIPTION_REASONS = "('subscription_create', 'subscription_cycle', 'subscription_update')"

RECOVERY_COLUMNS = ["currency", "failed_first_attempt", "recovered", "recovery_rate",
                    "failed_amount", "recovered_amount", "recovery_rate_amount",
                    "open_dunning", "open_dunning_amount"]


@metric("recovery",
        "Subscription invoices failing their first attempt, and how many were recovered (dunning)",
        money=("failed_amount", "recovered_amount", "open_dunning_amount"))
def recovery(con, params: Params) -> pd.DataFrame:
    g = grain(params)
    columns = [g] + RECOVERY_COLUMNS
    bounds = created_range(con, params, "invoices")
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    sql = f"""
WITH failed AS (
    SELECT * FROM invoices
    WHERE billing_reason IN {SUBSCRIPTION_REASONS} AND amount_due > 0
      AND status <> 'draft' AND {live_only('invoices')} AND {between('created', bounds)}
      AND (attempt_count > 1 OR (attempted AND status <> 'paid')) {kept(params, invoice='id')}
)
SELECT date_trunc('{g}', created)::DATE AS "{g}", lower(currency) AS currency,
       count(*) AS failed_first_attempt,
       count(*) FILTER (status = 'paid') AS recovered,
       sum(amount_due) AS failed_amount,
       coalesce(sum(amount_due) FILTER (status = 'paid'), 0) AS recovered_amount,
       count(*) FILTER (status = 'open') AS open_dunning,
       coalesce(sum(amount_remaining) FILTER (status = 'open'), 0) AS open_dunning_amount
FROM failed GROUP BY ALL ORDER BY 1, 2"""
    df = con.execute(with_filters(params, sql)).df()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    df = convert_frame(con, df, params, ["failed_amount", "recovered_amount", "open_dunning_amount"],
                       [g, "currency"], g)
    df["recovery_rate"] = ratio(df["recovered"], df["failed_first_attempt"])
    df["recovery_rate_amount"] = ratio(df["recovered_amount"], df["failed_amount"])
    return df[columns].reset_index(drop=True)


TAX_COLUMNS = ["currency", "tax_rate_id", "jurisdiction", "country", "state", "rate",
               "tax_collected", "taxable_amount"]


@metric("tax", "Tax collected on paid invoices by tax rate (jurisdiction, country, rate) and paid month",
        money=("tax_collected", "taxable_amount"))
def tax(con, params: Params) -> pd.DataFrame:
    g = grain(params)
    columns = [g] + TAX_COLUMNS
    bounds = created_range(con, params, "invoices", "coalesce(paid_at, created)")
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    sql = f"""
SELECT date_trunc('{g}', coalesce(i.paid_at, i.created))::DATE AS "{g}",
       lower(coalesce(t.currency, i.currency)) AS currency, t.tax_rate_id,
       r.jurisdiction, r.country, r.state, r.percentage AS rate,
       sum(t.amount) AS tax_collected, sum(t.taxable_amount) AS taxable_amount
FROM invoice_line_taxes t
JOIN invoices i ON i.id = t.invoice_id
LEFT JOIN tax_rates r ON r.id = t.tax_rate_id
WHERE i.status = 'paid' AND {live_only('invoices', 'i')}
  AND {between('coalesce(i.paid_at, i.created)', bounds)} {kept(params, invoice='i.id')}
GROUP BY ALL ORDER BY 1, 2, tax_collected DESC"""
    df = frame(con, with_filters(params, sql), columns)
    return convert_frame(con, df, params, ["tax_collected", "taxable_amount"],
                         [g, "currency", "tax_rate_id", "jurisdiction", "country", "state", "rate"], g)


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
