"""A damaged or unreadable database: one clear message on every page, one log line (#13 item 2)."""
import os

import duckdb
import pytest

from tests.pages.apptest import PAGES, goto, open_app, sign_in_as_viewer


def random_bytes(path):
    path.write_bytes(os.urandom(64 * 1024))


def not_tally(path):
    duckdb.connect(str(path)).close()  # a valid DuckDB file of some other program


def a_folder(path):
    path.mkdir()


BROKEN = {"damaged": (random_bytes, "is damaged or not a DuckDB database file"),
          "not Tally's": (not_tally, "is a DuckDB file but not a Tally database"),
          "a folder": (a_folder, "cannot be read")}


CASES = [("damaged", title) for title in PAGES] + [(kind, "Overview") for kind in BROKEN if kind != "damaged"]


@pytest.mark.parametrize("kind, title", CASES)
def test_a_broken_synced_database_is_one_message_on_every_page(monkeypatch, tmp_path, caplog, kind, title):
    make, what = BROKEN[kind]
    db = tmp_path / "tally.duckdb"
    make(db)
    monkeypatch.setenv("TALLY_DB", str(db))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    sign_in_as_viewer(monkeypatch)
    at = goto(open_app(), title)
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [at.error[0].value]
    message = at.error[0].value
    assert message.startswith(f"The database {db} {what}") and "Move it aside" in message
    assert "python -m etl sync" in message
    logged = [r for r in caplog.records if r.name.startswith("tally")]
    assert [r.getMessage() for r in logged] == [message]  # the same one line in the terminal
    assert "Traceback" not in caplog.text


def test_a_damaged_demo_says_the_dashboard_makes_it_again(monkeypatch, tmp_path):
    demo = tmp_path / "demo.duckdb"
    random_bytes(demo)
    monkeypatch.setenv("TALLY_DB", str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("TALLY_DEMO_DB", str(demo))
    sign_in_as_viewer(monkeypatch)
    at = open_app()
    assert not at.exception and len(at.error) == 1
    assert at.error[0].value.startswith(f"The database {demo} is damaged")
    assert "reload: the dashboard generates the demo account again" in at.error[0].value
    demo.unlink()  # moved aside: the next visit works again
    import etl.demo.generate
    real = etl.demo.generate.generate_database
    monkeypatch.setattr(etl.demo.generate, "generate_database",
                        lambda path, **kw: real(path, customers=40, months=12))
    at.run()
    assert not at.exception and not at.error and at.metric


def damage_invoices(source, target):
    """The demo account with a run of bytes overwritten where its invoices are stored.

    Where they are depends on the file's layout, so try places until the file
    still opens and reads its small tables but fails on the invoices."""
    original = open(source, "rb").read()
    for tenth in range(2, 9):
        body = bytearray(original)
        start = len(body) * tenth // 10
        body[start:start + 200_000] = b"\x5a" * 200_000
        target.write_bytes(bytes(body))
        if _fails_only_on_invoices(target):
            return
    pytest.fail("no place in the file damages the invoices alone")


def _fails_only_on_invoices(path) -> bool:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        con.execute("SELECT count(*) FROM sync_state").fetchone()  # the file opens and looks fine...
        try:  # ...until invoices are read
            con.execute("SELECT max(length(CAST(COLUMNS(*) AS VARCHAR))) FROM invoices").fetchall()
        except duckdb.Error as error:
            return "Corrupt database file" in str(error)
        return False
    except duckdb.Error:
        return False
    finally:
        con.close()


def test_a_damaged_block_met_while_reading_is_one_message(monkeypatch, tmp_path, demo_db, caplog):
    db = tmp_path / "tally.duckdb"
    damage_invoices(demo_db, db)
    monkeypatch.setenv("TALLY_DB", str(db))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    sign_in_as_viewer(monkeypatch)
    at = open_app()
    assert not at.exception, [e.value for e in at.exception]
    expected = f"The database {db} is damaged or not a DuckDB database file."
    assert [e.value for e in at.error] == [at.error[0].value] and at.error[0].value.startswith(expected)
    at = goto(at, "MRR")  # every later run says it up front, whatever the page
    assert not at.exception and len(at.error) == 1 and at.error[0].value.startswith(expected)
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("tally")]
    assert logged == [at.error[0].value] and "Traceback" not in caplog.text
