"""Time buckets for cash metrics (charges, refunds, invoices...), which support
day, week and month granularity: the bucket column is named after it."""
from __future__ import annotations

import datetime as dt

from metrics.common import DEFAULT_MONTHS, MetricError, add_months, default_months, first_of_month, sql_list
from metrics.params import Params

GRAINS = ("day", "week", "month")

# Every way Stripe has linked a charge to its invoice (InvoicePayments now; fields before).
INVOICE_CHARGES = """
    SELECT charge_id, invoice_id FROM invoice_payments WHERE charge_id IS NOT NULL
    UNION SELECT c.id, ip.invoice_id FROM invoice_payments ip
          JOIN charges c ON c.payment_intent_id = ip.payment_intent_id
    UNION SELECT id, invoice_id FROM charges WHERE invoice_id IS NOT NULL
    UNION SELECT charge_id, id FROM invoices WHERE charge_id IS NOT NULL
    UNION SELECT c.id, i.id FROM invoices i JOIN charges c ON c.payment_intent_id = i.payment_intent_id
    UNION SELECT c.id, pi.invoice_id FROM payment_intents pi
          JOIN charges c ON c.payment_intent_id = pi.id WHERE pi.invoice_id IS NOT NULL"""


def grain(params: Params) -> str:
    if params.granularity not in GRAINS:
        raise MetricError(f"granularity must be one of {', '.join(GRAINS)}")
    return params.granularity


def created_range(con, params: Params, table: str, column: str = "created") -> tuple[dt.datetime, dt.datetime] | None:
    """[from, to) instants for a cash metric: the parameters, else the default
    range (12 months up to the given end, or up to the last complete month before "as of")."""
    if params.start is None and not con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0]:
        return None
    last = params.end or default_months(con)[1]
    if grain(params) == "month":
        end = add_months(first_of_month(last), 1)
        start = first_of_month(params.start or add_months(first_of_month(last), -(DEFAULT_MONTHS - 1)))
    else:
        end = (last if params.end else add_months(last, 1) - dt.timedelta(days=1)) + dt.timedelta(days=1)
        start = params.start or add_months(first_of_month(last), -(DEFAULT_MONTHS - 1))
    if start >= end:
        raise MetricError(f"start {start} is after end {end}")
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time())


def between(column: str, bounds) -> str:
    return f"{column} >= TIMESTAMP '{bounds[0]:%Y-%m-%d}' AND {column} < TIMESTAMP '{bounds[1]:%Y-%m-%d}'"


def filtered(params: Params) -> bool:
    return params.filtered


def filter_ctes(params: Params) -> str:
    """`kept_invoices` and `kept_charges`: what the plan, interval and country filters keep.

    METRICS.md: country is the customer's; an invoice counts for a plan (and
    interval) when it has a counted line of it; a charge, refund or dispute
    counts through its charge's invoice, and a charge without an invoice only
    when no plan or interval filter is set.
    """
    from metrics.mrr.chain_sql import counted_lines_cte, line_filters
    by_plan = bool(params.plans or params.intervals or params.where)
    countries = f"AND cu.country IN {sql_list(params.countries)}" if params.countries else ""
    plan_invoices = ("AND i.id IN (SELECT invoice_id FROM plan_invoices)" if by_plan else "")
    plan_charges = ("AND c.id IN (SELECT charge_id FROM invoice_charges "
                    "WHERE invoice_id IN (SELECT invoice_id FROM plan_invoices))" if by_plan else "")
    return f"""{counted_lines_cte(Params())},
plan_invoices AS (SELECT DISTINCT v.invoice_id FROM counted v WHERE true {line_filters(params)}),
invoice_charges AS ({INVOICE_CHARGES}
),
kept_invoices AS (
    SELECT i.id FROM invoices i LEFT JOIN customers cu ON cu.id = i.customer_id
    WHERE true {countries} {plan_invoices}
),
kept_charges AS (
    SELECT c.id, c.payment_intent_id FROM charges c LEFT JOIN customers cu ON cu.id = c.customer_id
    WHERE true {countries} {plan_charges}
)"""


def with_filters(params: Params, sql: str) -> str:
    """`sql` with the filter CTEs in front when a filter is set (see `kept`)."""
    if not filtered(params):
        return sql
    body = sql.lstrip()
    if body[:5].upper() == "WITH ":
        return f"WITH {filter_ctes(params)},\n{body[5:]}"
    return f"WITH {filter_ctes(params)}\n{body}"


def kept(params: Params, charge: str | None = None, intent: str | None = None,
         invoice: str | None = None) -> str:
    """`AND ...` keeping rows whose charge (or payment intent, or invoice) the filters keep."""
    if not filtered(params):
        return ""
    tests = []
    if charge:
        tests.append(f"{charge} IN (SELECT id FROM kept_charges)")
    if intent:
        tests.append(f"{intent} IN (SELECT payment_intent_id FROM kept_charges)")
    if invoice:
        tests.append(f"{invoice} IN (SELECT id FROM kept_invoices)")
    return f" AND ({' OR '.join(tests)})"


def kept_source(params: Params) -> str:
    """`AND ...` for balance transactions: those of kept charges and of their refunds and disputes."""
    if not filtered(params):
        return ""
    of_kept = "(SELECT id FROM kept_charges)"
    return (f" AND (source_id IN {of_kept}"
            f" OR source_id IN (SELECT id FROM refunds WHERE charge_id IN {of_kept})"
            f" OR source_id IN (SELECT id FROM disputes WHERE charge_id IN {of_kept}))")
