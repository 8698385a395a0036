"""Stored MRR stages (metrics/mrr/refresh_stages.py): the same numbers as computing
from invoice lines, used only while they match the data."""
import datetime as dt
import os
import shutil
import threading

import duckdb
import pandas as pd
import pytest

from etl import store
from etl.demo import generate_database
from etl.load import connect, load_objects
from metrics import METRICS
from metrics.common import add_months, data_months, month_range
from metrics.mrr import refresh_stages, stage_cache, stored_stages
from metrics.mrr.by_month import mrr
from metrics.params import Params
from tests.metrics.builders import Account, month, ts

MRR_METRICS = ["mrr", "mrr_movements", "churn", "ltv", "cohorts", "forecast", "mrr_by_plan",
               "mrr_by_interval", "mrr_by_country", "mrr_drilldown", "customer_timeline",
               "mrr_daily", "ltv_cac"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(demo database as published, with stored stages; a copy without them)."""
    folder = tmp_path_factory.mktemp("stored")
    path = str(folder / "demo.duckdb")
    generate_database(path, customers=50, seed=3, months=20)
    plain = str(folder / "plain.duckdb")
    shutil.copyfile(path, plain)
    assert refresh_stages.refresh(path)
    with_stages, without = connect(path, read_only=True), connect(plain, read_only=True)
    assert stored_stages.attach(with_stages, path) and not stored_stages.attach(without, plain)
    yield with_stages, without
    with_stages.close()
    without.close()


def variants(con, name: str) -> list[Params]:
    first, last = month_range(con, Params())
    window = dict(start=add_months(last, -9), end=last)
    plan = con.execute("SELECT product_id FROM invoice_lines GROUP BY ALL ORDER BY count(*) DESC "
                       "LIMIT 1").fetchall()[0][0]
    country = con.execute("SELECT country FROM customers WHERE country IS NOT NULL GROUP BY ALL "
                          "ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
    customer = con.execute(f"SELECT customer_id FROM {stored_table(con, 'mrr_customer_points')} GROUP BY ALL "
                           "ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
    channel = con.execute("SELECT json_extract_string(raw, '$.metadata.channel') AS v FROM customers "
                          "GROUP BY ALL ORDER BY count(*) DESC, v LIMIT 1").fetchall()[0][0]
    extra = {"mrr_drilldown": {"month": add_months(last, -2)},
             "customer_timeline": {"customer_id": customer}}.get(name, {})
    return [Params(**window, extra=extra),
            Params(extra=extra),
            Params(**window, currency="eur", extra=extra),
            Params(**window, plans=(plan,), extra=extra),
            Params(**window, intervals=("year",), extra=extra),
            Params(**window, countries=(country,), currency="usd", extra=extra),
            Params(**window, where=(("customer", "channel", (channel,)),), extra=extra)]


def stored_table(con, name: str) -> str:
    return stored_stages.usable(con).table(name)


def test_refresh_stores_the_stages(published):
    con, without = published
    first, last = data_months(con)  # through the month of "as of", past the default range's end
    assert stored_stages.stored_through(con) == last == add_months(month_range(con, Params())[1], 1)
    assert stored_stages.stored_through(without) is None
    assert con.execute(f"SELECT count(*) FROM {stored_table(con, 'mrr_customer_points')}").fetchall()[0][0] > 100


def same(fast: pd.DataFrame, computed: pd.DataFrame) -> None:
    """Equal rows, labels and counts; money equal up to the last bit or two of a
    double: sums of the same values in another row order (a stored table is
    scanned in its own order, as DuckDB's parallel aggregation already varies)."""
    pd.testing.assert_frame_equal(fast, computed, check_exact=False, rtol=1e-12, atol=1e-6)


@pytest.mark.parametrize("name", MRR_METRICS)
def test_stored_stages_give_the_same_numbers(published, name):
    con, without = published
    for params in variants(con, name):
        stage_cache.clear()
        fast = METRICS[name].function(con, params)
        stage_cache.clear()
        computed = METRICS[name].function(without, params)
        same(fast, computed)
    assert len(fast) > 0


@pytest.mark.parametrize("grain", ["day", "week"])
def test_daily_and_weekly_series_from_stored_changes(published, grain):
    con, without = published
    last = month_range(con, Params())[1]
    for first in (dt.date(2020, 1, 1), add_months(last, -3) + dt.timedelta(days=9)):
        for end in (last, add_months(last, -1) + dt.timedelta(days=12)):
            for currency in (None, "usd"):
                days = Params(start=first, end=end, granularity=grain, currency=currency)
                stage_cache.clear()
                fast = METRICS["mrr_daily"].function(con, days)
                assert len(stage_cache._entries) == 0
                same(fast, METRICS["mrr_daily"].function(without, days))
                assert len(fast) > 5


def small_account(tmp_path) -> Account:
    acct = Account(connect(str(tmp_path / "tally.duckdb")))
    acct.customer("cus_1")
    acct.price("p", 5000)
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01") | {"id": "il_1"}],
                 id="in_1")
    return acct


IN_MEMORY = refresh_stages.IN_PLACE
JAN = Params(start=month("2024-01"), end=month("2024-01"))


def test_stored_stages_are_read_while_they_match(tmp_path):
    acct = small_account(tmp_path)
    refresh_stages.refresh_attached(acct.con)
    assert stored_stages.stored_through(acct.con) == month("2024-01")
    # doubled behind the loader's back (no stamp changes): the metric reads the stored table
    acct.con.execute(f"UPDATE {stored_table(acct.con, 'mrr_customer_points')} SET mrr = 2 * mrr")
    stage_cache.clear()
    assert mrr(acct.con, JAN)["mrr"].tolist() == [10000]


def test_stages_get_room_under_a_writers_small_memory_limit_and_give_it_back(tmp_path,
                                                                             monkeypatch):
    acct = small_account(tmp_path)
    acct.con.execute("SET memory_limit = '96MB'")  # a writer's small limit, as a sync streams
    seen = []
    real_rebuild = refresh_stages._rebuild
    monkeypatch.setattr(refresh_stages, "_rebuild", lambda con, *args: (seen.append(con.execute(
        "SELECT current_setting('memory_limit')").fetchone()[0]), real_rebuild(con, *args)))

    refresh_stages.refresh_attached(acct.con)

    assert seen == ["1.0 GiB"]
    assert stored_stages.stored_through(acct.con) == month("2024-01")
    assert acct.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "91.5 MiB"
    assert acct.con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == ""


def test_refresh_rebuilds_only_when_the_billing_data_changed(tmp_path):
    acct = small_account(tmp_path)
    refresh_stages.refresh_attached(acct.con)
    # marks the stored copy
    acct.con.execute(f"UPDATE {stored_table(acct.con, 'mrr_customer_points')} SET mrr = 2 * mrr")
    load_objects(acct.con, "charges", [{"id": "ch_1", "object": "charge", "customer": "cus_1",
                                        "amount": 5000, "currency": "usd", "status": "succeeded",
                                        "created": ts("2024-01-02"), "livemode": False}])
    refresh_stages.refresh_attached(acct.con)  # a cash-only write: kept as it is
    assert acct.con.execute(f"SELECT mrr FROM {IN_MEMORY}.mrr_customer_points").fetchall() == [(10000,)]
    acct.subscription("sub_1", "cus_1", status="canceled", ended_at=ts("2024-01-20"))
    refresh_stages.refresh_attached(acct.con)
    assert stored_stages.stored_through(acct.con) == month("2024-01")
    assert acct.con.execute(f"SELECT count(*) FROM {IN_MEMORY}.mrr_customer_points").fetchall() == [(0,)]


def test_stale_stages_are_not_used(tmp_path):
    acct = small_account(tmp_path)
    refresh_stages.refresh_attached(acct.con)
    stage_cache.clear()
    assert mrr(acct.con, JAN)["mrr"].tolist() == [5000]
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01", quantity=3)
                                    | {"id": "il_1"}], id="in_1")
    assert stored_stages.stored_through(acct.con) is None
    stage_cache.clear()
    assert mrr(acct.con, JAN)["mrr"].tolist() == [15000]
    assert METRICS["mrr_daily"].function(acct.con, Params(start=dt.date(2024, 1, 5),
                                                          end=dt.date(2024, 1, 5)))["mrr"].tolist() == [15000]


