"""Tally's metrics: each a function (DuckDB connection, Params) -> pandas DataFrame.

Importing the package registers every metric in `metrics.registry.METRICS`.
The rules are /work/shared/METRICS.md (copied in the repo's docs when shipped).
"""
from metrics import acquisition, billing, churn, daily, forecast, movements, mrr, payments  # noqa: F401
from metrics import data_checks  # noqa: F401
from metrics.registry import METRICS  # noqa: F401
