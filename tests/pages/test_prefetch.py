"""After the first page, the other pages' metrics are computed in the background."""
import threading

from metrics.registry import METRICS, Metric
from tests.pages.apptest import PAGES, goto, open_app


def wait_for_prefetch() -> None:
    for thread in threading.enumerate():
        if thread.name == "tally-prefetch":
            thread.join(timeout=120)


def test_switching_pages_after_prefetch_computes_nothing(dashboard_env, monkeypatch):
    monkeypatch.setenv("TALLY_PREFETCH", "1")
    at = open_app({"from": "2025-03", "to": "2026-02", "currency": "eur"})  # a view no other test caches
    wait_for_prefetch()

    def must_be_cached(con, params):
        raise AssertionError("computed again instead of read from the cache")

    for name, entry in list(METRICS.items()):
        monkeypatch.setitem(METRICS, name, Metric(name, entry.description, must_be_cached, entry.money_columns))
    for title in PAGES:
        goto(at, title)
        assert not at.exception and not at.error, (title, [e.value for e in at.error])
