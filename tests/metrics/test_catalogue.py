"""A catalogue of edge cases with hand-computed answers (issue #12, item 7).

Each case is one small Stripe account in the current API shape, served over
real HTTP by fakestripe and read by Tally's real sync; the answers come from
METRICS.md by hand (the arithmetic is in each case's comments), never from
Tally's output. `months(...)` gives, per month and currency:
(MRR at the month end in minor units, active customers, {movement: amount}),
leaving out months with no MRR and no movement; each movement row is also
checked against the identity start + new + reactivation + expansion
- contraction - churn = end.
"""
import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from etl import convert
from etl.load import connect
from fakestripe.testing import serve
from metrics.export import export_rows
from metrics.movements import mrr_movements
from metrics.mrr.by_day import mrr_daily
from metrics.mrr.by_month import mrr
from metrics.params import Params
from metrics.payments import payments
from metrics.registry import METRICS
from metrics.trials import trial_conversion
from tests.support.stripe_book import Book, Shelf, tax

MOVEMENTS = ("new", "reactivation", "expansion", "contraction", "churn")
MONTH = 365.25 / 12 * 86400  # METRICS.md's nominal month, in seconds
DAY = 86400


@pytest.fixture(scope="module")
def shelf(tmp_path_factory):
    """One fakestripe server for the whole catalogue; each case serves its own book.

    The syncs convert pages in their own process, as the sync does whenever its
    converter worker cannot start: starting that worker (an Arrow import) is most
    of a tiny sync's time, and test_sync.py shows both ways fill the same tables.
    """
    with serve(tmp_path_factory.mktemp("catalogue")) as base, pytest.MonkeyPatch.context() as mp:
        mp.setattr(convert, "_spawn", lambda: None)
        yield Shelf(base)


@pytest.fixture
def synced(shelf, tmp_path):
    """sync(book) -> a read-only connection to the database Tally's sync filled."""
    opened = []

    def sync(book: Book):
        con = connect(shelf.sync(book, tmp_path / f"{book.name}.duckdb"), read_only=True)
        opened.append(con)
        return con

    yield sync
    for con in opened:
        con.close()


def _month(text: str) -> dt.date:
    return dt.date.fromisoformat(text + "-01")


def months(con, first: str, last: str) -> dict:
    params = Params(start=_month(first), end=_month(last))
    table: dict = {}
    for row in mrr(con, params).itertuples():
        key = pd.Timestamp(row.month).strftime("%Y-%m")
        table.setdefault(key, {})[row.currency] = [round(row.mrr, 2), int(row.customers), {}]
    for row in mrr_movements(con, params).itertuples():
        assert row.end_mrr == pytest.approx(row.start_mrr + row.new + row.reactivation
                                            + row.expansion - row.contraction - row.churn, abs=1e-6)
        moved = {m: round(getattr(row, m), 2) for m in MOVEMENTS if getattr(row, m)}
        if row.new_and_churned_in_month:
            moved["new_and_churned"] = int(row.new_and_churned_in_month)
        key = pd.Timestamp(row.month).strftime("%Y-%m")
        entry = table.setdefault(key, {}).setdefault(row.currency, [0.0, 0, {}])
        entry[2] = moved
    return {m: {c: tuple(v) for c, v in by_currency.items() if v != [0.0, 0, {}]}
            for m, by_currency in sorted(table.items()) if any(v != [0.0, 0, {}]
                                                               for v in by_currency.values())}


def days(con, first: str, last: str) -> dict:
    """MRR (all currencies the same here) at the end of each day with MRR > 0."""
    df = mrr_daily(con, Params(start=dt.date.fromisoformat(first),
                               end=dt.date.fromisoformat(last), granularity="day"))
    return {pd.Timestamp(r.date).strftime("%Y-%m-%d"): round(r.mrr, 2) for r in df.itertuples()}


def usd(*rows) -> dict:
    """{month: {"usd": row}} for the common one-currency case."""
    return {month: {"usd": row} for month, row in rows}


def subscribed(book: Book, prices: list[str], start: str, **kw) -> str:
    return book.subscription(book.customer(), prices, start, **kw)


# --- plans and intervals ------------------------------------------------------

