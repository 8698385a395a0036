"""The metrics behind the pages' lists: latest refunds and disputes, customer search,
sync status, table sizes, and the user's own inputs (exchange rates, marketing spend),
which metrics own: created when first written, read as empty before."""
import datetime as dt
import json

import pandas as pd
import pytest

from etl.demo import generate
from etl.load import connect, load_objects
from metrics import fx_rates_input, marketing_spend
from metrics.customer_search import customer_search
from metrics.fx import RateBook
from metrics.fx_rates_input import exchange_rates
from metrics.params import Params
from metrics.refunds import recent_disputes, recent_refunds
from metrics.sync_status import sync_object_types, sync_runs
from metrics.tables import read_table, table_rows
from tests.metrics.builders import Account, month, ts


@pytest.fixture(scope="module")
def shop():
    acct = Account()
    acct.customer("cus_a", email="ana@example.com")
    acct.customer("cus_b", email="bo_b@example.com")
    load_objects(acct.con, "charges", [
        {"id": f"ch_{i}", "object": "charge", "amount": 5000, "currency": "usd", "status": "succeeded",
         "customer": f"cus_{c}", "created": ts("2024-01-05")} for i, c in ((1, "a"), (2, "b"), (3, "a"))])
    load_objects(acct.con, "refunds", [
        {"id": "re_old", "object": "refund", "amount": 1000, "currency": "usd", "status": "succeeded",
         "charge": "ch_1", "created": ts("2023-06-01")},
        {"id": "re_new", "object": "refund", "amount": 250, "currency": "usd", "status": "pending",
         "charge": "ch_2", "created": ts("2024-02-01")}])
    load_objects(acct.con, "disputes", [
        {"id": f"dp_{day}", "object": "dispute", "amount": 5000, "currency": "usd", "status": "lost",
         "reason": "fraudulent", "charge": "ch_3", "created": ts(day)}
        for day in ("2024-01-20", "2024-02-29", "2024-03-01")])
    return acct


def test_recent_refunds_newest_first_whatever_the_range(shop):
    df = recent_refunds(shop.con, Params(start=month("2024-03"), end=month("2024-03")))
    assert df[["id", "customer_id", "amount", "currency"]].values.tolist() == [
        ["re_new", "cus_b", 250, "usd"], ["re_old", "cus_a", 1000, "usd"]]


def test_recent_disputes_only_those_opened_in_the_months(shop):
    df = recent_disputes(shop.con, Params(start=month("2024-01"), end=month("2024-02")))
    assert df["id"].tolist() == ["dp_2024-02-29", "dp_2024-01-20"]
    assert df["customer_id"].tolist() == ["cus_a", "cus_a"]
    converted = recent_disputes(shop.con, Params(start=month("2024-02"), end=month("2024-02"), currency="usd"))
    assert converted[["id", "amount", "currency"]].values.tolist() == [["dp_2024-02-29", 5000.0, "usd"]]


def test_customer_search_by_id_name_or_email_with_plain_wildcards(shop):
    def found(text):
        return customer_search(shop.con, Params(extra={"text": text}))["id"].tolist()
    assert found("cus_a") == ["cus_a"]
    assert sorted(found("EXAMPLE.com")) == ["cus_a", "cus_b"]
    assert found("o_b@") == ["cus_b"]
    assert found("%") == []  # plain text, not LIKE's any-characters
    assert found("  ") == []


def test_sync_runs_and_object_types_read_the_sync_record():
    con = connect(":memory:")
    con.execute("""INSERT INTO sync_runs VALUES
        ('r1', '2026-01-01 10:00', '2026-01-01 10:05', 'stripe', 'backfill', 'ok', NULL, NULL),
        ('r2', '2026-01-02 10:00', NULL, 'stripe', 'incremental', 'running', NULL, NULL)""")
    con.execute("INSERT INTO sync_state (object_type, backfill_done, detail) VALUES (?, true, ?), (?, false, ?)",
                ["invoices", json.dumps({"status": "ok", "fetched": 12}),
                 "customers", json.dumps({"status": "failed", "note": "no permission", "fetched": 0})])
    assert sync_runs(con, Params())[["mode", "status"]].values.tolist() == [
        ["incremental", "running"], ["backfill", "ok"]]
    types = sync_object_types(con, Params())
    assert types[["object type", "last run", "note", "fetched", "history complete"]].values.tolist() == [
        ["customers", "failed", "no permission", 0, False], ["invoices", "ok", "", 12, True]]


def test_table_rows_lists_tables_with_rows_and_absent_inputs_as_empty(shop):
    rows = dict(table_rows(shop.con, Params()).values.tolist())
    assert (rows["customers"], rows["refunds"], rows["disputes"]) == (2, 2, 3)
    assert "fx_rates" not in rows and "marketing_spend" not in rows  # never saved: no table yet
    assert "tax_rates" not in rows  # no rows: nothing to download
    assert read_table(shop.con, "fx_rates").empty
    assert "raw" not in read_table(shop.con, "refunds").columns
    with pytest.raises(ValueError, match="not a table Tally exports"):
        read_table(shop.con, "tally_meta; DROP TABLE customers")


def test_exchange_rates_are_created_when_first_saved():
    con = connect(":memory:")
    assert exchange_rates(con, Params()).empty  # no table: no rates entered, same columns
    assert list(exchange_rates(con, Params()).columns) == fx_rates_input.COLUMNS
    assert fx_rates_input.reporting_currencies(con) == []
    assert RateBook(con).rate("eur", "usd", dt.date(2024, 1, 1)) == 1.08  # the shipped default
    fx_rates_input.replace_rates(con, [(None, "eur", "gbp", 0.85), (dt.date(2024, 1, 1), "eur", "usd", 1.1)])
    rates = exchange_rates(con, Params())
    assert rates[["currency", "reporting_currency", "rate"]].values.tolist() == [
        ["eur", "gbp", 0.85], ["eur", "usd", 1.1]]
    assert fx_rates_input.reporting_currencies(con) == ["gbp", "usd"]
    assert RateBook(con).rate("eur", "usd", dt.date(2024, 1, 1)) == 1.1


def test_marketing_spend_rows_created_when_first_saved():
    con = connect(":memory:")
    assert marketing_spend.marketing_spend(con, Params()).empty
    marketing_spend.save_marketing_spend(con, [
        {"month": "2024-01", "amount": "100.50", "currency": "usd", "channel": "ads"},
        {"month": "2024-02", "amount": "40", "currency": "usd", "channel": ""}])
    rows = marketing_spend.marketing_spend(con, Params())
    assert rows[["amount", "currency"]].values.tolist() == [[4000, "usd"], [10050, "usd"]]
    assert rows["channel"].isna().tolist() == [True, False] and rows["channel"].iloc[1] == "ads"
    assert pd.to_datetime(rows["month"]).dt.strftime("%Y-%m").tolist() == ["2024-02", "2024-01"]


def test_the_demo_writes_marketing_spend_as_metrics_define_it():
    def columns(ddl):
        con = connect(":memory:")
        con.execute("DROP TABLE IF EXISTS marketing_spend")
        con.execute(ddl)
        return con.execute("DESCRIBE marketing_spend").fetchall()
    assert columns(generate.MARKETING_SPEND_DDL) == columns(marketing_spend.MARKETING_SPEND_DDL)
