"""One customer's whole story, block by block, for the page at /customer?id=cus_...

Each block is a metric taking `extra={"customer_id": "cus_..."}`, so each is also
a `metrics export` and a CSV. Its MRR each month is `customer_timeline`
(metrics/movements.py).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from metrics import fx
from metrics.common import MetricError, as_of, first_of_month, live_only, month_range, sql_date
from metrics.mrr.points import chain_sql, cursor_for, full_history_first, reported_points_sql
from metrics.params import Params
from metrics.registry import metric

# cancellation_details is kept only in the raw JSON (etl/schema.py has no typed column).
CANCELLATION = ", ".join(f"json_extract_string(s.raw, '$.cancellation_details.{field}') AS cancellation_{field}"
                         for field in ("reason", "feedback", "comment"))


def customer_id(params: Params) -> str:
    value = str(params.extra.get("customer_id") or "").strip()
    if not value:
        raise MetricError("this metric needs a customer_id (cus_...)")
    return value


def _rows(con, sql: str, params: Params, columns: list[str], money: tuple[str, ...] = (),
          dated: str = "created") -> pd.DataFrame:
    """The query with the customer id as its only parameter (`?`, as often as it appears);
    in a reporting currency, each row's money at the rate of its `dated` column's month."""
    who = customer_id(params)
    result = con.cursor().execute(sql, [who] * sql.count("?")).df()
    if result.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return _converted(con, result, params, money, result[dated])[columns].reset_index(drop=True)


def _converted(con, df: pd.DataFrame, params: Params, money, when) -> pd.DataFrame:
    """Money columns in params.currency at the rate of each row's month (`when`)."""
    if not params.currency or df.empty:
        return df
    reporting = params.currency.lower()
    months = pd.to_datetime(when).dt.to_period("M").dt.to_timestamp().dt.date
    known = df["currency"].notna()
    rates = fx.factors(con, sorted(df.loc[known, "currency"].unique()), sorted(set(months[known])), reporting)
    factor = {(c, m): f for c, m, f in rates.itertuples(index=False)}
    out = df.copy()
    scale = [factor.get((c, m)) for c, m in zip(df["currency"], months)]
    for column in money:
        out[column] = [None if s is None or pd.isna(v) else float(v) * s for v, s in zip(df[column], scale)]
    out["currency"] = reporting
    return out


PROFILE_COLUMNS = ["customer_id", "name", "email", "country", "created", "deleted", "currency",
                   "first_paid_at", "current_mrr", "paid", "refunded", "lifetime_revenue"]


@metric("customer_profile",
        "One customer's header (extra customer_id): contact, first paid date, MRR now, lifetime revenue",
        money=("current_mrr", "paid", "refunded", "lifetime_revenue"))
def customer_profile(con, params: Params) -> pd.DataFrame:
    """Per currency the customer paid or is billed in: first_paid_at = its first
    succeeded charge; current_mrr = its MRR at the end of the "as of" day (the
    newest sync); paid = succeeded charges; refunded = succeeded refunds of them;
    lifetime_revenue = paid - refunded. Empty when the customer is unknown."""
    who = customer_id(params)
    day = as_of(con)
    cur = cursor_for(con, Params(), day, day)
    sql = chain_sql(cur, Params(extra={"customer_id": who}), day, "day", day) + f""",
mrr_now AS (SELECT currency, sum(mrr) AS current_mrr FROM sub_points
            WHERE period = DATE '{day.isoformat()}' GROUP BY currency),
paid AS (
    SELECT lower(c.currency) AS currency, min(c.created) AS first_paid_at,
           sum(c.amount) AS paid, sum(coalesce(r.refunded, 0)) AS refunded
    FROM charges c
    LEFT JOIN (SELECT charge_id, sum(amount) AS refunded FROM refunds WHERE status = 'succeeded'
               GROUP BY charge_id) r ON r.charge_id = c.id
    WHERE c.customer_id = ? AND c.status = 'succeeded' AND {live_only('charges', 'c')}
    GROUP BY ALL
),
currencies AS (SELECT currency FROM mrr_now UNION SELECT currency FROM paid)
SELECT cu.id AS customer_id, cu.name, cu.email, cu.country, cu.created,
       coalesce(cu.deleted, false) AS deleted, k.currency, p.first_paid_at,
       coalesce(m.current_mrr, 0) AS current_mrr, coalesce(p.paid, 0) AS paid,
       coalesce(p.refunded, 0) AS refunded, coalesce(p.paid, 0) - coalesce(p.refunded, 0) AS lifetime_revenue
FROM customers cu
LEFT JOIN currencies k ON true
LEFT JOIN mrr_now m ON m.currency = k.currency
LEFT JOIN paid p ON p.currency = k.currency
WHERE cu.id = ?
ORDER BY current_mrr DESC, k.currency"""
    result = cur.execute(sql, [who, who]).df()
    if result.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in PROFILE_COLUMNS})
    if params.currency and result["currency"].notna().any():  # one row, at the "as of" month's rate
        money = ["current_mrr", "paid", "refunded", "lifetime_revenue"]
        result = _converted(con, result, params, money, pd.Series([first_of_month(day)] * len(result)))
        totals = result[money].sum()
        result = result.head(1).assign(first_paid_at=result["first_paid_at"].min(), **totals.to_dict())
    return result[PROFILE_COLUMNS].reset_index(drop=True)


