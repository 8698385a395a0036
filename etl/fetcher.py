"""Fetch threads: each pages one `created` window to its end, ahead of the writer.

Pages go, converted to Arrow by a worker process (etl/convert.py), into a
bounded queue that the single writer thread drains; the queue's bound keeps
memory flat however big the account. While a type has fewer windows than
keep its endpoint busy, its biggest window hands the older half of its
remaining `created` range to a new thread (which splits again): big object
types are fetched by several threads, so latency is hidden and Stripe's
limits, not our round trips, set the pace. Each request carries its type's
estimated pages left as priority for the account-wide rate limit, so the big
types finish together.

Invoices embed only their first lines. `GET /v1/invoices/{id}/lines` is an
endpoint of its own for Stripe's limits, and on a B2B account its pages can
set the whole sync's pace: an invoice page naming long invoices hands their
lines to a pool of line threads at once and the window lists on, so the
lines endpoint is busy from the first invoice page to the end. The page is
queued for the writer only once its lines are in, and a window's pages in
list order: the writer commits an invoice with all its lines and the
window's cursor never passes an invoice still missing some (kill-and-resume
loses and doubles nothing).
"""
from __future__ import annotations

import collections
import datetime as dt
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import orjson

from etl.client import BadRequest, NotAvailable, ServerError, StripeHTTP
from etl.convert import PageConverter, has_more_lines
from etl.load import combine
from etl.schema import API_VERSION
from etl.sync_jobs import UNKNOWN_PAGES, Failure, Job, Page, Window

PAGE_SIZE = 100
WINDOWS_PER_TYPE = 8  # enough to reach 25 req/s per endpoint at ~150 ms latency
CHUNK_PAGES = 40
MIN_SPLIT_PAGES = 6
# ~0.3 MB a page: a bound on memory. Room for 2 s of pages, as long as the
# writer's longest checkpoints (DuckDB compacts the row groups of earlier
# checkpoints, which can take seconds): fewer, and the fetch threads wait for
# room while the writer checkpoints.
QUEUE_PAGES = 192
QUEUE_BYTES = 32 << 20  # and of their Arrow buffers: a B2B account's pages can be 10x the size
LINE_WORKERS = 16  # the lines endpoint's 25 req/s at ~150 ms needs ~4 in flight; a busy machine, more
# Invoice pages a window lists ahead while their lines are paged: enough
# waiting lines to keep their endpoint busy, few enough to keep memory flat.
WAITING_PAGES = 2
# Invoice pages whose lines are being paged, across all windows: each is held
# whole until its lines are in. Enough to keep the lines endpoint busy.
LONG_PAGES_AHEAD = 12
# Invoices of a long page converted at once: a page of long invoices is
# several MB of JSON, and its body, its pickle and its Arrow are alive together.
CONVERT_PART = 25
LINES_PRIORITY = float("inf")  # lines pace the sync where they are many: first call on the account's budget
LINES_LABEL = "invoice_lines"


@dataclass
class LongPage:
    """An invoice page whose long invoices are having the rest of their lines paged."""
    table: str
    ids: list[str]
    objects: list  # the long invoices as dicts, the rest as JSON (orjson.Fragment)
    has_more: bool
    synced_at: dt.datetime
    api_version: str
    lines: list[Future]


