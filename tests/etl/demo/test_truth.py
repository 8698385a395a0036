"""The ground truth follows METRICS.md: hand-checked cases, and a reference SQL over the loaded lines."""
import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from etl.demo import billing
from etl.demo.billing import Line
from etl.demo.catalog import TAX_RATE_BY_ID, Coupon, Price
from etl.demo.clock import to_ts
from etl.demo.state import Invoice, Subscription
from etl.demo.truth import subscription_mrr_at_month_end

JAN, FEB, MAR = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)


def ts(*args) -> int:
    return to_ts(dt.datetime(*args, tzinfo=dt.UTC))


def price(amount, interval="month", count=1, currency="usd", usage="licensed"):
    return Price(f"price_{amount}_{interval}{count}", "prod_x", currency, interval, count, amount,
                 usage_type=usage)


def line(p, start, end, quantity=1, amount=None, proration=False, full=0):
    amount = p.amount(quantity) if amount is None else amount
    return Line("il_x", "si_x", p, quantity, start, end, amount, proration=proration, full_period=full)


def subscription(*invoices, ended_at=None) -> Subscription:
    first = invoices[0][1][0]
    sub = Subscription("sub_x", first.start, "usd", [], first.price, ended_at=ended_at)
    for status, lines in invoices:
        inv = Invoice("in_x", "N-1", lines[0].start, "subscription_cycle", 0, 0, lines,
                      billing.totals(lines), [], status=status)
        sub.invoices.append(inv)
    return sub


def mrr(sub, month) -> Fraction:
    return subscription_mrr_at_month_end(sub, month)


def test_yearly_quarterly_and_seats():
    yearly = subscription(("paid", [line(price(120000, "year"), ts(2026, 1, 10), ts(2027, 1, 10))]))
    assert mrr(yearly, JAN) == mrr(yearly, MAR) == 10000
    quarterly = subscription(("paid", [line(price(30000, "month", 3), ts(2026, 1, 5), ts(2026, 4, 5))]))
    assert mrr(quarterly, FEB) == 10000
    weekly = subscription(("paid", [line(price(1000, "week"), ts(2026, 1, 26), ts(2026, 2, 2))]))
    assert mrr(weekly, JAN) == Fraction(1000 * 52, 12)  # $10/week is $43.33
    two_items = subscription(("paid", [line(price(10000), ts(2026, 1, 5), ts(2026, 2, 5)),
                                       line(price(2000), ts(2026, 1, 5), ts(2026, 2, 5), quantity=3)]))
    assert mrr(two_items, JAN) == 16000


def test_forever_percent_coupon_and_jpy():
    lines = [line(price(5000), ts(2026, 1, 3), ts(2026, 2, 3))]
    billing.apply_percent(lines, Coupon("c", "20%", "forever", percent_off=20.0))
    assert mrr(subscription(("paid", lines)), JAN) == 4000
    yen = subscription(("paid", [line(price(5000, currency="jpy"), ts(2026, 1, 3), ts(2026, 2, 3))]))
    assert mrr(yen, JAN) == 5000


def test_inclusive_tax_is_taken_out_and_exclusive_is_not_added():
    vat = [line(price(2400), ts(2026, 1, 3), ts(2026, 2, 3))]
    billing.apply_tax(vat, TAX_RATE_BY_ID["txr_demo_gb"])  # 20% inside 2400 is 400
    assert vat[0].tax == 400 and mrr(subscription(("paid", vat)), JAN) == 2000
    sales = [line(price(2400), ts(2026, 1, 3), ts(2026, 2, 3))]
    billing.apply_tax(sales, TAX_RATE_BY_ID["txr_demo_us_ca"])
    assert sales[0].tax == 174 and mrr(subscription(("paid", sales)), JAN) == 2400


