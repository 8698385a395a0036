from etl.demo.catalog import CURRENCIES, PLANS, PRICE_BY_ID, PRICES, price_for


def test_every_plan_is_sold_in_every_currency_and_period():
    for product in PLANS:
        for period in ("month", "quarter", "year"):
            for currency in CURRENCIES:
                price = price_for(product, period, currency)
                assert price.unit_amount > 0 and price.unit_amount % 100 == 0
    assert price_for("prod_demo_team", "quarter", "usd").months == 3
    assert price_for("prod_demo_team", "year", "jpy").months == 12


def test_tiered_price_sums_its_graduated_tiers():
    support = PRICE_BY_ID["price_demo_support_month_usd"]
    assert support.amount(3) == 3 * 2000
    assert support.amount(7) == 5 * 2000 + 2 * 1500
    assert support.amount(25) == 5 * 2000 + 15 * 1500 + 5 * 1000


def test_one_metered_price_and_zero_decimal_yen():
    assert [p.id for p in PRICES if p.metered] == ["price_demo_api_month_usd"]
    # Yen amounts are whole yen, not hundredths: ¥7,400 a month for Team, not ¥74.
    assert price_for("prod_demo_team", "month", "jpy").unit_amount == 7400


def test_weekly_pass_counts_weeks_as_12_52nds_of_a_month():
    weekly = PRICE_BY_ID["price_demo_pass_week_usd"]
    assert weekly.interval == "week" and weekly.months * 52 == 12
