"""The dashboard builds the MRR stages of a newly published version in the
background and reads them once they are there (metrics/mrr/stored_stages.py)."""
import time

import duckdb

from etl import store
from metrics.mrr import refresh_stages, stage_cache, stored_stages
from metrics.params import Params
from tally_ui import published
from tests.metrics.builders import Account


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def publish_account(db: str) -> None:
    acct = Account(store.open_working(db))
    acct.customer("cus_1")
    acct.price("p", 5000)
    acct.subscription("sub_1", "cus_1")
    acct.monthly_invoices("cus_1", "sub_1", "p", "2024-01-01", 2)
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2024-03-05T10:00:00+00:00')")
    store.publish(acct.con, db)
    acct.con.close()


def forget(monkeypatch, db: str) -> None:
    monkeypatch.setattr(published, "db_path", lambda: db)
    published._shared_connection.clear()
    published._metric.clear()
    stage_cache.clear()


def test_a_new_version_gets_its_stages_in_the_background_and_reads_use_them(tmp_path, monkeypatch):
    db = str(tmp_path / "tally.duckdb")
    publish_account(db)
    monkeypatch.setenv("TALLY_PREFETCH", "1")
    forget(monkeypatch, db)
    side = stored_stages.sidecar_path(db)
    assert published.metric("mrr", Params())["mrr"].tolist() == [5000, 5000]  # computed meanwhile
    assert wait_until(lambda: not refresh_stages._background) and refresh_stages.refresh(db) is False
    marked = duckdb.connect(side)  # a read that shows the mark read the stages
    marked.execute("UPDATE mrr_customer_points SET mrr = 2 * mrr")
    marked.close()
    published._metric.clear()
    stage_cache.clear()
    assert published.metric("mrr", Params())["mrr"].tolist() == [10000, 10000]  # the same version's connection


def test_no_background_build_under_apptest_unless_asked(tmp_path, monkeypatch):
    db = str(tmp_path / "tally.duckdb")
    publish_account(db)
    monkeypatch.setenv("TALLY_PREFETCH", "0")
    forget(monkeypatch, db)
    assert published.metric("mrr", Params())["mrr"].tolist() == [5000, 5000]
    time.sleep(0.2)
    assert not refresh_stages._background
    assert not (tmp_path / "tally.duckdb.mrr-stages.duckdb").exists()


def test_a_sync_in_a_new_month_that_changes_no_billing_row_still_rebuilds_the_stages(tmp_path):
    """The fingerprint (billing rows) still matches, but the range moved a month on:
    stages a month short would send every read to the slow path."""
    db = str(tmp_path / "tally.duckdb")
    publish_account(db)
    assert refresh_stages.refresh(db) is True and refresh_stages.refresh(db) is False
    con = store.open_working(db)
    con.execute("UPDATE tally_meta SET value = '2024-04-02T10:00:00+00:00' WHERE key = 'last_sync_at'")
    store.publish(con, db)
    con.close()
    assert refresh_stages.refresh(db) is True
    reader = duckdb.connect(db, read_only=True)
    assert stored_stages.attach_current(reader, db) and stored_stages.usable(reader).through.isoformat() == "2024-04-01"
    reader.close()
