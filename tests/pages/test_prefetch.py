"""After the first page, the other pages' metrics are computed in the background."""
import threading

from metrics.registry import METRICS, Metric
from tests.pages.apptest import PAGES, goto, open_app


def forget_everything() -> None:
    import streamlit as st

    from metrics.mrr import stage_cache
    from tally_ui import prefetch
    st.cache_data.clear()
    stage_cache.clear()
    prefetch._started.clear()


def wait_for_prefetch() -> None:
    for thread in threading.enumerate():
        if thread.name == "tally-prefetch":
            thread.join(timeout=120)


def test_switching_pages_after_prefetch_computes_nothing(dashboard_env, monkeypatch):
    from tally_ui import prefetch
    monkeypatch.setenv("TALLY_PREFETCH", "1")
    monkeypatch.setattr(prefetch, "watch", lambda: None)  # the publish watcher has its own test
    forget_everything()
    at = open_app({"from": "2025-03", "to": "2026-02", "currency": "eur"})  # a view no other test caches
    wait_for_prefetch()

    def must_be_cached(con, params):
        raise AssertionError("computed again instead of read from the cache")

    for name, entry in list(METRICS.items()):
        monkeypatch.setitem(METRICS, name, Metric(name, entry.description, must_be_cached, entry.money_columns))
    for title in PAGES:
        goto(at, title)
        assert not at.exception and not at.error, (title, [e.value for e in at.error])


def test_a_new_publish_is_computed_before_anyone_asks(dashboard_env, monkeypatch):
    from tally_ui import prefetch
    forget_everything()
    prefetch.warm_default_view()  # what the publish watcher does when the file changes

    def must_be_cached(con, params):
        raise AssertionError("computed again instead of read from the cache")

    for name, entry in list(METRICS.items()):
        monkeypatch.setitem(METRICS, name, Metric(name, entry.description, must_be_cached, entry.money_columns))
    at = open_app()  # a visitor with a plain URL
    for title in PAGES:
        goto(at, title)
        assert not at.exception and not at.error, (title, [e.value for e in at.error])
