"""Tally's metrics: each a function (DuckDB connection, Params) -> pandas DataFrame.

Importing the package registers every metric in `metrics.registry.METRICS`.
Their definitions are docs/metrics.md.
"""
from metrics import (  # noqa: F401
    acquisition,
    churn,
    committed,
    customer,
    data_checks,
    dunning,
    figures,
    forecast,
    movements,
    payments,
)
from metrics.mrr import by_day, by_month  # noqa: F401
from metrics.registry import METRICS  # noqa: F401
