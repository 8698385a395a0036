"""First start, empty accounts and writes: friendly states, never an exception."""
import functools

import duckdb
import pytest

from etl.load import connect
from tests.pages.apptest import PAGES, goto, open_app, shown_text, sign_in_as_viewer


@pytest.fixture
def empty_account(monkeypatch, tmp_path):
    path = tmp_path / "empty.duckdb"
    connect(str(path)).close()  # every table, no rows: a Stripe account with nothing in it
    monkeypatch.setenv("TALLY_DB", str(path))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    sign_in_as_viewer(monkeypatch)
    return path


@pytest.mark.parametrize("title", PAGES)
def test_empty_account_shows_friendly_empty_states(empty_account, title):
    at = goto(open_app(), title)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.info, "an empty page says why it is empty"


def test_no_key_and_no_database_generates_the_demo_account(monkeypatch, tmp_path):
    import etl.demo.generate
    small = functools.partial(etl.demo.generate.generate_database, customers=40, months=12)
    monkeypatch.setattr(etl.demo.generate, "generate_database", small)
    monkeypatch.setenv("TALLY_DB", str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("TALLY_DEMO_DB", str(tmp_path / "demo.duckdb"))
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    sign_in_as_viewer(monkeypatch)
    at = open_app()
    assert not at.exception
    assert (tmp_path / "demo.duckdb").exists() and not (tmp_path / "tally.duckdb").exists()
    text = shown_text(at)
    assert "Demo data" in text and "STRIPE_API_KEY" in text and "python -m etl sync" in text
    assert at.metric, "the overview shows the demo account's KPIs"


def test_a_key_without_a_database_points_to_the_sync(monkeypatch, tmp_path):
    monkeypatch.setenv("TALLY_DB", str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    sign_in_as_viewer(monkeypatch)
    at = goto(open_app(), "Sync")
    assert not at.exception
    assert "No data yet" in shown_text(at)
    assert at.button(key="sync_now") is not None


def spend_rows(db):
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute("""SELECT strftime(month, '%Y-%m'), amount, currency, channel
                              FROM marketing_spend WHERE channel = 'podcasts' ORDER BY 1""").fetchall()
    finally:
        con.close()


def test_marketing_spend_csv_upload_is_saved_and_published(writable_db):
    at = goto(open_app(), "Acquisition")
    csv = b"month,amount,currency,channel\n2026-01,1250.50,usd,podcasts\n2026-02,99,jpy,podcasts\n"
    at.file_uploader(key="spend_csv").upload("spend.csv", csv, "text/csv").run()
    at.button(key="spend_import").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert spend_rows(writable_db) == [("2026-01", 125050, "usd", "podcasts"), ("2026-02", 99, "jpy", "podcasts")]
    assert "Saved 2 row(s)" in shown_text(at)


def test_a_bad_spend_csv_gets_one_plain_line(writable_db):
    at = goto(open_app(), "Acquisition")
    at.file_uploader(key="spend_csv").upload("spend.csv", b"month,amount,currency\nJanuary,12,usd\n",
                                             "text/csv").run()
    at.button(key="spend_import").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "month" in at.error[0].value
    assert spend_rows(writable_db) == []


def test_a_new_publish_reaches_the_open_dashboard(writable_db):
    from etl.store import open_working, publish
    at = goto(open_app(), "Acquisition")
    assert "podcasts" not in str(at.dataframe[-1].value["channel"].tolist())
    con = open_working(writable_db)
    con.execute("INSERT INTO marketing_spend VALUES ('2026-03-01', 5000, 'usd', 'podcasts')")
    publish(con, writable_db)
    con.close()
    at.run()
    assert "podcasts" in at.dataframe[-1].value["channel"].tolist()
