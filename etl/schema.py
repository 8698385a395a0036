"""The DuckDB tables Tally keeps, and how a Stripe object becomes a row.

One table per Stripe object type, named after the object, plural. Every table
has `id`, the typed columns metrics use, and the bookkeeping columns
`livemode`, `deleted`, `api_version`, `synced_at` and `raw` (the object's JSON
exactly as Stripe sent it).

Each typed column is read by a small function (etl/stripe_fields.py) that
knows both the current API shape and the older ones, so both load into the
same columns. Money is integer minor units; timestamps are UTC `TIMESTAMP`s.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from etl.stripe_fields import (
    CREATED,
    CURRENCY,
    ID,
    Column,
    charge_invoice,
    col,
    credited,
    first,
    first_discount_coupon,
    flag,
    invoice_paid,
    invoice_tax,
    line_kind,
    line_price_field,
    line_proration,
    line_subscription,
    money,
    path,
    price_type,
    recurring,
    ref,
    subscription_item_period,
    tax_amount,
    tax_inclusive_amount,
    total,
    ts,
)
from etl.stripe_version import API_VERSION  # noqa: F401 - the shape we request; etl modules import it from here


@dataclass(frozen=True)
class Table:
    name: str
    object: str  # Stripe's `object` value (plural table of it)
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns] + BOOKKEEPING_NAMES


BOOKKEEPING = (
    ("livemode", "BOOLEAN"),
    ("deleted", "BOOLEAN"),
    ("api_version", "VARCHAR"),
    ("synced_at", "TIMESTAMP"),
    # zstd, not DuckDB's default analysis of every method: the raw JSON is
    # most of the file, and zstd makes it a quarter the size in half the time.
    ("raw", "JSON USING COMPRESSION zstd"),
)
BOOKKEEPING_NAMES = [name for name, _ in BOOKKEEPING]


# --- tables ---------------------------------------------------------------

TABLES: dict[str, Table] = {t.name: t for t in [
    Table("customers", "customer", ("id",), (
        ID, CREATED, col("email", "VARCHAR"), col("name", "VARCHAR"),
        col("country", "VARCHAR", path("address", "country")), CURRENCY,
        flag("delinquent"),
    )),
    Table("products", "product", ("id",), (
        ID, CREATED, col("name", "VARCHAR"), flag("active"),
    )),
    Table("prices", "price", ("id",), (
        ID, CREATED, col("product_id", "VARCHAR", ref("product")), CURRENCY,
        money("unit_amount", first(path("unit_amount"), path("amount"))),
        col("type", "VARCHAR", price_type),
        col("interval", "VARCHAR", recurring("interval")),
        col("interval_count", "BIGINT", recurring("interval_count")),
        col("usage_type", "VARCHAR", recurring("usage_type")),
        col("billing_scheme", "VARCHAR"), col("tax_behavior", "VARCHAR"),
        col("nickname", "VARCHAR"), flag("active"),
    )),
    Table("coupons", "coupon", ("id",), (
        ID, CREATED, col("name", "VARCHAR"), col("percent_off", "DOUBLE"),
        money("amount_off"), CURRENCY, col("duration", "VARCHAR"),
        col("duration_in_months", "BIGINT"), flag("valid"),
    )),
    Table("subscriptions", "subscription", ("id",), (
        ID, CREATED, col("customer_id", "VARCHAR", ref("customer")),
        col("status", "VARCHAR"), CURRENCY, ts("start_date"),
        ts("current_period_start", subscription_item_period("current_period_start")),
        ts("current_period_end", subscription_item_period("current_period_end")),
        ts("cancel_at"), flag("cancel_at_period_end"), ts("canceled_at"),
        ts("ended_at"), ts("trial_start"), ts("trial_end"),
        col("collection_method", "VARCHAR"),
        col("coupon_id", "VARCHAR", first_discount_coupon),
    )),
    Table("subscription_items", "subscription_item", ("id",), (
        ID, CREATED, col("subscription_id", "VARCHAR", path("subscription")),
        col("price_id", "VARCHAR", first(ref("price"), ref("plan"))),
        col("quantity", "BIGINT"),
        ts("current_period_start"), ts("current_period_end"),
    )),
    # Changes a subscription is set to make at a date (etl/load.py keeps each
    # phase's items in subscription_schedule_phase_items).
    Table("subscription_schedules", "subscription_schedule", ("id",), (
        ID, CREATED, col("customer_id", "VARCHAR", ref("customer")),
        col("subscription_id", "VARCHAR", ref("subscription")),
        col("status", "VARCHAR"),
        ts("current_phase_start", path("current_phase", "start_date")),
        ts("current_phase_end", path("current_phase", "end_date")),
        # `renewal_behavior` before API version 2019-10-17
        col("end_behavior", "VARCHAR", first(path("end_behavior"), path("renewal_behavior"))),
        ts("canceled_at"), ts("completed_at"), ts("released_at"),
        col("released_subscription_id", "VARCHAR", ref("released_subscription")),
    )),
    Table("invoices", "invoice", ("id",), (
        ID, CREATED, col("customer_id", "VARCHAR", ref("customer")),
        col("subscription_id", "VARCHAR", first(
            ref("parent", "subscription_details", "subscription"), ref("subscription"))),
        col("number", "VARCHAR"), col("customer_email", "VARCHAR"),
        col("status", "VARCHAR"), col("billing_reason", "VARCHAR"), CURRENCY,
        money("amount_due"), money("amount_paid"), money("amount_remaining"),
        money("subtotal"), money("total"), money("tax", invoice_tax),
        col("attempt_count", "BIGINT"), flag("attempted"), flag("paid", invoice_paid),
        ts("period_start"), ts("period_end"),
        ts("finalized_at", path("status_transitions", "finalized_at")),
        ts("paid_at", path("status_transitions", "paid_at")),
        ts("voided_at", path("status_transitions", "voided_at")),
        ts("marked_uncollectible_at", path("status_transitions", "marked_uncollectible_at")),
        col("charge_id", "VARCHAR", ref("charge")),
        col("payment_intent_id", "VARCHAR", ref("payment_intent")),
    )),
    Table("invoice_lines", "line_item", ("invoice_id", "id"), (
        ID, col("invoice_id", "VARCHAR", path("invoice")),
        col("subscription_id", "VARCHAR", line_subscription),
        col("subscription_item_id", "VARCHAR", first(
            path("parent", "subscription_item_details", "subscription_item"),
            ref("subscription_item"))),
        col("credited_invoice_id", "VARCHAR", credited("invoice")),
        col("credited_line_id", "VARCHAR", credited("invoice_line_items")),
        col("kind", "VARCHAR", line_kind),
        col("price_id", "VARCHAR", first(
            path("pricing", "price_details", "price"), ref("price"), ref("plan"))),
        col("product_id", "VARCHAR", first(
            path("pricing", "price_details", "product"), ref("price", "product"),
            ref("plan", "product"))),
        # Embedded price facts, present only in older shapes; otherwise join prices.
        col("price_interval", "VARCHAR", line_price_field("interval")),
        col("price_interval_count", "BIGINT", line_price_field("interval_count")),
        col("price_usage_type", "VARCHAR", line_price_field("usage_type")),
        money("amount"), CURRENCY, col("quantity", "BIGINT"), flag("proration", line_proration),
        money("discount_amount", total("discount_amounts")),
        money("tax_amount", tax_amount),
        money("inclusive_tax_amount", tax_inclusive_amount),
        ts("period_start", path("period", "start")), ts("period_end", path("period", "end")),
        col("description", "VARCHAR"),
    )),
    Table("invoice_payments", "invoice_payment", ("id",), (
        ID, CREATED, col("invoice_id", "VARCHAR", ref("invoice")),
        money("amount_paid"), money("amount_requested"), CURRENCY,
        col("status", "VARCHAR"), flag("is_default"),
        col("payment_type", "VARCHAR", path("payment", "type")),
        col("payment_intent_id", "VARCHAR", ref("payment", "payment_intent")),
        col("charge_id", "VARCHAR", ref("payment", "charge")),
        ts("paid_at", path("status_transitions", "paid_at")),
    )),
    Table("charges", "charge", ("id",), (
        ID, CREATED, col("customer_id", "VARCHAR", ref("customer")),
        col("invoice_id", "VARCHAR", charge_invoice),
        col("payment_intent_id", "VARCHAR", ref("payment_intent")),
        money("amount"), money("amount_captured"), money("amount_refunded"), CURRENCY,
        col("status", "VARCHAR"), flag("paid"), flag("refunded"), flag("captured"),
        flag("disputed"), col("failure_code", "VARCHAR"), col("failure_message", "VARCHAR"),
        col("outcome_type", "VARCHAR", path("outcome", "type")),
        col("outcome_reason", "VARCHAR", path("outcome", "reason")),
        col("risk_level", "VARCHAR", path("outcome", "risk_level")),
        col("risk_score", "BIGINT", path("outcome", "risk_score")),
        col("network_status", "VARCHAR", path("outcome", "network_status")),
        col("balance_transaction_id", "VARCHAR", ref("balance_transaction")),
        col("payment_method_type", "VARCHAR", path("payment_method_details", "type")),
        col("card_country", "VARCHAR", path("payment_method_details", "card", "country")),
        col("billing_country", "VARCHAR", path("billing_details", "address", "country")),
    )),
    Table("payment_intents", "payment_intent", ("id",), (
        ID, CREATED, col("customer_id", "VARCHAR", ref("customer")),
        money("amount"), money("amount_received"), CURRENCY, col("status", "VARCHAR"),
        col("latest_charge_id", "VARCHAR", ref("latest_charge")),
        col("invoice_id", "VARCHAR", ref("invoice")),
        col("cancellation_reason", "VARCHAR"),
        col("last_payment_error_code", "VARCHAR", path("last_payment_error", "code")),
    )),
    Table("refunds", "refund", ("id",), (
        ID, CREATED, col("charge_id", "VARCHAR", ref("charge")),
        col("payment_intent_id", "VARCHAR", ref("payment_intent")),
        money("amount"), CURRENCY, col("status", "VARCHAR"), col("reason", "VARCHAR"),
        col("balance_transaction_id", "VARCHAR", ref("balance_transaction")),
    )),
    Table("disputes", "dispute", ("id",), (
        ID, CREATED, col("charge_id", "VARCHAR", ref("charge")),
        col("payment_intent_id", "VARCHAR", ref("payment_intent")),
        money("amount"), CURRENCY, col("status", "VARCHAR"), col("reason", "VARCHAR"),
        flag("is_charge_refundable"),
    )),
    Table("balance_transactions", "balance_transaction", ("id",), (
        ID, CREATED, money("amount"), money("fee"), money("net"), CURRENCY,
        col("type", "VARCHAR"), col("status", "VARCHAR"),
        col("reporting_category", "VARCHAR"), col("source_id", "VARCHAR", ref("source")),
        ts("available_on"),
    )),
    Table("tax_rates", "tax_rate", ("id",), (
        ID, CREATED, col("display_name", "VARCHAR"), col("jurisdiction", "VARCHAR"),
        col("country", "VARCHAR"), col("state", "VARCHAR"), col("percentage", "DOUBLE"),
        flag("inclusive"), col("tax_type", "VARCHAR"), flag("active"),
    )),
    Table("credit_notes", "credit_note", ("id",), (
        ID, CREATED, col("invoice_id", "VARCHAR", ref("invoice")),
        col("customer_id", "VARCHAR", ref("customer")), col("number", "VARCHAR"),
        money("amount"), money("subtotal"), money("total"), CURRENCY,
        col("status", "VARCHAR"), col("reason", "VARCHAR"), col("type", "VARCHAR"),
    )),
    Table("early_fraud_warnings", "radar.early_fraud_warning", ("id",), (
        ID, CREATED, col("charge_id", "VARCHAR", ref("charge")),
        col("payment_intent_id", "VARCHAR", ref("payment_intent")),
        col("fraud_type", "VARCHAR"), flag("actionable"),
    )),
    Table("events", "event", ("id",), (
        ID, CREATED, col("type", "VARCHAR"),
        col("object_id", "VARCHAR", path("data", "object", "id")),
        col("object_type", "VARCHAR", path("data", "object", "object")),
        col("request_id", "VARCHAR", ref("request")),  # old events: a plain id
    )),
]}

# Invoice line taxes, one row per tax on a line: the tax metric groups by rate.
LINE_TAXES_DDL = """
CREATE TABLE IF NOT EXISTS invoice_line_taxes (
    invoice_id VARCHAR, line_id VARCHAR, tax_rate_id VARCHAR,
    amount BIGINT, taxable_amount BIGINT, inclusive BOOLEAN, currency VARCHAR
)"""

# The items of each subscription schedule phase, one row per item: a phase's
# prices and quantities (`plans` before API version 2020-08-27), the coupons of
# the phase and of the item (older versions: the phase's `coupon`), and the
# item's tax rates (else the phase's default ones).
SCHEDULE_PHASE_ITEMS_DDL = """
CREATE TABLE IF NOT EXISTS subscription_schedule_phase_items (
    schedule_id VARCHAR, phase INTEGER, start_date TIMESTAMP, end_date TIMESTAMP,
    currency VARCHAR, price_id VARCHAR, quantity BIGINT, coupon_ids VARCHAR[],
    tax_rate_ids VARCHAR[]
)"""

# Tables Tally keeps beside Stripe's objects.
SUPPORT_DDL = [
    LINE_TAXES_DDL,
    SCHEDULE_PHASE_ITEMS_DDL,
    # Progress of each object type; written in the same transaction as its data.
    """CREATE TABLE IF NOT EXISTS sync_state (
        object_type VARCHAR PRIMARY KEY, cursor VARCHAR, window_start BIGINT,
        window_end BIGINT, backfill_done BOOLEAN, last_created BIGINT,
        last_event_created BIGINT, last_success TIMESTAMP, detail JSON)""",
    """CREATE TABLE IF NOT EXISTS sync_runs (
        run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
        source VARCHAR, mode VARCHAR, status VARCHAR, message VARCHAR, stats JSON)""",
    # One row per subscription per day a sync ran: status history Stripe forgets.
    """CREATE TABLE IF NOT EXISTS subscription_snapshots (
        snapshot_date DATE, subscription_id VARCHAR, customer_id VARCHAR,
        status VARCHAR, cancel_at_period_end BOOLEAN)""",
    # Where the data came from: demo / test / live, which account.
    """CREATE TABLE IF NOT EXISTS tally_meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    # Prices and products that subscriptions or invoices name but Stripe answers
    # 404 for (etl/referenced.py): the metrics report the lines that use them.
    *[f"""CREATE TABLE IF NOT EXISTS missing_{kind} (
        id VARCHAR PRIMARY KEY, http_status INTEGER, message VARCHAR,
        first_seen_at TIMESTAMP, last_tried_at TIMESTAMP)""" for kind in ("prices", "products")],
]


