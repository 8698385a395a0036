"""Time buckets for cash metrics (charges, refunds, invoices...), which support
day, week and month granularity: the bucket column is named after it."""
from __future__ import annotations

import datetime as dt

from metrics.common import DEFAULT_MONTHS, MetricError, add_months, default_months, first_of_month
from metrics.params import Params

GRAINS = ("day", "week", "month")


def grain(params: Params) -> str:
    if params.granularity not in GRAINS:
        raise MetricError(f"granularity must be one of {', '.join(GRAINS)}")
    return params.granularity


def created_range(con, params: Params, table: str, column: str = "created") -> tuple[dt.datetime, dt.datetime] | None:
    """[from, to) instants for a cash metric: the parameters, else the default
    range (12 months up to the given end, or up to the last complete month before "as of")."""
    if params.start is None and not con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchall()[0][0]:
        return None
    last = params.end or default_months(con)[1]
    if grain(params) == "month":
        end = add_months(first_of_month(last), 1)
        start = first_of_month(params.start or add_months(first_of_month(last), -(DEFAULT_MONTHS - 1)))
    else:
        end = (last if params.end else add_months(last, 1) - dt.timedelta(days=1)) + dt.timedelta(days=1)
        start = params.start or add_months(first_of_month(last), -(DEFAULT_MONTHS - 1))
    if start >= end:
        raise MetricError(f"start {start} is after end {end}")
    return dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time())


def between(column: str, bounds) -> str:
    return f"{column} >= TIMESTAMP '{bounds[0]:%Y-%m-%d}' AND {column} < TIMESTAMP '{bounds[1]:%Y-%m-%d}'"