def test_stages_from_other_rules_are_not_used(tmp_path, monkeypatch):
    acct = small_account(tmp_path)
    refresh_stages.refresh_attached(acct.con)
    monkeypatch.setattr(stored_stages, "RULES", "an older version")
    assert stored_stages.stored_through(acct.con) is None


def published_account(tmp_path, quantity: int = 1) -> str:
    db = str(tmp_path / "tally.duckdb")
    acct = Account(store.open_working(db))
    acct.customer("cus_1")
    acct.price("p", 5000)
    acct.subscription("sub_1", "cus_1")
    acct.monthly_invoices("cus_1", "sub_1", "p", "2024-01-01", 2, quantity=quantity)
    acct.con.execute("INSERT OR REPLACE INTO tally_meta VALUES ('last_sync_at', '2024-03-05T10:00:00+00:00')")
    store.publish(acct.con, db)
    acct.con.close()
    return db


def republish(db: str, quantity: int) -> None:
    """The same account published again with every line's quantity changed."""
    con = store.open_working(db)
    con.execute("DELETE FROM invoice_lines")
    con.execute("DELETE FROM invoices")
    acct = Account(con)
    acct.price("p", 5000)
    acct.monthly_invoices("cus_1", "sub_1", "p", "2024-01-01", 2, quantity=quantity)
    store.publish(con, db)
    con.close()


def test_publishing_refreshes_and_the_reader_only_reads(tmp_path):
    db = published_account(tmp_path)
    assert refresh_stages.refresh(db)  # what the dashboard does when it sees the new version
    reader = store.open_published(db)
    assert stored_stages.attach(reader, db)
    assert stored_stages.stored_through(reader) == month("2024-03")  # the month of the sync
    stage_cache.clear()
    assert mrr(reader, Params())["mrr"].tolist() == [5000, 5000]


