import csv
import io

import pandas as pd

from metrics.csv_cells import neutralise
from tally_ui.export import csv_bytes, money_to_major


def read(raw: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def test_formula_cells_are_neutralised():
    for risky in ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]:
        assert neutralise(risky) == "'" + risky
    for safe in ["Acme", "a=b", "", None, 42, -5]:
        assert neutralise(safe) == safe


def test_csv_neutralises_text_but_keeps_numbers():
    frame = pd.DataFrame({"name": ['=HYPERLINK("http://evil.example","x")', "Acme", None],
                          "delta": [-150, 20, 0], "currency": ["usd", "usd", "usd"]})
    rows = read(csv_bytes(frame))
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1]["name"] == "Acme" and rows[2]["name"] == ""
    assert [r["delta"] for r in rows] == ["-150", "20", "0"]


def test_money_is_exported_in_major_units_per_currency():
    frame = pd.DataFrame({"mrr": [1999, 5000, 1234], "currency": ["usd", "jpy", "bhd"]})
    rows = read(csv_bytes(frame, ["mrr"]))
    assert [r["mrr"] for r in rows] == ["19.99", "5000.0", "1.234"]


def test_money_to_major_leaves_other_columns_and_the_input_alone():
    frame = pd.DataFrame({"mrr": [100], "customers": [3], "currency": ["eur"]})
    out = money_to_major(frame, ["mrr", "not_there"])
    assert out["mrr"].tolist() == [1.0] and out["customers"].tolist() == [3]
    assert frame["mrr"].tolist() == [100]


def test_string_dtype_columns_are_neutralised_too():
    frame = pd.DataFrame({"email": pd.Series(["=cmd|' /C calc'!A0", "a@b.c"], dtype="string")})
    assert read(csv_bytes(frame))[0]["email"] == "'=cmd|' /C calc'!A0"


def test_formulas_behind_leading_blanks_are_neutralised():
    for risky in [" =1+1", "\n=1+1", "\n\n@SUM(A1)", "  -2+3", "\u00a0+1"]:
        assert neutralise(risky) == "'" + risky
    frame = pd.DataFrame({"name": ["\n=HYPERLINK(\"http://evil.example\")", " Acme"]})
    rows = read(csv_bytes(frame))
    assert rows[0]["name"].startswith("'") and rows[1]["name"] == " Acme"


def test_categorical_columns_are_neutralised_without_error():
    frame = pd.DataFrame({"plan": pd.Categorical(["=evil()", "Pro", "=evil()"]), "n": [1, 2, 3]})
    assert [r["plan"] for r in read(csv_bytes(frame))] == ["'=evil()", "Pro", "'=evil()"]


def test_numbers_in_mixed_text_columns_stay_numbers():
    frame = pd.DataFrame({"value": pd.Series([-5, 2.5, "=1+1", "-x"], dtype=object)})
    assert [r["value"] for r in read(csv_bytes(frame))] == ["-5", "2.5", "'=1+1", "'-x"]