def test_annual_plan_renewed_at_a_new_price(synced):
    book = Book("annual_renewal")
    old, new = book.price(120000, "year"), book.price(150000, "year")
    sub = subscribed(book, [new], "2024-01-01", period=("2025-01-01", "2026-01-01"))
    book.invoice(sub, [book.line(sub, old, "2024-01-01", "2025-01-01")],
                 billing_reason="subscription_create")
    book.invoice(sub, [book.line(sub, new, "2025-01-01", "2026-01-01")])
    con = synced(book)
    # 120000 / 12 = 10000 every month of 2024; 150000 / 12 = 12500 from January 2025
    expected = {"2024-01": {"usd": (10000.0, 1, {"new": 10000.0})}}
    expected.update({f"2024-{m:02d}": {"usd": (10000.0, 1, {})} for m in range(2, 13)})
    expected.update(usd(("2025-01", (12500.0, 1, {"expansion": 2500.0})),
                        ("2025-02", (12500.0, 1, {}))))
    assert months(con, "2023-12", "2025-02") == expected


def test_quarterly_plan_cancelled_at_period_end(synced):
    book = Book("quarterly")
    price = book.price(30000, "month", 3)
    sub = subscribed(book, [price], "2024-01-01", status="canceled", ended_at="2024-07-01",
                     cancel_at_period_end=True, period=("2024-04-01", "2024-07-01"))
    book.invoice(sub, [book.line(sub, price, "2024-01-01", "2024-04-01")])
    book.invoice(sub, [book.line(sub, price, "2024-04-01", "2024-07-01")])
    con = synced(book)
    # 30000 / 3 months = 10000 until the end on July 1st 00:00, then churn
    assert months(con, "2024-01", "2024-08") == usd(
        ("2024-01", (10000.0, 1, {"new": 10000.0})),
        *[(f"2024-{m:02d}", (10000.0, 1, {})) for m in range(2, 7)],
        ("2024-07", (0.0, 0, {"churn": 10000.0})))


def test_weekly_and_daily_prices(synced):
    book = Book("weekly_daily")
    weekly, daily = book.price(1000, "week"), book.price(100, "day")
    w = subscribed(book, [weekly], "2024-01-22", status="canceled", ended_at="2024-02-12")
    for start, end in [("2024-01-22", "2024-01-29"), ("2024-01-29", "2024-02-05"),
                       ("2024-02-05", "2024-02-12")]:
        book.invoice(w, [book.line(w, weekly, start, end)])
    d = subscribed(book, [daily], "2024-01-25", status="canceled", ended_at="2024-02-05")
    for n in range(11):  # Jan 25 .. Feb 4, one invoice a day
        start = dt.date(2024, 1, 25) + dt.timedelta(days=n)
        book.invoice(d, [book.line(d, daily, str(start), str(start + dt.timedelta(days=1)))])
    con = synced(book)
    # end of January: 1000 x 52/12 = 4333.33 (week Jan 29 - Feb 5)
    #               + 100 x 365/12 = 3041.67 (day Jan 31) = 88500/12 = 7375.00
    assert months(con, "2024-01", "2024-03") == usd(
        ("2024-01", (7375.0, 2, {"new": 7375.0})),
        ("2024-02", (0.0, 0, {"churn": 7375.0})))


def test_two_items_with_quantities(synced):
    book = Book("two_items")
    base, seat = book.price(10000), book.price(2000)
    sub = subscribed(book, [base, seat], "2024-01-01", quantities=[1, 3])
    for start, end in [("2024-01-01", "2024-02-01"), ("2024-02-01", "2024-03-01")]:
        book.invoice(sub, [book.line(sub, base, start, end, item=book.item(sub, 0)),
                           book.line(sub, seat, start, end, 3, item=book.item(sub, 1))])
    con = synced(book)
    # 10000 x 1 + 2000 x 3 = 16000
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (16000.0, 1, {"new": 16000.0})), ("2024-02", (16000.0, 1, {})))


