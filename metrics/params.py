"""The parameters every metric function takes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Params:
    start: dt.date | None = None  # first month (day 1) or day in range, inclusive
    end: dt.date | None = None  # last month (day 1) or day, inclusive
    currency: str | None = None  # None: native currencies; "usd": convert to it
    granularity: str = "month"  # day | week | month, where a metric supports it
    plans: tuple[str, ...] = ()  # product ids
    intervals: tuple[str, ...] = ()  # month | year | week | day
    countries: tuple[str, ...] = ()  # ISO country codes of customers
    extra: dict = field(default_factory=dict, hash=False, compare=False)  # metric-specific
