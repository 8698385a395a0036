import pandas as pd

from tally_ui.widgets import card_money, change


def test_card_money_is_one_format_whole_units_then_millions():
    assert card_money(511_866, "usd") == "5,119 USD"  # not "5,118.66 USD" beside "124,728 USD"
    assert card_money(12_472_849, "usd") == "124,728 USD"
    assert card_money(-40, "usd") == "0 USD"  # never "-0"
    assert card_money(149_673_900, "usd") == "1.50M USD"
    assert card_money(5_000, "jpy") == "5,000 JPY"  # zero-decimal: never divided by 100
    assert card_money(None, "usd") == "—" and card_money(float("nan"), "usd") == "—"


def test_changes_are_in_the_cards_own_unit():
    assert change(12_000, 10_000, "money", "eur") == "+20 EUR"
    assert change(10_000, 1_212_000, "money", "eur") == "-12,020 EUR"
    assert change(0.05, 0.03, "percent") == "+2.0 pts"
    assert change(43, 41, "number") == "+2"
    assert change(1.0, None, "number") is None and change(pd.NA, 1, "number") is None


def test_a_change_that_rounds_to_nothing_is_plain_zero():
    assert change(3.02, 3.04, "decimal") == "0"  # was "-0.0"
    assert change(10_000, 10_040, "money", "usd") == "0 USD"
    assert change(0.1201, 0.1203, "percent") == "0 pts"
    assert change(5, 5, "number") == "0"
    assert change(3.3, 3.04, "decimal") == "+0.3"


def test_table_headers_and_codes_are_words_for_people():
    from tally_ui.widgets import code_words, header
    assert header("customer_end_mrr") == "Customer end MRR"
    assert header("ltv_to_cac") == "LTV to CAC"
    assert header("customer_id") == "Customer ID"
    assert code_words("insufficient_funds") == "Insufficient funds"
    assert code_words("Acme GmbH") == "Acme GmbH" and code_words(None) is None


def test_readable_changes_only_what_is_drawn():
    from tally_ui.widgets import readable
    frame = pd.DataFrame({"failure_code": ["insufficient_funds", None], "state": [None, "CA"],
                          "rate": [21.0, 8.875], "failed": [3, 1]})
    before = frame.copy()
    shown = readable(frame)
    assert shown["failure_code"].tolist() == ["Insufficient funds", ""]
    assert shown["state"].tolist() == ["", "CA"]
    assert shown["rate"].tolist() == ["21%", "8.875%"]
    assert shown["failed"].tolist() == [3, 1]
    pd.testing.assert_frame_equal(frame, before)  # the frame (and so its export) untouched


def test_money_in_a_mixed_currency_table_is_rounded_per_currency():
    from tally_ui.widgets import column_formats, money_per_currency
    frame = pd.DataFrame({"currency": ["usd", "jpy"], "mrr": [1234.5, 5000.0]})
    assert column_formats(frame, ["mrr"])["mrr"]["type_config"]["format"] is None
    html = money_per_currency(frame, ["mrr"]).to_html()
    assert "1,234.50" in html and "5,000<" in html and "5,000.00" not in html
    single = column_formats(frame.iloc[:1], ["mrr"])["mrr"]
    assert single["type_config"]["format"] == "%,.2f"


class _Column:
    def metric(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def test_a_zero_change_is_grey_not_red():
    from tally_ui.widgets import card
    flat, worse = _Column(), _Column()
    card(flat, "CAC payback (months)", 3.02, 3.04, "decimal", inverse=True)
    assert flat.args[2] == "0" and flat.kwargs["delta_color"] == "off" and flat.kwargs["delta_arrow"] == "off"
    card(worse, "CAC payback (months)", 3.5, 3.04, "decimal", inverse=True)
    assert worse.args[2] == "+0.5" and worse.kwargs["delta_color"] == "inverse"


def test_a_large_mixed_currency_table_is_rounded_per_row_without_a_styler():
    from tally_ui.widgets import STYLED_ROWS, column_formats, money_per_currency
    rows = STYLED_ROWS + 1
    frame = pd.DataFrame({"currency": ["usd", "jpy"] * rows, "mrr": [12.345, 5000.4] * rows})
    shown = money_per_currency(frame, ["mrr"])
    assert isinstance(shown, pd.DataFrame) and shown["mrr"].tolist()[:2] == [12.35, 5000]
    assert column_formats(frame, ["mrr"])["mrr"]["type_config"]["format"] == "localized"
