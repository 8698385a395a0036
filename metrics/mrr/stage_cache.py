"""The MRR chain's expensive middle, kept per database contents.

Valued lines and subscription MRR at each month end take most of an MRR
metric's time and are the same for every metric of a dashboard page (and for
the CLI's one call, harmlessly). They are kept as Arrow tables per (database
file, a fingerprint of its billing tables, filters), so MRR, movements, churn,
LTV, cohorts and the forecast compute them once per published version.
When stored stages (metrics/mrr/refresh_stages.py) that match the database are
attached, an unfiltered entry just names the stored tables, and filtered entries
start from the stored valued lines: a new process does not recompute them.
In-memory databases (tests) are never cached: they have no stable identity.
"""
from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

import pandas as pd

from metrics.common import data_months
from metrics.mrr import stored_stages
from metrics.mrr.chain_sql import (
    counted_lines_cte,
    customer_points_cte,
    native_movements_ctes,
    sub_points_ctes,
    sub_points_from_line_months,
    valued_lines_cte,
)
from metrics.mrr.stored_stages import VALUED_COLUMNS, billing_stamps
from metrics.params import Params

MAX_ENTRIES = 3  # a computed entry is ~350 MB at 100,000 customers x 36 months
_lock = threading.Lock()
_entries: OrderedDict = OrderedDict()


def database_key(con) -> tuple | None:
    """(file, billing stamps) or None for an in-memory database."""
    path = con.execute("SELECT path FROM duckdb_databases() "
                       "WHERE database_name = current_database()").fetchall()[0][0]
    if not path or path == ":memory:":
        return None
    return path, billing_stamps(con)


def _compute(cur, params: Params, last: dt.date, dimension: str | None,
             stored: stored_stages.Stored | None) -> dict:
    """Each stage once, as Arrow: valued lines, subscription and customer month
    ends; from the stored lines and line months when the database has them."""
    if stored is not None:
        tables = {"valued": stored_stages.valued_source(params, stored)}
    else:
        tables = {"valued": cur.sql(
            "WITH " + counted_lines_cte(params, dimension == "country") + "," + valued_lines_cte()
            + f" SELECT {VALUED_COLUMNS} FROM valued").to_arrow_table()}
    if stored is not None and stored.through == last:
        tables["sub_points"] = cur.sql(sub_points_from_line_months(
            params, stored.table(stored_stages.LINE_MONTHS), dimension)).to_arrow_table()
    else:
        tables["sub_points"] = cur.sql(
            f"WITH valued AS (SELECT * FROM {stage(cur, tables, 'valued')}),"
            + sub_points_ctes(params, "month", None, last, dimension)
            + " SELECT subscription_id, dimension, period, customer_id, currency, mrr FROM sub_points"
        ).to_arrow_table()
    tables["customer_points"] = cur.sql(
        f"WITH sub_points AS (SELECT * FROM {stage(cur, tables, 'sub_points')}), "
        + customer_points_cte() + " SELECT * FROM customer_points").to_arrow_table()
    return tables


def _stored_entry(cur, stored: stored_stages.Stored) -> dict:
    """The stored unfiltered stages, read in place (nothing is copied into memory)."""
    totals = cur.execute(f"SELECT * FROM {stored.table(stored_stages.TOTALS)} ORDER BY month, currency").df()
    totals["month"] = pd.to_datetime(totals["month"])
    return {"valued": stored.table(stored_stages.VALUED), "sub_points": stored.table(stored_stages.SUB_POINTS),
            "customer_points": stored.table(stored_stages.CUSTOMER_POINTS),
            "native_movements": stored.table(stored_stages.MOVEMENTS), "totals": totals}


def _stored_breakdown(params: Params, dimension: str, stored: stored_stages.Stored) -> dict:
    """An unfiltered breakdown: stored customer month ends; subscription month
    ends are summed from the stored line months only if a query reads them."""
    line_months = stored.table(stored_stages.LINE_MONTHS)
    return {"valued": stored.table(stored_stages.VALUED),
            "sub_points": f"({sub_points_from_line_months(params, line_months, dimension)})",
            "customer_points": stored_stages.breakdown_points(dimension, stored)}


def stage(cur, tables: dict, name: str) -> str:
    """What SQL reads for stage `name` of an entry: a stored table or query as it
    is, an Arrow table registered on `cur` as `_tally_<name>`."""
    source = tables[name]
    if isinstance(source, str):
        return source
    cur.register(f"_tally_{name}", source)
    return f"_tally_{name}"


def _add_movements(cur, tables: dict) -> None:
    """Native customer movements, computed the first time a metric needs them."""
    tables["native_movements"] = cur.sql(
        f"WITH customer_points AS (SELECT * FROM {stage(cur, tables, 'customer_points')})"
        + native_movements_ctes(tables["through"]) + " SELECT * FROM native_movements"
    ).to_arrow_table()


def monthly_tables(cur, params: Params, last: dt.date, dimension: str | None,
                   movements: bool = False, fill: bool = True):
    """{stage name: Arrow table or stored table, "through": last month computed},
    or None when the database is not cacheable. Callers may add derived entries
    (movement totals).

    Unfiltered month ends come from the stored stages when they match the
    database; filtered ones are computed from the stored valued lines if usable.
    """
    database = database_key(cur)
    if database is None:
        return None
    span = data_months(cur)
    through = max(last, span[1]) if span else last
    stored = stored_stages.usable(cur, database[1])
    # An entry may name the attached stages' tables: it is for connections that have them attached.
    key = (database, stored, params.plans, params.intervals, params.countries, params.where, dimension, through)
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
    if stored is not None and stored.through == through and not params.filtered:  # the whole history
        if dimension is None:
            tables = _stored_entry(cur, stored)
        else:
            tables = _stored_breakdown(params, dimension, stored)
    else:
        tables = _compute(cur, params, through, dimension, stored)
    tables["through"] = through
    if movements and "native_movements" not in tables:
        _add_movements(cur, tables)
    with _lock:
        _entries[key] = tables
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return tables


def clear() -> None:
    with _lock:
        _entries.clear()