SUBSCRIPTION_COLUMNS = ["subscription_id", "status", "created", "start_date", "trial_start", "trial_end",
                        "current_period_end", "cancel_at_period_end", "cancel_at", "canceled_at", "ended_at",
                        "cancellation_reason", "cancellation_feedback", "cancellation_comment", "coupon_id",
                        "item_id", "product_id", "product_name", "price_id", "currency", "unit_amount",
                        "interval", "interval_count", "quantity"]


@metric("customer_subscriptions",
        "One customer's subscriptions and their items now (extra customer_id): plan, price, trial, "
        "cancellation and its reason", money=("unit_amount",))
def customer_subscriptions(con, params: Params) -> pd.DataFrame:
    """What Stripe says of each subscription today, one row per item (a
    subscription without items has one row); cancellation reason, feedback and
    comment from `cancellation_details`. Its history is `customer_items`."""
    sql = f"""
SELECT s.id AS subscription_id, s.status, s.created, s.start_date, s.trial_start, s.trial_end,
       s.current_period_end, s.cancel_at_period_end, s.cancel_at, s.canceled_at, s.ended_at,
       {CANCELLATION}, s.coupon_id, i.id AS item_id, p.product_id, pr.name AS product_name,
       i.price_id, lower(coalesce(p.currency, s.currency)) AS currency, p.unit_amount,
       p.interval, p.interval_count, i.quantity
FROM subscriptions s
LEFT JOIN subscription_items i ON i.subscription_id = s.id
LEFT JOIN prices p ON p.id = i.price_id
LEFT JOIN products pr ON pr.id = p.product_id
WHERE s.customer_id = ? AND {live_only('subscriptions', 's')}
ORDER BY s.created DESC, s.id, i.id"""
    return _rows(con, sql, params, SUBSCRIPTION_COLUMNS, ("unit_amount",))


ITEM_COLUMNS = ["period_start", "period_end", "subscription_id", "subscription_item_id", "product_id",
                "product_name", "price_id", "quantity", "proration", "currency", "amount",
                "discount_amount", "invoice_id", "invoice_status"]


@metric("customer_items",
        "One customer's subscription items over time (extra customer_id): each billed period's "
        "plan, price, quantity, discount and proration", money=("amount", "discount_amount"))
def customer_items(con, params: Params) -> pd.DataFrame:
    """Every subscription line of the customer's invoices, newest period first:
    the durable record of what each item cost when (METRICS.md "MRR")."""
    sql = f"""
SELECT l.period_start, l.period_end, l.subscription_id, l.subscription_item_id,
       coalesce(l.product_id, p.product_id) AS product_id, pr.name AS product_name, l.price_id,
       l.quantity, coalesce(l.proration, false) AS proration,
       lower(coalesce(l.currency, i.currency)) AS currency, l.amount, l.discount_amount,
       l.invoice_id, i.status AS invoice_status
FROM invoice_lines l
JOIN invoices i ON i.id = l.invoice_id
LEFT JOIN prices p ON p.id = l.price_id
LEFT JOIN products pr ON pr.id = coalesce(l.product_id, p.product_id)
WHERE i.customer_id = ? AND l.subscription_id IS NOT NULL AND {live_only('invoices', 'i')}
ORDER BY l.period_start DESC, l.subscription_id, l.id"""
    return _rows(con, sql, params, ITEM_COLUMNS, ("amount", "discount_amount"), "period_start")


INVOICE_COLUMNS = ["invoice_id", "number", "created", "status", "billing_reason", "currency",
                   "amount_due", "amount_paid", "amount_remaining", "attempt_count", "paid_at",
                   "subscription_id"]


@metric("customer_invoices", "One customer's invoices with their status (extra customer_id)",
        money=("amount_due", "amount_paid", "amount_remaining"))
def customer_invoices(con, params: Params) -> pd.DataFrame:
    """Every invoice of the customer, newest first, drafts included (their status says so)."""
    sql = f"""
SELECT i.id AS invoice_id, i.number, i.created, i.status, i.billing_reason, lower(i.currency) AS currency,
       i.amount_due, i.amount_paid, i.amount_remaining, i.attempt_count, i.paid_at, i.subscription_id
FROM invoices i WHERE i.customer_id = ? AND {live_only('invoices', 'i')}
ORDER BY i.created DESC, i.id"""
    return _rows(con, sql, params, INVOICE_COLUMNS, ("amount_due", "amount_paid", "amount_remaining"))


PAYMENT_COLUMNS = ["charge_id", "created", "invoice_id", "attempt", "status", "currency", "amount",
                   "amount_refunded", "failure_code", "failure_message", "outcome_type",
                   "outcome_reason", "disputed"]


