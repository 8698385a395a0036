"""How the copy of Stripe is kept: the latest sync runs and each object type's state.

The sync (etl/sync.py) writes `sync_runs` and `sync_state`; these read them
for the Sync page and `python -m metrics export`.
"""
from __future__ import annotations

import pandas as pd

from metrics.params import Params
from metrics.registry import metric


@metric("sync_runs", "The 10 latest sync runs: start, finish, mode, status, message")
def sync_runs(con, params: Params) -> pd.DataFrame:
    return con.execute("""
        SELECT started_at, finished_at, mode, status, message FROM sync_runs
        ORDER BY started_at DESC LIMIT 10""").df()


@metric("sync_object_types", "Each Stripe object type: its last run's status and note, objects fetched, "
        "last success, whether its history is complete")
def sync_object_types(con, params: Params) -> pd.DataFrame:
    # detail is the sync's own record of the type's last run: status and a plain-words note.
    return con.execute("""
        SELECT object_type AS "object type", detail->>'status' AS "last run",
               coalesce(detail->>'note', '') AS note, (detail->>'fetched')::BIGINT AS fetched,
               last_success AS "last success", backfill_done AS "history complete"
        FROM sync_state ORDER BY object_type""").df()
