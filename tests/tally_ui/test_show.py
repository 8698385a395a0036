import pandas as pd

from tally_ui.show import card_money, change


def test_card_money_fits_a_card_without_losing_small_amounts():
    assert card_money(999_999, "usd") == "9,999.99 USD"
    assert card_money(12_472_849, "usd") == "124,728 USD"
    assert card_money(149_673_900, "usd") == "1.50M USD"
    assert card_money(5_000, "jpy") == "5,000 JPY"  # zero-decimal: never divided by 100
    assert card_money(None, "usd") == "—" and card_money(float("nan"), "usd") == "—"


def test_changes_are_in_the_cards_own_unit():
    assert change(12_000, 10_000, "money", "eur") == "+20.00 EUR"
    assert change(10_000, 12_000, "money", "eur") == "-20.00 EUR"
    assert change(0.05, 0.03, "percent") == "+2.0 pts"
    assert change(43, 41, "number") == "+2"
    assert change(1.0, None, "number") is None and change(pd.NA, 1, "number") is None
