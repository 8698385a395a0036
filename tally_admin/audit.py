"""The append-only audit trail of admin actions, and what it says about a submission.

Its own DuckDB file (TALLY_AUDIT_DB, default `audit.duckdb` next to the main
database), written only by the dashboard process, so a running sync can never
block or lose it. Rows are only ever inserted: an `attempt` row before Stripe
is called and an `outcome` row after. The idempotency of actions rests on it:
a submission whose key already has a final outcome is answered from here.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import pandas as pd

from etl.store import db_path_from_env

FINAL = ("succeeded", "failed", "refused")  # an unknown outcome is not final
_WRITE_LOCK = threading.Lock()

DDL = [
    "CREATE SEQUENCE IF NOT EXISTS audit_seq",
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT DEFAULT nextval('audit_seq'),
        recorded_at TIMESTAMP,
        actor VARCHAR,
        action VARCHAR,
        object_id VARCHAR,
        phase VARCHAR,            -- attempt | outcome
        outcome VARCHAR,          -- succeeded | failed | refused | unknown | repeated
        idempotency_key VARCHAR,
        params JSON,
        stripe_request_id VARCHAR,
        message VARCHAR,
        result JSON)""",
]


def audit_path_from_env(db_path: str | None = None) -> str:
    explicit = os.environ.get("TALLY_AUDIT_DB")
    if explicit:
        return explicit
    return str(Path(db_path_from_env(db_path)).parent / "audit.duckdb")


@dataclass(frozen=True)
class Recorded:
    outcome: str
    message: str
    stripe_request_id: str | None
    result: dict


class AuditLog:
    def __init__(self, path: str):
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            for ddl in DDL:
                con.execute(ddl)

    def _connect(self):
        return duckdb.connect(self.path)

    def _insert(self, **row) -> None:
        row["recorded_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for key in ("params", "result"):
            if row.get(key) is not None:
                row[key] = orjson.dumps(row[key], default=str).decode()
        names = list(row)
        with _WRITE_LOCK, self._connect() as con:
            con.execute(f"INSERT INTO audit_log ({', '.join(names)}) "
                        f"VALUES ({', '.join('?' * len(names))})", [row[n] for n in names])

    def attempt(self, *, actor: str, action: str, object_id: str, key: str, params: dict) -> None:
        self._insert(actor=actor, action=action, object_id=object_id, phase="attempt",
                     idempotency_key=key, params=params)

    def outcome(self, *, actor: str, action: str, object_id: str, key: str, params: dict,
                outcome: str, message: str, request_id: str | None = None,
                result: dict | None = None) -> None:
        self._insert(actor=actor, action=action, object_id=object_id, phase="outcome",
                     outcome=outcome, idempotency_key=key, params=params,
                     stripe_request_id=request_id, message=message, result=result)

    def final_outcome(self, key: str) -> Recorded | None:
        """The first final outcome recorded for this submission, if any."""
        with self._connect() as con:
            row = con.execute("""
                SELECT outcome, message, stripe_request_id, result
                FROM audit_log
                WHERE idempotency_key = ? AND phase = 'outcome' AND outcome IN ?
                ORDER BY seq
                LIMIT 1""", [key, list(FINAL)]).fetchone()
        if row is None:
            return None
        return Recorded(row[0], row[1], row[2], orjson.loads(row[3]) if row[3] else {})

    def was_attempted(self, key: str) -> bool:
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM audit_log WHERE idempotency_key = ? "
                               "AND phase = 'attempt'", [key]).fetchone()[0] > 0

    def had_unknown_outcome(self, key: str) -> bool:
        """Did an earlier try of this submission end without knowing Stripe's answer?"""
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM audit_log WHERE idempotency_key = ? "
                               "AND outcome = 'unknown'", [key]).fetchone()[0] > 0

    def frame(self, limit: int = 5000) -> pd.DataFrame:
        """Newest first, for the Audit page."""
        with self._connect() as con:
            return con.execute("""
                SELECT seq, recorded_at, actor, action, object_id, phase, outcome,
                       message, stripe_request_id, idempotency_key, params
                FROM audit_log
                ORDER BY seq DESC
                LIMIT ?""", [limit]).df()
