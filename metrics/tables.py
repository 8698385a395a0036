"""The stored tables as they are, for the Data & export page's table downloads.

Amounts stay as Stripe stores them (integer minor units beside a currency).
"""
from __future__ import annotations

import pandas as pd

from etl.schema import TABLES
from metrics.common import has_table, sql_text
from metrics.params import Params
from metrics.registry import metric

# Tables Tally keeps beside Stripe's objects that are worth a download (the user's
# exchange rates and marketing spend exist once one is saved).
SUPPORT_TABLES = ["invoice_line_taxes", "subscription_snapshots", "sync_runs", "fx_rates", "marketing_spend"]
EXPORT_TABLES = list(TABLES) + SUPPORT_TABLES


@metric("table_rows", "Every table the Data & export page downloads that holds rows, with their number")
def table_rows(con, params: Params) -> pd.DataFrame:
    counts = [(name, rows) for name in EXPORT_TABLES if (rows := _count(con, name))]
    return pd.DataFrame(counts, columns=["table", "rows"]).astype({"table": "object", "rows": "int64"})


def _count(con, name: str) -> int:
    return con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] if has_table(con, name) else 0


def table_columns(name: str) -> list[str]:
    """The typed columns and bookkeeping, without the raw JSON (large, and not tabular)."""
    if name in TABLES:
        return [c for c in TABLES[name].column_names if c != "raw"]
    return ["*"]


def read_table(con, name: str) -> pd.DataFrame:
    """A whole exportable table (empty when the database does not have it yet)."""
    if name not in EXPORT_TABLES:
        raise ValueError(f"{sql_text(name)} is not a table Tally exports")
    if not has_table(con, name):
        return pd.DataFrame()
    columns = ", ".join(c if c == "*" else f'"{c}"' for c in table_columns(name))
    return con.execute(f"SELECT {columns} FROM {name}").df()
