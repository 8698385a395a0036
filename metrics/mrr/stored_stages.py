"""The MRR chain's stages as stored by `metrics.mrr.refresh_stages`, and how readers find them.

They live in a file of their own next to the published database,
`<db>.mrr-stages.duckdb` (the sidecar), which only metrics write: the sync and
the updater publish the data without waiting for them (etl never imports
metrics). A reader ATTACHes the sidecar read-only (`attach`) and uses it only
when it was computed from exactly the data it reads, by these rules: the
stored fingerprint must match the billing tables' stamps now and the source
of the modules that define MRR. Data published after the refresh, or a file
written by another version, fails the check and metrics compute from invoice
lines as before. Reading only ever SELECTs.

Each attached copy is named after the file's identity (`mrr_stages_<inode>_<mtime>`):
connections of one process to one database share DuckDB's catalog, so a copy
refreshed while the dashboard reads an older one is attached beside it, never
in its place.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
from pathlib import Path

import duckdb

from metrics.common import data_months, sql_list, sql_text
from metrics.params import Params

PREFIX = "mrr_stages"  # attached stage databases are named PREFIX...
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


def sidecar_path(db_path: str) -> str:
    return f"{db_path}.mrr-stages.duckdb"


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


@dataclasses.dataclass(frozen=True)
class Stored:
    """Stages that match the database: where they are attached, and their last month end."""
    database: str
    through: dt.date

    def table(self, name: str) -> str:
        return f"{self.database}.{name}"


def usable(con, stamps: tuple | None = None) -> Stored | None:
    """The attached stages that match this database now, if any."""
    names = [row[0] for row in con.execute(
        "SELECT database_name FROM duckdb_databases() WHERE starts_with(database_name, ?) "
        "ORDER BY database_name DESC", [PREFIX]).fetchall()]
    wanted = None
    for name in names:
        found = _stored_in(con, name)
        if found is None:
            continue
        if wanted is None:
            wanted = fingerprint(stamps if stamps is not None else billing_stamps(con))
        if found[0] == wanted:
            return Stored(name, found[1])
    return None


def _stored_in(con, database: str) -> tuple[str, dt.date] | None:
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
                         [database, META]).fetchall()[0][0]
    if not exists:
        return None
    rows = con.execute(f'SELECT fingerprint, through FROM "{database}".{META}').fetchall()
    if len(rows) != 1 or rows[0][1] is None:
        return None
    return rows[0]


def stored_through(con, stamps: tuple | None = None) -> dt.date | None:
    """The last month end stored, when attached stages match this database now."""
    stored = usable(con, stamps)
    return stored.through if stored else None


def attach_current(con, db_path: str) -> bool:
    """`attach`, and True only when the stages also reach the data's last month: a
    sync in a new month may change no billing row (so the fingerprint still
    matches) yet move the range a month on, and stages a month short would send
    every read back to the slow path."""
    if not attach(con, db_path):
        return False
    span, stored = data_months(con), usable(con)
    return span is None or (stored is not None and stored.through == span[1])


def attach(con, db_path: str) -> bool:
    """ATTACH the database's sidecar read-only when it matches what `con` reads;
    True when matching stages are attached (now or already)."""
    side = sidecar_path(db_path)
    try:
        st = os.stat(side)
    except FileNotFoundError:
        return False
    name = f"{PREFIX}_{st.st_ino}_{st.st_mtime_ns}"
    attached = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?",
                           [name]).fetchall()[0][0]
    if not attached:
        try:
            con.execute(f"ATTACH {sql_text(side)} AS {name} (READ_ONLY)")
        except duckdb.Error as error:
            if "already exists" not in str(error):  # another thread of this process was first
                return False  # unreadable, or replaced meanwhile: metrics compute instead
    found = _stored_in(con, name)
    if found is None or found[0] != fingerprint(billing_stamps(con)):
        _detach(con, name)  # stale: never read, so not kept open
        return usable(con) is not None
    return True


def _detach(con, name: str) -> None:
    try:
        con.execute(f"DETACH DATABASE IF EXISTS {name}")
    except duckdb.Error:  # in use by another cursor: harmless, its fingerprint keeps it unread
        pass


def valued_source(params: Params, stored: Stored) -> str:
    """The stored valued lines with the filters `counted_lines_cte` applies (country,
    one customer), as a parenthesised query; plan and interval filters come later."""
    filters = ""
    if params.countries:
        filters += f" AND country IN {sql_list(params.countries)}"
    if params.extra.get("customer_id"):
        filters += f" AND customer_id = {sql_text(params.extra['customer_id'])}"
    return f"(SELECT {VALUED_COLUMNS} FROM {stored.table(VALUED)} WHERE true{filters})"


def valued_cte(con, params: Params) -> str | None:
    """`valued AS (...)` from the stored lines, or None when they are not usable."""
    stored = usable(con)
    if stored is None:
        return None
    return f"valued AS (SELECT * FROM {valued_source(params, stored)})"


def breakdown_points(dimension: str, stored: Stored) -> str:
    """The stored customer month ends of one breakdown, as `customer_points` columns."""
    return (f"(SELECT customer_id, currency, dimension, period, mrr FROM {stored.table(BREAKDOWN_POINTS)} "
            f"WHERE breakdown = {sql_text(dimension)})")
