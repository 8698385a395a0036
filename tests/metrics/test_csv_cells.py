"""The one formula-neutralising rule, as the metrics CLI export applies it."""
import csv
import io
from types import SimpleNamespace

import pandas as pd

from metrics.csv_cells import neutralise, neutralise_column
from metrics.export import to_csv


def test_only_text_cells_are_prefixed():
    assert neutralise(-5) == -5 and neutralise(2.5) == 2.5 and neutralise(None) is None
    assert neutralise(" \n=cmd") == "' \n=cmd" and neutralise("a=b") == "a=b"
    column = neutralise_column(pd.Series([-5, "@x", None], dtype=object))
    assert column.tolist() == [-5, "'@x", None]


def test_metric_csv_neutralises_formulas_behind_whitespace():
    metric = SimpleNamespace(money_columns=())
    frame = pd.DataFrame({"plan": ["\n=HYPERLINK(1)", " +1", "Pro"], "customers": [-1, 2, 3]})
    rows = list(csv.reader(io.StringIO(to_csv(metric, frame))))
    assert rows[1:] == [["'\n=HYPERLINK(1)", "-1"], ["' +1", "2"], ["Pro", "3"]]


def test_small_rates_are_written_as_plain_decimals():
    from metrics.export import _plain
    assert _plain(5e-05) == "0.00005" and _plain(1e-06) == "0.000001" and _plain(0.25) == 0.25
