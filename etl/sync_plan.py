"""Planning a sync run: resume the interrupted one, or list every object type anew.

A run is a full one (every type re-listed) on the first sync, on `--full`, or
when the last successful run is older than Stripe's event retention; otherwise
each type lists what was created since its last run, with an overlap, and the
events replay the changes. Used by `etl.sync.Sync` (it mixes this in).
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import orjson

from etl.client import AuthError, StripeHTTP, StripeSyncError, Unreachable
from etl.sync_jobs import BY_NAME, OBJECT_TYPES, OVERLAP_SECONDS, Job, ObjectType, Window, listings_of, utc_now

EVENT_RETENTION_DAYS = 29  # Stripe keeps 30 days of events; keep a day of margin


class SyncPlan:
    """The planning half of `etl.sync.Sync`: which jobs this run does, and how."""

    con: Any  # the working database (DuckDB)
    client: StripeHTTP
    full: bool
    notes: list[str]
    _save_all: Callable[[list[Job]], None]  # etl/sync_writer.py

    def _states(self) -> dict[str, dict]:
        rows = self.con.execute(
            "SELECT object_type, backfill_done, last_created, last_success, detail FROM sync_state"
        ).fetchall()
        return {r[0]: {"backfill_done": r[1], "last_created": r[2], "last_success": r[3],
                       "detail": orjson.loads(r[4]) if r[4] else None} for r in rows}

    def _plan(self) -> tuple[list[Job], str, str]:
        states = self._states()
        unfinished = {n: s["detail"] for n, s in states.items()
                      if s["detail"] and s["detail"].get("status") == "running"}
        if unfinished and not (self.full and any(d["mode"] != "full" for d in unfinished.values())):
            return self._resume(unfinished)
        return self._new_plan(states)

    def _resume(self, unfinished) -> tuple[list[Job], str, str]:
        run_id = next(iter(unfinished.values()))["run_id"]
        jobs = [Job.from_detail(BY_NAME[n], d) for n, d in unfinished.items() if n in BY_NAME]
        mode = "full" if any(j.mode == "full" for j in jobs) else "incremental"
        if any(j.fetched or any(w.cursor for w in j.windows) for j in jobs):  # else nothing to resume
            self.notes.append(f"Resuming an interrupted sync ({len(jobs)} object types left).")
        return jobs, run_id, mode

    def _new_plan(self, states) -> tuple[list[Job], str, str]:
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        events = states.get("events") or {}
        mode = "incremental"
        if self.full or not events.get("backfill_done") or events.get("last_success") is None:
            mode = "full"
        elif utc_now() - events["last_success"] > dt.timedelta(days=EVENT_RETENTION_DAYS):
            days = (utc_now() - events["last_success"]).days
            mode = "full"
            self.notes.append(f"The last successful sync was {days} days ago, beyond Stripe's "
                              "30-day event history: re-listing everything.")
        jobs = [self._new_job(kind, states.get(kind.name) or {}, run_id, mode, now)
                for kind in OBJECT_TYPES]
        self.con.begin()
        self._save_all(jobs)
        self.con.commit()
        return jobs, run_id, mode

    def _new_job(self, kind: ObjectType, state: dict, run_id: str, mode: str, now: float) -> Job:
        old = state.get("detail") or {}
        created_filter = True if old.get("created_filter") else None  # unknown: probe again
        if mode == "full" or not state.get("backfill_done") or state.get("last_created") is None:
            # Fresh only in a full run: an incremental run replays events,
            # which may write objects this listing will meet again.
            # Two listings of one table may meet the same object (a price archived
            # between them): only a table's single listing may skip the upsert.
            fresh = mode == "full" and len(listings_of(kind.table)) == 1 and self._empty(kind.table)
            return Job(kind, run_id, "full", now, kind.path, [Window()], created_filter,
                       fresh=fresh)
        since = int(state["last_created"]) - kind.overlap
        job = Job(kind, run_id, "incremental", now, kind.path, [Window(lo=since)], created_filter)
        if kind.name == "events":
            job.apply_events_since = int(state["last_created"]) - OVERLAP_SECONDS
        return job

    def _empty(self, table: str) -> bool:
        """No rows in the table or the tables its objects' children go to."""
        children = {"invoices": ["invoice_lines", "invoice_line_taxes"],
                    "subscriptions": ["subscription_items"],
                    "subscription_schedules": ["subscription_schedule_phase_items"]}.get(table, [])
        return not any(self.con.execute(f"SELECT EXISTS (FROM {name})").fetchone()[0]
                       for name in [table, *children])

    def _probe_created_filters(self, jobs: list[Job]) -> None:
        """Does each list accept `created` filters? (localstripe's mostly do not.)"""
        unknown = [j for j in jobs if j.created_filter is None]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(self._probe, unknown))
        for job, accepted in zip(unknown, answers):
            job.created_filter = accepted
            if not accepted:
                # Without filters, "created since" is impossible: list everything.
                job.mode = "full"
                job.windows = [Window(cursor=w.cursor) if w.lo is None and w.hi is None else Window()
                               for w in job.windows[:1]]

    def _probe(self, job: Job) -> bool:
        params = {"limit": 1, "created[gte]": 0, **job.kind.params}
        try:
            self.client.get(job.path, params, label=job.kind.name, max_retries=2)
            return True
        except (AuthError, Unreachable):
            raise
        except StripeSyncError:
            return False


def lists_all(job: Job) -> bool:
    """Its windows have no `created` bounds: whether the API filters by `created`
    only decides whether they may split."""
    return all(w.lo is None and w.hi is None for w in job.windows)

