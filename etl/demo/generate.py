"""The generator's public entry points: an object stream, a database, JSONL files."""
from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import duckdb
import orjson
import pyarrow as pa

from etl import store
from etl.demo import emit
from etl.demo.batches import batches
from etl.demo.clock import DAY, add_months, complete_months, next_month_start_ts, resolve_now, to_ts
from etl.demo.simulate import simulate_customer
from etl.demo.truth import TRUTH_DDL, customer_truth
from etl.load import OBJECT_TABLES, write_prepared

DUCKDB_MEMORY = "1GB"
CHECKPOINT_EVERY = "256MB"  # of WAL
TRUTH_SCHEMA = pa.schema([("month", pa.date32()), ("customer_id", pa.string()),
                          ("currency", pa.string()), ("mrr", pa.float64())])


class Run:
    """One generation: its clock, its history window, its customers one by one."""

    def __init__(self, customers: int, seed: int, months: int, now):
        if customers < 1 or months < 1:
            raise ValueError("customers and months must be at least 1")
        self.customers, self.seed, self.months = customers, seed, months
        self.now_dt = resolve_now(now)
        self.now = to_ts(self.now_dt)
        self.start = add_months(self.now, -months)
        self.truth_months = complete_months(self.start, self.now)
        self.boundaries = [next_month_start_ts(m) for m in self.truth_months]
        self._prices: dict[str, dict] | None = None

    def arguments(self) -> tuple:
        return self.customers, self.seed, self.months, self.now_dt

    @property
    def synced_at(self) -> dt.datetime:
        """What the loader records as the sync time: the simulated now (deterministic)."""
        return self.now_dt.replace(tzinfo=None)

    def catalog(self) -> list[dict]:
        return emit.catalog_objects(self.start - 30 * DAY)

    def customer(self, index: int) -> tuple[list[dict], list[tuple]]:
        """One customer's objects and truth rows."""
        if self._prices is None:
            self._prices = {o["id"]: o for o in self.catalog() if o["object"] in ("price", "tax_rate")}
        customer = simulate_customer(index, self.seed, self.start, self.now)
        return (emit.customer_objects(customer, self.now, self._prices),
                customer_truth(customer, self.truth_months, self.boundaries))


def generate_objects(customers: int = 300, seed: int = 1, months: int = 30, now=None,
                     on_truth: Callable[[list[tuple]], None] | None = None) -> Iterator[dict]:
    """Stripe objects of the demo account, streamed customer by customer.

    Truth rows (month, customer_id, currency, mrr) go to `on_truth` if given.
    """
    run = Run(customers, seed, months, now)
    yield from run.catalog()
    for index in range(customers):
        objects, truth = run.customer(index)
        if on_truth is not None and truth:
            on_truth(truth)
        yield from objects


def truth_rows(customers: int = 300, seed: int = 1, months: int = 30, now=None) -> list[tuple]:
    rows: list[tuple] = []
    for _ in generate_objects(customers, seed, months, now, on_truth=rows.extend):
        pass
    return rows


def generate_database(db_path: str, customers: int = 300, seed: int = 1, months: int = 30,
                      now=None, progress: Callable[[int, int], None] | None = None,
                      parallel: bool | None = None) -> None:
    """Write a fresh demo database through the same loader the sync uses, then publish it.

    `parallel`: worker processes simulate customers and prepare the loader's rows
    while this process writes them (default: from 5,000 customers); the database
    is the same either way. `progress(done_customers, total)` after each batch.
    """
    from etl.memory import flat_memory  # here: importing etl.demo stays light for the dashboard
    run = Run(customers, seed, months, now)
    flat_memory()
    con = _fresh_working(db_path)
    try:
        # Keep memory flat at any size: DuckDB spills to disk rather than grow.
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
        # An automatic checkpoint (every 16 MB of WAL by default) recompresses the
        # row groups still being filled, again and again: most of this process's
        # CPU at 100,000 customers. Publishing checkpoints once at the end anyway.
        con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_EVERY}'")
        _load(con, run, progress, parallel)
        con.begin()
        _write_marketing_spend(con, run)
        _write_meta(con, run)
        con.commit()
        store.publish(con, db_path)
    finally:
        con.close()
    for suffix in ("", ".wal"):
        Path(store.working_path(db_path) + suffix).unlink(missing_ok=True)


def _fresh_working(db_path: str):
    """A new empty working file (a demo never builds on an older database)."""
    work = store.working_path(db_path)
    if os.path.exists(work):
        try:  # fails while a sync (or another demo) holds the file: never pull it from under them
            duckdb.connect(work).close()
        except duckdb.IOException as exc:
            raise RuntimeError(f"another sync or demo is writing {work}; wait for it to finish") from exc
    for suffix in ("", ".wal"):
        Path(work + suffix).unlink(missing_ok=True)
    Path(work).parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(work).close()
    con = store.open_working(db_path)
    con.execute(TRUTH_DDL)
    return con


