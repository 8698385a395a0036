"""Tally's metrics: each a function (DuckDB connection, Params) -> pandas DataFrame.

Importing the package registers every metric in `metrics.registry.METRICS`.
Their definitions are docs/metrics.md.
"""
from metrics import acquisition, churn, data_checks, dunning, forecast, movements, payments, segments  # noqa: F401
from metrics.mrr import by_day, by_month  # noqa: F401
from metrics.registry import METRICS  # noqa: F401
