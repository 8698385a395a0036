"""Stored MRR stages (metrics/refresh_stages.py): the same numbers as computing
from invoice lines, used only while they match the data."""
import datetime as dt
import shutil

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
    con = connect(plain)
    con.execute(f"DROP TABLE {stored_stages.META}")
    con.close()
    with_stages, without = connect(path, read_only=True), connect(plain, read_only=True)
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
    customer = con.execute("SELECT customer_id FROM mrr_customer_points GROUP BY ALL "
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


def test_publish_stores_the_stages(published):
    con, without = published
    first, last = data_months(con)  # through the month of "as of", past the default range's end
    assert stored_stages.stored_through(con) == last == add_months(month_range(con, Params())[1], 1)
    assert stored_stages.stored_through(without) is None
    assert con.execute("SELECT count(*) FROM mrr_customer_points").fetchall()[0][0] > 100


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


JAN = Params(start=month("2024-01"), end=month("2024-01"))


def test_stored_stages_are_read_while_they_match(tmp_path):
    acct = small_account(tmp_path)
    refresh_stages.refresh(acct.con)
    assert stored_stages.stored_through(acct.con) == month("2024-01")
    # doubled behind the loader's back (no stamp changes): the metric reads the stored table
    acct.con.execute("UPDATE mrr_customer_points SET mrr = 2 * mrr")
    stage_cache.clear()
    assert mrr(acct.con, JAN)["mrr"].tolist() == [10000]


def test_stages_get_room_under_a_writers_small_memory_limit_and_give_it_back(tmp_path,
                                                                             monkeypatch):
    acct = small_account(tmp_path)
    acct.con.execute("SET memory_limit = '96MB'")  # a writer's small limit, as a sync streams
    seen = []
    real_rebuild = refresh_stages._rebuild
    monkeypatch.setattr(refresh_stages, "_rebuild", lambda con, span: (seen.append(con.execute(
        "SELECT current_setting('memory_limit')").fetchone()[0]), real_rebuild(con, span)))

    refresh_stages.refresh(acct.con)

    assert seen == ["1.0 GiB"]
    assert stored_stages.stored_through(acct.con) == month("2024-01")
    assert acct.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "91.5 MiB"
    assert acct.con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == ""


def test_refresh_rebuilds_only_when_the_billing_data_changed(tmp_path):
    acct = small_account(tmp_path)
    refresh_stages.refresh(acct.con)
    acct.con.execute("UPDATE mrr_customer_points SET mrr = 2 * mrr")  # marks the stored copy
    load_objects(acct.con, "charges", [{"id": "ch_1", "object": "charge", "customer": "cus_1",
                                        "amount": 5000, "currency": "usd", "status": "succeeded",
                                        "created": ts("2024-01-02"), "livemode": False}])
    refresh_stages.refresh(acct.con)  # a cash-only write: kept as it is
    assert acct.con.execute("SELECT mrr FROM mrr_customer_points").fetchall() == [(10000,)]
    acct.subscription("sub_1", "cus_1", status="canceled", ended_at=ts("2024-01-20"))
    refresh_stages.refresh(acct.con)
    assert stored_stages.stored_through(acct.con) == month("2024-01")
    assert acct.con.execute("SELECT count(*) FROM mrr_customer_points").fetchall() == [(0,)]


def test_stale_stages_are_not_used(tmp_path):
    acct = small_account(tmp_path)
    refresh_stages.refresh(acct.con)
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
    refresh_stages.refresh(acct.con)
    monkeypatch.setattr(stored_stages, "RULES", "an older version")
    assert stored_stages.stored_through(acct.con) is None


def test_publishing_refreshes_and_the_reader_only_reads(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    acct = Account(store.open_working(db))
    acct.customer("cus_1")
    acct.price("p", 5000)
    acct.subscription("sub_1", "cus_1")
    acct.monthly_invoices("cus_1", "sub_1", "p", "2024-01-01", 2)
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2024-03-05T10:00:00+00:00')")
    store.publish(acct.con, db)
    acct.con.close()
    reader = store.open_published(db)
    assert stored_stages.stored_through(reader) == month("2024-03")  # the month of the sync
    stage_cache.clear()
    assert mrr(reader, Params())["mrr"].tolist() == [5000, 5000]


def test_an_empty_database_stores_nothing(tmp_path):
    con = connect(str(tmp_path / "tally.duckdb"))
    refresh_stages.refresh(con)
    assert stored_stages.stored_through(con) is None
    assert mrr(con, Params()).empty


def test_a_failed_refresh_leaves_no_usable_stages_and_publishing_goes_on(tmp_path, monkeypatch):
    acct = small_account(tmp_path)
    refresh_stages.refresh(acct.con)
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01", quantity=2)
                                    | {"id": "il_1"}], id="in_1")
    monkeypatch.setattr(refresh_stages, "line_months_sql", lambda last: "SELECT no_such_column")
    refresh_stages.refresh(acct.con)
    assert stored_stages.stored_through(acct.con) is None
    stage_cache.clear()
    assert mrr(acct.con, JAN)["mrr"].tolist() == [10000]
