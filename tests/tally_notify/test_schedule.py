"""Digests go out on schedule, once per scheduled time, whatever the number of ticks."""
from __future__ import annotations

import datetime as dt

from tally_notify.config import NotifyConfig
from tally_notify.loop import Notifier, due_digests


def test_the_latest_scheduled_time_that_has_passed():
    config = NotifyConfig(daily=True, daily_hour=8, weekly=True, weekly_day=0, weekly_hour=9)
    wednesday_7am = dt.datetime(2031, 6, 11, 7, 0)
    assert due_digests(config, wednesday_7am) == [
        ("digest:daily:2031-06-10", dt.date(2031, 6, 9), 1),  # Tuesday 08:00: Monday's numbers
        ("digest:weekly:2031-06-09", dt.date(2031, 6, 8), 7)]  # Monday 09:00: the week to Sunday
    monday_8am = dt.datetime(2031, 6, 9, 8, 30)
    assert due_digests(config, monday_8am) == [
        ("digest:daily:2031-06-09", dt.date(2031, 6, 8), 1),
        ("digest:weekly:2031-06-02", dt.date(2031, 6, 1), 7)]  # this Monday's 09:00 is still ahead
    assert due_digests(NotifyConfig(), monday_8am) == []


def test_a_daily_digest_is_mailed_once_per_day(demo_db, state, smtp_server):
    port, inbox = smtp_server
    state.save_config(NotifyConfig(email_to=["ceo@example.com"], email_from="tally@example.com",
                                   smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                                   daily=True, daily_hour=6), by="test")
    notifier = Notifier(demo_db, state, None)
    first = dt.datetime(2031, 6, 10, 6, 1)
    assert [m.subject for m in notifier.tick(first)] == ["Tally daily digest: Mon 09 Jun 2031"]
    assert notifier.tick(first + dt.timedelta(hours=3)) == []
    assert Notifier(demo_db, state, None).tick(first + dt.timedelta(hours=4)) == []  # after a restart too
    assert len(notifier.tick(first + dt.timedelta(days=1))) == 1
    assert [m["Subject"] for m in inbox.messages] == ["Tally daily digest: Mon 09 Jun 2031",
                                                      "Tally daily digest: Tue 10 Jun 2031"]
    assert state.sent()["kind"].tolist() == ["digest", "digest"]
