"""Every MRR consequence of METRICS.md, on hand-built invoices."""
import datetime as dt

import pytest

from metrics.mrr.by_day import mrr_daily
from metrics.mrr.by_month import mrr, mrr_by_interval, mrr_by_plan
from metrics.params import Params
from tests.metrics.builders import Account, month, series, ts


def one_plan(amount, interval="month", count=1, currency="usd", start="2024-01-01",
             end="2024-02-01", **line_kw):
    acct = Account()
    acct.customer("cus_1")
    acct.price("price_1", amount, interval, count, currency=currency)
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("price_1", start, end, **line_kw)])
    return acct


def test_yearly_plan_is_one_twelfth_every_month_of_its_year():
    acct = one_plan(120000, "year", end="2025-01-01")
    values = series(acct.con, "2023-12", "2025-02")
    assert values == {f"2024-{m:02d}": 10000.0 for m in range(1, 13)}


def test_quarterly_weekly_and_daily_plans():
    assert series(one_plan(30000, "month", 3, end="2024-04-01").con, "2024-01", "2024-01") == {"2024-01": 10000.0}
    weekly = series(one_plan(1000, "week", start="2024-01-29", end="2024-02-05").con, "2024-01", "2024-01")
    assert weekly["2024-01"] == pytest.approx(4333.3333, abs=1e-3)  # $43.33
    daily = series(one_plan(100, "day", start="2024-01-31", end="2024-02-01").con, "2024-01", "2024-01")
    assert daily["2024-01"] == pytest.approx(3041.6667, abs=1e-3)  # $30.42


def test_forever_coupon_is_net_of_discount():
    acct = one_plan(5000, discount=1000)
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 4000.0}


def test_two_items_with_quantity():
    acct = Account()
    acct.customer("cus_1")
    acct.price("base", 10000)
    acct.price("seat", 2000)
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("base", "2024-01-01", "2024-02-01"),
                                    acct.line("seat", "2024-01-01", "2024-02-01", quantity=3)])
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 16000.0}


def test_trial_counts_zero_until_first_paid_period():
    acct = Account()
    acct.customer("cus_1")
    acct.price("price_1", 5000)
    acct.subscription("sub_1", "cus_1", trial_start=ts("2024-01-01"), trial_end=ts("2024-02-14"))
    acct.invoice("cus_1", "sub_1", [acct.line("price_1", "2024-01-01", "2024-02-14", amount=0)],
                 billing_reason="subscription_create")
    acct.invoice("cus_1", "sub_1", [acct.line("price_1", "2024-02-14", "2024-03-14")])
    assert series(acct.con, "2024-01", "2024-02") == {"2024-02": 5000.0}


@pytest.mark.parametrize("status, expected", [
    ("open", {"2024-01": 5000.0, "2024-02": 5000.0}),  # past_due: still counts
    ("uncollectible", {"2024-01": 5000.0}),
    ("void", {"2024-01": 5000.0}),
    ("draft", {"2024-01": 5000.0}),
])
def test_unpaid_invoice_counts_only_while_open(status, expected):
    acct = one_plan(5000)
    acct.invoice("cus_1", "sub_1", [acct.line("price_1", "2024-02-01", "2024-03-01")], status=status)
    assert series(acct.con, "2024-01", "2024-02") == expected


def test_cancel_at_period_end_keeps_mrr_until_ended_at():
    acct = one_plan(5000, start="2024-01-15", end="2024-02-15")
    acct.subscription("sub_1", "cus_1", status="canceled", cancel_at_period_end=True,
                      ended_at=ts("2024-02-15"))
    assert series(acct.con, "2024-01", "2024-03") == {"2024-01": 5000.0}


def test_immediate_cancel_stops_mrr_that_day():
    acct = one_plan(5000)
    acct.subscription("sub_1", "cus_1", status="canceled", ended_at=ts("2024-01-10 09:00"))
    days = mrr_daily(acct.con, Params(start=dt.date(2024, 1, 8), end=dt.date(2024, 1, 12)))
    assert {d.strftime("%d"): v for d, v in zip(days["date"], days["mrr"])} == {"08": 5000.0, "09": 5000.0}
    assert series(acct.con, "2024-01", "2024-01") == {}


def test_refunds_and_disputes_do_not_change_mrr():
    acct = one_plan(5000)
    before = series(acct.con, "2024-01", "2024-01")
    from etl.load import load_objects
    load_objects(acct.con, "refunds", [{"id": "re_1", "object": "refund", "amount": 5000,
                                        "currency": "usd", "status": "succeeded", "charge": "ch_1",
                                        "created": ts("2024-01-05")}])
    load_objects(acct.con, "disputes", [{"id": "dp_1", "object": "dispute", "amount": 5000,
                                         "currency": "usd", "status": "lost", "charge": "ch_1",
                                         "created": ts("2024-01-06")}])
    assert series(acct.con, "2024-01", "2024-01") == before == {"2024-01": 5000.0}


def test_zero_decimal_currency_is_not_divided():
    acct = one_plan(5000, currency="jpy")
    df = mrr(acct.con, Params(start=month("2024-01"), end=month("2024-01")))
    assert (df["currency"].tolist(), df["mrr"].tolist()) == (["jpy"], [5000.0])


