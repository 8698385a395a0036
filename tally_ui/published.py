"""The dashboard's read-only view of the published database, and cached metrics.

The dashboard never writes the published file (etl/store.py). It keeps one
read-only connection per published version: when a sync publishes a new copy,
`published_version` changes, a new connection is opened on the new file and
every cached result keyed by the old version is dropped.

The stored MRR stages are metrics' file next to the database
(metrics/mrr/stored_stages.py): each read attaches the newest one that matches
the version read, and a version without one gets it built in the background
(metrics/mrr/refresh_stages.py) while pages compute from the invoice lines.
"""
from __future__ import annotations

import dataclasses
import logging
import threading

import duckdb
import pandas as pd
import streamlit as st

from etl import store
from metrics.params import Params

log = logging.getLogger("tally.dashboard")
_lock = threading.Lock()
_last_version: dict[str, object] = {}


class MetricUnavailable(Exception):
    """A metric the metrics package does not provide (yet)."""


class DatabaseUnreadable(Exception):
    """The shown database is damaged: one message for the whole dashboard (dashboard.py)."""


def db_path() -> str:
    """The database the dashboard shows: the synced one, or the demo account.

    With no Stripe key and no synced database (TALLY_DB), the demo database
    (TALLY_DEMO_DB, default data/demo.duckdb) is shown; the first sync then
    switches the dashboard to the real data.
    """
    return store.shown_db_path()[0]  # the rule the command line follows too


def demo_db_path() -> str:
    return store.demo_db_path()


def version() -> tuple[int, int] | None:
    """The published version, clearing the caches when a new copy appears."""
    db = db_path()
    current = store.published_version(db)
    with _lock:
        previous = _last_version.get(db, current)
        _last_version[db] = current
    if previous != current:
        st.cache_data.clear()
        _shared_connection.clear()
    return current


def has_data() -> bool:
    return version() is not None


_reported: set[tuple] = set()
_damaged: set[tuple] = set()  # (db, version) where a read met a damaged block


def unreadable() -> str | None:
    """Why the shown database cannot be read, in one line with what to do; None when it can.

    Every page reads it, so the dashboard says this once instead of each page
    failing with a traceback.
    """
    db, published = db_path(), version()
    if published is None:
        return None
    try:
        con = _shared_connection(db, published)  # a failure is not cached: the next run tries again
        con.cursor().execute("SELECT count(*) FROM sync_state").fetchone()
        if (db, published) in _damaged:
            raise duckdb.Error("Corrupt database file: a page's read failed its checksum")
    except (duckdb.Error, OSError) as error:
        problem = _database_problem(db, error)
        if (db, published) not in _reported:  # once per file version, one line, in the terminal too
            _reported.add((db, published))
            log.warning("%s", problem)
        return problem
    return None


def _database_problem(db: str, error: Exception) -> str:
    detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if isinstance(error, duckdb.CatalogException):
        what = "is a DuckDB file but not a Tally database (it has no sync_state table)"
    elif isinstance(error, PermissionError) or "Permission denied" in detail:
        what = "cannot be opened: permission denied (check the file's owner and mode)"
    elif "not a valid DuckDB database file" in detail or "Corrupt database file" in detail:
        what = "is damaged or not a DuckDB database file"
    else:
        what = f"cannot be read ({detail.removeprefix('IO Error: ')})"
    if db == demo_db_path():
        fix = "Move it aside (or delete it) and reload: the dashboard generates the demo account again."
    else:
        fix = (f"Move it aside (e.g. to {db}.broken) and run `.venv/bin/python -m etl sync` again "
               "(a full sync rebuilds it).")
    return f"The database {db} {what}. {fix}"


@st.cache_resource(max_entries=2, show_spinner=False)
def _shared_connection(db: str, published: tuple[int, int]) -> duckdb.DuckDBPyConnection:
    con = store.open_published(db)
    _with_stages(con, db)
    return con


def _with_stages(con, db: str) -> None:
    """Attach the MRR stages that match this version; start building them when
    there are none (never waited for: metrics compute meanwhile)."""
    from metrics.mrr import refresh_stages, stored_stages
    try:
        if stored_stages.attach_current(con, db) or not refresh_in_background():
            return
    except duckdb.Error:  # e.g. no billing tables: the pages say what is wrong
        return
    refresh_stages.refresh_in_background(db)


def refresh_in_background() -> bool:
    """On in a dashboard server; under AppTest (many databases in one process)
    only when TALLY_PREFETCH=1 asks, as for the prefetch."""
    from tally_ui import prefetch
    return prefetch.enabled()


