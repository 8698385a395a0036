"""The MRR chain's stages as stored in the database by `metrics.mrr.refresh_stages`.

A reader uses them only when they were computed from exactly the data it
reads, by these rules: the stored fingerprint must match the billing tables'
stamps now and the source of the modules that define MRR. Data written
after the refresh, or a database written by another version, fails the check
and metrics compute from invoice lines as before. Reading only ever SELECTs.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from metrics.common import sql_list, sql_text
from metrics.params import Params

META = "mrr_materialized"  # one row: fingerprint, through (last month end stored)
VALUED = "mrr_valued_lines"  # every counted line with its monthly value and dimensions
LINE_MONTHS = "mrr_line_months"  # value per subscription, plan, interval, month end
SUB_POINTS = "mrr_sub_points"  # unfiltered subscription MRR at each month end
CUSTOMER_POINTS = "mrr_customer_points"
BREAKDOWN_POINTS = "mrr_breakdown_points"  # unfiltered customer MRR by plan, interval, country
MOVEMENTS = "mrr_native_movements"
TOTALS = "mrr_native_totals"  # movement totals per month and currency, whole history
DAILY_CHANGES = "mrr_daily_changes"  # changes of MRR and customers per currency and day
TABLES = (VALUED, LINE_MONTHS, SUB_POINTS, CUSTOMER_POINTS, BREAKDOWN_POINTS, MOVEMENTS, TOTALS, DAILY_CHANGES)

# What later queries read from valued lines (points, filters, new-and-churned).
VALUED_COLUMNS = ("subscription_id, customer_id, currency, product_id, interval, country, "
                  "period_start, period_end, counts_until, monthly")

# The modules whose code decides the stored numbers: any edit invalidates old tables.
RULE_MODULES = ("../common.py", "chain_sql.py", "../movements.py", "by_day.py", "refresh_stages.py",
                "stored_stages.py")
RULES = hashlib.sha256(b"".join((Path(__file__).parent / name).read_bytes()
                                for name in RULE_MODULES)).hexdigest()


def billing_stamps(con) -> tuple:
    """Row counts, newest `synced_at` and deleted counts of the tables MRR reads.

    Every writer (sync, demo, write-back) upserts through the loader, which
    stamps `synced_at`, and deletions set `deleted`, so these change with any write.
    """
    parts = []
    for table in ("invoice_lines", "invoices", "subscriptions", "customers", "prices"):
        deleted = "0" if table == "invoice_lines" else "count(*) FILTER (deleted)"
        parts.append(f"(SELECT [count(*), epoch_us(max(synced_at)), {deleted}] FROM {table})")
    return tuple(tuple(part) for part in con.execute("SELECT " + ", ".join(parts)).fetchall()[0])


def fingerprint(stamps: tuple) -> str:
    return hashlib.sha256(f"{RULES} {stamps!r}".encode()).hexdigest()


def stored_through(con, stamps: tuple | None = None) -> dt.date | None:
    """The last month end stored, when the stored stages match this database now."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
                         "AND database_name = current_database() AND schema_name = current_schema()",
                         [META]).fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute(f"SELECT fingerprint, through FROM {META}").fetchall()
    if len(rows) != 1 or rows[0][1] is None:
        return None
    if rows[0][0] != fingerprint(stamps if stamps is not None else billing_stamps(con)):
        return None
    return rows[0][1]


def valued_source(params: Params) -> str:
    """The stored valued lines with the filters `counted_lines_cte` applies (country,
    one customer), as a parenthesised query; plan and interval filters come later."""
    filters = ""
    if params.countries:
        filters += f" AND country IN {sql_list(params.countries)}"
    if params.extra.get("customer_id"):
        filters += f" AND customer_id = {sql_text(params.extra['customer_id'])}"
    return f"(SELECT {VALUED_COLUMNS} FROM {VALUED} WHERE true{filters})"


def valued_cte(con, params: Params) -> str | None:
    """`valued AS (...)` from the stored lines, or None when they are not usable."""
    if stored_through(con) is None:
        return None
    return f"valued AS (SELECT * FROM {valued_source(params)})"


def breakdown_points(dimension: str) -> str:
    """The stored customer month ends of one breakdown, as `customer_points` columns."""
    return (f"(SELECT customer_id, currency, dimension, period, mrr FROM {BREAKDOWN_POINTS} "
            f"WHERE breakdown = {sql_text(dimension)})")
