"""The dashboard's few writes (marketing spend, exchange rates: metrics/marketing_spend.py and
metrics/fx_rates_input.py validate and write them) through the working file and a publish.

A running sync holds the working file (DuckDB allows one writer); then the
write fails with a plain message instead of waiting.
"""
from __future__ import annotations

import logging

import duckdb

from etl import store

log = logging.getLogger("tally.dashboard")


class Busy(Exception):
    """Another writer (a sync, the demo generator) holds the working file."""


def write(db: str, action) -> None:
    """Run action(connection) on the working file, then publish it."""
    with store.DASHBOARD_WRITE_LOCK:
        _write(db, action)


def _write(db: str, action) -> None:
    try:
        con = store.open_working(db)
    except duckdb.IOException as error:
        raise Busy("A sync is writing the database right now; try again when it has finished.") from error
    try:
        con.begin()
        try:
            action(con)
        except BaseException:
            con.rollback()
            raise
        con.commit()
        store.publish(con, db)
    finally:
        con.close()
