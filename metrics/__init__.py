"""Tally's metrics: each a function (DuckDB connection, Params) -> pandas DataFrame.

Importing the package registers every metric in `metrics.registry.METRICS`.
Their definitions are docs/metrics.md.
"""
from metrics import (  # noqa: F401
    acquisition,
    annotations,
    churn,
    committed,
    customer,
    customer_search,
    data_checks,
    dunning,
    figures,
    forecast,
    fx_rates_input,
    goals,
    marketing_spend,
    movements,
    payments,
    refunds,
    segments,
    sync_status,
    tables,
    tax,
    trials,
)
from metrics.mrr import by_day, by_month  # noqa: F401
from metrics.registry import METRICS  # noqa: F401
