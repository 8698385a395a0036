"""Pull a Stripe account into DuckDB: full backfill first, then incremental.

How a run works:
- Each object type is a *job* made of `created` windows. A worker thread
  fetches one page of a window; the main thread (the only one touching
  DuckDB) writes that page and the window's new cursor in one transaction.
  Kill the process at any moment and the next run resumes every window from
  its last committed page: no duplicates (upserts), no gaps (cursors).
- A backfill starts with one open window per type; while a window still has
  more pages and workers are idle, it is split in two at the middle of its
  remaining `created` range, so big types are fetched by several workers.
- Later runs list what was created since the last run (with an overlap, since
  objects show up in lists a little after their `created`) and apply the
  newest `/v1/events` snapshot of every changed or deleted object. When the
  last successful run is older than Stripe's event retention, or on `--full`,
  everything is re-listed and rows no longer listed are marked deleted.
- The run ends with a subscription status snapshot, `tally_meta`, a
  `sync_runs` row and `etl.store.publish`.

APIs that lack `created` filters or whole object types (localstripe) still
sync: such types are re-listed in full each run, plans load as prices, and an
endpoint answering 404 is skipped with a note.
"""
from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import duckdb
import orjson
import pyarrow as pa

from etl import store
from etl.client import (AuthError, BadRequest, NotAvailable, PermissionDenied, StripeHTTP,
                        StripeSyncError, Unreachable)
from etl.load import (OBJECT_TABLES, Prepared, combine, connect, mark_deleted, prepare_objects,
                      write_prepared)
from etl.schema import API_VERSION, TABLES

PAGE_SIZE = 100
OVERLAP_SECONDS = 600  # re-read what was created shortly before the last run
EVENT_RETENTION_DAYS = 29  # Stripe keeps 30 days of events; keep a day of margin
WINDOWS_PER_TYPE = 8  # enough in flight to hide ~150 ms latency at 25 req/s per endpoint
WORKERS = 24
PUBLISH_EVERY_SECONDS = 300
DUCKDB_MEMORY = "160MB"
EVENT_CHUNK = 1000

Progress = Callable[[str, int, bool], None]


@dataclass(frozen=True)
class ObjectType:
    name: str  # table name, also the sync_state key
    path: str
    params: dict = field(default_factory=dict)
    fallback_path: str | None = None  # older APIs: plans instead of prices
    relist_marks_deleted: bool = True  # a full re-list flags rows it no longer sees
    overlap: int = OVERLAP_SECONDS


OBJECT_TYPES = [
    ObjectType("customers", "/v1/customers"),
    ObjectType("products", "/v1/products"),
    ObjectType("prices", "/v1/prices", fallback_path="/v1/plans"),
    ObjectType("coupons", "/v1/coupons"),
    ObjectType("tax_rates", "/v1/tax_rates"),
    # Without status=all Stripe hides canceled subscriptions.
    ObjectType("subscriptions", "/v1/subscriptions", {"status": "all"}),
    ObjectType("invoices", "/v1/invoices"),
    ObjectType("invoice_payments", "/v1/invoice_payments"),
    ObjectType("charges", "/v1/charges"),
    ObjectType("payment_intents", "/v1/payment_intents"),
    ObjectType("refunds", "/v1/refunds"),
    ObjectType("disputes", "/v1/disputes"),
    # Balance transactions change status (pending -> available) without events:
    # re-read two weeks of them each run.
    ObjectType("balance_transactions", "/v1/balance_transactions", overlap=14 * 86400),
    ObjectType("credit_notes", "/v1/credit_notes"),
    ObjectType("early_fraud_warnings", "/v1/radar/early_fraud_warnings"),
    # Events are kept forever, although Stripe forgets them after 30 days.
    ObjectType("events", "/v1/events", relist_marks_deleted=False),
]
BY_NAME = {t.name: t for t in OBJECT_TYPES}


# --- plan and progress of one object type ------------------------------------

@dataclass(eq=False)  # windows are compared by identity
class Window:
    """Objects with lo <= created < hi (None: unbounded), fetched after `cursor`."""
    lo: int | None = None
    hi: int | None = None
    cursor: str | None = None
    retried_cursor: bool = False


