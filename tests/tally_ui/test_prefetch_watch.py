import threading
import time

from etl import store
from tally_ui import prefetch


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_every_new_publish_warms_the_default_view_once(monkeypatch, tmp_path):
    db = str(tmp_path / "tally.duckdb")
    warmed = []
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.setenv("TALLY_PREFETCH", "1")
    monkeypatch.setattr(prefetch, "WATCH_SECONDS", 0.02)
    monkeypatch.setattr(prefetch, "warm_default_view", lambda: warmed.append(store.published_version(db)))
    watcher = threading.Thread(target=prefetch._watch, daemon=True)
    watcher.start()
    try:
        time.sleep(0.1)
        assert warmed == []  # nothing published yet
        for _ in range(2):
            con = store.open_working(db)
            store.publish(con, db)
            con.close()
            assert wait_until(lambda: warmed and warmed[-1] == store.published_version(db))
        time.sleep(0.1)
        assert len(warmed) == 2  # once per version, not once per poll
    finally:
        monkeypatch.setenv("TALLY_PREFETCH", "0")  # the loop ends on its next poll
        watcher.join(timeout=5)
    assert not watcher.is_alive()
