"""The updater publishes a batch onto its standby copy, not by copying the account
(etl/copies.py), on real DuckDB files; readers in other processes, as the dashboard."""
import datetime as dt
import os
import subprocess
import sys
import textwrap

import duckdb
import pytest

from etl import store
from etl.applier import write_batch
from etl.copies import TwoCopies

NOW = dt.datetime(2026, 12, 1)


def customer(n: int, email: str) -> dict:
    return {"id": f"cus_{n}", "object": "customer", "created": 1_700_000_000 + n, "email": email,
            "livemode": False, "metadata": {}}


def batch_of(*objects, gone=None):
    def batch(con):
        write_batch(con, list(objects), gone or {}, NOW)
    return batch


@pytest.fixture
def account(tmp_path):
    """A published account of 50 customers, its working file open, and the updater's copies."""
    db = str(tmp_path / "tally.duckdb")
    work = store.open_working(db)
    batch_of(*[customer(n, f"c{n}@example.com") for n in range(50)])(work)
    store.publish(work, db)
    yield db, work, TwoCopies(db)
    work.close()


def publish(db, work, copies, batch):
    work.execute("BEGIN")
    batch(work)
    work.execute("COMMIT")
    copies.publish(work, batch)
    return copies.published_as


def emails(db) -> dict:
    con = store.open_published(db)
    try:
        return dict(con.execute("SELECT id, email FROM customers WHERE NOT deleted").fetchall())
    finally:
        con.close()


def copy_files(db) -> set:
    folder, name = os.path.split(db)
    return {f for f in os.listdir(folder) if f.startswith(name + ".pub-")}


def test_from_the_third_batch_on_a_batch_is_written_onto_the_standby_not_copied(account):
    db, work, copies = account
    assert publish(db, work, copies, batch_of(customer(1, "one@example.com"))) == "full copy"
    assert os.path.islink(db)  # the plain file published by the sync is replaced by the link
    # the copy before was the plain file, gone now: a second copy to start the pair
    assert publish(db, work, copies, batch_of(customer(2, "two@example.com"))) == "full copy"
    pair = copy_files(db)
    assert len(pair) == 2
    versions = {store.published_version(db)}
    for n in range(3, 8):
        linked_before = os.path.realpath(db)
        assert publish(db, work, copies, batch_of(customer(n, f"{n}-new@example.com"))) == "standby"
        assert copy_files(db) == pair  # no file copied, none made
        assert os.path.realpath(db) != linked_before  # the link moved to the other copy
        versions.add(store.published_version(db))
        seen = emails(db)  # the batch, and the one the standby had missed
        missed = "two@example.com" if n == 3 else f"{n - 1}-new@example.com"
        assert seen["cus_1"] == "one@example.com" and seen[f"cus_{n - 1}"] == missed
        assert seen[f"cus_{n}"] == f"{n}-new@example.com" and len(seen) == 50
    assert len(versions) == 6  # the dashboard sees each publish as a new version


def test_the_copies_hold_what_the_working_file_holds_deletions_included(account):
    db, work, copies = account
    for n in range(6):
        publish(db, work, copies, batch_of(customer(10 + n, f"x{n}@example.com"),
                                           gone={"customers": [f"cus_{30 + n}"]}))
    want = dict(work.execute("SELECT id, email FROM customers WHERE NOT deleted").fetchall())
    assert emails(db) == want and len(want) == 44
    for copy in copy_files(db):  # both copies, the standby one batch behind at most
        con = duckdb.connect(os.path.join(os.path.dirname(db), copy), read_only=True)
        try:
            deleted = con.execute("SELECT count(*) FROM customers WHERE deleted").fetchone()[0]
        finally:
            con.close()
        assert deleted in (5, 6)


READER = textwrap.dedent("""
    import sys, time
    from etl import store
    con = store.open_published(sys.argv[1])
    print(con.execute("SELECT email FROM customers WHERE id = 'cus_1'").fetchone()[0], flush=True)
    sys.stdin.readline()  # until the test has published twice more
    print(con.execute("SELECT email FROM customers WHERE id = 'cus_1'").fetchone()[0], flush=True)
""")


