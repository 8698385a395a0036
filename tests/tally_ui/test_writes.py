import subprocess
import sys

import duckdb
import pytest

from etl import store
from etl.load import connect
from metrics.marketing_spend import ensure_table as ensure_spend_table
from tally_ui import writes

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(30)
"""


def with_spend_table(db: str) -> None:
    """A database with metrics' marketing_spend table (made where spend is first saved)."""
    con = connect(db)
    ensure_spend_table(con)
    con.close()


def test_a_write_is_published(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    with_spend_table(db)
    writes.write(db, lambda con: con.execute(
        "INSERT INTO marketing_spend VALUES ('2026-01-01', 100, 'usd', 'ads')"))
    con = store.open_published(db)
    assert con.execute("SELECT amount FROM marketing_spend").fetchall() == [(100,)]


def test_a_failed_write_changes_nothing(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    with_spend_table(db)

    def half_then_fail(con):
        con.execute("INSERT INTO marketing_spend VALUES ('2026-01-01', 100, 'usd', 'ads')")
        raise ValueError("bad row 2")

    with pytest.raises(ValueError):
        writes.write(db, half_then_fail)
    con = duckdb.connect(store.working_path(db), read_only=True)
    assert con.execute("SELECT count(*) FROM marketing_spend").fetchone() == (0,)


def test_a_busy_working_file_is_said_in_plain_words(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    connect(db).close()
    connect(store.working_path(db)).close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, store.working_path(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(writes.Busy, match="sync is writing"):
            writes.write(db, lambda con: None)
    finally:
        holder.kill()
        holder.wait()