@dataclass
class Job:
    kind: ObjectType
    run_id: str
    mode: str  # "full" (list everything) or "incremental" (created since the last run)
    started_at: float
    path: str
    windows: list[Window]
    created_filter: bool | None = None
    apply_events_since: int | None = None  # events, incremental runs only
    status: str = "running"  # running, done, skipped, failed
    note: str | None = None
    fetched: int = 0
    written: int = 0
    seconds: float = 0.0
    in_flight: int = 0

    def detail(self) -> dict:
        return {"run_id": self.run_id, "mode": self.mode, "started_at": self.started_at,
                "path": self.path, "created_filter": self.created_filter,
                "apply_events_since": self.apply_events_since, "status": self.status,
                "note": self.note, "fetched": self.fetched, "written": self.written,
                "windows": [{"lo": w.lo, "hi": w.hi, "cursor": w.cursor} for w in self.windows]}

    @classmethod
    def from_detail(cls, kind: ObjectType, d: dict) -> "Job":
        return cls(kind, d["run_id"], d["mode"], d["started_at"], d["path"],
                   [Window(w["lo"], w["hi"], w["cursor"]) for w in d["windows"]],
                   d.get("created_filter"), d.get("apply_events_since"),
                   fetched=d.get("fetched", 0), written=d.get("written", 0))


@dataclass
class Page:
    objects: list[dict]
    has_more: bool
    rows: Prepared | None  # converted on the fetch thread, written by the main thread


@dataclass
class Summary:
    run_id: str
    status: str  # ok, partial (some types not permitted), failed
    mode: str
    message: str
    jobs: dict[str, dict]
    requests: int
    retries: int
    seconds: float
    notes: list[str]

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "partial": 2}.get(self.status, 1)


# --- the run ---------------------------------------------------------------------

def run_sync(db_path: str | None = None, api_key: str | None = None, api_base: str | None = None,
             full: bool = False, progress: Progress | None = None, *,
             client: StripeHTTP | None = None, workers: int = WORKERS) -> Summary:
    """Sync the account behind `api_key` into `db_path` and publish it.

    `progress(object_type, fetched_so_far, done)` is called from this thread
    after every committed page. Raises StripeSyncError (one clear line) when
    the run cannot even start or must stop (bad key, unreachable API, locked
    working file); other problems are reported in the returned Summary.
    """
    db_path = store.db_path_from_env(db_path)
    client = client or StripeHTTP(api_key or "", api_base)
    # Arrow's default allocator keeps per-thread arenas from the fetch threads
    # (twice the peak memory); the system allocator gives them back.
    pa.set_memory_pool(pa.system_memory_pool())
    con = _open_working(db_path, client.mode)
    try:
        return Sync(con, db_path, client, full, progress or _no_progress, workers).run()
    finally:
        con.close()


def _no_progress(name: str, fetched: int, done: bool) -> None:
    pass


def _open_working(db_path: str, mode: str):
    try:
        con = store.open_working(db_path)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StripeSyncError(f"Another sync or demo is writing {store.working_path(db_path)}; "
                                  "wait for it to finish and run sync again.") from None
        raise StripeSyncError(f"Cannot open {store.working_path(db_path)}: {exc}") from None
    _bound_memory(con)
    source = con.execute("SELECT value FROM tally_meta WHERE key = 'source'").fetchone()
    if source and source[0] != mode:
        # Demo data or the other mode's account: start from an empty database,
        # never mix two accounts. Publishing replaces the old copy.
        con.close()
        for suffix in ("", ".wal"):
            path = store.working_path(db_path) + suffix
            if os.path.exists(path):
                os.remove(path)
        con = connect(store.working_path(db_path))
        _bound_memory(con)
    return con


def _bound_memory(con) -> None:
    # Peak memory must not grow with the account: let DuckDB spill instead.
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute("SET preserve_insertion_order = false")


