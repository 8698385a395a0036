"""What the dashboard calls when there is no Stripe key and no synced database."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from etl.store import DEFAULT_DEMO_DB, demo_db_path  # noqa: F401 - etl.demo re-exports it


def is_demo_database(con) -> bool:
    """True when a database was written by the demo generator (show the "Demo data" banner)."""
    try:
        row = con.execute("SELECT value FROM tally_meta WHERE key = 'source'").fetchone()
    except Exception:  # noqa: BLE001 - no tally_meta table: not ours
        return False
    return bool(row) and row[0] == "demo"


def ensure_demo_database(path: str | None = None, customers: int = 300, seed: int = 1,
                         months: int = 30) -> str:
    """The published demo database's path, generating it first if it does not exist.

    A file lock keeps two dashboard sessions from generating it at once.
    """
    from etl.demo.generate import generate_database
    path = path or demo_db_path()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            generate_database(path, customers=customers, seed=seed, months=months)
    return path
