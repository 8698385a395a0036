"""Put the objects an admin action changed into the database at once.

The re-fetched objects go through the same loader as a sync (working file,
then publish), so the dashboard shows them without waiting for the next sync.
DuckDB allows one writer: if a sync holds the working file, retry briefly,
then append the objects to a spool file the next sync loads first.

Spool design (for the sync): `<db>.spool.jsonl`, one Stripe object as JSON per
line (any type; `load_mixed` routes it). A sync calls `load_spool(con, db)`
right after `open_working`, inside its own transaction, and `finish_spool(db)`
after it has published. Appends are whole lines opened in append mode; the
sync renames the file before reading so lines written meanwhile wait for the
run after.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import duckdb
import orjson

from etl.load import load_mixed
from etl.store import open_working, publish

log = logging.getLogger("tally.admin")
PUBLISHED, QUEUED = "published", "queued"
# Sessions of one dashboard share a DuckDB instance per file: one write-back at a time.
_WRITING = threading.Lock()


def spool_path(db_path: str) -> str:
    return f"{db_path}.spool.jsonl"


def _loading_path(db_path: str) -> str:
    return f"{db_path}.spool.loading.jsonl"


def save_objects(objects: list[dict], db_path: str, *, attempts: int = 5,
                 pause: float = 0.2) -> str:
    """Write and publish the objects, or queue them for the next sync. Returns which."""
    objects = [o for o in objects if o]
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
            con.execute("COMMIT")
            publish(con, db_path)
        finally:
            con.close()


def queue_objects(objects: list[dict], db_path: str) -> None:
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    lines = b"".join(orjson.dumps(o) + b"\n" for o in objects)
    with _WRITING, open(spool_path(db_path), "ab") as spool:
        spool.write(lines)
        spool.flush()
        os.fsync(spool.fileno())


def load_spool(con, db_path: str) -> int:
    """For the sync: load queued objects into its working connection. Returns objects loaded.

    A spool left from a run that failed before `finish_spool` is loaded again
    (upserts make that harmless).
    """
    loading = _loading_path(db_path)
    if not os.path.exists(loading) and os.path.exists(spool_path(db_path)):
        os.replace(spool_path(db_path), loading)
    if not os.path.exists(loading):
        return 0
    with open(loading, "rb") as spool:
        objects = [_parse(line) for line in spool if line.strip()]
    objects = [o for o in objects if o]
    load_mixed(con, objects)
    return len(objects)


def finish_spool(db_path: str) -> None:
    """For the sync, after publishing: the loaded spool is no longer needed."""
    try:
        os.remove(_loading_path(db_path))
    except FileNotFoundError:
        pass


def _parse(line: bytes) -> dict | None:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:  # a line cut short by a crash mid-append
        log.warning("skipped an unreadable line in the admin spool")
        return None
