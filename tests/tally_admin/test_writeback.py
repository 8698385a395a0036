"""Write-back publishes at once, or queues for the next sync while a sync holds the file."""
import subprocess
import sys

import duckdb

from etl import spool
from etl.store import open_working, working_path
from tally_admin import writeback

REFUND = {"id": "re_1", "object": "refund", "amount": 500, "currency": "eur",
          "charge": "ch_1", "status": "succeeded", "created": 1700000000}


def _rows(db_path):
    con = duckdb.connect(db_path, read_only=True)
    try:
        return con.execute("SELECT id, amount FROM refunds").fetchall()
    finally:
        con.close()


def test_objects_are_published_for_the_dashboard(db_path):
    assert writeback.save_objects([REFUND], db_path) == writeback.PUBLISHED
    assert _rows(db_path) == [("re_1", 500)]


def test_a_busy_working_file_queues_the_objects_for_the_next_sync(db_path):
    open_working(db_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); sys.stdin.read()",
         working_path(db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert writeback.save_objects([REFUND], db_path, attempts=2, pause=0.01) == writeback.QUEUED
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    con = open_working(db_path)  # what the next sync does
    assert spool.load_spool(con, db_path) == 1
    assert con.execute("SELECT id FROM refunds").fetchall() == [("re_1",)]
    con.close()
    spool.finish_spool(db_path)
    con = open_working(db_path)
    assert spool.load_spool(con, db_path) == 0
    con.close()


def test_a_line_cut_short_by_a_crash_is_skipped(db_path):
    writeback.queue_objects([REFUND], db_path)
    with open(spool.spool_path(db_path), "ab") as queue:
        queue.write(b'{"id": "re_2", "obj')
    con = open_working(db_path)
    assert spool.load_spool(con, db_path) == 1
    con.close()
