"""A database written by an older Tally (fewer tables and columns) is brought up
to date when the dashboard starts, instead of every MRR query failing."""
from __future__ import annotations

import duckdb

from etl import schema, store
from etl.load import connect
from tally_ui import setup


def _older_file(path: str) -> None:
    """This version's tables minus a typed column and a support table, as an older Tally left them."""
    con = connect(path)
    con.execute("ALTER TABLE invoice_lines DROP COLUMN credited_line_id")
    con.execute("DROP TABLE missing_prices")
    assert not schema.is_current(con)
    con.close()


def test_an_older_tallys_file_is_upgraded_once_and_published(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    _older_file(db)
    assert store.upgrade_published(db) is True
    con = duckdb.connect(db, read_only=True)
    assert schema.is_current(con)
    con.close()
    assert store.upgrade_published(db) is False  # already current: nothing rewritten


def test_the_dashboard_start_upgrades_the_shown_file(tmp_path, monkeypatch):
    db = str(tmp_path / "tally.duckdb")
    _older_file(db)
    monkeypatch.setattr(setup.published, "db_path", lambda: db)
    setup.ensure_database()
    con = duckdb.connect(db, read_only=True)
    assert schema.is_current(con)
    con.close()


def test_another_programs_duckdb_file_is_left_alone(tmp_path):
    db = str(tmp_path / "other.duckdb")
    con = duckdb.connect(db)
    con.execute("CREATE TABLE notes (x INTEGER)")
    con.close()
    before = store.published_version(db)
    assert store.upgrade_published(db) is False
    assert store.published_version(db) == before


def test_a_writers_working_copy_is_left_to_the_writer(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    _older_file(db)
    open(store.working_path(db), "w").close()
    assert store.upgrade_published(db) is False


def test_the_metrics_cli_upgrades_an_older_file_before_reading_it(tmp_path, capsys):
    from metrics.__main__ import main as metrics_main
    db = str(tmp_path / "tally.duckdb")
    _older_file(db)
    assert metrics_main(["export", "mrr", "--db", db]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("month,currency,mrr") and f"Upgraded {db}" in err
