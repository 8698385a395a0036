"""Put the objects an admin action changed into the database at once.

The re-fetched objects go through the same loader as a sync (working file,
then publish), so the dashboard shows them without waiting for the next sync.
DuckDB allows one writer: if a sync holds the working file, retry briefly,
then queue the objects in `etl/spool.py`, which the next sync loads first.
"""
from __future__ import annotations

import logging
import time

import duckdb

from etl import spool
from etl.load import load_mixed
from etl.store import DASHBOARD_WRITE_LOCK, open_working, publish
from etl.sync import sync_running
from etl.sync_jobs import forget_fresh_listings

log = logging.getLogger("tally.admin")
PUBLISHED, QUEUED = "published", "queued"
# Sessions of one dashboard share a DuckDB instance per file: one writer at a time.
_WRITING = DASHBOARD_WRITE_LOCK


def save_objects(objects: list[dict], db_path: str, *, attempts: int = 5,
                 pause: float = 0.2) -> str:
    """Write and publish the objects, or queue them for the next sync. Returns which."""
    objects = [o for o in objects if o]
    if sync_running(db_path):  # in this process: DuckDB would not stop us, the sync's writes would clash
        queue_objects(objects, db_path)
        return QUEUED
    for attempt in range(attempts):
        try:
            _write_and_publish(objects, db_path)
            return PUBLISHED
        except duckdb.IOException:  # another writer (a sync) holds the working file
            time.sleep(pause * (attempt + 1))
        except Exception:  # noqa: BLE001 - Stripe already acted: keep the objects for the sync
            log.exception("could not write admin results to %s; queuing them", db_path)
            break
    queue_objects(objects, db_path)
    return QUEUED


def _write_and_publish(objects: list[dict], db_path: str) -> None:
    with _WRITING:
        con = open_working(db_path)
        try:
            con.execute("BEGIN")
            load_mixed(con, objects)
            forget_fresh_listings(con)
            con.execute("COMMIT")
            publish(con, db_path)
        finally:
            con.close()


def queue_objects(objects: list[dict], db_path: str) -> None:
    with _WRITING:
        spool.queue_objects(objects, db_path)
