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


DUNNING_COLUMNS = ["invoice_id", "number", "customer_id", "customer_email", "subscription_id",
                   "currency", "amount_due", "attempt_count", "next_payment_attempt",
                   "failure_reason", "failure_code", "hosted_invoice_url", "collection_paused",
                   "created"]
# Every way Stripe has linked a charge to its invoice (InvoicePayments now; fields before).
_INVOICE_CHARGES = """
    SELECT charge_id, invoice_id FROM invoice_payments WHERE charge_id IS NOT NULL
    UNION SELECT c.id, ip.invoice_id FROM invoice_payments ip
          JOIN charges c ON c.payment_intent_id = ip.payment_intent_id
    UNION SELECT id, invoice_id FROM charges WHERE invoice_id IS NOT NULL
    UNION SELECT charge_id, id FROM invoices WHERE charge_id IS NOT NULL
    UNION SELECT c.id, i.id FROM invoices i JOIN charges c ON c.payment_intent_id = i.payment_intent_id
    UNION SELECT c.id, pi.invoice_id FROM payment_intents pi
          JOIN charges c ON c.payment_intent_id = pi.id WHERE pi.invoice_id IS NOT NULL"""


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
    FROM ({_INVOICE_CHARGES}) l JOIN charges c ON c.id = l.charge_id
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