def test_mid_cycle_upgrade_counts_the_new_price_from_the_change():
    old, new = price(5000), price(10000)
    # The debit for the new price has no regular line of its price around the
    # change: it is scaled by the nominal month (METRICS.md rule 3), 30.4375 / 15 days.
    for start, end, expected in ((ts(2026, 1, 6), ts(2026, 2, 5),
                                  Fraction(5000 * 2629800, 15 * 86400)),  # change on Jan 21
                                 (ts(2026, 1, 20), ts(2026, 2, 19), 5000)):  # change on Feb 4
        change = start + (end - start) // 2  # 30-day period: 15 days left, half price
        full = end - start
        sub = subscription(
            ("paid", [line(old, start, end)]),
            ("paid", [line(old, change, end, amount=-2500, proration=True, full=full),
                      line(new, change, end, amount=5000, proration=True,
                           full=billing.nominal_period(new))]))
        assert mrr(sub, JAN) == expected


def test_trial_metered_and_uncollectible_count_zero_open_counts():
    trial = subscription(("paid", [line(price(5000), ts(2026, 1, 20), ts(2026, 2, 3), amount=0)]))
    assert mrr(trial, JAN) == 0
    metered = subscription(("paid", [line(price(2, usage="metered"), ts(2026, 1, 3), ts(2026, 2, 3),
                                          quantity=900)]))
    assert mrr(metered, JAN) == 0
    lost = subscription(("uncollectible", [line(price(5000), ts(2026, 1, 3), ts(2026, 2, 3))]))
    assert mrr(lost, JAN) == 0
    voided = subscription(("void", [line(price(5000), ts(2026, 1, 3), ts(2026, 2, 3))]))
    assert mrr(voided, JAN) == 0
    past_due = subscription(("open", [line(price(5000), ts(2026, 1, 3), ts(2026, 2, 3))]))
    assert mrr(past_due, JAN) == 5000


def test_cancellation_immediate_stops_at_once_period_end_keeps_until_end():
    period = [line(price(5000), ts(2026, 1, 15), ts(2026, 2, 15))]
    assert mrr(subscription(("paid", period), ended_at=ts(2026, 1, 25)), JAN) == 0
    assert mrr(subscription(("paid", period), ended_at=ts(2026, 2, 15)), JAN) == 5000
    assert mrr(subscription(("paid", period), ended_at=ts(2026, 2, 15)), FEB) == 0
    # A period ending exactly at the month's end still covers its last instant.
    month = [line(price(5000), ts(2026, 1, 1), ts(2026, 2, 1))]
    assert mrr(subscription(("paid", month), ended_at=ts(2026, 2, 1)), JAN) == 5000


REFERENCE_SQL = (Path(__file__).parent / "reference_mrr.sql").read_text()


def test_truth_matches_a_reference_computation_over_the_loaded_lines(demo_con):
    """METRICS.md written as plain SQL over the tables the loader filled: same numbers."""
    reference = {(m, c, cur): v for m, c, cur, v in demo_con.execute(REFERENCE_SQL).fetchall()}
    truth = {(m, c, cur): v for m, c, cur, v in demo_con.execute(
        "SELECT month, customer_id, currency, mrr FROM demo_truth_mrr").fetchall()}
    assert len(truth) > 500
    assert reference.keys() == truth.keys()
    for key, value in truth.items():
        assert reference[key] == pytest.approx(value, abs=1e-6), key


def test_truth_has_the_expected_texture(demo_con):
    currencies = {r[0] for r in demo_con.execute("SELECT DISTINCT currency FROM demo_truth_mrr").fetchall()}
    assert currencies == {"usd", "eur", "gbp", "jpy"}
    fractional = demo_con.execute(
        "SELECT count(*) FROM demo_truth_mrr WHERE mrr <> round(mrr)").fetchone()[0]
    assert fractional > 0  # quarterly and yearly prices divide
    months = demo_con.execute("SELECT count(DISTINCT month) FROM demo_truth_mrr").fetchone()[0]
    assert months >= 24
