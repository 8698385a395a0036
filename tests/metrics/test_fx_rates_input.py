import datetime as dt

import pandas as pd
import pytest

from etl import store
from etl.load import connect
from metrics import fx_rates_input as rates
from tally_ui import writes


def frame(*rows):
    return pd.DataFrame(rows, columns=rates.COLUMNS)


def test_rows_are_normalised():
    rows = rates.clean_rates(frame((pd.Timestamp("2026-03-17"), " EUR", "usd", "1.1"),
                                   (None, "gbp", "USD", 1.27), (None, None, None, None)))
    assert rows == [(dt.date(2026, 3, 1), "eur", "usd", 1.1), (None, "gbp", "usd", 1.27)]


@pytest.mark.parametrize("row, words", [
    ((None, "euro", "usd", 1.1), "3-letter"),
    ((None, "eur", "usd", 0), "above 0"),
    ((None, "eur", "usd", "abc"), "above 0"),
    ((None, "eur", "eur", 1.0), "to itself"),
    (("March", "eur", "usd", 1.1), "month"),
])
def test_bad_rows_are_named_in_plain_words(row, words):
    with pytest.raises(ValueError, match=words):
        rates.clean_rates(frame((None, "gbp", "usd", 1.27), row))


def test_saved_rates_replace_the_stored_ones(tmp_path):
    db = str(tmp_path / "tally.duckdb")
    connect(db).close()
    writes.write(db, lambda con: rates.replace_rates(con, [(None, "eur", "usd", 1.0)]))
    writes.write(db, lambda con: rates.replace_rates(con, [(dt.date(2026, 1, 1), "gbp", "usd", 1.3)]))
    con = store.open_published(db)
    assert con.execute("SELECT month, currency, reporting_currency, rate FROM fx_rates").fetchall() == [
        (dt.date(2026, 1, 1), "gbp", "usd", 1.3)]
