"""Publishing a batch of webhook changes in time proportional to the batch.

A full publish (etl/store.py `publish`) copies the whole working file: fine
after a sync, too slow after every webhook on a big account. So the updater
keeps two full copies, `<db>.pub-<n>`, and makes `<db>` a symbolic link to
one of them. Readers open the link's target read-only; the other copy, the
standby, is one batch behind. A batch is written to the working file (the
writers' source of truth), then to the standby: first the batch it missed,
then this one, then a checkpoint (which writes only the changed row groups);
then the link is swapped to it (atomic). A reader never sees a half-applied
batch, nor waits: it holds its copy until it reopens on the new version.

The standby is used only when nothing else can be wrong about it:
- the link still points where this updater last pointed it (no other writer
  published since: a full publish replaces the link with a plain file);
- this process remembers the batch the standby missed (not after a restart);
- no reader has it open: DuckDB's lock refuses a writer then.
Otherwise the batch is published by a full copy of the working file into a
new copy, and the copy it replaces becomes the standby: it is the working
file as it was before this batch, so the next batch can catch it up.
"""
from __future__ import annotations

import os
import shutil
import time
from typing import Callable

import duckdb

from etl import store

Batch = Callable[[duckdb.DuckDBPyConnection], None]  # writes one batch (no transaction of its own)


class TwoCopies:
    """The updater's published copies; one per updater (it holds the updater lock)."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.installed: str | None = None  # the copy the link pointed at after our last publish
        self.standby: str | None = None  # the other copy
        self.behind: Batch | None = None  # the batch the standby lacks
        self.published_as: str | None = None  # "standby" or "full copy", for /healthz
        self.write_seconds: float | None = None

    def publish(self, work, batch: Batch) -> None:
        """Publish the working file (`work`, its connection), into which `batch`
        was just committed."""
        started = time.monotonic()
        with store.publishing(self.db_path):
            if self._onto_standby(batch):
                self.published_as = "standby"
            else:
                self._full_copy(work, batch)
                self.published_as = "full copy"
        self.write_seconds = round(time.monotonic() - started, 3)

    def _onto_standby(self, batch: Batch) -> bool:
        current = store.current_copy(self.db_path)
        standby, behind = self.standby, self.behind
        if current is None or current != self.installed or standby is None or behind is None \
                or not os.path.exists(standby):
            return False
        try:
            # not etl.load.connect: the copy has the working file's tables (made from it
            # in this process), and creating them again costs more than a small batch
            con = duckdb.connect(standby)
        except duckdb.Error:  # a reader still has it open (another process: a lock; this one: its instance)
            return False
        try:
            con.execute("BEGIN")
            behind(con)
            batch(con)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        except duckdb.Error:  # left in an unknown state: never published, replaced below
            self.standby = None
            return False
        finally:
            con.close()
        store.point_at(self.db_path, standby)
        self.installed, self.standby, self.behind = standby, current, batch
        return True

    def _full_copy(self, work, batch: Batch) -> None:
        previous = store.current_copy(self.db_path)  # the working file before this batch
        work.execute("CHECKPOINT")
        copy = store.new_copy_path(self.db_path)
        shutil.copyfile(store.working_path(self.db_path), f"{copy}.part")
        os.replace(f"{copy}.part", copy)
        store.point_at(self.db_path, copy)
        # as current_copy() will name it (a relative --db, a linked folder)
        self.installed, self.standby, self.behind = os.path.realpath(copy), previous, batch
        store.remove_copies(self.db_path, keep={copy, previous})