def table_for_object(object_name: str) -> Table | None:
    for table in TABLES.values():
        if table.object == object_name:
            return table
    return None


def is_current(con) -> bool:
    """Whether a database has every table and typed column this Tally reads
    (a file written by an older Tally may lack some until a writer opens it)."""
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                           "WHERE database_name = current_database() "
                           "AND schema_name = current_schema()").fetchall())
    tables = {table for table, _ in have}
    needed = {(t.name, c.name) for t in TABLES.values() for c in t.columns}
    support = {m.group(1) for ddl in SUPPORT_DDL
               if (m := re.search(r"CREATE TABLE IF NOT EXISTS (\w+)", ddl))}
    return needed <= have and support <= tables


def create_tables(con) -> None:
    """Create every table if missing (idempotent); add typed columns a table
    written by an older Tally lacks."""
    for table in TABLES.values():
        columns = [f'"{c.name}" {c.sql_type}' for c in table.columns]
        columns += [f'"{name}" {sql_type}' for name, sql_type in BOOKKEEPING]
        con.execute(f'CREATE TABLE IF NOT EXISTS {table.name} ({", ".join(columns)})')
    _add_new_columns(con)
    for ddl in SUPPORT_DDL:
        con.execute(ddl)


# Columns added after release, filled from each row's raw JSON when added.
_CREDITED = "coalesce(raw->'$.parent.subscription_item_details.proration_details.credited_items', " \
            "raw->'$.parent.invoice_item_details.proration_details.credited_items', " \
            "raw->'$.proration_details.credited_items')"
NEW_COLUMNS = {
    ("invoice_lines", "credited_invoice_id"): f"{_CREDITED}->>'$.invoice'",
    ("invoice_lines", "credited_line_id"): f"{_CREDITED}->>'$.invoice_line_items[0]'",
}


def _add_new_columns(con) -> None:
    have = set(con.execute("SELECT table_name, column_name FROM duckdb_columns() "
                           "WHERE database_name = current_database() "
                           "AND schema_name = current_schema()").fetchall())
    for (table, column), fill in NEW_COLUMNS.items():
        if (table, column) in have:
            continue
        sql_type = next(c.sql_type for c in TABLES[table].columns if c.name == column)
        con.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')
        con.execute(f'UPDATE {table} SET "{column}" = {fill}')


