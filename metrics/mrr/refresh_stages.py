"""Store the MRR chain's expensive stages in the database when it is written.

Valued lines and month-end MRR take seconds to compute from invoice lines at
100,000 customers, and every new dashboard process would pay that. So every
writer refreshes them right before publishing (`etl.store.publish` calls
`refresh`), and readers use them while they match the data (metrics/stored_stages.py).
Stored: every counted line with its monthly value and dimension columns (so
filters stay WHERE clauses), their sums per subscription, plan, interval and
month end (any filter's month ends are sums of those), and for the unfiltered
view the subscription and customer month ends (also by plan, interval and
country), customer movements, monthly movement totals and daily changes.
A rebuild, not an update: at 100,000 customers it takes a few CPU seconds.
"""
from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager

import duckdb

from metrics.common import data_months, sql_text
from metrics.movements import native_totals_sql
from metrics.mrr import stored_stages
from metrics.mrr.by_day import line_changes_ctes
from metrics.mrr.chain_sql import (
    DIMENSIONS,
    counted_lines_cte,
    customer_points_cte,
    line_months_sql,
    native_movements_ctes,
    sub_points_from_line_months,
    valued_lines_cte,
)
from metrics.mrr.points import full_history_first
from metrics.params import Params

log = logging.getLogger("tally.metrics")
# Daily changes are stored for every day a line starts or stops counting.
WHOLE_HISTORY = (dt.date(1970, 1, 1), dt.date(2999, 12, 31))


def refresh(con) -> None:
    """Rebuild the stored stages from the data as it is now, in one transaction;
    nothing to do when they already match it (e.g. after a refund: cash tables only)."""
    span = data_months(con)
    if span is not None and stored_stages.stored_through(con) == span[1]:
        return
    with _room_for_stages(con):
        _rebuild(con, span)


def _rebuild(con, span) -> None:
    con.begin()
    try:
        con.execute(f"CREATE OR REPLACE TABLE {stored_stages.META} (fingerprint VARCHAR, through DATE)")
        if span is None:  # no billing data: nothing worth storing
            for table in stored_stages.TABLES:
                con.execute(f"DROP TABLE IF EXISTS {table}")
        else:
            _store_stages(con, span[1])
            con.execute(f"INSERT INTO {stored_stages.META} VALUES (?, ?)",
                        [stored_stages.fingerprint(stored_stages.billing_stamps(con)), span[1]])
        con.commit()
    except duckdb.Error as exc:
        # Publishing the data matters more than speed: without a matching
        # fingerprint the old stages are never read, metrics compute instead.
        con.rollback()
        log.warning("could not store the MRR stages (%s); metrics will compute them",
                    str(exc).splitlines()[0])
    except BaseException:
        con.rollback()
        raise


@contextmanager
def _room_for_stages(con):
    """At least STAGES_MEMORY for DuckDB while the stages are built.

    Writers keep DuckDB small while they stream (the sync: 64 MB), but the
    stages' joins and window functions do not all spill to disk. And DuckDB
    estimates the counted lines far too low, so it would build its hash
    tables on the invoice lines rather than on the small tables they join
    (out of memory at 100,000 customers under 512 MB): keep its build sides.
    """
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    if _bytes(limit) < _bytes(STAGES_MEMORY):
        con.execute(f"SET memory_limit = '{STAGES_MEMORY}'")
    con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    try:
        yield
    finally:
        con.execute("RESET disabled_optimizers")
        try:
            con.execute(f"SET memory_limit = '{limit}'")
        except duckdb.Error:  # "no limit" reads back as a size SET refuses
            con.execute("RESET memory_limit")


STAGES_MEMORY = "1.0 GiB"
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


def _bytes(setting: str) -> float:
    """'91.5 MiB' (DuckDB's own spelling of memory_limit) in bytes."""
    number, unit = setting.split()
    return float(number) * _UNITS.get(unit, 1)


def _store_stages(con, through) -> None:
    """Each stage from the one before, by the same SQL the metrics run."""
    everyone = Params()
    stages = [
        (stored_stages.VALUED, "WITH " + counted_lines_cte(everyone, with_country=True) + ","
         + valued_lines_cte() + f" SELECT {stored_stages.VALUED_COLUMNS} FROM valued"),
        (stored_stages.LINE_MONTHS, f"WITH valued AS (SELECT * FROM {stored_stages.VALUED}),"
         + line_months_sql(through)),
        (stored_stages.SUB_POINTS, sub_points_from_line_months(everyone, stored_stages.LINE_MONTHS, None)),
        (stored_stages.CUSTOMER_POINTS, f"WITH sub_points AS (SELECT * FROM {stored_stages.SUB_POINTS}), "
         + customer_points_cte() + " SELECT * FROM customer_points"),
        (stored_stages.BREAKDOWN_POINTS, _breakdowns_sql()),
        (stored_stages.MOVEMENTS, f"WITH customer_points AS (SELECT * FROM {stored_stages.CUSTOMER_POINTS})"
         + native_movements_ctes(through) + " SELECT * FROM native_movements"),
        (stored_stages.TOTALS, native_totals_sql(_stored_chain(), full_history_first(con), through)),
        (stored_stages.DAILY_CHANGES, f"WITH valued AS (SELECT * FROM {stored_stages.VALUED})"
         + line_changes_ctes(everyone, "day", *WHOLE_HISTORY) + " SELECT * FROM changes"),
    ]
    for table, sql in stages:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}")


def _breakdowns_sql() -> str:
    """Customer month ends by plan and by interval from the line months; by
    country they are the customer's month ends (a customer has one country)."""
    parts = [f"(WITH sub_points AS ({sub_points_from_line_months(Params(), stored_stages.LINE_MONTHS, d)}), "
             + customer_points_cte() + f" SELECT {sql_text(d)} AS breakdown, * FROM customer_points)"
             for d in DIMENSIONS if d != "country"]
    parts.append(f"""(SELECT 'country' AS breakdown, cp.customer_id, cp.currency,
        cu.country AS dimension, cp.period, cp.mrr
    FROM {stored_stages.CUSTOMER_POINTS} cp LEFT JOIN customers cu ON cu.id = cp.customer_id)""")
    return " UNION ALL ".join(parts)


def _stored_chain() -> str:
    return (f"WITH valued AS (SELECT * FROM {stored_stages.VALUED}),\n"
            f"sub_points AS (SELECT * FROM {stored_stages.SUB_POINTS}),\n"
            f"customer_points AS (SELECT * FROM {stored_stages.CUSTOMER_POINTS}),\n"
            f"native_movements AS (SELECT * FROM {stored_stages.MOVEMENTS})")
