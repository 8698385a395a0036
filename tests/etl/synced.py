"""Run a sync in this process against a served account, and read back what it stored."""
import duckdb

from etl.client import StripeHTTP
from etl.sync import run_sync
from fakestripe import DEFAULT_API_KEY
from tests.etl import sync_account

# Tables compared between two databases: every Stripe object and child table.
DATA_TABLES = sync_account.TABLES + ["subscription_items", "invoice_lines", "invoice_line_taxes",
                                      "subscription_schedule_phase_items"]


def sync(base, db, **kwargs):
    client = StripeHTTP(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01)
    return run_sync(str(db), client=client, **kwargs)


def rows(db, table):
    """A table's content minus `synced_at` (when, not what), in a stable order."""
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "synced_at"]
        select = ", ".join(f'"{c}"' for c in columns)
        return con.execute(f"SELECT {select} FROM {table} ORDER BY ALL").fetchall()


def query(db, sql, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
