"""Store the MRR chain's expensive stages in a file of their own (the sidecar).

Valued lines and month-end MRR take seconds to compute from invoice lines at
100,000 customers, and every new dashboard process would pay that. So once a
database is published, `refresh(db_path)` reads it read-only and writes the
stages to `<db>.mrr-stages.duckdb` (metrics/mrr/stored_stages.py: readers
attach it while it matches the data). The dashboard does this in the
background when it sees a new published version (`refresh_in_background`), and
`python -m metrics refresh-stages` on demand; writers (sync, updater) never
wait for it, and etl never imports metrics.
Stored: every counted line with its monthly value and dimension columns (so
filters stay WHERE clauses), their sums per subscription, plan, interval and
month end (any filter's month ends are sums of those), and for the unfiltered
view the subscription and customer month ends (also by plan, interval and
country), customer movements, monthly movement totals and daily changes.
A rebuild, not an update: at 100,000 customers it takes a few CPU seconds.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
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
BUILDING = f"{stored_stages.PREFIX}_building"  # the new sidecar while it is written
IN_PLACE = f"{stored_stages.PREFIX}_in_memory"  # `refresh_attached`'s stages
DATA = "tally_published"  # the published database, as the builder attaches it


def refresh(db_path: str) -> bool:
    """Bring the database's sidecar up to its data; True when it was rebuilt.

    Built in `<sidecar>.tmp` and renamed over the sidecar, so a reader opens
    the old file or the new one, never half of one; a file lock keeps two
    processes from building at once (the second then finds it fresh)."""
    side = stored_stages.sidecar_path(db_path)
    if not os.path.exists(db_path):
        return False
    with open(f"{side}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        con = duckdb.connect()
        try:
            con.execute(f"SET temp_directory = {sql_text(side + '.spill')}")  # not the working directory
            con.execute(f"ATTACH {sql_text(db_path)} AS {DATA} (READ_ONLY)")
            con.execute(f"USE {DATA}")  # the chain's SQL names the data's tables unqualified
            if stored_stages.attach_current(con, db_path):
                return False
            span = data_months(con)
            tmp = f"{side}.tmp"
            for leftover in (tmp, f"{tmp}.wal"):
                if os.path.exists(leftover):
                    os.remove(leftover)
            con.execute(f"ATTACH {sql_text(tmp)} AS {BUILDING}")
            with _room_for_stages(con):
                built = _rebuild(con, span, BUILDING)
            con.execute(f"DETACH {BUILDING}")
        finally:
            con.close()
        if built:
            os.replace(tmp, side)
        return built


def refresh_attached(con) -> None:
    """Rebuild the stages of `con`'s own data in an in-memory database attached to
    it (a writer's view, e.g. tests); nothing to do when they already match it
    (e.g. after a refund: cash tables only)."""
    span = data_months(con)
    stored = stored_stages.usable(con)
    if span is not None and stored is not None and stored.through == span[1]:
        return
    attached = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?",
                           [IN_PLACE]).fetchall()[0][0]
    if not attached:
        con.execute(f"ATTACH ':memory:' AS {IN_PLACE}")
    with _room_for_stages(con):
        _rebuild(con, span, IN_PLACE)


_background: dict[str, threading.Thread] = {}
_background_lock = threading.Lock()


def refresh_in_background(db_path: str, done=None) -> threading.Thread | None:
    """`refresh` in a daemon thread, one at a time per database (single flight):
    while one runs, later calls return None and it checks again when done, so
    a publish during the build is not missed."""
    with _background_lock:
        running = _background.get(db_path)
        if running is not None and running.is_alive():
            running.again = True  # type: ignore[attr-defined]
            return None
        thread = threading.Thread(target=_refresh_until_fresh, args=(db_path, done),
                                  name="tally-mrr-stages", daemon=True)
        thread.again = False  # type: ignore[attr-defined]
        _background[db_path] = thread
    thread.start()
    return thread


def _refresh_until_fresh(db_path: str, done) -> None:
    me = threading.current_thread()
    while True:
        try:
            refresh(db_path)
        except (duckdb.Error, OSError) as error:  # e.g. not a Tally database: its pages say so
            log.warning("could not store the MRR stages of %s: %s", db_path, str(error).splitlines()[0])
        except Exception:  # noqa: BLE001 - without stages metrics compute: slower, still right
            log.warning("could not store the MRR stages of %s", db_path, exc_info=True)
        with _background_lock:
            if not getattr(me, "again", False):
                _background.pop(db_path, None)
                break
            me.again = False  # type: ignore[attr-defined]
    if done is not None:
        done()


def _rebuild(con, span, into: str) -> bool:
    """All stages in one transaction; True when they are stored."""
    con.begin()
    try:
        con.execute(f"CREATE OR REPLACE TABLE {into}.{stored_stages.META} (fingerprint VARCHAR, through DATE)")
        if span is None:  # no billing data: nothing worth storing
            for table in stored_stages.TABLES:
                con.execute(f"DROP TABLE IF EXISTS {into}.{table}")
        else:
            _store_stages(con, span[1], into)
            con.execute(f"INSERT INTO {into}.{stored_stages.META} VALUES (?, ?)",
                        [stored_stages.fingerprint(stored_stages.billing_stamps(con)), span[1]])
        con.commit()
        return True
    except duckdb.Error as exc:
        # Without a matching fingerprint old stages are never read: metrics compute instead.
        con.rollback()
        log.warning("could not store the MRR stages (%s); metrics will compute them",
                    str(exc).splitlines()[0])
        return False
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


def _store_stages(con, through, into: str) -> None:
    """Each stage from the one before, by the same SQL the metrics run."""
    everyone = Params()
    first = full_history_first(con)
    assert first is not None, "stored only when there is billing data"
    at = stored_stages.Stored(into, through).table
    ss = stored_stages
    stages = [
        (ss.VALUED, "WITH " + counted_lines_cte(everyone, with_country=True) + ","
         + valued_lines_cte() + f" SELECT {ss.VALUED_COLUMNS} FROM valued"),
        (ss.LINE_MONTHS, f"WITH valued AS (SELECT * FROM {at(ss.VALUED)})," + line_months_sql(through)),
        (ss.SUB_POINTS, sub_points_from_line_months(everyone, at(ss.LINE_MONTHS), None)),
        (ss.CUSTOMER_POINTS, f"WITH sub_points AS (SELECT * FROM {at(ss.SUB_POINTS)}), "
         + customer_points_cte() + " SELECT * FROM customer_points"),
        (ss.BREAKDOWN_POINTS, _breakdowns_sql(at)),
        (ss.MOVEMENTS, f"WITH customer_points AS (SELECT * FROM {at(ss.CUSTOMER_POINTS)})"
         + native_movements_ctes(through) + " SELECT * FROM native_movements"),
        (ss.TOTALS, native_totals_sql(_stored_chain(at), first, through)),
        (ss.DAILY_CHANGES, f"WITH valued AS (SELECT * FROM {at(ss.VALUED)})"
         + line_changes_ctes(everyone, "day", *WHOLE_HISTORY) + " SELECT * FROM changes"),
    ]
    for table, sql in stages:
        con.execute(f"CREATE OR REPLACE TABLE {at(table)} AS {sql}")


def _breakdowns_sql(at) -> str:
    """Customer month ends by plan and by interval from the line months; by
    country they are the customer's month ends (a customer has one country)."""
    parts = [f"(WITH sub_points AS ({sub_points_from_line_months(Params(), at(stored_stages.LINE_MONTHS), d)}), "
             + customer_points_cte() + f" SELECT {sql_text(d)} AS breakdown, * FROM customer_points)"
             for d in DIMENSIONS if d != "country"]
    parts.append(f"""(SELECT 'country' AS breakdown, cp.customer_id, cp.currency,
        cu.country AS dimension, cp.period, cp.mrr
    FROM {at(stored_stages.CUSTOMER_POINTS)} cp LEFT JOIN customers cu ON cu.id = cp.customer_id)""")
    return " UNION ALL ".join(parts)


def _stored_chain(at) -> str:
    return (f"WITH valued AS (SELECT * FROM {at(stored_stages.VALUED)}),\n"
            f"sub_points AS (SELECT * FROM {at(stored_stages.SUB_POINTS)}),\n"
            f"customer_points AS (SELECT * FROM {at(stored_stages.CUSTOMER_POINTS)}),\n"
            f"native_movements AS (SELECT * FROM {at(stored_stages.MOVEMENTS)})")
