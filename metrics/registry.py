"""Every metric by name: what the CLI exports and the dashboard charts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import pandas as pd

if TYPE_CHECKING:
    from metrics.params import Params


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    function: Callable[..., pd.DataFrame]  # (connection, Params) -> DataFrame
    money_columns: tuple[str, ...] = ()  # minor units in the frame; major units on export

    @property
    def source(self) -> str:
        """The file that computes it, e.g. metrics/refunds.py: a page names the metric, this finds its SQL."""
        return self.function.__module__.replace(".", "/") + ".py"


METRICS: dict[str, Metric] = {}


def metric(name: str, description: str, money: tuple[str, ...] = ()):
    """Register a metric function under its export name.

    The function returns money columns (`money`) in minor units of the row's
    `currency` column, and months as the first day of the month.
    """

    def register(function):
        METRICS[name] = Metric(name, description, _splitting(function), tuple(money))
        return function  # direct calls (one metric inside another) never split

    return register


def _splitting(function):
    """The metric as exported and charted: `params.split_by` runs it once per
    metadata value (metrics/segments.py) and stacks the results."""

    def run(con, params: Params) -> pd.DataFrame:
        if params.split_by is None:
            return function(con, params)
        from metrics import segments  # it registers metrics itself
        return segments.split(con, function, params)

    run.__name__, run.__doc__, run.__module__ = function.__name__, function.__doc__, function.__module__
    run.__wrapped__ = function
    return run
