"""The notify database: settings, alerts already fired, and every message sent or failed.

Its own DuckDB file (TALLY_NOTIFY_DB, default `notify.duckdb` next to the main
database), so the notifier never opens the revenue database for writing. Two
processes use it (the dashboard saves settings, the notifier logs sends), each
with short connections: one that meets the other's lock waits and tries again.
"""
from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import orjson
import pandas as pd

from etl.store import create_own_database, db_path_from_env
from tally_notify.config import NotifyConfig

LOCK_WAIT_SECONDS = 10.0
DDL = [
    "CREATE TABLE IF NOT EXISTS notify_settings (name VARCHAR PRIMARY KEY, value JSON, "
    "updated_at TIMESTAMP, updated_by VARCHAR)",
    # One row per occurrence: `key` names it (a dispute's id, "success_rate:<since>");
    # cleared_at is set when a lasting condition ends, so the next one fires again.
    "CREATE TABLE IF NOT EXISTS alerts_fired (key VARCHAR PRIMARY KEY, rule VARCHAR, "
    "fired_at TIMESTAMP, cleared_at TIMESTAMP)",
    # Conditions seen but not yet alerted (a sync failing for less than N minutes).
    "CREATE TABLE IF NOT EXISTS notify_watch (rule VARCHAR PRIMARY KEY, since TIMESTAMP, detail VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS notifications_seq",
    """CREATE TABLE IF NOT EXISTS notifications_sent (
        seq BIGINT DEFAULT nextval('notifications_seq'),
        sent_at TIMESTAMP,
        kind VARCHAR,          -- digest | alert | test
        subject VARCHAR,
        channel VARCHAR,       -- email | slack
        destination VARCHAR,   -- recipients, or "Slack webhook" (never its URL)
        status VARCHAR,        -- sent | failed
        attempts INTEGER,
        error VARCHAR)""",
]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def notify_path_from_env(db_path: str | None = None) -> str:
    explicit = os.environ.get("TALLY_NOTIFY_DB")
    if explicit:
        return explicit
    return str(Path(db_path_from_env(db_path)).parent / "notify.duckdb")


class NotifyState:
    def __init__(self, path: str):
        self.path = path
        create_own_database(path, DDL, self._connect)

    @contextmanager
    def _connect(self):
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                con = duckdb.connect(self.path)
                break
            except duckdb.IOException:  # the other process holds it for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        try:
            yield con
        finally:
            con.close()

    # settings
    def config(self) -> NotifyConfig:
        with self._connect() as con:
            row = con.execute("SELECT value FROM notify_settings WHERE name = 'config'").fetchone()
        return NotifyConfig.from_dict(orjson.loads(row[0])) if row else NotifyConfig()

    def save_config(self, config: NotifyConfig, by: str) -> None:
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO notify_settings VALUES ('config', ?, ?, ?)",
                        [orjson.dumps(config.to_dict()).decode(), now(), by])

    def get(self, name: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT value FROM notify_settings WHERE name = ?", [name]).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, name: str, value, by: str = "notifier") -> None:
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO notify_settings VALUES (?, ?, ?, ?)",
                        [name, orjson.dumps(value).decode(), now(), by])

    # alerts
    def fire(self, key: str, rule: str) -> bool:
        """Record an occurrence; False when it had fired already (then send nothing)."""
        with self._connect() as con:
            if con.execute("SELECT 1 FROM alerts_fired WHERE key = ?", [key]).fetchone():
                return False
            con.execute("INSERT INTO alerts_fired VALUES (?, ?, ?, NULL)", [key, rule, now()])
            return True

    def fired(self, key: str) -> bool:
        with self._connect() as con:
            return con.execute("SELECT 1 FROM alerts_fired WHERE key = ?", [key]).fetchone() is not None

    def open_occurrence(self, rule: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT key FROM alerts_fired WHERE rule = ? AND cleared_at IS NULL "
                              "ORDER BY fired_at DESC LIMIT 1", [rule]).fetchone()
        return row[0] if row else None

    def clear(self, rule: str) -> None:
        with self._connect() as con:
            con.execute("UPDATE alerts_fired SET cleared_at = ? WHERE rule = ? AND cleared_at IS NULL",
                        [now(), rule])

    def watch_since(self, rule: str, detail: str) -> dt.datetime:
        """When this condition was first seen (now, if it is new)."""
        with self._connect() as con:
            row = con.execute("SELECT since FROM notify_watch WHERE rule = ?", [rule]).fetchone()
            if row:
                return row[0]
            since = now()
            con.execute("INSERT INTO notify_watch VALUES (?, ?, ?)", [rule, since, detail])
            return since

    def unwatch(self, rule: str) -> None:
        with self._connect() as con:
            con.execute("DELETE FROM notify_watch WHERE rule = ?", [rule])

    # the log of sends
    def log_send(self, *, kind: str, subject: str, channel: str, destination: str, status: str,
                 attempts: int, error: str | None = None) -> None:
        with self._connect() as con:
            con.execute("INSERT INTO notifications_sent (sent_at, kind, subject, channel, destination, "
                        "status, attempts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [now(), kind, subject, channel, destination, status, attempts, error])

    def sent(self, limit: int = 500) -> pd.DataFrame:
        """Newest first, for the Notifications page."""
        with self._connect() as con:
            return con.execute("SELECT sent_at, kind, subject, channel, destination, status, attempts, "
                               "error FROM notifications_sent ORDER BY seq DESC LIMIT ?",
                               [limit]).df()