def test_volume_tiered_price_without_unit_amount(synced):
    book = Book("tiered")
    tiers = [{"up_to": 10, "unit_amount": 1000, "flat_amount": None},
             {"up_to": None, "unit_amount": 800, "flat_amount": None}]
    price = book.price(None, tiers=tiers)
    sub = subscribed(book, [price], "2024-01-01", quantities=[12])
    book.cycles(sub, price, "2024-01-01", 2, quantity=12, amount=9600)
    con = synced(book)
    # volume tiers: all 12 units at the second tier's 800 = 9600, read from the lines
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (9600.0, 1, {"new": 9600.0})), ("2024-02", (9600.0, 1, {})))


def test_invoice_with_twelve_lines(synced):
    book = Book("twelve_lines")
    prices = [book.price(100 * k) for k in range(1, 13)]
    sub = subscribed(book, prices, "2024-01-01")
    for start, end in [("2024-01-01", "2024-02-01"), ("2024-02-01", "2024-03-01")]:
        book.invoice(sub, [book.line(sub, p, start, end, item=book.item(sub, n))
                           for n, p in enumerate(prices)])
    con = synced(book)
    # 100 x (1 + 2 + ... + 12) = 7800; two lines are beyond the ten an invoice embeds
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (7800.0, 1, {"new": 7800.0})), ("2024-02", (7800.0, 1, {})))


# --- coupons and taxes ------------------------------------------------------------

def _coupon_case(name: str, discounts: list[int]):
    book = Book(name)
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01")
    for n, discount in enumerate(discounts):
        book.cycles(sub, price, f"2024-{n + 1:02d}-01", 1, discount=discount)
    return book


def test_percent_off_forever_coupon(synced):
    # 20% off 5000 every month: 5000 - 1000 = 4000
    con = synced(_coupon_case("percent_forever", [1000, 1000, 1000]))
    assert months(con, "2024-01", "2024-03") == usd(
        ("2024-01", (4000.0, 1, {"new": 4000.0})), ("2024-02", (4000.0, 1, {})),
        ("2024-03", (4000.0, 1, {})))


def test_amount_off_repeating_coupon(synced):
    # 1500 off for 2 months: 3500, 3500, then 5000 (expansion 1500 when it ends)
    con = synced(_coupon_case("amount_repeating", [1500, 1500, 0]))
    assert months(con, "2024-01", "2024-03") == usd(
        ("2024-01", (3500.0, 1, {"new": 3500.0})), ("2024-02", (3500.0, 1, {})),
        ("2024-03", (5000.0, 1, {"expansion": 1500.0})))


def test_once_coupon_is_expansion_the_month_after(synced):
    # 2000 off the first invoice only: 3000, then 5000
    con = synced(_coupon_case("once", [2000, 0]))
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (3000.0, 1, {"new": 3000.0})), ("2024-02", (5000.0, 1, {"expansion": 2000.0})))


def test_hundred_percent_off_coupon_counts_zero_until_it_ends(synced):
    # 100% off for 2 months: net 0 (no MRR, not an active customer), then 5000 is new
    con = synced(_coupon_case("free_months", [5000, 5000, 0]))
    assert months(con, "2024-01", "2024-03") == usd(("2024-03", (5000.0, 1, {"new": 5000.0})))


def test_tax_inclusive_with_a_coupon_and_tax_exclusive(synced):
    book = Book("taxes")
    inclusive = book.price(12000, tax_behavior="inclusive")
    exclusive = book.price(10000, tax_behavior="exclusive")
    a = subscribed(book, [inclusive], "2024-01-01")
    b = subscribed(book, [exclusive], "2024-01-01")
    # 20% VAT inside 12000 - 1200 (10% forever) = 10800: 10800 x 20/120 = 1800
    book.cycles(a, inclusive, "2024-01-01", 2, discount=1200, taxes=[tax(1800, "inclusive")])
    book.cycles(b, exclusive, "2024-01-01", 2, taxes=[tax(2000, "exclusive")])
    con = synced(book)
    # a: 12000 - 1200 - 1800 = 9000; b: 10000 (the 2000 is outside amount) -> 19000
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (19000.0, 2, {"new": 19000.0})), ("2024-02", (19000.0, 2, {})))


# --- prorations and plan changes -------------------------------------------------

