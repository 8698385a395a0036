"""Every metric by name: what the CLI exports and the dashboard charts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from metrics.params import Params


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    function: Callable[..., pd.DataFrame]  # (connection, Params) -> DataFrame


METRICS: dict[str, Metric] = {}


def metric(name: str, description: str):
    """Register a metric function under its export name."""

    def register(function):
        METRICS[name] = Metric(name, description, function)
        return function

    return register