def _load(con, run: Run, progress, parallel: bool | None) -> None:
    for prepared, truth, done in batches(run, parallel):
        con.begin()
        for rows in prepared:
            # A fresh file and ids unique by construction: nothing to replace,
            # and deleting by key would scan every table once per batch.
            write_prepared(con, rows, upsert=False)
        _insert_truth(con, truth)
        con.commit()
        if progress:
            progress(done, run.customers)


def _insert_truth(con, truth: list[tuple]) -> None:
    if not truth:
        return
    batch = pa.table(list(zip(*truth)), schema=TRUTH_SCHEMA)
    con.register("_demo_truth", batch)
    try:
        con.execute("INSERT INTO demo_truth_mrr BY NAME SELECT * FROM _demo_truth")
    finally:
        con.unregister("_demo_truth")


# The table metrics/marketing_spend.py owns (etl never imports metrics): the demo
# writes it as a user would, and tests/metrics/test_page_data.py keeps the two the same.
MARKETING_SPEND_DDL = """CREATE TABLE IF NOT EXISTS marketing_spend (
    month DATE, amount BIGINT, currency VARCHAR, channel VARCHAR)"""
MARKETING_CHANNELS = (("Search ads", 0.5), ("LinkedIn", 0.3), ("Content", 0.2))
# A B2B SaaS typically earns its acquisition cost back in 6 to 18 months: the demo's
# budget buys each month's new MRR at roughly 6 to 12 months of it (before churn).
PAYBACK_MONTHS = (6.0, 12.0)
MAX_PAYBACK_MONTHS = 24


def _write_marketing_spend(con, run: Run) -> None:
    """Made-up spend per month, currency and channel, sized by the new MRR it bought.

    Each month's budget follows the new MRR of that month and of the two before
    (budgets are planned, not reactive), in each currency the business sells in,
    so CAC, payback and LTV:CAC land where a SaaS founder expects them.
    """
    rng = random.Random(run.seed)
    con.execute(MARKETING_SPEND_DDL)
    won = _new_mrr_by_month(con)
    for currency in sorted({c for _, c in won}):
        history = []
        for month in run.truth_months[1:]:  # the first month has no "before": everyone looks new
            history.append(won.get((month, currency), 0.0))
            planned = 0.5 * history[-1] + 0.5 * sum(history[-3:]) / len(history[-3:])
            budget = planned * rng.uniform(*PAYBACK_MONTHS)
            if history[-1] > 0:  # a slow month still wins something: no 100-month payback
                budget = min(budget, history[-1] * MAX_PAYBACK_MONTHS)
            for channel, share in MARKETING_CHANNELS:
                amount = int(budget * share * rng.uniform(0.85, 1.15))
                if amount > 0:
                    con.execute("INSERT INTO marketing_spend VALUES (?, ?, ?, ?)",
                                [month, amount, currency, channel])


def _new_mrr_by_month(con) -> dict:
    """{(month, currency): MRR of customers paying that month and not the month before} (minor units)."""
    rows = con.execute("""
        WITH paying AS (SELECT month, customer_id, currency, mrr FROM demo_truth_mrr WHERE mrr > 0)
        SELECT p.month, p.currency, sum(p.mrr) FROM paying p
        WHERE NOT EXISTS (SELECT 1 FROM paying b WHERE b.customer_id = p.customer_id
                          AND b.currency = p.currency AND b.month = p.month - INTERVAL 1 MONTH)
        GROUP BY ALL""").fetchall()
    return {(month, currency): float(mrr) for month, currency, mrr in rows}


def _write_meta(con, run: Run) -> None:
    meta = {"source": "demo", "demo_seed": str(run.seed), "demo_customers": str(run.customers),
            "demo_months": str(run.months), "generated_at": run.now_dt.isoformat(),
            "livemode": "false"}
    for key, value in meta.items():
        con.execute("INSERT OR REPLACE INTO tally_meta VALUES (?, ?)", [key, value])


def write_jsonl(out_dir: str, customers: int = 300, seed: int = 1, months: int = 30,
                now=None) -> dict[str, int]:
    """One `<table>.jsonl` per object type, each line the exact API JSON. Returns counts."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    files: dict[str, BinaryIO] = {}
    counts: dict[str, int] = {}
    try:
        for obj in generate_objects(customers, seed, months, now):
            table = OBJECT_TABLES[obj["object"]]
            handle = files.get(table)
            if handle is None:
                handle = files[table] = open(os.path.join(out_dir, f"{table}.jsonl"), "wb")
                counts[table] = 0
            handle.write(orjson.dumps(obj) + b"\n")
            counts[table] += 1
    finally:
        for handle in files.values():
            handle.close()
    return counts
