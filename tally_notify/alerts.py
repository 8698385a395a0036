"""Alert rules, each firing once per occurrence (never once per publish).

An occurrence is named by a key remembered in `alerts_fired`: a movement by
its month, customer and kind; a dispute or an early fraud warning by its id;
a lasting condition (a low payment success rate, a failing sync) by when it
began, closed again once the condition ends so that the next one fires anew.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from dataclasses import dataclass

from etl import store
from metrics.common import MetricError
from metrics.currency import format_money, to_major
from metrics.params import Params
from tally_notify.config import NotifyConfig
from tally_notify.deliver import Message
from tally_notify.digest import LOSSES, Section, render, run_metric, top_movements
from tally_notify.state import NotifyState

RECENT_DAYS = 7  # disputes and warnings older than this when a rule is first enabled stay quiet


@dataclass(frozen=True)
class Alert:
    key: str
    rule: str
    title: str
    page: str
    lines: tuple[str, ...]

    def message(self, base_url: str) -> Message:
        return render([Section(self.title, self.page, list(self.lines))], f"Tally alert: {self.title}",
                      base_url, kind="alert")


def big_losses(con, config: NotifyConfig, today: dt.date) -> list[Alert]:
    """Churn or contraction movements above the amount, this month and the last."""
    alerts = []
    this_month = today.replace(day=1)
    for month in ((this_month - dt.timedelta(days=1)).replace(day=1), this_month):
        try:
            rows = top_movements(con, month, limit=10_000)
        except MetricError:
            continue
        for _, row in rows[rows["movement"].isin(LOSSES)].iterrows():
            if float(to_major(row["movement_amount"], row["currency"]) or 0) <= (config.movement_above or 0):
                continue
            who = row["customer_name"] or row["customer_id"]
            alerts.append(Alert(f"movement:{month:%Y-%m}:{row['customer_id']}:{row['currency']}:{row['movement']}",
                                "movement", f"{row['movement']} of {who}", "mrr",
                                (f"{who} ({row['customer_id']}): {row['movement']} of "
                                 f"{format_money(round(row['movement_amount']), row['currency'])} MRR "
                                 f"in {month:%B %Y}",)))
    return alerts


def success_rate(con, days: int, today: dt.date) -> tuple[int, int]:
    """(charges, succeeded) over the trailing `days` days through today."""
    frame = run_metric(con, "payments", Params(granularity="day", start=today - dt.timedelta(days=days - 1),
                                               end=today))
    return int(frame["charges"].sum()), int(frame["succeeded"].sum())


def recent_disputes(con, since: dt.datetime) -> list[tuple[str, str, str]]:
    """(key, title, line) of each dispute and early fraud warning created since then."""
    disputes = con.execute("SELECT id, charge_id, amount, currency, reason, status FROM disputes "
                           "WHERE created >= ? AND NOT coalesce(deleted, false) ORDER BY created",
                           [since]).fetchall()
    warnings = con.execute("SELECT id, charge_id, fraud_type FROM early_fraud_warnings "
                           "WHERE created >= ? AND NOT coalesce(deleted, false) ORDER BY created",
                           [since]).fetchall()
    return ([(f"dispute:{d[0]}", f"dispute opened on {d[1]}",
              f"{d[0]}: {format_money(d[2], d[3] or '')} disputed ({d[4] or 'no reason'}), status {d[5]}")
             for d in disputes]
            + [(f"efw:{w[0]}", f"early fraud warning on {w[1]}",
                f"{w[0]}: Radar early fraud warning ({w[2] or 'unknown type'}) on charge {w[1]}")
               for w in warnings])


def publish_alerts(db_path: str, config: NotifyConfig, state: NotifyState, today: dt.date) -> list[Alert]:
    """The rules that look at the published data: run once per new publish."""
    alerts: list[Alert] = []
    if not (config.movement_above or config.disputes or config.success_rate_below):
        return alerts  # none is set: the updater's file is not even opened
    con = store.open_published(db_path)
    try:
        if config.movement_above:
            alerts += big_losses(con, config, today)
        if config.disputes:
            since = dt.datetime.combine(today - dt.timedelta(days=RECENT_DAYS), dt.time())
            alerts += [Alert(key, "dispute", title, "refunds", (line,))
                       for key, title, line in recent_disputes(con, since)]
        if config.success_rate_below:
            alerts += lasting(state, "success_rate", _low_rate(con, config, today))
    finally:
        con.close()
    return alerts


def _low_rate(con, config: NotifyConfig, today: dt.date) -> Alert | None:
    try:
        charges, succeeded = success_rate(con, config.success_window_days, today)
    except MetricError:
        return None
    threshold = (config.success_rate_below or 0) / 100
    if not charges or succeeded / charges >= threshold:
        return None
    return Alert("", "success_rate", f"payment success rate {succeeded / charges:.1%}", "payments",
                 (f"{succeeded} of {charges} charges succeeded over the last "
                  f"{config.success_window_days} days, below {threshold:.0%}",))


def lasting(state: NotifyState, rule: str, alert: Alert | None) -> list[Alert]:
    """A condition that lasts fires once when it begins; its end closes the occurrence."""
    if alert is None:
        state.clear(rule)
        return []
    if state.open_occurrence(rule):
        return []
    key = f"{rule}:{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%S.%f}"
    return [Alert(key, rule, alert.title, alert.page, alert.lines)]


def updater_url() -> str:
    return os.environ.get("TALLY_UPDATER_URL") or \
        f"http://127.0.0.1:{os.environ.get('TALLY_UPDATER_PORT') or '8502'}"


def sync_problem(db_path: str, url: str | None) -> str | None:
    """Why syncing or applying webhooks fails now (the updater's /healthz, else the
    published database's last sync), or None while it works."""
    health = None
    if url:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=5) as answer:
                health = json.loads(answer.read())
        except (OSError, ValueError):
            health = None  # no updater here: the database's own record says how syncs went
    if health is not None:
        if health.get("apply_error"):
            return f"webhook events are not applied: {health['apply_error']}"
        last = health.get("last_sync") or {}
    else:
        from etl.applier import last_sync_run
        last = last_sync_run(db_path) or {}
    if last.get("status") == "failed":
        return f"the last sync failed: {last.get('message') or 'no message'}"
    return None


def sync_alerts(db_path: str, config: NotifyConfig, state: NotifyState, url: str | None) -> list[Alert]:
    """A sync or webhook failure that has lasted `sync_failing_minutes`."""
    problem = sync_problem(db_path, url)
    if problem is None:
        state.unwatch("sync")
        return lasting(state, "sync", None)
    since = state.watch_since("sync", problem)
    minutes = (dt.datetime.now(dt.UTC).replace(tzinfo=None) - since).total_seconds() / 60
    if minutes < (config.sync_failing_minutes or 0):
        return []
    return lasting(state, "sync", Alert("", "sync", f"syncing has failed for {int(minutes)} minutes",
                                        "sync", (problem,)))
