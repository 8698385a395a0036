"""Subscription invoices that failed their first payment attempt, and their recovery (dunning)."""
from __future__ import annotations

import pandas as pd

from metrics.cash import INVOICE_CHARGES, between, created_range, grain, kept, with_filters
from metrics.common import frame, live_only, ratio
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


DUNNING_COLUMNS = ["invoice_id", "number", "customer_id", "customer_email", "subscription_id",
                   "currency", "amount_due", "attempt_count", "next_payment_attempt",
                   "failure_reason", "failure_code", "hosted_invoice_url", "collection_paused",
                   "created"]


@metric("invoices_in_dunning",
        "Open invoices with a failed payment attempt now: customer, amount due, attempts, "
        "next retry and the last failure's reason (current state; no date range)",
        money=("amount_due",))
def invoices_in_dunning(con, params: Params) -> pd.DataFrame:
    sql = f"""
WITH dunning AS (
    SELECT * FROM invoices
    WHERE status = 'open' AND amount_remaining > 0 AND attempted AND coalesce(attempt_count, 0) >= 1
      AND {live_only('invoices')}
),
last_failure AS (  -- the newest failed charge of each invoice says why
    SELECT l.invoice_id,
           arg_max(coalesce(c.failure_message, c.outcome_reason), c.created) AS failure_reason,
           arg_max(coalesce(c.outcome_reason, c.failure_code), c.created) AS failure_code
    FROM ({INVOICE_CHARGES}) l JOIN charges c ON c.id = l.charge_id
    WHERE l.invoice_id IN (SELECT id FROM dunning) AND c.status = 'failed'
    GROUP BY l.invoice_id
)
SELECT d.id AS invoice_id, d.number, d.customer_id,
       coalesce(cu.email, d.customer_email) AS customer_email, d.subscription_id,
       lower(d.currency) AS currency, d.amount_remaining AS amount_due, d.attempt_count,
       to_timestamp(TRY_CAST(d.raw->>'$.next_payment_attempt' AS BIGINT)) AS next_payment_attempt,
       f.failure_reason, f.failure_code, d.raw->>'$.hosted_invoice_url' AS hosted_invoice_url,
       coalesce(json_type(s.raw->'$.pause_collection') = 'OBJECT', false) AS collection_paused,
       d.created
FROM dunning d
LEFT JOIN last_failure f ON f.invoice_id = d.id
LEFT JOIN customers cu ON cu.id = d.customer_id
LEFT JOIN subscriptions s ON s.id = d.subscription_id
ORDER BY d.amount_remaining DESC, d.id"""
    return frame(con, sql, DUNNING_COLUMNS)


FAILED_INVOICE_COLUMNS = ["month", "invoice_id", "currency", "amount_due", "status", "paid_at"]


@metric("failed_invoices",
        "Every subscription invoice that failed its first payment attempt, by creation month, "
        "with its status now (the rows the recovery metric counts)",
        money=("amount_due",))
def failed_invoices(con, params: Params) -> pd.DataFrame:
    bounds = created_range(con, params, "invoices")
    if bounds is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FAILED_INVOICE_COLUMNS})
    sql = f"""
SELECT date_trunc('month', created)::DATE AS month, id AS invoice_id, lower(currency) AS currency,
       amount_due, status, paid_at
FROM invoices
WHERE billing_reason IN {SUBSCRIPTION_REASONS} AND amount_due > 0
  AND status <> 'draft' AND {live_only('invoices')} AND {between('created', bounds)}
  AND (attempt_count > 1 OR (attempted AND status <> 'paid')) {kept(params, invoice='id')}
ORDER BY 1, 2"""
    return frame(con, with_filters(params, sql), FAILED_INVOICE_COLUMNS)