def test_an_empty_database_stores_nothing(tmp_path):
    con = connect(str(tmp_path / "tally.duckdb"))
    refresh_stages.refresh_attached(con)
    assert stored_stages.stored_through(con) is None
    assert mrr(con, Params()).empty


def test_a_failed_refresh_leaves_no_usable_stages_and_publishing_goes_on(tmp_path, monkeypatch):
    acct = small_account(tmp_path)
    refresh_stages.refresh_attached(acct.con)
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01", quantity=2)
                                    | {"id": "il_1"}], id="in_1")
    monkeypatch.setattr(refresh_stages, "line_months_sql", lambda last: "SELECT no_such_column")
    refresh_stages.refresh_attached(acct.con)
    assert stored_stages.stored_through(acct.con) is None
    stage_cache.clear()
    assert mrr(acct.con, JAN)["mrr"].tolist() == [10000]


def test_the_sidecar_is_read_while_it_matches_the_published_file(tmp_path):
    db = published_account(tmp_path)
    assert refresh_stages.refresh(db)
    assert not refresh_stages.refresh(db)  # fresh: nothing rebuilt
    side = stored_stages.sidecar_path(db)
    # Marked behind the builder's back: a reader that shows the mark read the sidecar.
    marked = duckdb.connect(side)
    marked.execute("UPDATE mrr_customer_points SET mrr = 2 * mrr")
    marked.close()
    reader = store.open_published(db)
    assert stored_stages.attach(reader, db)
    stage_cache.clear()
    assert mrr(reader, Params())["mrr"].tolist() == [10000, 10000]
    reader.close()


def test_a_stale_sidecar_is_ignored_and_rebuilt(tmp_path):
    db = published_account(tmp_path)
    refresh_stages.refresh(db)
    before = os.stat(stored_stages.sidecar_path(db)).st_ino
    republish(db, quantity=3)  # later data: the sidecar no longer matches
    reader = store.open_published(db)
    assert not stored_stages.attach(reader, db)
    assert stored_stages.stored_through(reader) is None
    assert reader.execute("SELECT count(*) FROM duckdb_databases() "
                          "WHERE database_name LIKE 'mrr_stages%'").fetchone() == (0,)  # not kept open
    stage_cache.clear()
    assert mrr(reader, Params())["mrr"].tolist() == [15000, 15000]
    assert refresh_stages.refresh(db)
    assert os.stat(stored_stages.sidecar_path(db)).st_ino != before  # a new file renamed into place
    assert stored_stages.attach(reader, db)
    stage_cache.clear()
    assert mrr(reader, Params())["mrr"].tolist() == [15000, 15000]
    reader.close()


def test_the_sidecar_is_built_beside_it_and_renamed_over_it(tmp_path, monkeypatch):
    db = published_account(tmp_path)
    side = stored_stages.sidecar_path(db)
    refresh_stages.refresh(db)
    old_reader = store.open_published(db)
    assert stored_stages.attach(old_reader, db)
    republish(db, quantity=2)
    seen = []
    real_rebuild = refresh_stages._rebuild

    def rebuild(con, span, into):  # while it builds, the old sidecar is whole and untouched
        seen.append((os.path.exists(side + ".tmp"),
                     old_reader.execute(f"SELECT sum(mrr) FROM {stored_table(old_reader, 'mrr_customer_points')}"
                                        ).fetchone()[0]))
        return real_rebuild(con, span, into)
    monkeypatch.setattr(refresh_stages, "_rebuild", rebuild)
    assert refresh_stages.refresh(db)
    assert seen == [(True, 10000)]
    assert not os.path.exists(side + ".tmp")
    stage_cache.clear()
    assert mrr(old_reader, Params())["mrr"].tolist() == [5000, 5000]  # the reader it had still reads its own


def test_a_failed_build_keeps_the_old_sidecar_and_publishing_goes_on(tmp_path, monkeypatch):
    db = published_account(tmp_path)
    refresh_stages.refresh(db)
    before = os.stat(stored_stages.sidecar_path(db)).st_ino
    republish(db, quantity=2)
    monkeypatch.setattr(refresh_stages, "line_months_sql", lambda last: "SELECT no_such_column")
    assert not refresh_stages.refresh(db)
    assert os.stat(stored_stages.sidecar_path(db)).st_ino == before
    reader = store.open_published(db)
    assert not stored_stages.attach(reader, db)
    stage_cache.clear()
    assert mrr(reader, Params())["mrr"].tolist() == [10000, 10000]
    reader.close()


def test_the_background_refresh_runs_once_at_a_time(tmp_path):
    db = published_account(tmp_path)
    finished = threading.Event()
    first = refresh_stages.refresh_in_background(db, done=finished.set)
    second = refresh_stages.refresh_in_background(db)
    assert first is not None and second is None
    assert finished.wait(60)
    first.join(60)
    reader = store.open_published(db)
    assert stored_stages.attach(reader, db)
    reader.close()
