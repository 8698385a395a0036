"""Alerts are checked after each publish and fire once per occurrence, never once per publish."""
from __future__ import annotations

import datetime as dt
import json
import os

import duckdb
import pytest

from etl import store
from metrics.currency import to_major
from metrics.params import Params
from tally_notify.alerts import sync_problem
from tally_notify.config import NotifyConfig
from tally_notify.digest import run_metric
from tally_notify.loop import Notifier
from tests.support.servers import QuietHandler, serving

LATER = dt.datetime(2031, 6, 10, 12, 0)  # long after the demo's data: only what a test adds is recent


def publish(db: str, sql: str = "", parameters=()) -> None:
    """Change the published database (as a publish does): a new version."""
    con = duckdb.connect(db)
    try:
        if sql:
            con.execute(sql, list(parameters))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.utime(db)  # a new version even when the file's size and contents stay


@pytest.fixture
def slack(slack_server, monkeypatch, state):
    url, play = slack_server
    monkeypatch.setenv("TALLY_SLACK_WEBHOOK_URL", url)
    return play


def configure(state, **rules) -> None:
    state.save_config(NotifyConfig(slack=True, base_url="https://tally.example.com", **rules), by="test")


def test_a_dispute_and_a_fraud_warning_each_alert_once(demo_db, state, slack):
    configure(state, disputes=True)
    notifier = Notifier(demo_db, state, None)
    assert notifier.tick(LATER) == []
    publish(demo_db, "INSERT INTO disputes (id, created, charge_id, amount, currency, status, reason) "
                     "VALUES ('dp_new1', ?, 'ch_x1', 4900, 'usd', 'needs_response', 'fraudulent')",
            [LATER - dt.timedelta(hours=2)])
    [message] = notifier.tick(LATER)
    assert "dp_new1" in message.text and "49.00 USD" in message.text
    assert "https://tally.example.com/refunds" in slack.bodies[-1]["text"]
    publish(demo_db)  # another publish, the same dispute: no second alert
    assert notifier.tick(LATER) == []
    assert Notifier(demo_db, state, None).tick(LATER) == []  # nor after a restart
    publish(demo_db, "INSERT INTO early_fraud_warnings (id, created, charge_id, fraud_type) "
                     "VALUES ('issfr_1', ?, 'ch_x2', 'card_never_received')", [LATER - dt.timedelta(hours=1)])
    [message] = notifier.tick(LATER)
    assert "issfr_1" in message.text and "early fraud warning" in message.subject
    assert len(slack.bodies) == 2
    assert state.sent()["status"].tolist() == ["sent", "sent"]


def losses_above(db: str, amount: float, today: dt.date) -> set[tuple[str, str]]:
    con = store.open_published(db)
    found = set()
    try:
        this = today.replace(day=1)
        for month in ((this - dt.timedelta(days=1)).replace(day=1), this):
            frame = run_metric(con, "mrr_drilldown", Params(extra={"month": f"{month:%Y-%m}"}))
            for _, row in frame[frame["movement"].isin(["churn", "contraction"])].iterrows():
                if to_major(row["movement_amount"], row["currency"]) > amount:
                    found.add((row["customer_id"], row["movement"]))
    finally:
        con.close()
    return found


def busiest_month(db: str) -> dt.date:
    con = store.open_published(db)
    try:
        frame = run_metric(con, "mrr_movements", Params())
    finally:
        con.close()
    frame = frame.assign(losses=frame["churn"] + frame["contraction"])
    return frame.sort_values("losses").iloc[-1]["month"].date()


def test_a_big_churn_or_contraction_alerts_once(demo_db, state, slack):
    today = busiest_month(demo_db) + dt.timedelta(days=40)  # that month is "last month"
    expected = losses_above(demo_db, 10, today)
    assert expected
    configure(state, movement_above=10.0)
    notifier = Notifier(demo_db, state, None)
    now = dt.datetime.combine(today, dt.time(9))
    messages = notifier.tick(now)
    assert len(messages) == len(expected)
    for customer, movement in expected:
        assert any(customer in m.text and movement in m.subject for m in messages)
    publish(demo_db)
    assert notifier.tick(now) == []
    assert len(slack.bodies) == len(expected)


def test_a_low_success_rate_alerts_once_until_it_recovers(demo_db, state, slack):
    con = store.open_published(demo_db)
    try:
        days = run_metric(con, "payments", Params(granularity="day"))
    finally:
        con.close()
    failing = days[days["failed"] > 0]["day"].max().date()
    now = dt.datetime.combine(failing, dt.time(23))
    configure(state, success_rate_below=100.0, success_window_days=3)
    notifier = Notifier(demo_db, state, None)
    [message] = notifier.tick(now)
    assert "payment success rate" in message.subject and "https://tally.example.com/payments" in message.text
    publish(demo_db)
    assert notifier.tick(now) == []  # still low: the same occurrence
    configure(state, success_rate_below=1.0, success_window_days=3)
    publish(demo_db)
    assert notifier.tick(now) == []  # recovered (above 1%): the occurrence ends
    configure(state, success_rate_below=100.0, success_window_days=3)
    publish(demo_db)
    assert len(notifier.tick(now)) == 1  # low again: a new occurrence
    assert len(slack.bodies) == 2


@pytest.fixture
def updater_health():
    """A stand-in for the updater's /healthz: answers what `health` holds."""
    health = {"ok": True, "apply_error": None, "last_sync": {"status": "succeeded"}}

    class Handler(QuietHandler):
        def do_GET(self):
            self.answer(200, json.dumps(health).encode())

    with serving(Handler) as base:
        yield base, health


def backdate_watch(state, minutes: int) -> None:
    con = duckdb.connect(state.path)
    try:
        con.execute("UPDATE notify_watch SET since = since - to_minutes(?)", [minutes])
    finally:
        con.close()


def test_a_sync_failure_alerts_once_it_has_lasted_n_minutes(demo_db, state, slack, updater_health):
    url, health = updater_health
    configure(state, sync_failing_minutes=15)
    notifier = Notifier(demo_db, state, url)
    assert notifier.tick() == []
    health.update(ok=False, apply_error="Unreachable: api.stripe.com did not answer")
    assert notifier.tick() == []  # failing, but not for 15 minutes yet
    backdate_watch(state, 16)
    [message] = notifier.tick()
    assert "syncing has failed" in message.subject and "did not answer" in message.text
    assert "https://tally.example.com/sync" in message.text
    assert notifier.tick() == []  # the same failure: once
    health.update(ok=True, apply_error=None)
    assert notifier.tick() == []
    health.update(last_sync={"status": "failed", "message": "401 from Stripe"})
    backdate_watch(state, 16)
    assert notifier.tick() == []  # a new failure starts its own 15 minutes
    backdate_watch(state, 16)
    [message] = notifier.tick()
    assert "401 from Stripe" in message.text
    assert len(slack.bodies) == 2


def test_without_an_updater_the_databases_last_sync_says_whether_syncing_fails(demo_db):
    """No /healthz to ask: the published database's newest sync run is read instead."""
    assert sync_problem(demo_db, None) is None
    publish(demo_db, "INSERT INTO sync_runs (run_id, started_at, status, message) "
                     "VALUES ('run_test', TIMESTAMP '2099-01-01 00:00:00', 'failed', '401 from Stripe')")
    assert sync_problem(demo_db, None) == "the last sync failed: 401 from Stripe"