def test_seat_increase_with_prorations_billed_on_the_next_invoice(synced):
    book = Book("seat_increase")
    seat = book.price(1000)
    sub = subscribed(book, [seat], "2024-03-01", quantities=[8], period=("2024-05-01", "2024-06-01"))
    (_, _), (april, april_line) = book.cycles(sub, seat, "2024-03-01", 2, quantity=5)
    # April 16 00:00: 5 -> 8 seats; the prorations wait for the May 1st invoice
    book.invoice(sub, [
        book.line(sub, seat, "2024-04-16", "2024-05-01", 5, amount=-2500, proration=True,
                  credited=(april, april_line)),
        book.line(sub, seat, "2024-04-16", "2024-05-01", 8, amount=4000, proration=True),
        book.line(sub, seat, "2024-05-01", "2024-06-01", 8)], created="2024-05-01")
    con = synced(book)
    # end of April: 5000 + (-2500 x 30d/15d) + 4000 x 30d/15d = 5000 - 5000 + 8000 = 8000
    # (credit: its credited April line, 30 days; debit: same item and price, the April line)
    assert months(con, "2024-03", "2024-05") == usd(
        ("2024-03", (5000.0, 1, {"new": 5000.0})),
        ("2024-04", (8000.0, 1, {"expansion": 3000.0})),
        ("2024-05", (8000.0, 1, {})))


def test_downgrade_credited_on_its_own_invoice(synced):
    book = Book("downgrade")
    big, small = book.price(10000), book.price(4000)
    sub = subscribed(book, [small], "2024-03-01", period=("2024-05-01", "2024-06-01"))
    (_, _), (april, april_line) = book.cycles(sub, big, "2024-03-01", 2)
    # April 16 00:00, always_invoice: -5000 for big's unused half, +2000 for small's
    book.invoice(sub, [
        book.line(sub, big, "2024-04-16", "2024-05-01", amount=-5000, proration=True,
                  credited=(april, april_line)),
        book.line(sub, small, "2024-04-16", "2024-05-01", amount=2000, proration=True)],
        created="2024-04-16", billing_reason="subscription_update")
    book.cycles(sub, small, "2024-05-01", 1)
    con = synced(book)
    # end of April: 10000 - 5000 x 30d/15d + 2000 x F. The debit has no regular line of
    # its item *and price* around April 16 (small's first starts May 1st), so rule (3):
    # F = nominal month / 15 days -> 2000 x 30.4375 / 15 = 4058.33, and May's first
    # regular line then shows a contraction of 58.33. METRICS.md's example "old regular
    # line + negative proration + positive proration = the new price" would say 4000
    # at the end of April instead: the rule and its example disagree here.
    april_mrr = round(2000 * MONTH / (15 * DAY), 2)
    assert april_mrr == 4058.33
    assert months(con, "2024-03", "2024-05") == usd(
        ("2024-03", (10000.0, 1, {"new": 10000.0})),
        ("2024-04", (april_mrr, 1, {"contraction": 5941.67})),
        ("2024-05", (4000.0, 1, {"contraction": 58.33})))


def test_monthly_to_yearly_switch_is_a_contraction(synced):
    book = Book("monthly_to_yearly")
    monthly, yearly = book.price(10000), book.price(100000, "year")
    sub = subscribed(book, [yearly], "2024-03-01", period=("2024-04-16", "2025-04-16"))
    (_, _), (april, april_line) = book.cycles(sub, monthly, "2024-03-01", 2)
    # April 16: new yearly cycle at once; credit for the monthly plan's unused half
    book.invoice(sub, [
        book.line(sub, monthly, "2024-04-16", "2024-05-01", amount=-5000, proration=True,
                  credited=(april, april_line)),
        book.line(sub, yearly, "2024-04-16", "2025-04-16")],
        created="2024-04-16", billing_reason="subscription_update")
    con = synced(book)
    # end of April: 10000 - 5000 x 30d/15d (the monthly period, not the yearly one)
    #             + 100000 / 12 = 8333.33: a contraction of 1666.67 (METRICS.md's $16.67)
    assert months(con, "2024-03", "2024-05") == usd(
        ("2024-03", (10000.0, 1, {"new": 10000.0})),
        ("2024-04", (8333.33, 1, {"contraction": 1666.67})),
        ("2024-05", (8333.33, 1, {})))


