"""Batches ready to write: the loader's prepared rows and the truth rows, in order.

Small accounts are simulated and prepared here. For large ones, worker
processes simulate customers *and* run the loader's row preparation
(`etl.load.prepare_objects`, the Python-heavy half of `load_objects`), so
this process only writes (`write_prepared`). At most a few batches are in
flight, which keeps memory flat; batches arrive in customer order, and the
rows are the same either way, so the database is too.
"""
from __future__ import annotations

import collections
import datetime as dt
import multiprocessing
from typing import Iterator

from etl.demo.stripe_json import INLINE_MARKER
from etl.load import OBJECT_TABLES, Prepared, prepare_objects

BATCH_OBJECTS = 10_000
PARALLEL_FROM = 5_000  # customers; below this, starting processes costs more than it saves
WORKERS = 2
CUSTOMERS_PER_TASK = 250  # about 9,000 objects
TASKS_IN_FLIGHT_PER_WORKER = 2

Batch = tuple[list[Prepared], list[tuple], int]  # prepared rows, truth rows, customers done


def prepare_batch(objects: list[dict], synced_at: dt.datetime) -> list[Prepared]:
    """What `load_mixed` does before writing: group by type, convert each group."""
    by_table: dict[str, list[dict]] = {}
    for obj in objects:
        if INLINE_MARKER in obj:  # a note for fakestripe only: the database holds what Stripe sends
            obj = {k: v for k, v in obj.items() if k != INLINE_MARKER}
        by_table.setdefault(OBJECT_TABLES[obj["object"]], []).append(obj)
    prepared = (prepare_objects(name, objs, synced_at=synced_at) for name, objs in by_table.items())
    return [p for p in prepared if p is not None]


def batches(run, parallel: bool | None = None) -> Iterator[Batch]:
    if parallel is None:
        parallel = run.customers >= PARALLEL_FROM
    return _in_workers(run) if parallel else _in_process(run)


def _in_process(run) -> Iterator[Batch]:
    synced_at = run.synced_at
    objects, truth = list(run.catalog()), []
    for index in range(run.customers):
        chunk, rows = run.customer(index)
        objects.extend(chunk)
        truth.extend(rows)
        if len(objects) >= BATCH_OBJECTS:
            yield prepare_batch(objects, synced_at), truth, index + 1
            objects, truth = [], []
    yield prepare_batch(objects, synced_at), truth, run.customers


def _in_workers(run) -> Iterator[Batch]:
    yield prepare_batch(run.catalog(), run.synced_at), [], 0
    tasks = [(first, min(first + CUSTOMERS_PER_TASK, run.customers))
             for first in range(0, run.customers, CUSTOMERS_PER_TASK)]
    context = multiprocessing.get_context("spawn")  # never fork DuckDB's threads
    with context.Pool(WORKERS, initializer=_start_worker, initargs=(run.arguments(),)) as pool:
        pending: collections.deque = collections.deque()
        for first, last in tasks:
            pending.append(pool.apply_async(_prepare_customers, (first, last)))
            if len(pending) >= WORKERS * TASKS_IN_FLIGHT_PER_WORKER:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


_worker_run = None


def _start_worker(arguments: tuple) -> None:
    global _worker_run
    from etl.demo.generate import Run
    from etl.memory import flat_memory
    flat_memory()  # the workers build Arrow tables too: the same allocators as the writer
    _worker_run = Run(*arguments)


def _prepare_customers(first: int, last: int) -> Batch:
    run = _worker_run
    assert run is not None, "_start_worker runs in each worker before any task"
    objects: list[dict] = []
    truth: list[tuple] = []
    for index in range(first, last):
        chunk, rows = run.customer(index)
        objects.extend(chunk)
        truth.extend(rows)
    return prepare_batch(objects, run.synced_at), truth, last
