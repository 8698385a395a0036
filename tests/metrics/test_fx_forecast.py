"""Exchange-rate lookup and defaults; the forecast's projection and band."""
import datetime as dt

import pytest

from etl.load import connect
from metrics.common import MetricError
from metrics.forecast import forecast
from metrics.fx import DEFAULT_RATES_TO_USD, RateBook, ensure_default_rates, factors
from metrics.fx_rates_input import ensure_table as ensure_fx_rates
from metrics.mrr.by_month import mrr
from metrics.params import Params
from tests.metrics.builders import Account, month, ts

JAN, FEB = dt.date(2024, 1, 1), dt.date(2024, 2, 1)


def test_defaults_inserted_once_and_used_as_cross_rates():
    con = connect(":memory:")
    assert ensure_default_rates(con) == len(DEFAULT_RATES_TO_USD) - 1
    assert ensure_default_rates(con) == 0
    book = RateBook(con)
    assert book.rate("eur", "usd", JAN) == DEFAULT_RATES_TO_USD["eur"]
    assert book.rate("usd", "eur", JAN) == pytest.approx(1 / DEFAULT_RATES_TO_USD["eur"])
    assert book.rate("gbp", "eur", JAN) == pytest.approx(
        DEFAULT_RATES_TO_USD["gbp"] / DEFAULT_RATES_TO_USD["eur"])


def test_dated_rows_apply_from_their_month_and_user_rows_beat_defaults():
    con = connect(":memory:")
    ensure_fx_rates(con)  # metrics' own table: made when first written
    con.execute("""INSERT INTO fx_rates VALUES (NULL, 'eur', 'usd', 1.05),
                   ('2024-02-01', 'eur', 'usd', 1.2), (NULL, 'usd', 'gbp', 0.8)""")
    book = RateBook(con)
    assert (book.rate("eur", "usd", JAN), book.rate("eur", "usd", FEB)) == (1.05, 1.2)
    assert book.rate("gbp", "usd", JAN) == pytest.approx(1.25)  # inverse of usd->gbp
    with pytest.raises(MetricError, match="no exchange rate from XTS to USD"):
        book.rate("xts", "usd", JAN)


def test_factor_handles_zero_decimal_currencies():
    con = connect(":memory:")
    ensure_fx_rates(con)  # metrics' own table: made when first written
    con.execute("INSERT INTO fx_rates VALUES (NULL, 'jpy', 'usd', 0.0067)")
    table = factors(con, ["jpy"], [JAN], "usd")
    # 5000 yen (minor = major) x 0.0067 = $33.50 = 3350 cents
    assert 5000 * table["factor"].iloc[0] == pytest.approx(3350)


def test_mrr_in_reporting_currency_sums_currencies():
    acct = Account()
    acct.price("eur_plan", 10000, currency="eur")
    acct.price("jpy_plan", 5000, currency="jpy")
    for name, price in (("e", "eur_plan"), ("j", "jpy_plan")):
        acct.customer(f"cus_{name}")
        acct.subscription(f"sub_{name}", f"cus_{name}")
        acct.invoice(f"cus_{name}", f"sub_{name}", [acct.line(price, "2024-01-01", "2024-02-01")])
    ensure_fx_rates(acct.con)  # metrics' own table: made when first written
    acct.con.execute("INSERT INTO fx_rates VALUES (NULL, 'eur', 'usd', 1.1), (NULL, 'jpy', 'usd', 0.007)")
    df = mrr(acct.con, Params(start=month("2024-01"), end=month("2024-01"), currency="usd"))
    assert df[["currency", "customers"]].values.tolist() == [["usd", 2]]
    assert df["mrr"].iloc[0] == pytest.approx(11000 + 3500)


def forecast_account():
    """A: $100 since 2023-07; B: $50 since 2023-07, set to cancel at Aug 1 2024;
    C: a new $10 customer every month of the trailing six."""
    acct = Account()
    acct.price("p", 1000)
    acct.customer("cus_a")
    acct.subscription("sub_a", "cus_a")
    acct.monthly_invoices("cus_a", "sub_a", "p", "2023-07-01", 12, quantity=10)
    acct.customer("cus_b")
    acct.subscription("sub_b", "cus_b", cancel_at_period_end=True,
                      current_period_end=ts("2024-08-01"), price="p", quantity=5)
    acct.monthly_invoices("cus_b", "sub_b", "p", "2023-07-01", 12, quantity=5)
    for k in range(6):
        start = f"2024-{k + 1:02d}-01"
        acct.customer(f"cus_n{k}")
        acct.subscription(f"sub_n{k}", f"cus_n{k}")
        acct.monthly_invoices(f"cus_n{k}", f"sub_n{k}", "p", start, 6 - k)
    return acct


def test_forecast_projects_trailing_inflow_and_scheduled_cancellations():
    df = forecast(forecast_account().con, Params(end=month("2024-06")))
    assert df["kind"].tolist() == ["actual"] + ["projection"] * 12
    assert df["mrr"].iloc[0] == 15000 + 6000
    # +$10 a month on average, no churn; B's $50 leaves in August.
    assert df["mrr"].iloc[1:4].tolist() == pytest.approx([22000, 18000, 19000])
    assert df["scheduled_churn"].iloc[2] == 5000
    assert (df["low"] <= df["mrr"]).all() and (df["mrr"] <= df["high"]).all()
    assert df["month"].dt.strftime("%Y-%m").tolist()[-1] == "2025-06"