def test_yearly_to_monthly_switch(synced):
    book = Book("yearly_to_monthly")
    yearly, monthly = book.price(120000, "year"), book.price(15000)
    sub = subscribed(book, [monthly], "2024-01-01", period=("2024-08-02", "2024-09-02"))
    year_line = book.line(sub, yearly, "2024-01-01", "2025-01-01")
    year_invoice = book.invoice(sub, [year_line], billing_reason="subscription_create")
    # July 2 00:00 (183 of 2024's 366 days gone): credit half the year, new monthly cycle
    book.invoice(sub, [
        book.line(sub, yearly, "2024-07-02", "2025-01-01", amount=-60000, proration=True,
                  credited=(year_invoice, year_line["id"])),
        book.line(sub, monthly, "2024-07-02", "2024-08-02")],
        created="2024-07-02", billing_reason="subscription_update")
    book.cycles(sub, monthly, "2024-08-02", 1)
    con = synced(book)
    # end of July and August: 120000/12 + (-60000 x 366d/183d)/12 + 15000 = 10000 - 10000 + 15000
    assert months(con, "2024-06", "2024-08") == usd(
        ("2024-06", (10000.0, 1, {})),
        ("2024-07", (15000.0, 1, {"expansion": 5000.0})),
        ("2024-08", (15000.0, 1, {})))


def test_seat_added_to_an_annual_plan_mid_year(synced):
    book = Book("annual_seat")
    seat = book.price(120000, "year")
    sub = subscribed(book, [seat], "2024-01-01", quantities=[2], period=("2024-01-01", "2025-01-01"))
    year_line = book.line(sub, seat, "2024-01-01", "2025-01-01")
    year_invoice = book.invoice(sub, [year_line], billing_reason="subscription_create")
    # July 2 00:00, half the year left: -1 seat x half, +2 seats x half
    book.invoice(sub, [
        book.line(sub, seat, "2024-07-02", "2025-01-01", 1, amount=-60000, proration=True,
                  credited=(year_invoice, year_line["id"])),
        book.line(sub, seat, "2024-07-02", "2025-01-01", 2, amount=120000, proration=True)],
        created="2024-07-02", billing_reason="subscription_update")
    con = synced(book)
    # end of July: (120000 - 60000 x 2 + 120000 x 2) / 12 = 20000
    # (both prorations scale by the yearly line of the same item and price: 366d/183d)
    assert months(con, "2024-06", "2024-08") == usd(
        ("2024-06", (10000.0, 1, {})),
        ("2024-07", (20000.0, 1, {"expansion": 10000.0})),
        ("2024-08", (20000.0, 1, {})))


# --- trials and unpaid invoices -------------------------------------------------

def _trial(book: Book, converts: bool) -> str:
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01", trial=("2024-01-01", "2024-01-15"),
                     status="active" if converts else "canceled",
                     ended_at=None if converts else "2024-01-15")
    book.invoice(sub, [book.line(sub, price, "2024-01-01", "2024-01-15", amount=0)],
                 billing_reason="subscription_create")
    if converts:
        book.cycles(sub, price, "2024-01-15", 2)
    return sub


def trials(con, first: str, last: str) -> dict:
    df = trial_conversion(con, Params(start=_month(first), end=_month(last)))
    return {pd.Timestamp(r.month).strftime("%Y-%m"): (int(r.trials_ended), int(r.converted))
            for r in df.itertuples()}


def test_trial_with_a_zero_line_that_converts(synced):
    book = Book("trial_converts")
    _trial(book, converts=True)
    con = synced(book)
    # the $0 trial line is 0; the paid period from Jan 15 covers the end of January
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (5000.0, 1, {})))
    assert trials(con, "2024-01", "2024-01") == {"2024-01": (1, 1)}


def test_trial_that_never_converts(synced):
    book = Book("trial_lapses")
    _trial(book, converts=False)
    con = synced(book)
    # never any MRR: no movement, not even new-and-churned (it never had MRR > 0)
    assert months(con, "2024-01", "2024-02") == {}
    assert trials(con, "2024-01", "2024-01") == {"2024-01": (1, 0)}


