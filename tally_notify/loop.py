"""`python -m tally_notify serve`: digests on schedule and alerts after each publish.

`tally_ui/serve.py` starts it beside the updater (`python -m etl serve`). It
is a process of its own rather than a hook inside the updater because etl may
not import metrics or tally_notify; a publish is seen within one tick as a new
published version (etl.store.published_version), and the sync rule reads the
updater's /healthz. It only reads the revenue database, so a slow SMTP server
or Slack can never hold up a sync or a publish.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading

from etl import store
from tally_notify import alerts
from tally_notify import config as settings
from tally_notify.deliver import Message, Outcome, deliver
from tally_notify.digest import digest
from tally_notify.state import NotifyState

log = logging.getLogger("tally.notify")
TICK_SECONDS = 15.0


def due_digests(config: settings.NotifyConfig, now: dt.datetime) -> list[tuple[str, dt.date, int]]:
    """(key, through, days) of each enabled digest whose latest send time has passed."""
    due = []
    if config.daily:
        at = now.replace(hour=config.daily_hour, minute=0, second=0, microsecond=0)
        at -= dt.timedelta(days=1) if at > now else dt.timedelta(0)
        due.append((f"digest:daily:{at:%Y-%m-%d}", at.date() - dt.timedelta(days=1), 1))
    if config.weekly:
        at = now.replace(hour=config.weekly_hour, minute=0, second=0, microsecond=0)
        at -= dt.timedelta(days=(at.weekday() - config.weekly_day) % 7)
        at -= dt.timedelta(days=7) if at > now else dt.timedelta(0)
        due.append((f"digest:weekly:{at:%Y-%m-%d}", at.date() - dt.timedelta(days=1), 7))
    return due


def send(message: Message, config: settings.NotifyConfig, state: NotifyState) -> list[Outcome]:
    found = settings.secrets()
    if not config.email and not config.slack:
        state.log_send(kind=message.kind, subject=message.subject, channel="none", destination="",
                       status="failed", attempts=0,
                       error="No destination: set email recipients or Slack on the Notifications page.")
        return []
    return deliver(message, config, found, state)


class Notifier:
    def __init__(self, db_path: str, state: NotifyState, updater_url: str | None):
        self.db_path, self.state, self.updater_url = db_path, state, updater_url
        self.seen_version: tuple[int, int] | None = None
        self.stopping = threading.Event()

    def tick(self, now: dt.datetime | None = None) -> list[Message]:
        """One round: due digests, then alerts; returns what it sent."""
        now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        config = self.state.config()
        version = store.published_version(self.db_path)
        sent = []
        if version is not None:
            for key, through, days in due_digests(config, now):
                if self.state.fired(key):
                    continue
                message = digest(self.db_path, config.base_url, through, days)  # may fail: then next tick
                if self.state.fire(key, "digest"):  # recorded before sending: a crash never sends it twice
                    sent.append(message)
        found: list[alerts.Alert] = []
        if version is not None and version != self.seen_version:
            found += alerts.publish_alerts(self.db_path, config, self.state, now.date())
            self.seen_version = version
        if config.sync_failing_minutes:
            found += alerts.sync_alerts(self.db_path, config, self.state, self.updater_url)
        sent += [alert.message(config.base_url) for alert in found if self.state.fire(alert.key, alert.rule)]
        for message in sent:
            send(message, config, self.state)
        return sent

    def run(self, every: float = TICK_SECONDS) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - one line; the next tick tries again
                log.warning("notifier tick failed: %s",
                            settings.secrets().scrub(f"{type(exc).__name__}: {exc}"))
            self.stopping.wait(every)
