"""Simulated time: a fixed "now", calendar months, billing periods (unix seconds, UTC)."""
from __future__ import annotations

import calendar
import datetime as dt

DEFAULT_NOW = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
DAY = 86_400


def resolve_now(now) -> dt.datetime:
    """The simulated "now" as a UTC instant, from None (DEFAULT_NOW), 'YYYY-MM-DD' or an
    ISO datetime string, a datetime (naive means UTC), a date, or unix seconds."""
    if now is None or now == "":
        return DEFAULT_NOW
    if isinstance(now, str):
        now = dt.datetime.fromisoformat(now)
    if isinstance(now, dt.datetime):
        return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)
    if isinstance(now, dt.date):
        return dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(int(now), dt.UTC)


def to_ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def to_datetime(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def add_months(ts: int, months: int, anchor_day: int | None = None) -> int:
    """Same time of day, `months` later; a 31st falls back to the month's last day,
    the way Stripe keeps a billing cycle anchor."""
    start = to_datetime(ts)
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    day = min(anchor_day or start.day, calendar.monthrange(year, month + 1)[1])
    return to_ts(start.replace(year=year, month=month + 1, day=day))


def month_start(ts: int) -> dt.date:
    value = to_datetime(ts)
    return dt.date(value.year, value.month, 1)


def next_month_start_ts(month: dt.date) -> int:
    year, index = divmod(month.year * 12 + month.month, 12)
    return to_ts(dt.datetime(year, index + 1, 1, tzinfo=dt.UTC))


def complete_months(start_ts: int, now_ts: int) -> list[dt.date]:
    """Months from the one holding `start_ts` whose last instant is before now."""
    months = []
    month = month_start(start_ts)
    while next_month_start_ts(month) <= now_ts:
        months.append(month)
        year, index = divmod(month.year * 12 + month.month, 12)
        month = dt.date(year, index + 1, 1)
    return months