class Sync:
    def __init__(self, con, db_path: str, client: StripeHTTP, full: bool, progress: Progress,
                 workers: int):
        self.con = con
        self.db_path = db_path
        self.client = client
        self.full = full
        self.progress = progress
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tally-sync")
        self.workers = workers
        self.futures: dict[Future, tuple[Job, Window]] = {}
        self.notes: list[str] = []
        self.t0 = time.monotonic()
        self.last_publish = self.t0

    def run(self) -> Summary:
        started = _utc_now()
        self._interrupt_old_runs()
        jobs, run_id, mode = self._plan()
        self.con.execute("INSERT INTO sync_runs VALUES (?, ?, NULL, ?, ?, 'running', NULL, NULL)",
                         [run_id, started, self.client.mode, mode])
        try:
            self._probe_created_filters([j for j in jobs if j.status == "running"])
            self._fetch_all(jobs)
        except (AuthError, Unreachable) as exc:
            self._finish_run(run_id, "failed", str(exc), jobs)
            raise
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        status, message = self._outcome(jobs, mode)
        if status != "failed":
            self._record_success()
        return self._finish_run(run_id, status, message, jobs, mode)

    # --- planning -----------------------------------------------------------

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
            return self._resume(states, unfinished)
        return self._new_plan(states)

    def _resume(self, states, unfinished) -> tuple[list[Job], str, str]:
        run_id = next(iter(unfinished.values()))["run_id"]
        jobs = [Job.from_detail(BY_NAME[n], d) for n, d in unfinished.items() if n in BY_NAME]
        mode = "full" if any(j.mode == "full" for j in jobs) else "incremental"
        self.notes.append(f"Resuming an interrupted sync ({len(jobs)} object types left).")
        return jobs, run_id, mode

    def _new_plan(self, states) -> tuple[list[Job], str, str]:
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        events = states.get("events") or {}
        mode = "incremental"
        if self.full:
            mode = "full"
        elif not events.get("backfill_done") or events.get("last_success") is None:
            mode = "full"
        elif _utc_now() - events["last_success"] > dt.timedelta(days=EVENT_RETENTION_DAYS):
            days = (_utc_now() - events["last_success"]).days
            mode = "full"
            self.notes.append(f"The last successful sync was {days} days ago, beyond Stripe's "
                              "30-day event history: re-listing everything.")
        jobs = [self._new_job(kind, states.get(kind.name) or {}, run_id, mode, now)
                for kind in OBJECT_TYPES]
        self.con.begin()
        for job in jobs:
            self._save(job)
        self.con.commit()
        return jobs, run_id, mode

    def _new_job(self, kind: ObjectType, state: dict, run_id: str, mode: str, now: float) -> Job:
        old = state.get("detail") or {}
        created_filter = True if old.get("created_filter") else None  # unknown: probe again
        path = kind.path
        if mode == "full" or not state.get("backfill_done") or state.get("last_created") is None:
            return Job(kind, run_id, "full", now, path, [Window()], created_filter)
        since = int(state["last_created"]) - kind.overlap
        job = Job(kind, run_id, "incremental", now, path, [Window(lo=since)],
                  created_filter)
        if kind.name == "events":
            job.apply_events_since = int(state["last_created"]) - OVERLAP_SECONDS
        return job

    def _probe_created_filters(self, jobs: list[Job]) -> None:
        """Does each list accept `created` filters? (localstripe's mostly do not.)"""
        unknown = [j for j in jobs if j.created_filter is None]
        probes = {self.pool.submit(self._probe, j): j for j in unknown}
        for future, job in probes.items():
            job.created_filter = future.result()
            if not job.created_filter:
                # Without filters, "created since" is impossible: list everything.
                job.mode = "full" if job.mode == "incremental" else job.mode
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

    # --- fetching and writing --------------------------------------------------

    def _fetch_all(self, jobs: list[Job]) -> None:
        for job in jobs:
            if job.status == "running" and not job.windows:
                self._finish_job(job)
            for window in list(job.windows):
                self._submit(job, window)
        while self.futures:
            done, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
            pages = []
            for future in done:
                job, window = self.futures.pop(future)
                job.in_flight -= 1
                page = self._result(future, job, window)
                if page is not None:
                    pages.append((job, window, page))
            self._write(pages)
            for job, window, page in pages:
                self._advance(job, window, page)
            self._maybe_publish()

    def _submit(self, job: Job, window: Window) -> None:
        job.in_flight += 1
        self.futures[self.pool.submit(self._fetch_page, job, window)] = (job, window)

    def _fetch_page(self, job: Job, window: Window) -> Page:
        params = {"limit": PAGE_SIZE, **job.kind.params}
        if window.lo is not None:
            params["created[gte]"] = window.lo
        if window.hi is not None:
            params["created[lt]"] = window.hi
        if window.cursor:
            params["starting_after"] = window.cursor
        resp = self.client.get(job.path, params, label=job.kind.name)
        objects = resp.data.get("data") or []
        if job.kind.name == "invoices":
            for invoice in objects:
                self._complete_lines(invoice, job.kind.name)
        rows = prepare_objects(job.kind.name, objects, synced_at=_utc_now(),
                               api_version=resp.api_version or API_VERSION)
        return Page(objects, bool(resp.data.get("has_more")) and bool(objects), rows)

    def _complete_lines(self, invoice: dict, label: str) -> None:
        """Invoices embed only their first lines: page the rest into the invoice."""
        lines = invoice.get("lines")
        if not isinstance(lines, dict) or not lines.get("has_more"):
            return
        data = list(lines.get("data") or [])
        has_more = True
        while has_more:
            params = {"limit": PAGE_SIZE}
            if data:
                params["starting_after"] = data[-1]["id"]
            resp = self.client.get(f"/v1/invoices/{invoice['id']}/lines", params, label=label)
            batch = resp.data.get("data") or []
            data += batch
            has_more = bool(resp.data.get("has_more")) and bool(batch)
        invoice["lines"] = {**lines, "data": data, "has_more": False}

    def _result(self, future: Future, job: Job, window: Window) -> Page | None:
        """The page, or None after recording why there is none."""
        try:
            return future.result()
        except (AuthError, Unreachable):
            raise
        except NotAvailable as exc:
            if window.cursor and not window.retried_cursor:
                return self._restart_window(job, window)
            if job.kind.fallback_path and job.path != job.kind.fallback_path:
                job.path, job.created_filter = job.kind.fallback_path, False
                job.windows = [Window()]
                job.mode = "full"
                self._submit(job, job.windows[0])
                return None
            self._give_up(job, "skipped", "not offered by this API (404); skipped")
        except PermissionDenied as exc:
            self._give_up(job, "skipped", str(exc))
        except BadRequest as exc:
            if window.cursor and not window.retried_cursor:
                return self._restart_window(job, window)
            self._give_up(job, "failed", str(exc))
        except StripeSyncError as exc:
            self._give_up(job, "failed", str(exc))
        return None

    def _restart_window(self, job: Job, window: Window) -> None:
        # The cursor object may have been deleted since it was saved: re-read
        # the window from its start (upserts make the repeat harmless).
        window.cursor, window.retried_cursor = None, True
        self._submit(job, window)
        return None

    def _give_up(self, job: Job, status: str, note: str) -> None:
        if job.status != "running":
            return
        job.status, job.note = status, self.client.scrub(note)
        self.progress(job.kind.name, job.fetched, True)
        if status == "skipped":
            self.con.begin()
            self._save(job)
            self.con.commit()

    def _write(self, pages: list[tuple[Job, Window, Page]]) -> None:
        """Every finished page and its jobs' checkpoints in one transaction."""
        pages = [(j, w, p) for j, w, p in pages if j.status == "running"]
        if not pages:
            return
        # One upsert per table, however many pages arrived: a MERGE costs
        # about the same for 100 rows as for 1,000.
        groups: dict[str, list[Prepared]] = {}
        for job, _, page in pages:
            if page.rows is not None:
                groups.setdefault(job.kind.name, []).append(page.rows)
        self.con.begin()
        try:
            for table, parts in groups.items():
                combined = combine(parts)
                for rows in [combined] if combined else parts:
                    self._write_rows(rows)
            for job, window, page in pages:
                job.written += len(page.objects)
                job.fetched += len(page.objects)
                self._move_cursor(job, window, page)
            self._save_all([j for j in {id(j): j for j, _, _ in pages}.values()])
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def _write_rows(self, rows: Prepared) -> None:
        if rows.table == "invoices":
            # The loader upserts lines; lines an invoice no longer has must go.
            for lines_table in ("invoice_lines", "invoice_line_taxes"):
                self.con.execute(f"DELETE FROM {lines_table} WHERE invoice_id IN "
                                 "(SELECT unnest(?::VARCHAR[]))", [rows.ids])
        write_prepared(self.con, rows)

    def _move_cursor(self, job: Job, window: Window, page: Page) -> None:
        if page.has_more:
            window.cursor = page.objects[-1]["id"]
            self._maybe_split(job, window, page)
        else:
            job.windows.remove(window)

    def _maybe_split(self, job: Job, window: Window, page: Page) -> None:
        """Hand the older half of a window's remaining range to another worker."""
        created = [o.get("created") or 0 for o in page.objects]
        newest_first = all(a >= b for a, b in zip(created, created[1:]))
        if not (job.created_filter and newest_first and len(job.windows) < WINDOWS_PER_TYPE
                and len(self.futures) < self.workers):
            return
        lo, oldest = window.lo or 0, min(created)
        mid = (lo + oldest) // 2
        if lo < mid < oldest:
            job.windows.append(Window(lo=window.lo, hi=mid))
            window.lo = mid

    def _advance(self, job: Job, window: Window, page: Page) -> None:
        if job.status != "running":
            return
        self.progress(job.kind.name, job.fetched, False)
        if window in job.windows:
            self._submit(job, window)
            for other in job.windows:
                if other is not window and other.cursor is None and not self._busy(other):
                    self._submit(job, other)
        elif not job.windows and job.in_flight == 0:
            self._finish_job(job)

    def _busy(self, window: Window) -> bool:
        return any(w is window for _, w in self.futures.values())

    # --- finishing -----------------------------------------------------------------

    def _finish_job(self, job: Job) -> None:
        """The type is fully listed: events replayed, vanished rows flagged, watermark moved."""
        self.con.begin()
        try:
            if job.apply_events_since is not None:
                self._apply_events(job.apply_events_since)
            if job.mode == "full" and job.kind.relist_marks_deleted:
                self._mark_unlisted(job)
            job.status = "done"
            job.seconds = time.monotonic() - self.t0
            self._save(job, watermark=True)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        self.progress(job.kind.name, job.fetched, True)

    def _mark_unlisted(self, job: Job) -> None:
        started = dt.datetime.fromtimestamp(job.started_at, dt.UTC).replace(tzinfo=None)
        self.con.execute(f"UPDATE {job.kind.name} SET deleted = true "
                         "WHERE synced_at < ? AND NOT deleted", [started])

    def _apply_events(self, since: int) -> None:
        """Write the newest event snapshot of every object changed since `since`.

        An event's `data.object` is the object right after the change, so the
        newest one per object is its current state (or its deletion). Read in
        chunks from a second cursor: thirty days of events can be many.
        """
        reader = self.con.cursor()
        try:
            reader.execute("""
                SELECT raw FROM events
                WHERE epoch(created) >= ? AND object_id IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY object_type, object_id
                                           ORDER BY created DESC, id DESC) = 1""", [since])
            while chunk := reader.fetchmany(EVENT_CHUNK):
                self._apply_event_chunk([orjson.loads(raw) for (raw,) in chunk])
        finally:
            reader.close()

    def _apply_event_chunk(self, events: list[dict]) -> None:
        by_table: dict[tuple[str, str | None], list[dict]] = {}
        gone: dict[str, list[str]] = {}
        for event in events:
            obj = event["data"]["object"]
            table = OBJECT_TABLES.get(obj.get("object"))
            if not table or table == "events":
                continue
            if table == "invoices":
                self._complete_lines(obj, "events")
            by_table.setdefault((table, event.get("api_version")), []).append(obj)
            # `customer.subscription.deleted` is a cancellation, not a deletion.
            if str(event.get("type", "")).endswith(".deleted") and table != "subscriptions":
                gone.setdefault(table, []).append(obj["id"])
        synced_at = _utc_now()
        for (table, version), objects in by_table.items():
            self._write_rows(prepare_objects(table, objects, synced_at=synced_at,
                                             api_version=version or API_VERSION))
        for table, ids in gone.items():
            mark_deleted(self.con, table, ids)

    def _save_all(self, jobs: list[Job]) -> None:
        """Checkpoint several jobs with one statement (one per job costs ~10 ms)."""
        if len(jobs) == 1:
            return self._save(jobs[0])
        details = [orjson.dumps(j.detail()).decode() for j in jobs]
        self.con.execute("""
            INSERT INTO sync_state (object_type, backfill_done, detail)
            SELECT unnest(?::VARCHAR[]), false, unnest(?::VARCHAR[])::JSON
            ON CONFLICT (object_type) DO UPDATE SET detail = excluded.detail""",
                         [[j.kind.name for j in jobs], details])

    def _save(self, job: Job, watermark: bool = False) -> None:
        detail = orjson.dumps(job.detail()).decode()
        if watermark:
            self.con.execute("""
                INSERT INTO sync_state (object_type, backfill_done, last_created,
                                        last_event_created, last_success, detail)
                VALUES (?, true, ?, ?, ?, ?)
                ON CONFLICT (object_type) DO UPDATE SET
                    backfill_done = true, last_created = excluded.last_created,
                    last_event_created = excluded.last_event_created,
                    last_success = excluded.last_success, detail = excluded.detail""",
                             [job.kind.name, int(job.started_at),
                              int(job.started_at) if job.kind.name == "events" else None,
                              _utc_now(), detail])
        else:
            self.con.execute("""
                INSERT INTO sync_state (object_type, backfill_done, detail) VALUES (?, false, ?)
                ON CONFLICT (object_type) DO UPDATE SET detail = excluded.detail""",
                             [job.kind.name, detail])

    def _maybe_publish(self) -> None:
        # Long backfills: let the dashboard see progress every few minutes.
        if time.monotonic() - self.last_publish > PUBLISH_EVERY_SECONDS:
            store.publish(self.con, self.db_path)
            self.last_publish = time.monotonic()

    def _outcome(self, jobs: list[Job], mode: str) -> tuple[str, str]:
        failed = [j for j in jobs if j.status == "failed"]
        denied = [j for j in jobs if j.status == "skipped" and "403" in (j.note or "")]
        if failed:
            names = ", ".join(j.kind.name for j in failed)
            return "failed", f"Sync failed for {names}: {failed[0].note} Run sync again to resume."
        if denied:
            names = ", ".join(j.kind.name for j in denied)
            return "partial", f"Synced, except {names}: {denied[0].note}"
        return "ok", f"{mode.capitalize()} sync finished."

    def _record_success(self) -> None:
        """Subscription status history, where the data came from, when it was fresh."""
        now = _utc_now()
        self.con.begin()
        self.con.execute("DELETE FROM subscription_snapshots WHERE snapshot_date = ?", [now.date()])
        self.con.execute("""
            INSERT INTO subscription_snapshots
            SELECT ?::DATE, id, customer_id, status, cancel_at_period_end
            FROM subscriptions WHERE NOT deleted""", [now.date()])
        for key, value in (("source", self.client.mode), ("last_sync_at", now.isoformat())):
            self.con.execute("INSERT OR REPLACE INTO tally_meta VALUES (?, ?)", [key, value])
        self.con.commit()

    def _interrupt_old_runs(self) -> None:
        self.con.execute("UPDATE sync_runs SET status = 'interrupted' WHERE status = 'running'")

    def _finish_run(self, run_id: str, status: str, message: str, jobs: list[Job],
                    mode: str = "full") -> Summary:
        per_job = {j.kind.name: {"status": j.status, "mode": j.mode, "fetched": j.fetched,
                                 "written": j.written, "seconds": round(j.seconds, 2),
                                 "note": j.note, **self.client.stats.get(j.kind.name, {})}
                   for j in jobs}
        summary = Summary(run_id, status, mode, message, per_job, self.client.total("requests"),
                          self.client.total("retries"), time.monotonic() - self.t0, self.notes)
        stats = {"jobs": per_job, "requests": summary.requests, "retries": summary.retries,
                 "seconds": round(summary.seconds, 2), "notes": self.notes}
        self.con.execute("""UPDATE sync_runs SET finished_at = ?, status = ?, message = ?, stats = ?
                            WHERE run_id = ? AND status = 'running'""",
                         [_utc_now(), status, message, orjson.dumps(stats).decode(), run_id])
        if status != "failed":
            store.publish(self.con, self.db_path)
        return summary


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
