"""The parameters every metric function takes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# A metadata condition: (object type, key, values). Object types: customer,
# subscription, product. The value "" means "the key is not set" (Stripe
# metadata values are never empty: setting one to "" removes the key).
Condition = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class Params:
    start: dt.date | None = None  # first month (day 1) or day in range, inclusive
    end: dt.date | None = None  # last month (day 1) or day, inclusive
    currency: str | None = None  # None: native currencies; "usd": convert to it
    granularity: str = "month"  # day | week | month, where a metric supports it
    plans: tuple[str, ...] = ()  # product ids
    intervals: tuple[str, ...] = ()  # month | year | week | day
    countries: tuple[str, ...] = ()  # ISO country codes of customers
    where: tuple[Condition, ...] = ()  # Stripe metadata conditions, all must hold
    split_by: tuple[str, str] | None = None  # (object type, metadata key): one row set per value
    extra: dict = field(default_factory=dict, hash=False, compare=False)  # metric-specific

    @property
    def filtered(self) -> bool:
        """Whether any filter narrows the lines MRR counts."""
        return bool(self.plans or self.intervals or self.countries or self.where)