def test_past_due_with_an_open_invoice_counts(synced):
    book = Book("past_due")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01", status="past_due")
    book.cycles(sub, price, "2024-01-01", 1)
    book.invoice(sub, [book.line(sub, price, "2024-02-01", "2024-03-01")], status="open",
                 attempt_count=3)
    con = synced(book)
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (5000.0, 1, {})))


def test_uncollectible_invoice_followed_by_drafts(synced):
    book = Book("uncollectible")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01", status="unpaid")
    book.cycles(sub, price, "2024-01-01", 1)
    book.invoice(sub, [book.line(sub, price, "2024-02-01", "2024-03-01")],
                 status="uncollectible", attempt_count=4)
    for start, end in [("2024-03-01", "2024-04-01"), ("2024-04-01", "2024-05-01")]:
        book.invoice(sub, [book.line(sub, price, start, end)], status="draft")
    con = synced(book)
    # February's period counts 0 (uncollectible), drafts never count: churn in February
    assert months(con, "2024-01", "2024-04") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (0.0, 0, {"churn": 5000.0})))


def test_invoice_voided_with_a_cancellation(synced):
    book = Book("voided")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01", status="canceled", ended_at="2024-02-10")
    book.cycles(sub, price, "2024-01-01", 1)
    book.invoice(sub, [book.line(sub, price, "2024-02-01", "2024-03-01")], status="void")
    con = synced(book)
    assert months(con, "2024-01", "2024-03") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (0.0, 0, {"churn": 5000.0})))


# --- ends, cancellations, returns ---------------------------------------------------

def test_period_ending_exactly_at_midnight_on_the_first(synced):
    book = Book("midnight")
    price = book.price(10000)
    sub = subscribed(book, [price], "2024-02-01", status="canceled", ended_at="2024-04-01",
                     cancel_at_period_end=True)
    book.cycles(sub, price, "2024-02-01", 2)
    con = synced(book)
    # the March line [Mar 1, Apr 1) covers Mar 31 23:59:59, not Apr 1's end
    assert months(con, "2024-02", "2024-04") == usd(
        ("2024-02", (10000.0, 1, {"new": 10000.0})), ("2024-03", (10000.0, 1, {})),
        ("2024-04", (0.0, 0, {"churn": 10000.0})))
    assert days(con, "2024-03-30", "2024-04-02") == {"2024-03-30": 10000.0, "2024-03-31": 10000.0}


def test_cancellation_at_noon_on_day_ten(synced):
    book = Book("noon_cancel")
    price = book.price(30000)
    sub = subscribed(book, [price], "2024-02-01", status="canceled", ended_at="2024-03-10 12:00")
    book.cycles(sub, price, "2024-02-01", 2)
    con = synced(book)
    # ended_at Mar 10 12:00 is before the end of March 10th: MRR stops on day 10
    assert days(con, "2024-03-08", "2024-03-11") == {"2024-03-08": 30000.0, "2024-03-09": 30000.0}
    assert months(con, "2024-02", "2024-03") == usd(
        ("2024-02", (30000.0, 1, {"new": 30000.0})), ("2024-03", (0.0, 0, {"churn": 30000.0})))


def test_one_of_two_subscriptions_ending_is_a_contraction(synced):
    book = Book("one_of_two")
    a_price, b_price = book.price(10000), book.price(5000)
    customer = book.customer()
    a = book.subscription(customer, [a_price], "2024-01-01")
    b = book.subscription(customer, [b_price], "2024-01-01", status="canceled",
                          ended_at="2024-03-01", cancel_at_period_end=True)
    book.cycles(a, a_price, "2024-01-01", 3)
    book.cycles(b, b_price, "2024-01-01", 2)
    con = synced(book)
    # 10000 + 5000, then 10000 alone: contraction 5000, still one active customer
    assert months(con, "2024-01", "2024-03") == usd(
        ("2024-01", (15000.0, 1, {"new": 15000.0})), ("2024-02", (15000.0, 1, {})),
        ("2024-03", (10000.0, 1, {"contraction": 5000.0})))