def test_a_reader_keeps_its_snapshot_and_a_standby_it_holds_is_never_written(account):
    db, work, copies = account
    for n in range(3):
        publish(db, work, copies, batch_of(customer(1, f"v{n}@example.com")))
    assert copies.published_as == "standby"
    reader = subprocess.Popen([sys.executable, "-c", READER, db], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert reader.stdout.readline().strip() == "v2@example.com"
        held = os.path.realpath(db)
        assert publish(db, work, copies, batch_of(customer(1, "v3@example.com"))) == "standby"
        # the standby now is the copy the reader has open: the batch goes into a new copy instead
        assert publish(db, work, copies, batch_of(customer(1, "v4@example.com"))) == "full copy"
        assert os.path.realpath(db) != held and emails(db)["cus_1"] == "v4@example.com"
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "v2@example.com"  # its copy, whole and unchanged
    finally:
        reader.kill()
        reader.wait()
    assert publish(db, work, copies, batch_of(customer(1, "v5@example.com"))) == "standby"
    assert emails(db)["cus_1"] == "v5@example.com"


def test_a_full_publish_by_another_writer_takes_over_and_the_updater_starts_a_new_pair(account):
    db, work, copies = account
    for n in range(3):
        publish(db, work, copies, batch_of(customer(1, f"v{n}@example.com")))
    batch_of(customer(2, "sync@example.com"))(work)  # say, the scheduled sync
    store.publish(work, db)
    assert not os.path.islink(db) and copy_files(db) == set()  # the pair is gone
    assert publish(db, work, copies, batch_of(customer(1, "after@example.com"))) == "full copy"
    assert publish(db, work, copies, batch_of(customer(3, "after3@example.com"))) == "full copy"
    assert publish(db, work, copies, batch_of(customer(4, "after4@example.com"))) == "standby"
    seen = emails(db)
    assert (seen["cus_1"], seen["cus_2"], seen["cus_3"], seen["cus_4"]) == (
        "after@example.com", "sync@example.com", "after3@example.com", "after4@example.com")


def test_after_a_restart_the_standby_is_not_trusted(account):
    db, work, copies = account
    for n in range(3):
        publish(db, work, copies, batch_of(customer(1, f"v{n}@example.com")))
    restarted = TwoCopies(db)  # remembers no batch the standby missed
    assert publish(db, work, restarted, batch_of(customer(2, "r@example.com"))) == "full copy"
    assert len(copy_files(db)) == 2  # the new copy and the one it replaced; the old standby removed
    assert publish(db, work, restarted, batch_of(customer(3, "r3@example.com"))) == "standby"
    seen = emails(db)
    assert (seen["cus_1"], seen["cus_2"], seen["cus_3"]) == ("v2@example.com", "r@example.com", "r3@example.com")


def test_a_batch_failing_on_the_standby_is_published_by_a_full_copy(account):
    db, work, copies = account
    for n in range(3):
        publish(db, work, copies, batch_of(customer(1, f"v{n}@example.com")))
    good = batch_of(customer(1, "good@example.com"))

    def fails_on_a_copy(con):
        good(con)
        if ".pub-" in con.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                                  "current_database()").fetchone()[0]:
            raise duckdb.InvalidInputException("disk trouble, say")

    assert publish(db, work, copies, fails_on_a_copy) == "full copy"
    assert emails(db)["cus_1"] == "good@example.com"
    assert len(copy_files(db)) == 2


def test_a_relative_database_path_reaches_the_standby_too(account, monkeypatch):
    db, work, _ = account  # `make run`'s updater is given data/tally.duckdb
    folder, name = os.path.split(db)
    monkeypatch.chdir(folder)
    copies = TwoCopies(name)
    hows = [publish(name, work, copies, batch_of(customer(1, f"r{n}@example.com"))) for n in range(3)]
    assert hows == ["full copy", "full copy", "standby"]
    assert emails(name)["cus_1"] == "r2@example.com"
