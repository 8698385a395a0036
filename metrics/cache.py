"""The MRR chain's expensive middle, kept per database contents.

Valued lines and subscription MRR at each month end take most of an MRR
metric's time and are the same for every metric of a dashboard page (and for
the CLI's one call, harmlessly). They are kept as Arrow tables per (database
file, a fingerprint of its billing tables, filters), so MRR, movements, churn,
LTV, cohorts and the forecast compute them once per published version.
In-memory databases (tests) are never cached: they have no stable identity.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

from metrics.common import data_months
from metrics.mrr_sql import (counted_lines_cte, customer_points_cte, native_movements_ctes,
                             sub_points_ctes, valued_lines_cte)
from metrics.params import Params

MAX_ENTRIES = 3  # an entry is ~350 MB at 100,000 customers x 36 months
# What later queries read from valued lines (points, filters, new-and-churned).
VALUED_COLUMNS = ("subscription_id, customer_id, currency, product_id, interval, country, "
                  "period_start, period_end, counts_until, monthly")
_lock = threading.Lock()
_entries: OrderedDict = OrderedDict()


def database_key(con) -> tuple | None:
    """(file, fingerprint) or None for an in-memory database.

    Every writer (sync, demo, write-back) upserts through the loader, which
    stamps `synced_at`, so row counts plus the newest stamp change with any write.
    """
    path = con.execute("SELECT path FROM duckdb_databases() "
                       "WHERE database_name = current_database()").fetchall()[0][0]
    if not path or path == ":memory:":
        return None
    stamps = con.execute("""
        SELECT (SELECT count(*) FROM invoice_lines), (SELECT max(synced_at) FROM invoice_lines),
               (SELECT count(*) FROM invoices), (SELECT max(synced_at) FROM invoices),
               (SELECT count(*) FROM subscriptions), (SELECT max(synced_at) FROM subscriptions),
               (SELECT count(*) FROM customers), (SELECT max(synced_at) FROM customers),
               (SELECT count(*) FROM prices), (SELECT max(synced_at) FROM prices)""").fetchall()[0]
    return path, stamps


def _compute(cur, params: Params, last: dt.date, dimension: str | None) -> dict:
    """Each stage once, as Arrow: valued lines, subscription and customer month ends."""
    tables = {"valued": cur.sql(
        "WITH " + counted_lines_cte(params, dimension == "country") + "," + valued_lines_cte()
        + f" SELECT {VALUED_COLUMNS} FROM valued").to_arrow_table()}
    stages = [
        ("sub_points", "WITH valued AS (SELECT * FROM _tally_new_valued),"
         + sub_points_ctes(params, "month", None, last, dimension)
         + " SELECT subscription_id, dimension, period, customer_id, currency, mrr FROM sub_points"),
        ("customer_points", "WITH sub_points AS (SELECT * FROM _tally_new_sub_points), "
         + customer_points_cte() + " SELECT * FROM customer_points"),
    ]
    registered = ["valued"]
    cur.register("_tally_new_valued", tables["valued"])
    try:
        for name, sql in stages:
            tables[name] = cur.sql(sql).to_arrow_table()
            cur.register(f"_tally_new_{name}", tables[name])
            registered.append(name)
    finally:
        for name in registered:
            cur.unregister(f"_tally_new_{name}")
    return tables


def _add_movements(cur, tables: dict) -> None:
    """Native customer movements, computed the first time a metric needs them."""
    cur.register("_tally_new_customer_points", tables["customer_points"])
    try:
        tables["native_movements"] = cur.sql(
            "WITH customer_points AS (SELECT * FROM _tally_new_customer_points)"
            + native_movements_ctes(tables["through"]) + " SELECT * FROM native_movements"
        ).to_arrow_table()
    finally:
        cur.unregister("_tally_new_customer_points")


def monthly_tables(cur, params: Params, last: dt.date, dimension: str | None,
                   movements: bool = False, fill: bool = True):
    """{stage name: Arrow table, "through": last month computed}, or None when the
    database is not cacheable. Callers may add derived entries (movement totals)."""
    database = database_key(cur)
    if database is None:
        return None
    span = data_months(cur)
    through = max(last, span[1]) if span else last
    key = (database, params.plans, params.intervals, params.countries, dimension, through)
    with _lock:
        tables = _entries.get(key)
        if tables is not None:
            _entries.move_to_end(key)
    if tables is not None:
        if movements and "native_movements" not in tables:
            _add_movements(cur, tables)
        return tables
    if params.extra.get("customer_id") or not fill:
        return None  # e.g. one customer's timeline: cheaper computed alone, and evicts nothing
    tables = _compute(cur, params, through, dimension)
    tables["through"] = through
    if movements:
        _add_movements(cur, tables)
    with _lock:
        _entries[key] = tables
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return tables


def clear() -> None:
    with _lock:
        _entries.clear()