def test_churn_then_return_months_later(synced):
    book = Book("returns")
    price = book.price(5000)
    customer = book.customer()
    first = book.subscription(customer, [price], "2024-01-01", status="canceled",
                              ended_at="2024-03-01", cancel_at_period_end=True)
    again = book.subscription(customer, [price], "2024-06-01")
    book.cycles(first, price, "2024-01-01", 2)
    book.cycles(again, price, "2024-06-01", 2)
    con = synced(book)
    assert months(con, "2024-01", "2024-07") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (5000.0, 1, {})),
        ("2024-03", (0.0, 0, {"churn": 5000.0})),
        ("2024-06", (5000.0, 1, {"reactivation": 5000.0})), ("2024-07", (5000.0, 1, {})))


def test_start_and_stop_within_one_month(synced):
    book = Book("in_and_out")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-03-05", status="canceled", ended_at="2024-03-20")
    book.invoice(sub, [book.line(sub, price, "2024-03-05", "2024-04-05")])
    con = synced(book)
    # no month-end MRR: in no movement, counted apart as new-and-churned in March
    assert months(con, "2024-02", "2024-04") == usd(("2024-03", (0.0, 0, {"new_and_churned": 1})))


def test_start_and_stop_within_one_month_follows_the_plan_filter(synced):
    book = Book("in_and_out_by_plan")
    brief, steady = book.price(5000), book.price(3000)
    short = subscribed(book, [brief], "2024-03-05", status="canceled", ended_at="2024-03-20")
    book.invoice(short, [book.line(short, brief, "2024-03-05", "2024-04-05")])
    whole = subscribed(book, [steady], "2024-03-01", status="canceled", ended_at="2024-04-01")
    book.invoice(whole, [book.line(whole, steady, "2024-03-01", "2024-04-01")])
    con = synced(book)
    # the steady customer's line covers the end of March (new in March, churn in April), so only
    # the brief one started and stopped inside March; a filter on the steady plan leaves nobody
    for plan, customers in ((None, 1), (brief, 1), (steady, 0)):
        plans = (book.get(plan)["product"],) if plan else ()
        df = mrr_movements(con, Params(start=_month("2024-03"), end=_month("2024-03"), plans=plans))
        assert df["new_and_churned_in_month"].tolist() == [customers], plan


def test_a_setup_fee_paid_during_the_trial_is_not_a_conversion(synced):
    book = Book("trial_fee_only")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01", trial=("2024-01-01", "2024-01-15"), status="past_due")
    book.invoice(sub, [book.line(sub, price, "2024-01-01", "2024-01-15", amount=0),
                       book.line(sub, book.price(2000, None), "2024-01-01", "2024-01-01")],
                 billing_reason="subscription_create")
    book.invoice(sub, [book.line(sub, price, "2024-01-15", "2024-02-15")], status="open")
    con = synced(book)
    # METRICS.md: converted = the first post-trial invoice with amount due > 0 is paid; it is open
    assert trials(con, "2024-01", "2024-01") == {"2024-01": (1, 0)}


def test_deleted_customer_keeps_paid_history(synced):
    book = Book("deleted_customer")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01", status="canceled", ended_at="2024-03-15")
    book.cycles(sub, price, "2024-01-01", 3)
    book.delete_customer(book.get(sub)["customer"])  # deleting a customer cancels its subscriptions
    con = synced(book)
    assert months(con, "2024-01", "2024-04") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (5000.0, 1, {})),
        ("2024-03", (0.0, 0, {"churn": 5000.0})))


# --- lines that are not MRR, currencies, cash -------------------------------------

