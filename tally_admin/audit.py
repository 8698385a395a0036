"""The append-only audit trail of admin actions, and what it says about a submission.

Its own DuckDB file (TALLY_AUDIT_DB, default `audit.duckdb` next to the main
database), written only by the dashboard process, so a running sync can never
block or lose it. Rows are only ever inserted: an `attempt` row before Stripe
is called and an `outcome` row after. The idempotency of actions rests on it:
a submission whose key already has a final outcome is answered from here.

An outcome row that cannot be written (a full disk) after Stripe acted is
held in this process, and also appended to `<audit file>.held.jsonl` (a few
hundred bytes often fit where DuckDB's write did not) so that a restart still
has it; it is written before the next row that can be. Until then
`final_outcome` answers from it, so the same submission never acts twice.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson
import pandas as pd

from etl.store import create_own_database, db_path_from_env

FINAL = ("succeeded", "failed", "refused")  # an unknown outcome is not final
_WRITE_LOCK = threading.Lock()
# Audit file -> rows that could not be written yet, oldest first (guarded by _WRITE_LOCK).
_HELD: dict[str, list[dict]] = {}
log = logging.getLogger("tally.admin")


def _held_file(path: str) -> str:
    return f"{path}.held.jsonl"


def _held(path: str) -> list[dict]:
    """The rows held for this audit file (call under _WRITE_LOCK): after a restart,
    those an earlier process kept in its held file."""
    if path not in _HELD:
        rows = []
        try:
            with open(_held_file(path), "rb") as held:
                for line in held:
                    if line.strip():
                        row = orjson.loads(line)
                        row["recorded_at"] = dt.datetime.fromisoformat(row["recorded_at"])
                        rows.append(row)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as error:
            log.warning("could not read held audit rows from %s: %s", _held_file(path), error)
        _HELD[path] = rows
    return _HELD[path]


def _keep_held(path: str, row: dict) -> None:
    try:
        with open(_held_file(path), "ab") as held:
            held.write(orjson.dumps(row, default=str) + b"\n")
            held.flush()
            os.fsync(held.fileno())
    except OSError as error:
        log.warning("audit row held in memory only (%s): %s", _held_file(path), error)


def _written(path: str) -> None:
    _HELD[path] = []
    try:
        os.remove(_held_file(path))
    except FileNotFoundError:
        pass
    except OSError as error:
        log.warning("could not remove %s: %s", _held_file(path), error)

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
        create_own_database(path, DDL, self._connect)

    def _connect(self):
        return duckdb.connect(self.path)

    def _insert(self, **row) -> None:
        """Write the held rows, then this one; on failure this row is held too and the error raised."""
        row.setdefault("recorded_at", dt.datetime.now(dt.UTC).replace(tzinfo=None))
        for key in ("params", "result"):
            if row.get(key) is not None and not isinstance(row[key], str):
                row[key] = orjson.dumps(row[key], default=str).decode()
        with _WRITE_LOCK:
            held = _held(self.path)
            held.append(row)
            try:
                self._write_rows(held)
            except Exception:
                if row.get("phase") == "attempt":  # nothing was done: an attempt need not be kept
                    held.remove(row)
                else:
                    _keep_held(self.path, row)
                    log.warning("audit row held until %s is writable: %s", self.path,
                                {k: row.get(k) for k in ("action", "object_id", "outcome", "message")})
                raise
            _written(self.path)

    def _write_rows(self, rows: list[dict]) -> None:
        with self._connect() as con:
            con.begin()
            for row in rows:
                names = list(row)
                con.execute(f"INSERT INTO audit_log ({', '.join(names)}) "
                            f"VALUES ({', '.join('?' * len(names))})", [row[n] for n in names])
            con.commit()

    def write_held(self) -> int:
        """Try to write the rows held after failed writes; returns how many are still held."""
        with _WRITE_LOCK:
            held = _held(self.path)
            if held:
                try:
                    self._write_rows(held)
                    _written(self.path)
                    held = []
                except Exception:  # noqa: BLE001 - still not writable: keep holding them
                    log.warning("audit file %s is still not writable; %d rows held", self.path,
                                len(held))
            return len(held)

    def _held_final(self, key: str) -> Recorded | None:
        with _WRITE_LOCK:
            for row in _held(self.path):
                if row.get("idempotency_key") == key and row.get("outcome") in FINAL:
                    result = orjson.loads(row["result"]) if row.get("result") else {}
                    return Recorded(row["outcome"], row["message"], row.get("stripe_request_id"),
                                    result)
        return None

    def holds(self, key: str) -> bool:
        """Is a row of this submission held, not yet written?"""
        with _WRITE_LOCK:
            return any(row.get("idempotency_key") == key for row in _held(self.path))

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
        """The first final outcome recorded for this submission (written or held), if any."""
        with self._connect() as con:
            row = con.execute("""
                SELECT outcome, message, stripe_request_id, result
                FROM audit_log
                WHERE idempotency_key = ? AND phase = 'outcome' AND outcome IN ?
                ORDER BY seq
                LIMIT 1""", [key, list(FINAL)]).fetchone()
        if row is None:
            return self._held_final(key)
        return Recorded(row[0], row[1], row[2], orjson.loads(row[3]) if row[3] else {})

    def was_attempted(self, key: str) -> bool:
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM audit_log WHERE idempotency_key = ? "
                               "AND phase = 'attempt'", [key]).fetchone()[0] > 0

    def had_unknown_outcome(self, key: str) -> bool:
        """Did an earlier try of this submission end without knowing Stripe's answer?"""
        with _WRITE_LOCK:
            if any(row.get("idempotency_key") == key and row.get("outcome") == "unknown"
                   for row in _held(self.path)):
                return True
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM audit_log WHERE idempotency_key = ? "
                               "AND outcome = 'unknown'", [key]).fetchone()[0] > 0

    def frame(self, limit: int = 5000) -> pd.DataFrame:
        """Newest first, for the Audit page (rows held after a failed write are written first)."""
        self.write_held()
        with self._connect() as con:
            return con.execute("""
                SELECT seq, recorded_at, actor, action, object_id, phase, outcome,
                       message, stripe_request_id, idempotency_key, params
                FROM audit_log
                ORDER BY seq DESC
                LIMIT ?""", [limit]).df()


ACTION_COLUMNS = ["recorded_at", "actor", "action", "object_id", "phase", "outcome", "message",
                  "stripe_request_id"]


def actions_on(path: str, object_ids: list[str]) -> pd.DataFrame:
    """The audit rows naming any of these objects (a customer's charges and
    subscriptions), newest first; empty when there is no audit file yet.
    Read-only: the page per customer only shows them."""
    if not object_ids or not Path(path).exists():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ACTION_COLUMNS})
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(f"""
            SELECT {", ".join(ACTION_COLUMNS)} FROM audit_log
            WHERE object_id IN (SELECT unnest(?::VARCHAR[]))
            ORDER BY seq DESC""", [object_ids]).df()