def test_proration_without_regular_line_uses_nominal_interval():
    acct = Account()
    acct.customer("cus_1")
    acct.price("large", 6000)
    acct.subscription("sub_1", "cus_1")
    # 365.25/12 days = 30.4375 days; a line of half that is worth half the price.
    acct.invoice("cus_1", "sub_1", [
        acct.line("large", "2024-01-20", "2024-02-04 05:15", amount=3000, proration=True)])
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": pytest.approx(6000.0)}


def test_metered_and_one_off_lines_are_not_mrr():
    acct = one_plan(5000)
    acct.price("metered", 10, usage="metered")
    acct.price("setup", 9900, interval=None)
    acct.invoice("cus_1", "sub_1", [acct.line("metered", "2024-01-01", "2024-02-01", amount=700),
                                    acct.line("setup", "2024-01-01", "2024-02-01")])
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 5000.0}


def test_inclusive_tax_is_removed_exclusive_tax_is_outside_amount():
    acct = one_plan(6000, taxes=[{"amount": 1000, "tax_behavior": "inclusive",
                                  "tax_rate_details": {"tax_rate": "txr_1"}}])
    acct.customer("cus_2")
    acct.subscription("sub_2", "cus_2")
    acct.invoice("cus_2", "sub_2", [acct.line("price_1", "2024-01-01", "2024-02-01", taxes=[
        {"amount": 1200, "tax_behavior": "exclusive", "tax_rate_details": {"tax_rate": "txr_2"}}])])
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 11000.0}


def test_old_shape_lines_with_embedded_plan_count():
    acct = Account()
    acct.customer("cus_1")
    plan = {"id": "plan_1", "object": "plan", "amount": 2500, "currency": "usd",
            "interval": "month", "interval_count": 1, "usage_type": "licensed", "product": "prod_a"}
    from etl.load import load_objects
    load_objects(acct.con, "invoices", [{
        "id": "in_old", "object": "invoice", "customer": "cus_1", "subscription": "sub_1",
        "status": "paid", "created": ts("2024-01-01"), "currency": "usd",
        "lines": {"data": [{"id": "sli_1", "object": "line_item", "type": "subscription",
                            "subscription": "sub_1", "plan": plan, "amount": 2500,
                            "currency": "usd", "proration": False, "discountable": True,
                            "period": {"start": ts("2024-01-01"), "end": ts("2024-02-01")}}]}}],
        api_version="2019-12-03")
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 2500.0}


def test_subscription_is_floored_at_zero():
    acct = one_plan(5000)
    acct.customer("cus_2")
    acct.subscription("sub_2", "cus_2")
    acct.invoice("cus_2", "sub_2", [acct.line("price_1", "2024-01-01", "2024-02-01", amount=-3000)])
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 5000.0}


def test_arr_customers_and_arpa():
    acct = one_plan(5000)
    acct.customer("cus_2")
    acct.subscription("sub_2", "cus_2")
    acct.invoice("cus_2", "sub_2", [acct.line("price_1", "2024-01-01", "2024-02-01", quantity=2)])
    row = mrr(acct.con, Params(start=month("2024-01"), end=month("2024-01"))).iloc[0]
    assert (row.mrr, row.arr, row.customers, row.arpa) == (15000.0, 180000.0, 2, 7500.0)


def test_breakdowns_and_filters_by_plan_and_interval():
    acct = one_plan(5000)
    acct.price("yearly", 120000, "year", product="prod_b")
    acct.customer("cus_2")
    acct.subscription("sub_2", "cus_2")
    acct.invoice("cus_2", "sub_2", [acct.line("yearly", "2024-01-01", "2025-01-01")])
    params = Params(start=month("2024-01"), end=month("2024-01"))
    by_plan = mrr_by_plan(acct.con, params)
    assert dict(zip(by_plan["product_id"], by_plan["mrr"])) == {"prod_a": 5000.0, "prod_b": 10000.0}
    by_interval = mrr_by_interval(acct.con, params)
    assert dict(zip(by_interval["interval"], by_interval["mrr"])) == {"month": 5000.0, "year": 10000.0}
    assert series(acct.con, "2024-01", "2024-01", plans=("prod_b",)) == {"2024-01": 10000.0}
    assert series(acct.con, "2024-01", "2024-01", intervals=("month",)) == {"2024-01": 5000.0}


def test_country_filter():
    acct = one_plan(5000)
    acct.customer("cus_1", country="DE")
    acct.customer("cus_2", country="US")
    acct.subscription("sub_2", "cus_2")
    acct.invoice("cus_2", "sub_2", [acct.line("price_1", "2024-01-01", "2024-02-01", quantity=3)])
    assert series(acct.con, "2024-01", "2024-01", countries=("US",)) == {"2024-01": 15000.0}


def test_live_objects_win_over_test_objects():
    acct = one_plan(5000)  # test mode
    from etl.load import load_objects
    load_objects(acct.con, "invoices", [{
        "id": "in_live", "object": "invoice", "customer": "cus_1", "status": "paid",
        "livemode": True, "created": ts("2024-01-01"), "currency": "usd",
        "lines": {"data": [acct.line("price_1", "2024-01-01", "2024-02-01", quantity=2,
                                     subscription="sub_live")]}}])
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 10000.0}
