"""Figures built on MRR and its movements: SaaS quick ratio, ARPA by plan, revenue
concentration and churn reasons (issue #17). Committed MRR is metrics/committed.py."""
from __future__ import annotations

import pandas as pd

from metrics.common import add_months, frame, month_range, ratio, sql_date
from metrics.movements import mrr_movements
from metrics.mrr.by_month import mrr_by_plan
from metrics.mrr.points import chain_sql, cursor_for, reported_points_sql
from metrics.params import Params
from metrics.registry import metric

QUICK_COLUMNS = ["month", "currency", "new", "expansion", "reactivation", "contraction", "churn",
                 "quick_ratio"]


@metric("quick_ratio",
        "SaaS quick ratio per month: (new + expansion + reactivation) / (contraction + churn)",
        money=("new", "expansion", "reactivation", "contraction", "churn"))
def quick_ratio(con, params: Params) -> pd.DataFrame:
    """(new + expansion + reactivation) / (contraction + churn) of the month's MRR
    movements (METRICS.md "Movements"), per currency. Empty (NaN) in a month with
    no contraction and no churn: the ratio is undefined there, not infinite."""
    df = mrr_movements(con, params)
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in QUICK_COLUMNS})
    df = df.copy()
    df["quick_ratio"] = ratio(df["new"] + df["expansion"] + df["reactivation"],
                              df["contraction"] + df["churn"])
    return df[QUICK_COLUMNS].reset_index(drop=True)


ARPA_COLUMNS = ["month", "currency", "product_id", "product_name", "mrr", "customers", "arpa"]


@metric("arpa_by_plan", "ARPA by plan (product): plan MRR / customers paying for it, each month end",
        money=("mrr", "arpa"))
def arpa_by_plan(con, params: Params) -> pd.DataFrame:
    """ARPA of plan P at the end of M = MRR of P / customers with MRR of P > 0 then.

    A customer paying for two plans counts once in each plan, with the MRR of
    that plan only (so plan ARPAs do not add up to the overall ARPA)."""
    df = mrr_by_plan(con, params)
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ARPA_COLUMNS})
    df = df.copy()
    df["arpa"] = ratio(df["mrr"], df["customers"])
    return df[ARPA_COLUMNS].reset_index(drop=True)


TOP_CUSTOMERS = 10
TOP_SHARE = 0.10
CONCENTRATION_COLUMNS = ["month", "currency", "mrr", "customers", "top_10_mrr", "top_10_share",
                         "top_decile_customers", "top_decile_mrr", "top_decile_share"]


@metric("concentration",
        "Revenue concentration: share of MRR from the top 10 customers and the top 10% of customers",
        money=("mrr", "top_10_mrr", "top_decile_mrr"))
def concentration(con, params: Params) -> pd.DataFrame:
    """At each month end and per currency, customers ranked by MRR (ties by id):
    top_10_share = MRR of the first 10 / MRR; top_decile_share = MRR of the first
    ceil(10% of active customers) (at least one) / MRR."""
    span = month_range(con, params)
    if span is None:
        return frame(con, "SELECT 1 WHERE false", CONCENTRATION_COLUMNS)
    first, last = span
    cur = cursor_for(con, params, first, last)
    sql = reported_points_sql(cur, params, last, "month", first) + f""",
ranked AS (
    SELECT period AS month, currency, mrr,
           row_number() OVER (PARTITION BY period, currency ORDER BY mrr DESC, customer_id) AS rank,
           count(*) OVER (PARTITION BY period, currency) AS customers
    FROM points WHERE period BETWEEN {sql_date(first)} AND {sql_date(last)} AND mrr > 0
)
SELECT month, currency, sum(mrr) AS mrr, any_value(customers) AS customers,
       sum(mrr) FILTER (rank <= {TOP_CUSTOMERS}) AS top_10_mrr,
       greatest(ceil(any_value(customers) * {TOP_SHARE}), 1)::BIGINT AS top_decile_customers,
       sum(mrr) FILTER (rank <= greatest(ceil(customers * {TOP_SHARE}), 1)) AS top_decile_mrr
FROM ranked GROUP BY month, currency ORDER BY month, currency"""
    df = cur.execute(sql).df()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CONCENTRATION_COLUMNS})
    df["top_10_share"] = ratio(df["top_10_mrr"], df["mrr"])
    df["top_decile_share"] = ratio(df["top_decile_mrr"], df["mrr"])
    return df[CONCENTRATION_COLUMNS].reset_index(drop=True)


REASON_COLUMNS = ["month", "currency", "reason", "feedback", "subscriptions", "mrr_lost", "comments"]
# cancellation_details is kept only in the raw JSON (etl/schema.py has no typed column).
DETAIL = "json_extract_string(s.raw, '$.cancellation_details.{}')"


@metric("churn_reasons",
        "Ended subscriptions by month and cancellation_details reason / feedback, with the MRR lost",
        money=("mrr_lost",))
def churn_reasons(con, params: Params) -> pd.DataFrame:
    """Subscriptions that ended (`ended_at`) in M, grouped by Stripe's
    `cancellation_details.reason` and `.feedback` (empty when Stripe recorded
    none), with their free-text `comment`s. mrr_lost = each subscription's MRR at
    the end of M-1, the amount its end takes from the month's movements (0 for a
    subscription that began and ended inside M)."""
    span = month_range(con, params)
    if span is None:
        return frame(con, "SELECT 1 WHERE false", REASON_COLUMNS)
    first, last = span
    cur = cursor_for(con, params, add_months(first, -1), last)
    convert = "* f.factor" if params.currency else ""
    fx_join = ("LEFT JOIN fx_factors f ON f.currency = sp.currency AND f.month = e.month"
               if params.currency else "")
    currency = f"'{params.currency.lower()}'" if params.currency else "e.currency"
    customer = params.extra.get("customer_id")
    join = "JOIN" if params.filtered else "LEFT JOIN"
    sql = chain_sql(cur, params, last) + f""",
ended AS (
    SELECT s.id, lower(s.currency) AS currency, date_trunc('month', s.ended_at)::DATE AS month,
           {DETAIL.format('reason')} AS reason, {DETAIL.format('feedback')} AS feedback,
           nullif(trim({DETAIL.format('comment')}), '') AS comment
    FROM subscriptions s
    WHERE s.ended_at IS NOT NULL AND NOT coalesce(s.deleted, false)
      AND s.livemode = (SELECT coalesce(bool_or(livemode), false) FROM subscriptions)
      AND date_trunc('month', s.ended_at)::DATE BETWEEN {sql_date(first)} AND {sql_date(last)}
      {"AND s.customer_id = ?" if customer else ""}
),
lost AS (
    -- with a plan, interval, country or metadata filter: only subscriptions it keeps at the end of M-1
    SELECT e.*, coalesce(sum(sp.mrr {convert}), 0) AS mrr_lost
    FROM ended e
    {join} sub_points sp ON sp.subscription_id = e.id
     AND sp.period = (e.month - INTERVAL 1 MONTH)::DATE
    {fx_join}
    GROUP BY ALL
)
SELECT e.month, {currency} AS currency, e.reason, e.feedback, count(*) AS subscriptions,
       sum(e.mrr_lost) AS mrr_lost, string_agg(DISTINCT e.comment, ' | ' ORDER BY e.comment) AS comments
FROM lost e
GROUP BY ALL ORDER BY month, currency, mrr_lost DESC, reason NULLS LAST, feedback NULLS LAST"""
    df = cur.execute(sql, [customer] if customer else []).df()
    if df.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in REASON_COLUMNS})
    return df[REASON_COLUMNS].reset_index(drop=True)
