"""Sync against the fake Stripe read server over real HTTP."""
import datetime as dt
import threading
import time

import duckdb
import orjson
import pytest

from etl import spool, store, sync_writer
from etl import sync as sync_module
from etl.client import StripeHTTP
from etl.sync import run_sync
from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import delete_object, put_objects, serve
from tally_admin import writeback
from tests.etl import sync_account
from tests.etl.sync_account import event
from tests.etl.synced import DATA_TABLES, query, rows, sync


@pytest.fixture(scope="module")
def account():
    return sync_account.build()


@pytest.fixture
def served(account, tmp_path):
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        yield base


def test_without_its_page_converter_a_sync_gives_the_same_tables(served, tmp_path, monkeypatch):
    with_worker = tmp_path / "with.duckdb"
    assert sync(served, with_worker).notes == []
    monkeypatch.setattr("etl.convert.sys.executable", "/nonexistent/python")  # cannot start
    without = tmp_path / "without.duckdb"
    summary = sync(served, without, full=True)
    assert summary.status == "ok"
    assert any("page converter" in note for note in summary.notes)
    for table in DATA_TABLES:
        assert rows(without, table) == rows(with_worker, table), table


def test_full_sync_holds_exactly_the_served_objects(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"

    summary = sync(served, db)

    assert summary.status == "ok" and summary.mode == "full", summary.message
    for table in sync_account.TABLES:
        stored = {i: orjson.loads(raw) for i, raw in query(db, f"SELECT id, raw FROM {table}")}
        assert set(stored) == sync_account.ids(account, table), table
        # A first sync inserts without looking for old rows: each object once.
        assert query(db, f"SELECT count(*) FROM {table}") == [(len(stored),)], table
        for obj in account[table]:
            if table != "invoices":
                assert stored[obj["id"]] == obj, table
    # Every line of every invoice, including those beyond the embedded first ten.
    served_lines = {(inv["id"], line["id"]) for inv in account["invoices"]
                    for line in inv["lines"]["data"]}
    assert set(query(db, "SELECT invoice_id, id FROM invoice_lines")) == served_lines
    assert query(db, "SELECT count(*) FROM invoice_lines WHERE invoice_id = 'in_0000'") == [(25,)]
    # status=all: canceled subscriptions are not hidden.
    canceled = sum(s["status"] == "canceled" for s in account["subscriptions"])
    assert query(db, "SELECT count(*) FROM subscriptions WHERE status = 'canceled'") == [(canceled,)]
    assert query(db, "SELECT count(*) FROM subscription_items") == [(len(account["subscriptions"]),)]
    assert query(db, "SELECT count(*) FROM subscription_snapshots") == \
        [(len(account["subscriptions"]),)]
    assert query(db, "SELECT value FROM tally_meta WHERE key = 'source'") == [("test",)]
    assert query(db, "SELECT status, mode FROM sync_runs") == [("ok", "full")]
    assert query(db, "SELECT count(*) FROM sync_state WHERE NOT backfill_done") == [(0,)]


def test_second_sync_changes_nothing(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    before = {t: rows(db, t) for t in DATA_TABLES}

    again = sync(served, db)

    assert again.status == "ok" and again.mode == "incremental"
    assert {t: rows(db, t) for t in DATA_TABLES} == before


def test_incremental_sync_fetches_new_changed_and_deleted_objects(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    first = sync(served, db)
    now = int(time.time())
    new_customer = {"id": "cus_new", "object": "customer", "created": now, "email": "n@example.com",
                    "livemode": False}
    canceled = {**account["subscriptions"][1], "status": "canceled", "canceled_at": now}
    long_invoice = {**account["invoices"][5], "amount_due": 99}
    long_invoice["lines"] = {"object": "list", "has_more": False, "data": [
        sync_account._line(f"il_new{j}", long_invoice["id"], "price_1", 10, now) for j in range(12)]}
    put_objects(served, [new_customer, canceled, long_invoice])
    delete_object(served, "customer", "cus_0002")
    put_objects(served, [
        event("evt_1", "customer.created", new_customer, now),
        event("evt_2", "customer.subscription.deleted", canceled, now),
        # Event payloads embed only some lines: the rest are paged from the invoice.
        event("evt_3", "invoice.updated", {**long_invoice, "lines": {
            "object": "list", "has_more": True, "data": long_invoice["lines"]["data"][:3]}}, now),
        event("evt_4", "customer.deleted", account["customers"][2], now),
    ])

    second = sync(served, db)

    assert second.status == "ok" and second.mode == "incremental", second.message
    assert second.requests < first.requests
    assert query(db, "SELECT email FROM customers WHERE id = 'cus_new'") == [("n@example.com",)]
    assert query(db, "SELECT status FROM subscriptions WHERE id = ?", [canceled["id"]]) == \
        [("canceled",)]
    assert query(db, "SELECT deleted FROM customers WHERE id = 'cus_0002'") == [(True,)]
    assert query(db, "SELECT count(*) FROM customers WHERE deleted") == [(1,)]
    assert query(db, "SELECT amount_due FROM invoices WHERE id = ?", [long_invoice["id"]]) == [(99,)]
    assert sorted(query(db, "SELECT id FROM invoice_lines WHERE invoice_id = ?",
                        [long_invoice["id"]])) == sorted((f"il_new{j}",) for j in range(12))
    assert query(db, "SELECT count(*) FROM events") == [(len(account["events"]) + 4,)]


def test_stale_sync_relists_everything_and_flags_vanished_objects(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    delete_object(served, "customer", "cus_0003")  # no event: it is long forgotten
    with duckdb.connect(store.working_path(str(db))) as con:
        con.execute("UPDATE sync_state SET last_success = last_success - INTERVAL 40 DAY")

    stale = sync(served, db)

    assert stale.mode == "full" and stale.status == "ok"
    assert any("30-day" in note for note in stale.notes)
    assert query(db, "SELECT id FROM customers WHERE deleted") == [("cus_0003",)]


def test_full_flag_relists_everything(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    before = {t: rows(db, t) for t in DATA_TABLES}

    again = sync(served, db, full=True)

    assert again.mode == "full" and {j["mode"] for j in again.jobs.values()} == {"full"}
    assert {t: rows(db, t) for t in DATA_TABLES} == before


def test_only_a_listing_into_empty_tables_skips_the_upsert(served, tmp_path, monkeypatch):
    db = tmp_path / "tally.duckdb"
    upserts = {}
    real_write = sync_writer.write_prepared

    def spy(con, prepared, *, upsert=True):
        upserts.setdefault(prepared.table, set()).add(upsert)
        return real_write(con, prepared, upsert=upsert)

    monkeypatch.setattr(sync_writer, "write_prepared", spy)
    sync(served, db)
    assert upserts["customers"] == upserts["invoices"] == {False}
    upserts.clear()
    sync(served, db, full=True)  # the tables hold rows now: a re-list must upsert
    assert upserts["customers"] == upserts["invoices"] == {True}


def test_open_dashboard_and_sync_do_not_block_each_other(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    version = store.published_version(str(db))
    reader = store.open_published(str(db))
    put_objects(served, [{"id": "cus_late", "object": "customer", "created": int(time.time()),
                          "livemode": False}])

    summary = sync(served, db)

    assert summary.status == "ok"
    # The open connection still reads the copy it opened...
    assert reader.execute("SELECT count(*) FROM customers").fetchone() == (len(account["customers"]),)
    reader.close()
    # ...and the dashboard sees the new copy when it reopens.
    assert store.published_version(str(db)) != version
    assert query(db, "SELECT count(*) FROM customers WHERE id = 'cus_late'") == [(1,)]


def test_sync_replaces_demo_data(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    with store.open_working(str(db)) as con:
        con.execute("INSERT INTO tally_meta VALUES ('source', 'demo')")
        con.execute("INSERT INTO customers (id) VALUES ('cus_demo')")
        store.publish(con, str(db))

    sync(served, db)

    assert query(db, "SELECT count(*) FROM customers WHERE id = 'cus_demo'") == [(0,)]
    assert query(db, "SELECT value FROM tally_meta WHERE key = 'source'") == [("test",)]


def test_progress_reports_every_object_type_done(served, tmp_path):
    seen = {}
    sync(served, tmp_path / "tally.duckdb",
         progress=lambda name, fetched, done: seen.__setitem__(name, (fetched, done)))
    assert seen["customers"] == (230, True)
    assert all(done for _, done in seen.values())
    # every table, prices twice (active and archived listings)
    assert set(seen) == set(sync_account.TABLES) | {"prices_archived"}


def test_events_in_an_older_api_shape_fill_the_same_columns(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    now = int(time.time())
    old_shape = {  # 2020-era payload: period and plan on the subscription itself
        "id": "sub_0004", "object": "subscription", "customer": "cus_0004", "created": now - 99,
        "status": "past_due", "current_period_start": now - 10, "current_period_end": now + 500,
        "plan": {"id": "price_1", "object": "plan", "interval": "month", "amount": 2000},
        "items": {"object": "list", "data": [{"id": "si_old", "object": "subscription_item",
                                              "plan": {"id": "price_1", "object": "plan"},
                                              "quantity": 3}]},
        "livemode": False}
    put_objects(served, [event("evt_old", "customer.subscription.updated", old_shape, now,
                               api_version="2020-08-27")])

    sync(served, db)

    assert query(db, """SELECT status, epoch(current_period_end)::BIGINT, api_version
                        FROM subscriptions WHERE id = 'sub_0004'""") == \
        [("past_due", now + 500, "2020-08-27")]
    assert query(db, """SELECT id, price_id, quantity FROM subscription_items
                        WHERE subscription_id = 'sub_0004'""") == [("si_old", "price_1", 3)]


def test_resumes_a_window_whose_cursor_object_was_deleted(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    # As if a run had stopped after a page ending at a customer deleted since.
    work = store.working_path(str(db))
    with duckdb.connect(work) as con:
        detail = orjson.loads(con.execute(
            "SELECT detail FROM sync_state WHERE object_type = 'customers'").fetchone()[0])
        detail.update(status="running", mode="full", started_at=time.time(),
                      windows=[{"lo": None, "hi": None, "cursor": "cus_0100"}])
        con.execute("UPDATE sync_state SET detail = ? WHERE object_type = 'customers'",
                    [orjson.dumps(detail).decode()])
    delete_object(served, "customer", "cus_0100")

    resumed = sync(served, db)

    assert resumed.status == "ok", resumed.message
    assert query(db, "SELECT count(*) FROM customers WHERE NOT deleted") == \
        [(len(account["customers"]) - 1,)]
    assert query(db, "SELECT deleted FROM customers WHERE id = 'cus_0100'") == [(True,)]


def test_a_second_sync_of_the_same_database_is_refused(served, tmp_path):
    import threading

    from etl.client import StripeSyncError
    from fakestripe.testing import configure
    db = tmp_path / "tally.duckdb"
    configure(served, latency_ms=300)
    started = threading.Event()
    first = threading.Thread(target=sync, args=(served, db),
                             kwargs={"progress": lambda *args: started.set()})
    first.start()
    assert started.wait(60)  # the first sync has written a page and is still going
    try:
        with pytest.raises(StripeSyncError, match="already running"):
            sync(served, db)
    finally:
        first.join()
    assert query(db, "SELECT status FROM sync_runs") == [("ok",)]


def test_another_process_writing_the_database_is_one_clear_line(served, tmp_path):
    import subprocess
    import sys

    from etl.client import StripeSyncError
    db = tmp_path / "tally.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('open', flush=True); "
        "time.sleep(60)"), store.working_path(str(db))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StripeSyncError, match="Another sync or demo is writing"):
            sync(served, db)
    finally:
        holder.kill()
        holder.wait()


def test_admin_results_queued_during_a_sync_reach_the_next_published_file(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    refund = {"id": "re_admin", "object": "refund", "amount": 300, "currency": "usd",
              "charge": "ch_x", "status": "succeeded", "created": 1_700_000_000}
    spool.queue_objects([refund], str(db))  # as the dashboard does while a sync holds the file

    sync(served, db)

    assert query(db, "SELECT id, amount FROM refunds WHERE id = 're_admin'") == [("re_admin", 300)]
    assert spool.load_spool(duckdb.connect(":memory:"), str(db)) == 0  # the queue is used up


def test_a_cancellation_beats_an_update_of_the_same_second(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    now = int(time.time())
    sub = account["subscriptions"][3]  # active, created long before the last sync
    canceled = {**sub, "status": "canceled", "canceled_at": now, "ended_at": now}
    put_objects(served, [canceled,
                         # One second, ids in the "wrong" order: ids say nothing about time.
                         event("evt_a_deleted", "customer.subscription.deleted", canceled, now),
                         event("evt_z_updated", "customer.subscription.updated",
                               {**sub, "cancel_at_period_end": True}, now)])

    sync(served, db)

    assert query(db, "SELECT status FROM subscriptions WHERE id = ?", [sub["id"]]) == [("canceled",)]


def test_a_subscription_schedule_updated_event_lands_with_its_new_phases(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    old = account["subscription_schedules"][0]  # active, created long before the last sync
    assert query(db, "SELECT count(*) FROM subscription_schedule_phase_items WHERE schedule_id = ?",
                 [old["id"]]) == [(2,)]
    now = int(time.time())
    third = {**old["phases"][1], "start_date": old["phases"][1]["end_date"],
             "end_date": old["phases"][1]["end_date"] + 30 * sync_account.DAY,
             "items": [{"price": "price_2", "plan": "price_2", "quantity": 5, "discounts": []}]}
    updated = {**old, "phases": [*old["phases"], third], "end_behavior": "cancel"}
    # The listing does not meet it again (created long ago): only the event can bring it.
    put_objects(served, [event("evt_sched", "subscription_schedule.updated", updated, now)])

    second = sync(served, db)

    assert second.status == "ok" and second.mode == "incremental", second.message
    assert query(db, "SELECT end_behavior FROM subscription_schedules WHERE id = ?",
                 [old["id"]]) == [("cancel",)]
    assert query(db, "SELECT phase, price_id, quantity FROM subscription_schedule_phase_items "
                     "WHERE schedule_id = ? ORDER BY phase", [old["id"]]) == [
        (0, old["phases"][0]["items"][0]["price"], 1), (1, old["phases"][1]["items"][0]["price"], 2),
        (2, "price_2", 5)]


def test_a_resumed_backfill_upserts_what_the_admin_queue_wrote_first(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    interrupt_before_charges(db)
    # ...and an admin had refunded a charge while a sync held the file.
    refunded = {**account["charges"][0], "amount_refunded": 100, "refunded": True}
    spool.queue_objects([refunded], str(db))

    resumed = sync(served, db)

    assert resumed.status == "ok", resumed.message
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM charges") == \
        [(len(account["charges"]), len(account["charges"]))]


def test_an_incremental_run_upserts_a_type_it_lists_in_full(account, served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    # As if customers were a type this version newly syncs: listed in full,
    # while the run replays events, which may write customers first.
    with duckdb.connect(store.working_path(str(db))) as con:
        con.execute("DELETE FROM customers")
        con.execute("DELETE FROM sync_state WHERE object_type = 'customers'")
    changed = {**account["customers"][0], "email": "changed@example.com"}
    put_objects(served, [changed, event("evt_changed", "customer.updated", changed,
                                        int(time.time()))])

    # One request per second per endpoint: the events are replayed (after their
    # one page) before the listing reaches the oldest customers.
    slow = StripeHTTP(DEFAULT_API_KEY, served, rate=500, endpoint_rate=1, backoff_base=0.01)
    again = run_sync(str(db), client=slow)

    assert again.mode == "incremental" and again.jobs["customers"]["mode"] == "full"
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM customers") == \
        [(len(account["customers"]), len(account["customers"]))]
    assert query(db, "SELECT email FROM customers WHERE id = ?", [changed["id"]]) == \
        [("changed@example.com",)]


def test_admin_results_written_before_a_resumed_backfill_are_not_duplicated(account, served,
                                                                             tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    interrupt_before_charges(db)
    # No sync holds the working file: the admin's result goes straight in.
    refunded = {**account["charges"][0], "amount_refunded": 100, "refunded": True}
    assert writeback.save_objects([refunded], str(db)) == writeback.PUBLISHED

    resumed = sync(served, db)

    assert resumed.status == "ok", resumed.message
    assert query(db, "SELECT count(*), count(DISTINCT id) FROM charges") == \
        [(len(account["charges"]), len(account["charges"]))]


def interrupt_before_charges(db):
    """As if the first sync had been killed before its first page of charges."""
    with duckdb.connect(store.working_path(str(db))) as con:
        con.execute("DELETE FROM charges")
        detail = orjson.loads(con.execute(
            "SELECT detail FROM sync_state WHERE object_type = 'charges'").fetchone()[0])
        detail.update(status="running", mode="full", fresh=True, started_at=time.time(),
                      windows=[{"lo": None, "hi": None, "cursor": None}])
        con.execute("UPDATE sync_state SET detail = ? WHERE object_type = 'charges'",
                    [orjson.dumps(detail).decode()])


def test_a_transaction_takes_at_most_max_write_pages(tmp_path):
    # After a long checkpoint the queue may hold twice that: a bound on the writer's memory.
    sync = sync_module.Sync.__new__(sync_module.Sync)
    sync.fetcher = sync_module.Fetcher(client=None, workers=1, utc_now=None)
    try:
        items = [(None, None, n) for n in range(sync_module.MAX_WRITE_PAGES + 50)]
        for item in items:
            sync.fetcher.pages.put(item)
        assert sync._take_pages() == items[:sync_module.MAX_WRITE_PAGES]
        assert sync.fetcher.pages.qsize() == 50
    finally:
        sync.fetcher.stop()


def test_a_transaction_and_the_queue_are_bounded_in_bytes():
    # Pages of long invoices can be ten times a usual page: count bytes, not pages.
    from etl.convert import page_from_objects
    from etl.fetcher import QUEUE_BYTES, queued_size
    from etl.sync_writer import WRITE_BYTES

    big = {"id": "cus_big", "created": 1, "metadata": {"note": "x" * (1 << 20)}}  # ~1 MB of raw JSON
    sync = sync_module.Sync.__new__(sync_module.Sync)
    sync.fetcher = sync_module.Fetcher(client=None, workers=1, utc_now=None)
    try:
        pages = [page_from_objects("customers", [{**big, "id": f"cus_{n}"}], True,
                                   dt.datetime(2026, 1, 1), "") for n in range(40)]
        size = queued_size((None, None, pages[0]))
        assert size > 1 << 20
        put = threading.Thread(target=lambda: [sync.fetcher._put((None, None, p)) for p in pages])
        put.start()
        deadline = time.monotonic() + 10  # the queue fills up to its bound in bytes, far below its bound in pages
        while sync.fetcher.pages.qsize() < QUEUE_BYTES // size and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # and no further
        assert sync.fetcher.pages.qsize() == QUEUE_BYTES // size
        taken = sync._take_pages()
        assert len(taken) == -(-WRITE_BYTES // size)  # up to the first page past WRITE_BYTES
        put.join(timeout=10)
        assert not put.is_alive()  # taking made room
    finally:
        sync.fetcher.stop()