def params_key(params: Params) -> tuple:
    """Params as a plain tuple (extra included) for cache keys."""
    fields = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    extra = tuple(sorted((k, str(v)) for k, v in (fields.pop("extra") or {}).items()))
    return tuple(fields.items()) + (("extra", extra),)


def metric(name: str, params: Params) -> pd.DataFrame:
    """A metric's frame, cached per (published version, name, params)."""
    return cached_metric(db_path(), version(), name, params)


def cached_metric(db: str, published, name: str, params: Params) -> pd.DataFrame:
    """The same cache for a given database version (the prefetch thread's entry)."""
    return _metric(db, published, name, params_key(params), params)


@st.cache_data(max_entries=512, show_spinner=False, hash_funcs={Params: lambda p: None})
def _metric(db: str, published, name: str, key: tuple, params: Params) -> pd.DataFrame:
    from metrics.registry import METRICS
    _import_metrics()
    if name not in METRICS:
        raise MetricUnavailable(name)
    with _cursor(db, published) as con:
        return METRICS[name].function(con, params)


def query(sql: str, parameters: tuple = ()) -> pd.DataFrame:
    """A small lookup on the published database, cached per version (tally_ui's own
    lookups: pages read their data through metrics, tests/pages/test_no_sql.py)."""
    return _query(db_path(), version(), sql, tuple(parameters))


@st.cache_data(max_entries=256, show_spinner=False)
def _query(db: str, published, sql: str, parameters: tuple) -> pd.DataFrame:
    with _cursor(db, published) as con:
        return con.execute(sql, list(parameters)).df()


def data_months() -> tuple | None:
    """(first, last) month worth showing, as the metrics see the data."""
    return _data_months(db_path(), version())


@st.cache_data(max_entries=4, show_spinner=False)
def _data_months(db: str, published) -> tuple | None:
    from metrics.common import data_months as months_of
    with _cursor(db, published) as con:
        return months_of(con)


def as_of():
    """When the shown data was taken (metrics.common.as_of): the default range ends before it."""
    return _as_of(db_path(), version())


@st.cache_data(max_entries=4, show_spinner=False)
def _as_of(db: str, published):
    from metrics.common import as_of as taken
    with _cursor(db, published) as con:
        return taken(con)


def main_currencies() -> list[str]:
    """The account's currencies by how many invoices use them, most first."""
    return query("""SELECT lower(currency) AS currency FROM invoices WHERE currency IS NOT NULL
                    GROUP BY 1 ORDER BY count(*) DESC, 1""")["currency"].tolist()


def table_frame(db: str, published, table: str) -> pd.DataFrame:
    """A whole table for an export (metrics/tables.py): read when asked, never cached (it can be large)."""
    from metrics.tables import read_table
    with _cursor(db, published) as con:
        return read_table(con, table)


def reporting_currencies() -> list[str]:
    """The currencies entered exchange rates convert to (metrics/fx_rates_input.py)."""
    return _reporting_currencies(db_path(), version())


@st.cache_data(max_entries=4, show_spinner=False)
def _reporting_currencies(db: str, published) -> list[str]:
    from metrics.fx_rates_input import reporting_currencies as entered
    with _cursor(db, published) as con:
        return entered(con)


def money_columns(name: str) -> tuple[str, ...]:
    from metrics.registry import METRICS
    _import_metrics()
    return METRICS[name].money_columns if name in METRICS else ()


def metric_names() -> list[str]:
    from metrics.registry import METRICS
    _import_metrics()
    return sorted(METRICS)


def _import_metrics() -> None:
    # Importing the package registers every metric (its modules use @metric).
    import metrics  # noqa: F401


_stages_seen: set[tuple] = set()  # (db, version, sidecar version) already attached or found stale


def _stages_attached(con, db: str, published) -> None:
    """Stages built after this version's connection opened are attached on the next read."""
    from metrics.mrr import stored_stages
    key = (db, published, store.published_version(stored_stages.sidecar_path(db)))
    if key[2] is None or key in _stages_seen:
        return
    try:
        stored_stages.attach(con, db)
    except duckdb.Error:
        pass
    _stages_seen.add(key)


class _cursor:
    def __init__(self, db, published):
        if published is None:
            raise FileNotFoundError("no published database")
        self.db, self.published = db, published
        shared = _shared_connection(db, published)
        _stages_attached(shared, db, published)
        self.con = shared.cursor()

    def __enter__(self):
        return self.con

    def __exit__(self, kind, error, traceback):
        self.con.close()
        if isinstance(error, duckdb.Error) and "Corrupt database file" in str(error):
            # A damaged block: every page that reads it would fail; say it once, for all of them.
            _damaged.add((self.db, self.published))
            raise DatabaseUnreadable(_database_problem(self.db, error)) from None