@metric("customer_payments",
        "One customer's charges (extra customer_id): status, failure reasons, and which retry of "
        "its invoice each was", money=("amount", "amount_refunded"))
def customer_payments(con, params: Params) -> pd.DataFrame:
    """Every charge, newest first; `attempt` numbers the charges of one invoice
    by time (2 and up are retries; empty for a charge without an invoice)."""
    sql = f"""
SELECT c.id AS charge_id, c.created, c.invoice_id,
       CASE WHEN c.invoice_id IS NOT NULL
            THEN row_number() OVER (PARTITION BY c.invoice_id ORDER BY c.created, c.id) END AS attempt,
       c.status, lower(c.currency) AS currency, c.amount, c.amount_refunded, c.failure_code,
       c.failure_message, c.outcome_type, c.outcome_reason, coalesce(c.disputed, false) AS disputed
FROM charges c WHERE c.customer_id = ? AND {live_only('charges', 'c')}
ORDER BY c.created DESC, c.id"""
    return _rows(con, sql, params, PAYMENT_COLUMNS, ("amount", "amount_refunded"))


REFUND_DISPUTE_COLUMNS = ["kind", "id", "created", "charge_id", "currency", "amount", "status", "reason"]


@metric("customer_refunds_disputes",
        "One customer's refunds and disputes (extra customer_id), with status and reason",
        money=("amount",))
def customer_refunds_disputes(con, params: Params) -> pd.DataFrame:
    """Refunds and disputes of the customer's charges, newest first."""
    sql = f"""
WITH mine AS (SELECT id FROM charges c WHERE c.customer_id = ? AND {live_only('charges', 'c')})
SELECT 'refund' AS kind, r.id, r.created, r.charge_id, lower(r.currency) AS currency, r.amount,
       r.status, r.reason
FROM refunds r JOIN mine ON mine.id = r.charge_id
UNION ALL
SELECT 'dispute', d.id, d.created, d.charge_id, lower(d.currency), d.amount, d.status, d.reason
FROM disputes d JOIN mine ON mine.id = d.charge_id
ORDER BY created DESC, id"""
    return _rows(con, sql, params, REFUND_DISPUTE_COLUMNS, ("amount",))


EVENT_COLUMNS = ["event_id", "created", "type", "object_type", "object_id"]


@metric("customer_events", "The Stripe events Tally holds about one customer (extra customer_id)")
def customer_events(con, params: Params) -> pd.DataFrame:
    """Events whose object is the customer or names it as its `customer`, newest
    first. Stripe keeps events 30 days; Tally keeps those it synced."""
    sql = """
SELECT e.id AS event_id, e.created, e.type, e.object_type, e.object_id
FROM events e
WHERE e.object_id = ? OR json_extract_string(e.raw, '$.data.object.customer') = ?
ORDER BY e.created DESC, e.id"""
    return _rows(con, sql, params, EVENT_COLUMNS)



COHORT_CUSTOMER_COLUMNS = ["cohort", "customer_id", "customer_name", "customer_email", "currency",
                           "cohort_mrr", "end_mrr"]


@metric("cohort_customers",
        "The customers of one cohort (extra cohort=YYYY-MM): their MRR then and at the end of the range",
        money=("cohort_mrr", "end_mrr"))
def cohort_customers(con, params: Params) -> pd.DataFrame:
    """Customers whose first positive month-end MRR (their cohort, as in `cohorts`)
    is the given month, with that MRR and their MRR at the end of the range
    (0 once they left), biggest first."""
    value = str(params.extra.get("cohort") or params.extra.get("month") or "")[:7]  # CLI: --month
    try:
        cohort = dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise MetricError("this metric needs a cohort (YYYY-MM)") from None
    span = month_range(con, params)
    if span is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COHORT_CUSTOMER_COLUMNS})
    last = max(span[1], cohort)
    cur = cursor_for(con, params, full_history_first(con) or cohort, last)
    sql = reported_points_sql(cur, params, last) + f""",
firsts AS (SELECT customer_id, currency, min(period) AS cohort FROM points GROUP BY ALL)
SELECT f.cohort, f.customer_id, cu.name AS customer_name, cu.email AS customer_email, f.currency,
       p0.mrr AS cohort_mrr, coalesce(p1.mrr, 0) AS end_mrr
FROM firsts f
JOIN points p0 ON p0.customer_id = f.customer_id AND p0.currency = f.currency AND p0.period = f.cohort
LEFT JOIN points p1 ON p1.customer_id = f.customer_id AND p1.currency = f.currency
 AND p1.period = {sql_date(last)}
LEFT JOIN customers cu ON cu.id = f.customer_id
WHERE f.cohort = {sql_date(cohort)}
ORDER BY end_mrr DESC, cohort_mrr DESC, f.customer_id"""
    result = cur.execute(sql).df()
    if result.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COHORT_CUSTOMER_COLUMNS})
    return result[COHORT_CUSTOMER_COLUMNS].reset_index(drop=True)