class Fetcher:
    def __init__(self, client: StripeHTTP, workers: int, utc_now):
        self.client = client
        self.workers = workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tally-fetch")
        self.pages: queue.Queue = queue.Queue(maxsize=QUEUE_PAGES)
        self.room = threading.Condition()  # guards queued_bytes
        self.queued_bytes = 0
        self.long_pages = threading.BoundedSemaphore(LONG_PAGES_AHEAD)
        self.lock = threading.Lock()  # guards `active` and every job's window list
        self.active = 0
        self.stopping = threading.Event()
        self.utc_now = utc_now
        self.oldest_seen: int | None = None  # created of the oldest object of any type so far
        self.converter = PageConverter()
        self.lines_pool = ThreadPoolExecutor(max_workers=LINE_WORKERS, thread_name_prefix="tally-lines")

    def start(self, job: Job, window: Window) -> None:
        with self.lock:
            self.active += 1
        self.pool.submit(self._page_through, job, window)

    def busy(self) -> bool:
        """Fetching, or pages not yet taken: safe end test once both are false."""
        with self.lock:
            return self.active > 0 or not self.pages.empty()

    def fetching(self) -> bool:
        """Some thread may still queue a page."""
        with self.lock:
            return self.active > 0

    def stop(self) -> None:
        self.stopping.set()
        self.lines_pool.shutdown(wait=False, cancel_futures=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.lines_pool.shutdown(wait=True)
        self.converter.stop()

    def _page_through(self, job: Job, window: Window) -> None:
        cursor = delivered = window.cursor
        waiting: collections.deque = collections.deque()  # (Page, LongPage | None), in list order

        def make_room() -> None:  # this window's long pages, delivered once their lines are in
            nonlocal delivered
            delivered = self._deliver(job, window, waiting, 0, delivered)

        try:
            while job.running and not self.stopping.is_set():
                page, long = self.fetch_page(job, window.lo, window.hi, cursor, job.pages_left(),
                                             make_room)
                self._estimate(window, page)
                split = self._maybe_split(job, window, page) if page.has_more else None
                waiting.append((page, long))
                delivered = self._deliver(job, window, waiting, WAITING_PAGES, delivered)
                if split:
                    self.start(job, split)
                if not page.has_more:
                    break
                cursor = page.last_id
            self._deliver(job, window, waiting, 0, delivered)
        except BaseException as exc:  # the writer decides what an error means
            self._put((job, window, Failure(exc, delivered)))
        finally:
            for _, long in waiting:
                for future in long.lines if long else []:
                    future.cancel()
                if long:
                    self.long_pages.release()
            with self.lock:
                self.active -= 1

    def _deliver(self, job: Job, window: Window, waiting: collections.deque, keep: int,
                 delivered: str | None) -> str | None:
        """Queue the window's pages in list order, each once its lines are in:
        waits until at most `keep` are left, then queues those already complete.
        Returns the last queued page's cursor; raises a line page's error."""
        while waiting:
            page, long = waiting[0]
            if long is not None:
                if len(waiting) <= keep and not all(f.done() for f in long.lines):
                    break
                page = self._completed_page(long)
            self._put((job, window, page))
            waiting.popleft()
            if long is not None:
                self.long_pages.release()
            delivered = page.last_id
        return delivered

    def _put(self, item) -> None:
        size = queued_size(item)
        with self.room:
            while self.queued_bytes and self.queued_bytes + size > QUEUE_BYTES \
                    and not self.stopping.is_set():
                self.room.wait(0.2)
            self.queued_bytes += size
        while not self.stopping.is_set():
            try:
                self.pages.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def take(self, timeout: float | None = None):
        """The next queued (job, window, page or failure); raises queue.Empty
        after `timeout` seconds (at once with None)."""
        item = self.pages.get(timeout=timeout) if timeout is not None else self.pages.get_nowait()
        with self.room:
            self.queued_bytes -= queued_size(item)
            self.room.notify_all()
        return item

    def fetch_page(self, job: Job, lo: int | None, hi: int | None, cursor: str | None,
                   priority: float = 0.0, make_room=None) -> tuple[Page, LongPage | None]:
        """A list page, converted; when invoices on it have more lines than they
        embed, a page without rows and the LongPage whose lines are being paged
        (one of LONG_PAGES_AHEAD: `make_room()` delivers the caller's own while
        none is free)."""
        params = {"limit": PAGE_SIZE, **job.kind.params}
        if lo is not None:
            params["created[gte]"] = lo
        if hi is not None:
            params["created[lt]"] = hi
        if cursor:
            params["starting_after"] = cursor
        resp = self._get_first_or_next(job, params, priority)
        if b'"data"' not in resp.body:  # every Stripe list page has one, even an empty page
            raise self.client.not_a_list(job.path, resp.body)
        synced_at, api_version = self.utc_now(), resp.api_version or API_VERSION
        page = self.converter.convert(job.kind.table, resp.body, synced_at, api_version)
        if page is not None:
            return page, None
        objects = resp.data.get("data") or []  # an invoice with more lines than it embeds
        has_more = bool(resp.data.get("has_more")) and bool(objects)
        ids = [o["id"] for o in objects]
        outline = Page(len(objects), ids[-1] if ids else None, has_more, None,
                       [o.get("created") or 0 for o in objects])
        self._hold_long_page(make_room)
        futures = self.page_lines(objects, compact=True)
        # until the page is complete, the invoices already complete wait as JSON: less memory
        objects = [o if has_more_lines(o) else orjson.Fragment(orjson.dumps(o)) for o in objects]
        return outline, LongPage(job.kind.table, ids, objects, has_more, synced_at, api_version,
                                 futures)

    def _hold_long_page(self, make_room) -> None:
        if self.long_pages.acquire(blocking=False):
            return
        if make_room:
            make_room()  # what holds the others is always some window's waiting pages
        while not self.long_pages.acquire(timeout=0.2):
            if self.stopping.is_set():
                raise InterruptedError("stopped while waiting to page invoice lines")

    def _completed_page(self, long: LongPage) -> Page:
        """The page of `long`, its invoices complete, converted (in the worker process).

        An invoice deleted since it was listed (a draft) is left out: its lines
        answered 404. The page still ends, for the window's cursor, where the
        listed page did.
        """
        gone = {future.result() for future in long.lines} - {None}  # a line page's error is the page's
        objects = [o for i, o in zip(long.ids, long.objects) if i not in gone]
        parts = []
        for start in range(0, max(1, len(objects)), CONVERT_PART):
            body = orjson.dumps({"object": "list", "data": objects[start:start + CONVERT_PART],
                                 "has_more": False})
            objects[start:start + CONVERT_PART] = [None] * len(objects[start:start + CONVERT_PART])
            part = self.converter.convert(long.table, body, long.synced_at, long.api_version)
            assert part is not None  # every invoice on it is complete
            parts.append(part)
        rows = combine([p.rows for p in parts if p.rows is not None])
        kept = [i for i in long.ids if i not in gone]
        last_id = kept[-1] if kept else (long.ids[-1] if long.ids else None)
        return Page(sum(p.count for p in parts), last_id, long.has_more, rows,
                    [c for p in parts for c in p.created])

    def _get_first_or_next(self, job: Job, params: dict, priority: float):
        """A list page; the first of a job listing everything also asks `created[gte]=0`
        (true of every object), which tells whether its windows may split, at no
        extra request: an API without `created` filters refuses it (400, or 500
        from localstripe), and the page is asked again without."""
        if job.created_filter is not None or "created[gte]" in params or "starting_after" in params:
            return self.client.get(job.path, params, label=job.kind.name, priority=priority)
        try:
            resp = self.client.get(job.path, {**params, "created[gte]": 0}, label=job.kind.name,
                                   priority=priority, max_retries=2)
        except (BadRequest, ServerError):
            job.created_filter = False
            return self.client.get(job.path, params, label=job.kind.name, priority=priority)
        job.created_filter = True
        return resp

    def page_lines(self, invoices: list[dict], compact: bool = False) -> list[Future]:
        """Start paging the rest of the lines of every long invoice, concurrently.
        Each future gives None, or the invoice's id if it is gone. `compact`:
        the lines are kept as JSON (orjson.Fragment), for pages that only go
        on to the converter: a 300-line invoice takes a third of the memory."""
        return [self.lines_pool.submit(self._complete_lines, invoice, compact)
                for invoice in invoices if has_more_lines(invoice)]

    def complete_lines(self, invoices: list[dict]) -> set[str]:
        """Page the rest of the lines of `invoices` into them; back when all are
        complete, with the ids of those gone (deleted since)."""
        futures = self.page_lines(invoices)
        wait(futures)
        return {future.result() for future in futures} - {None}

    def _complete_lines(self, invoice: dict, compact: bool = False) -> str | None:
        """Invoices embed only their first lines: page the rest into the invoice.

        A 404 means the invoice was deleted since it was listed (drafts can be):
        returns its id, for the caller to leave it out. Raising instead would
        fail its whole window and, re-read, skip invoices as "not offered".
        """
        lines = invoice["lines"]
        data = list(lines.get("data") or [])
        last = data[-1]["id"] if data else None
        pages = [orjson.dumps(data)] if compact else []
        has_more = True
        while has_more and not self.stopping.is_set():
            params = {"limit": PAGE_SIZE}
            if last:
                params["starting_after"] = last
            try:
                resp = self.client.get(f"/v1/invoices/{invoice['id']}/lines", params,
                                       label=LINES_LABEL, priority=LINES_PRIORITY)
            except NotAvailable:
                return invoice["id"]
            batch = resp.data.get("data") or []
            if compact:
                pages.append(orjson.dumps(batch))
            else:
                data += batch
            last = batch[-1]["id"] if batch else last
            has_more = bool(resp.data.get("has_more")) and bool(batch)
        if has_more:
            raise InterruptedError("stopped while paging invoice lines")
        invoice["lines"] = {**lines, "has_more": False,
                            "data": _joined_arrays(pages) if compact else data}
        return None

    def _estimate(self, window: Window, page: Page) -> None:
        """Pages the window has left, judging by this page's density (for priorities).

        An unbounded window is taken to reach back to the oldest object seen
        of any type (small types, listed in a request or two, show how far
        back the account goes), unless it is itself the furthest back.
        """
        with self.lock:
            if not page.created:
                window.pages_left = 0.0
                return
            oldest = min(page.created)
            furthest = self.oldest_seen is None or oldest <= self.oldest_seen
            if furthest:
                self.oldest_seen = oldest
            if not page.has_more:
                window.pages_left = 0.0
            elif window.lo is None and furthest:
                # This window reaches back the furthest of any so far: how far
                # it goes is anyone's guess, and a big type's tail is worth reading early.
                window.pages_left = UNKNOWN_PAGES
            else:
                lo = window.lo if window.lo is not None else self.oldest_seen
                window.pages_left = _pages_between(lo, oldest, page)

    def _maybe_split(self, job: Job, window: Window, page: Page) -> Window | None:
        """Hand the older half of the window's remaining range to another thread.

        Every window ends in a part-full page, so each split costs a request:
        split only while the type has fewer windows than it needs to keep its
        endpoint busy, and only what is worth splitting: its biggest window.
        (Halving whichever window asked first left windows of every size; the
        small ones ended early, and refilling their threads split the type
        into twice as many windows, each ending in its part-full page.)
        Done under the lock, so a checkpoint never sees one half without the other.
        """
        created = page.created
        newest_first = all(a >= b for a, b in zip(created, created[1:]))
        with self.lock:
            worth_it = window.lo is None or (
                window.pages_left >= 2 * MIN_SPLIT_PAGES
                and all(w.pages_left <= window.pages_left for w in job.windows))
            if not (job.created_filter and newest_first and len(job.windows) < WINDOWS_PER_TYPE
                    and self.active < self.workers and worth_it):
                return None
            oldest = min(created)
            if window.lo is None:
                # How far back this type goes is unknown (other types tell
                # little: events go back 30 days, customers years): keep
                # CHUNK_PAGES here, hand off everything older, which splits again.
                mid = oldest - CHUNK_PAGES * max(1, max(created) - oldest)
            else:
                mid = (window.lo + oldest) // 2  # halves the estimate, at this page's density
            if not (window.lo or 0) < mid < oldest:
                return None
            split = Window(lo=window.lo, hi=mid)
            split.pages_left = _pages_between(window.lo or self.oldest_seen, mid, page)
            window.pages_left = max(1.0, window.pages_left - split.pages_left)
            job.windows.append(split)
            window.lo = mid
            return split


def queued_size(item) -> int:
    """Bytes a queued (job, window, page) holds in Arrow buffers."""
    page = item[2]
    return page.rows.nbytes if isinstance(page, Page) and page.rows is not None else 0


def _pages_between(lo: int | None, hi: int, page: Page) -> float:
    """List pages for objects created in [lo, hi), at the density of `page`."""
    span = max(1, max(page.created) - min(page.created))
    return max(1.0, (hi - (lo or hi)) * len(page.created) / span / PAGE_SIZE)


def _joined_arrays(arrays: list[bytes]) -> orjson.Fragment:
    """JSON arrays, serialized, as one array to embed as it is."""
    items = [array[1:-1] for array in arrays if array != b"[]"]
    return orjson.Fragment(b"[" + b",".join(items) + b"]")
