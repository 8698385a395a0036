"""Every metric by name: what the CLI exports and the dashboard charts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd


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
        METRICS[name] = Metric(name, description, function, tuple(money))
        return function

    return register
