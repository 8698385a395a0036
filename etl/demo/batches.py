"""Batches of (objects, truth rows) for loading, made in this process or in a helper.

Simulating customers and loading them each take about half the time, so for
large accounts a helper process simulates while this one loads. A bounded
queue keeps memory flat: the helper waits when the loader is behind. Batches
arrive in order, so the database is the same either way.
"""
from __future__ import annotations

import multiprocessing
import queue as queue_module
from typing import Iterator

import orjson

BATCH_OBJECTS = 10_000
PARALLEL_FROM = 5_000  # customers; below this, starting a process costs more than it saves
QUEUE_BATCHES = 3


def batches(run, parallel: bool | None = None) -> Iterator[tuple[list[dict], list[tuple], int]]:
    """(objects, truth rows, customers done so far) of about BATCH_OBJECTS objects each."""
    if parallel is None:
        parallel = run.customers >= PARALLEL_FROM
    if parallel:
        yield from _from_helper(run)
    else:
        yield from _in_process(run)


def _in_process(run) -> Iterator[tuple[list[dict], list[tuple], int]]:
    objects: list[dict] = []
    truth: list[tuple] = []
    done = -1  # the first chunk is the catalog
    for chunk, rows in run.chunks():
        objects.extend(chunk)
        truth.extend(rows)
        done += 1
        if len(objects) >= BATCH_OBJECTS:
            yield objects, truth, done
            objects, truth = [], []
    yield objects, truth, done


def _from_helper(run) -> Iterator[tuple[list[dict], list[tuple], int]]:
    context = multiprocessing.get_context("spawn")  # no fork of DuckDB's threads
    queue = context.Queue(maxsize=QUEUE_BATCHES)
    helper = context.Process(target=_produce, args=(run.arguments(), queue), daemon=True)
    helper.start()
    try:
        while True:
            item = _get(queue, helper)
            if item is None:
                return
            if item[0] == "error":
                raise RuntimeError(f"demo simulation failed: {item[1]}")
            payload, truth, done = item
            yield orjson.loads(payload), truth, done
    finally:
        if helper.is_alive():
            helper.terminate()
        helper.join()


def _get(queue, helper):
    while True:
        try:
            return queue.get(timeout=5)
        except queue_module.Empty:
            if not helper.is_alive():
                raise RuntimeError("demo simulation process stopped unexpectedly") from None


def _produce(arguments: tuple, queue) -> None:
    from etl.demo.generate import Run
    try:
        for objects, truth, done in _in_process(Run(*arguments)):
            queue.put((orjson.dumps(objects), truth, done))
        queue.put(None)
    except BaseException as exc:  # noqa: BLE001 - reported by the loading process
        queue.put(("error", f"{type(exc).__name__}: {exc}"))