def test_metered_one_off_and_setup_fee_lines_are_not_mrr(synced):
    book = Book("not_recurring")
    plan = book.price(2000)
    metered = book.price(5, usage="metered")
    setup, consulting = book.price(9900, None), book.price(50000, None)
    sub = subscribed(book, [plan, metered], "2024-01-01")
    book.invoice(sub, [book.line(sub, plan, "2024-01-01", "2024-02-01", item=book.item(sub, 0)),
                       book.line(sub, setup, "2024-01-01", "2024-01-01", invoice_item=True)],
                 billing_reason="subscription_create")
    book.invoice(sub, [book.line(sub, plan, "2024-02-01", "2024-03-01", item=book.item(sub, 0)),
                       book.line(sub, metered, "2024-01-01", "2024-02-01", 147, amount=735,
                                 item=book.item(sub, 1))])
    book.invoice(None, [book.line(None, consulting, "2024-01-20", "2024-01-20")],
                 customer=book.get(sub)["customer"], billing_reason="manual")
    con = synced(book)
    # only the licensed 2000: not the setup fee, the usage (147 x 5) nor the one-off 50000
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (2000.0, 1, {"new": 2000.0})), ("2024-02", (2000.0, 1, {})))


def test_jpy_and_kwd(synced):
    book = Book("jpy_kwd")
    yen, dinar = book.price(5000, currency="jpy"), book.price(12500, currency="kwd")
    for price in (yen, dinar):
        book.cycles(subscribed(book, [price], "2024-01-01"), price, "2024-01-01", 2)
    con = synced(book)
    # ¥5000 is 5000 minor units (zero-decimal); KWD 12.500 is 12500 (three decimals)
    assert months(con, "2024-01", "2024-02") == {
        "2024-01": {"jpy": (5000.0, 1, {"new": 5000.0}), "kwd": (12500.0, 1, {"new": 12500.0})},
        "2024-02": {"jpy": (5000.0, 1, {}), "kwd": (12500.0, 1, {})}}
    df = mrr(con, Params(start=_month("2024-01"), end=_month("2024-01")))
    columns, rows = export_rows(METRICS["mrr"], df)
    shown = {row[columns.index("currency")]: row[columns.index("mrr")] for row in rows}
    assert shown == {"jpy": Decimal("5000"), "kwd": Decimal("12.500")}


def test_three_currencies(synced):
    book = Book("three_currencies")
    for amount, currency in [(10000, "usd"), (9000, "eur"), (8000, "gbp")]:
        price = book.price(amount, currency=currency)
        book.cycles(subscribed(book, [price], "2024-01-01"), price, "2024-01-01", 2)
    con = synced(book)
    assert months(con, "2024-01", "2024-02") == {
        "2024-01": {c: (a, 1, {"new": a}) for c, a in
                    [("eur", 9000.0), ("gbp", 8000.0), ("usd", 10000.0)]},
        "2024-02": {c: (a, 1, {}) for c, a in [("eur", 9000.0), ("gbp", 8000.0), ("usd", 10000.0)]}}


def test_refunds_and_a_lost_dispute_do_not_change_mrr(synced):
    book = Book("refund_dispute")
    price = book.price(5000)
    sub = subscribed(book, [price], "2024-01-01")
    (january, _), (february, _), _ = book.cycles(sub, price, "2024-01-01", 3)
    book.refund(book.charge_of(january), 5000, "2024-01-05")
    book.dispute(book.charge_of(february), "2024-02-10", status="lost")
    con = synced(book)
    assert months(con, "2024-01", "2024-03") == usd(
        ("2024-01", (5000.0, 1, {"new": 5000.0})), ("2024-02", (5000.0, 1, {})),
        ("2024-03", (5000.0, 1, {})))
    cash = payments(con, Params(start=_month("2024-01"), end=_month("2024-02")))
    assert [(r.refunds, r.lost_disputes) for r in cash.itertuples()] == [(5000, 0), (0, 5000)]


def test_archived_and_inline_prices_take_part(synced):
    book = Book("hidden_prices")
    # an archived plan (grandfathered subscribers) and a price_data price (inline,
    # created inactive, never listed: only retrievable by id)
    archived = book.price(8000, active=False)
    inline = book.price(3000, active=False, inline=True)
    for price in (archived, inline):
        book.cycles(subscribed(book, [price], "2024-01-01"), price, "2024-01-01", 2)
    con = synced(book)
    assert sorted(r[0] for r in con.execute("SELECT id FROM prices").fetchall()) == \
        sorted([archived, inline])
    # 8000 + 3000
    assert months(con, "2024-01", "2024-02") == usd(
        ("2024-01", (11000.0, 2, {"new": 11000.0})), ("2024-02", (11000.0, 2, {})))
