"""Time buckets for cash metrics (charges, refunds, invoices...), which support
day, week and month granularity: the bucket column is named after it."""
from __future__ import annotations

import datetime as dt

from metrics.common import MetricError, add_months, first_of_month, this_month
from metrics.params import Params

GRAINS = ("day", "week", "month")


def grain(params: Params) -> str:
    if params.granularity not in GRAINS:
        raise MetricError(f"granularity must be one of {', '.join(GRAINS)}")
    return params.granularity


def created_range(con, params: Params, table: str, column: str = "created") -> tuple[dt.datetime, dt.datetime] | None:
    """[from, to) instants for a cash metric: the parameters, else the table's span."""
    span = con.execute(f"SELECT min({column})::DATE, max({column})::DATE FROM {table}").fetchall()[0]
    if params.start is None and span[0] is None:
        return None
    if grain(params) == "month":
        start = first_of_month(params.start or span[0])
        last = params.end or min(span[1] or this_month(), this_month())
        end = add_months(first_of_month(last), 1)
    else:
        start = params.start or span[0]
        end = (params.end or span[1] or dt.date.today()) + dt.timedelta(days=1)
    if start >= end:
        raise MetricError(f"start {start} is after end {end}")
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time())


def between(column: str, bounds) -> str:
    return f"{column} >= TIMESTAMP '{bounds[0]:%Y-%m-%d}' AND {column} < TIMESTAMP '{bounds[1]:%Y-%m-%d}'"
