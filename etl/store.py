"""Where the database lives, and how a finished sync reaches the dashboard.

DuckDB lets one process write or many read, never both. So the sync (and the
demo generator) write a private working file `<db>.work`, and publish it by
copying it to `<db>.tmp` and renaming that over `<db>` (atomic on one file
system). The dashboard only ever opens `<db>` read-only and reopens it when
`published_version` changes. Neither can make the other fail.

The updater publishes a webhook batch without copying the account: `<db>` is
then a symbolic link to one of two copies it keeps, `<db>.pub-<n>`
(etl/copies.py). A full publish replaces the link with a plain file again.
"""
from __future__ import annotations

import glob
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from etl import schema
from etl.load import connect

DEFAULT_DB = "data/tally.duckdb"
DEFAULT_DEMO_DB = "data/demo.duckdb"

# Connections of one process to one file share a DuckDB instance, so the file
# lock does not keep the dashboard's own writers (admin write-back, spend and
# rate edits) apart: they take this lock around open_working ... publish.
DASHBOARD_WRITE_LOCK = threading.RLock()


def db_path_from_env(path: str | None = None) -> str:
    return path or os.environ.get("TALLY_DB") or DEFAULT_DB


def demo_db_path() -> str:
    return os.environ.get("TALLY_DEMO_DB") or DEFAULT_DEMO_DB


def shown_db_path(path: str | None = None) -> tuple[str, str]:
    """The database the dashboard shows (and every read command uses), and why, in words.

    The synced account (TALLY_DB); with no Stripe key and nothing synced yet,
    the demo account (TALLY_DEMO_DB) instead; the first sync switches to the
    real data. An explicit path wins.
    """
    if path:
        return path, "given with --db"
    synced = db_path_from_env()
    if published_version(synced) is None and not os.environ.get("STRIPE_API_KEY"):
        return demo_db_path(), f"the demo account, shown while there is no STRIPE_API_KEY and no {synced}"
    return synced, "the synced account" + ("" if os.environ.get("TALLY_DB") else ", set TALLY_DB to change")


def who_shows(db_path: str) -> str:
    """For a command that wrote `db_path`: will the dashboard show it, and why."""
    shown, source = shown_db_path()
    if os.path.abspath(shown) == os.path.abspath(db_path):
        return f"the dashboard and `python -m metrics` show it: {source}"
    return f"the dashboard and `python -m metrics` show {shown} instead: {source}"


def create_own_database(path: str, ddl, connect) -> None:
    """Create the tables of one of Tally's own small databases beside the account's
    (the audit trail, the notifier's state), and the folder it lives in."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with connect() as con:
        for statement in ddl:
            con.execute(statement)


def working_path(db_path: str) -> str:
    return f"{db_path}.work"


def open_working(db_path: str):
    """The writer's connection; starts from the published file if there is no work file."""
    work = working_path(db_path)
    Path(work).parent.mkdir(parents=True, exist_ok=True)
    if not os.path.exists(work) and os.path.exists(db_path):
        shutil.copyfile(db_path, work)
    return connect(work)


def publish(con, db_path: str) -> None:
    """Checkpoint the working file and atomically replace the published copy.

    Nothing derived is built here: the MRR stages live in metrics' own file
    next to this one (metrics/mrr/stored_stages.py), which readers use only
    while it matches what was published, so a writer never waits for them."""
    con.execute("CHECKPOINT")
    tmp = f"{db_path}.tmp"
    shutil.copyfile(working_path(db_path), tmp)
    with publishing(db_path):
        os.replace(tmp, db_path)
        remove_copies(db_path)  # the updater's, now stale (etl/copies.py)


def upgrade_published(db_path: str) -> bool:
    """Bring a published file written by an older Tally up to this one's tables
    and columns (a read-only dashboard cannot add them, and its queries would
    fail), published like any writer's. Left to the writer when one has a
    working copy; True when upgraded."""
    import fcntl

    if not os.path.exists(db_path) or os.path.exists(working_path(db_path)):
        return False
    with open(f"{db_path}.lock", "w") as lock:  # the dashboard's sessions upgrade once
        fcntl.flock(lock, fcntl.LOCK_EX)
        version = published_version(db_path)
        con = connect(db_path, read_only=True)
        try:
            found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'invoice_lines'"
                                " AND database_name = current_database()").fetchone()
            ours = found is not None and found[0]
            if not ours or schema.is_current(con):  # another program's file is not ours to change
                return False
        finally:
            con.close()
        upgrade = f"{db_path}.upgrade"
        shutil.copyfile(db_path, upgrade)
        con = connect(upgrade)  # adds what is missing
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with publishing(db_path):
            if published_version(db_path) != version:  # a writer published meanwhile: its file is newer
                os.remove(upgrade)
                return False
            os.replace(upgrade, db_path)
            remove_copies(db_path)
        return True


@contextmanager
def publishing(db_path: str):
    """Held while a file replaces the published one, so that an upgrade never
    replaces a copy a writer published after the upgrade began, and no writer
    removes the updater's copy while it writes that copy."""
    import fcntl

    with open(f"{db_path}.publish.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def open_published(db_path: str):
    """A read-only connection to the published database (the dashboard's).

    Opened at the link's target, so that DuckDB (which shares one instance
    among a process's connections to one path) never hands out an older copy.
    A copy the updater swapped away from a moment ago may be locked for writing
    or gone: the link points at a newer one, so look again."""
    import duckdb  # here, not above: the sync's page converter needs no DuckDB

    for attempt in range(5):
        try:
            return connect(os.path.realpath(db_path), read_only=True)
        except duckdb.IOException:
            if attempt == 4 or not os.path.islink(db_path):
                raise
            time.sleep(0.05)
    raise AssertionError("unreachable")


# --- the updater's two copies (etl/copies.py) ---------------------------------------

def current_copy(db_path: str) -> str | None:
    """The copy `<db>` links to; None when it is a plain file (or missing)."""
    return os.path.realpath(db_path) if os.path.islink(db_path) else None


def new_copy_path(db_path: str) -> str:
    return f"{db_path}.pub-{time.time_ns()}"


def point_at(db_path: str, copy: str) -> None:
    """Make `<db>` a link to `copy`, atomically (call under `publishing`)."""
    link = f"{db_path}.link"
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.basename(copy), link)  # relative: the folder may move
    os.replace(link, db_path)


def remove_copies(db_path: str, keep=()) -> None:
    """The updater's copies other than `keep` (readers that have one open keep
    reading it: the file goes when they close it). Call under `publishing`."""
    kept = {os.path.realpath(path) for path in keep if path}
    for path in glob.glob(glob.escape(db_path) + ".pub-*"):
        copy = path.removesuffix(".wal").removesuffix(".part")
        if os.path.realpath(copy) not in kept:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass


def published_version(db_path: str) -> tuple[int, int] | None:
    """Changes whenever a new copy is published; None when there is none.
    (inode, mtime in ns): the copy's mtime is when it was published."""
    try:
        st = os.stat(db_path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)
