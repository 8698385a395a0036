"""Invoice arithmetic: discounts, tax and totals in integer minor units."""
from etl.demo import billing
from etl.demo.billing import Line
from etl.demo.catalog import TAX_RATE_BY_ID, Coupon, Price

MONTHLY = Price("price_m", "prod_x", "usd", "month", 1, 1000)
METERED = Price("price_api", "prod_api", "usd", "month", 1, 2, usage_type="metered")


def lines(*amounts, price=MONTHLY) -> list[Line]:
    return [Line(f"il_{i}", "si_x", price, 1, 0, 100, amount) for i, amount in enumerate(amounts)]


def test_amount_off_is_spread_by_amount_and_capped_at_the_subtotal():
    billed = lines(3000, 1000)
    billing.apply_amount_off(billed, Coupon("c", "$5", "once", amount_off=500, currency="usd"))
    assert [line.discount for line in billed] == [375, 125]
    small = lines(300)
    billing.apply_amount_off(small, Coupon("c", "$5", "once", amount_off=500, currency="usd"))
    assert small[0].discount == 300 and small[0].net == 0


def test_discounts_skip_metered_usage():
    billed = lines(1000) + lines(600, price=METERED)
    billing.apply_percent(billed, Coupon("c", "20%", "forever", percent_off=20.0))
    assert [line.discount for line in billed] == [200, 0]


def test_tax_rounds_half_away_from_zero_on_credits_too():
    ny = TAX_RATE_BY_ID["txr_demo_us_ny"]  # 8.875% exclusive
    billed = lines(1000, -1000)
    billing.apply_tax(billed, ny)
    assert [line.tax for line in billed] == [89, -89]  # 88.75 rounds away from zero
    assert [line.net for line in billed] == [1000, -1000]  # exclusive tax is outside the amount


def test_totals_add_exclusive_tax_and_keep_inclusive_tax_inside():
    gb = lines(1200)
    billing.apply_tax(gb, TAX_RATE_BY_ID["txr_demo_gb"])
    totals = billing.totals(gb)
    assert (totals.subtotal, totals.tax, totals.exclusive_tax, totals.total) == (1200, 200, 0, 1200)
    assert totals.taxes == {"txr_demo_gb": [200, 1000]}
    ca = lines(1000)
    billing.apply_tax(ca, TAX_RATE_BY_ID["txr_demo_us_ca"])
    assert billing.totals(ca).total == 1000 + 73  # 72.5 rounds up
