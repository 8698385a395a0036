"""A proration's full period (METRICS.md, MRR): (1) the line its `credited_items`
names, (2) the regular line of the same item and price holding its start,
(3) the nominal length of its own price's interval. Never the longest line."""
import pytest

from etl.load import load_objects
from metrics.movements import mrr_movements
from metrics.mrr import refresh_stages, stage_cache, stored_stages
from metrics.params import Params
from tests.metrics.builders import Account, month, series, ts


def account(*prices) -> Account:
    acct = Account()
    acct.customer("cus_1")
    for price in prices:
        acct.price(*price)
    acct.subscription("sub_1", "cus_1")
    return acct


def movements(con, start, end):
    df = mrr_movements(con, Params(start=month(start), end=month(end)))
    return {row.month.strftime("%Y-%m"): row for row in df.itertuples()}


def test_credit_is_scaled_by_the_line_its_credited_items_name():
    acct = account(("small", 3100), ("yearly", 120000, "year"))
    acct.invoice("cus_1", "sub_1", [acct.line("small", "2024-01-01", "2024-02-01", id="il_reg"),
                                    acct.line("yearly", "2024-01-01", "2025-01-01", item="si_y")],
                 id="in_reg")
    # The credit names another item, so only its credited_items lead to the
    # 31-day line (the nominal month would give -1700 x 30.4375 / 17 = -3043.75,
    # the longest line holding Jan 15, the yearly one, far more).
    acct.invoice("cus_1", "sub_1", [acct.line(
        "small", "2024-01-15", "2024-02-01", amount=-1700, proration=True, item="si_other",
        credited=("in_reg", "il_reg"))], billing_reason="subscription_update")
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 10000.0}
    row = acct.con.execute("""SELECT credited_invoice_id, credited_line_id FROM invoice_lines
                              WHERE proration""").fetchall()
    assert row == [("in_reg", "il_reg")]


def test_credit_whose_credited_line_is_missing_falls_back_to_nominal():
    acct = account(("small", 3100), ("filler", 10000))
    acct.invoice("cus_1", "sub_1", [acct.line("filler", "2024-01-01", "2024-02-01", item="si_f")])
    acct.invoice("cus_1", "sub_1", [acct.line(
        "small", "2024-01-15", "2024-02-01", amount=-1700, proration=True, item="si_other",
        credited=("in_gone", "il_gone"))], billing_reason="subscription_update")
    # 10000 - 1700 x 30.4375 / 17
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 6956.25}


def test_seat_change_uses_same_item_and_price_not_the_longest_line():
    acct = account(("seat", 3100), ("addon_y", 12000, "year"))
    acct.invoice("cus_1", "sub_1", [
        acct.line("seat", "2024-01-01", "2024-02-01", quantity=2, item="si_seat"),
        acct.line("addon_y", "2024-01-01", "2025-01-01", item="si_addon")])
    # One more seat on Jan 15, 17 of 31 days left. The yearly add-on line is the
    # longest line holding Jan 15; the seat line is the one the proration belongs to.
    acct.invoice("cus_1", "sub_1", [acct.line(
        "seat", "2024-01-15", "2024-02-01", amount=1700, proration=True, item="si_seat")],
        billing_reason="subscription_update")
    acct.invoice("cus_1", "sub_1", [acct.line("seat", "2024-02-01", "2024-03-01", quantity=3,
                                              item="si_seat")])
    assert series(acct.con, "2024-01", "2024-02") == {"2024-01": 10300.0, "2024-02": 10300.0}


def test_no_regular_line_of_the_same_price_uses_nominal_interval_times_its_count():
    acct = account(("quarterly", 30000, "month", 3))
    # Half of 3 x 30.4375 days = 45 days 15:45: worth half the quarter's price.
    acct.invoice("cus_1", "sub_1", [acct.line(
        "quarterly", "2024-01-20", "2024-03-05 15:45", amount=15000, proration=True)])
    assert series(acct.con, "2024-01", "2024-02") == {"2024-01": 10000.0, "2024-02": 10000.0}


@pytest.mark.parametrize("stages", ["computed", "stored"])
@pytest.mark.parametrize("with_credited_items", [True, False])
def test_monthly_100_to_yearly_1000_mid_month_is_a_contraction(with_credited_items, stages):
    acct = account(("m", 10000), ("y", 100000, "year"))
    for start, end in (("2024-02-01", "2024-03-01"), ("2024-03-01", "2024-04-01")):
        acct.invoice("cus_1", "sub_1", [acct.line("m", start, end, item="si_1")])
    acct.invoice("cus_1", "sub_1", [acct.line("m", "2024-04-01", "2024-05-01", item="si_1",
                                              id="il_april")], id="in_april")
    # Switch on April 16 (15 of 30 days unused): credit for the month, a new yearly period.
    acct.invoice("cus_1", "sub_1", [
        acct.line("m", "2024-04-16", "2024-05-01", amount=-5000, proration=True, item="si_1",
                  credited=("in_april", "il_april") if with_credited_items else None),
        acct.line("y", "2024-04-16", "2025-04-16", item="si_1")],
        billing_reason="subscription_update")
    stage_cache.clear()
    if stages == "stored":  # as a published database is read: with the stages metrics stored
        refresh_stages.refresh_attached(acct.con)
        assert stored_stages.stored_through(acct.con) is not None
    values = series(acct.con, "2024-03", "2024-06")
    assert values == {"2024-03": 10000.0, "2024-04": pytest.approx(8333.3333, abs=1e-3),
                      "2024-05": pytest.approx(8333.3333, abs=1e-3),
                      "2024-06": pytest.approx(8333.3333, abs=1e-3)}
    april = movements(acct.con, "2024-04", "2024-04")["2024-04"]
    assert april.contraction == pytest.approx(1666.6667, abs=1e-3)
    assert (april.churn, april.reactivation, april.new, april.expansion) == (0, 0, 0, 0)


def test_yearly_to_monthly_mid_year_is_an_expansion():
    acct = account(("y", 109500, "year"), ("m", 10000))  # $1,095 a year: $3 a day in 2023
    acct.invoice("cus_1", "sub_1", [acct.line("y", "2023-01-01", "2024-01-01", item="si_1",
                                              id="il_year")], id="in_year")
    # Switch on July 2: 183 of 365 days unused.
    acct.invoice("cus_1", "sub_1", [
        acct.line("y", "2023-07-02", "2024-01-01", amount=-54900, proration=True, item="si_1",
                  credited=("in_year", "il_year")),
        acct.line("m", "2023-07-02", "2023-08-02", item="si_1")],
        billing_reason="subscription_update")
    acct.invoice("cus_1", "sub_1", [acct.line("m", "2023-08-02", "2023-09-02", item="si_1")])
    assert series(acct.con, "2023-06", "2023-08") == {"2023-06": 9125.0, "2023-07": 10000.0,
                                                     "2023-08": 10000.0}
    july = movements(acct.con, "2023-07", "2023-07")["2023-07"]
    assert (july.expansion, july.contraction, july.churn) == (875.0, 0, 0)


def test_upgrade_on_day_15_shows_in_that_month():
    """Old line + credit for the old price (its own 31-day line) + debit for the
    new price. No line of the new price holds Jan 15, so the debit is scaled by
    the nominal month (rule 3): 3400 x 30.4375 / 17 = 6087.5, then 6200 in February."""
    acct = account(("small", 3100), ("large", 6200))
    acct.invoice("cus_1", "sub_1", [acct.line("small", "2024-01-01", "2024-02-01")])
    acct.invoice("cus_1", "sub_1", [
        acct.line("small", "2024-01-15", "2024-02-01", amount=-1700, proration=True),
        acct.line("large", "2024-01-15", "2024-02-01", amount=3400, proration=True)],
        billing_reason="subscription_update")
    acct.invoice("cus_1", "sub_1", [acct.line("large", "2024-02-01", "2024-03-01")])
    assert series(acct.con, "2023-12", "2024-02") == {"2024-01": 6087.5, "2024-02": 6200.0}
    assert movements(acct.con, "2024-01", "2024-01")["2024-01"].new == 6087.5


def test_old_shape_credit_with_credited_items_on_the_line():
    acct = Account()
    acct.customer("cus_1")
    plan = {"id": "plan_1", "object": "plan", "amount": 3100, "currency": "usd",
            "interval": "month", "interval_count": 1, "usage_type": "licensed", "product": "prod_a"}

    def old_line(id, start, end, amount, proration, **extra):
        return {"id": id, "object": "line_item", "type": "subscription", "subscription": "sub_1",
                "plan": plan, "amount": amount, "currency": "usd", "proration": proration,
                "period": {"start": ts(start), "end": ts(end)}, **extra}

    load_objects(acct.con, "invoices", [{
        "id": "in_old", "object": "invoice", "customer": "cus_1", "subscription": "sub_1",
        "status": "paid", "created": ts("2024-01-01"), "currency": "usd",
        "lines": {"data": [old_line("sli_1", "2024-01-01", "2024-02-01", 3100, False)]}}, {
        "id": "in_credit", "object": "invoice", "customer": "cus_1", "subscription": "sub_1",
        "status": "paid", "created": ts("2024-01-15"), "currency": "usd",
        # API versions of 2023-2024: credited_items on the line; no subscription item named.
        "lines": {"data": [old_line("il_c", "2024-01-15", "2024-02-01", -1700, True,
                                    proration_details={"credited_items": {
                                        "invoice": "in_old", "invoice_line_items": ["sli_1"]}}),
                           old_line("il_k", "2024-01-01", "2025-01-01", 12000, False,
                                    plan=dict(plan, id="plan_2", amount=12000,
                                              interval="year"))]}}],
        api_version="2023-10-16")
    assert acct.con.execute("SELECT credited_invoice_id, credited_line_id FROM invoice_lines "
                            "WHERE proration").fetchall() == [("in_old", "sli_1")]
    # 3100 - 3100 (the credit over its credited 31-day line, not the yearly one) + 1000
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 1000.0}


def test_database_written_before_the_credited_columns_gets_them_from_raw():
    from etl.schema import create_tables
    acct = account(("small", 3100))
    acct.invoice("cus_1", "sub_1", [acct.line("small", "2024-01-01", "2024-02-01", id="il_reg")],
                 id="in_reg")
    acct.invoice("cus_1", "sub_1", [acct.line(
        "small", "2024-01-15", "2024-02-01", amount=-1700, proration=True, item="si_other",
        credited=("in_reg", "il_reg"))])
    for column in ("credited_invoice_id", "credited_line_id"):
        acct.con.execute(f"ALTER TABLE invoice_lines DROP COLUMN {column}")
    create_tables(acct.con)
    assert acct.con.execute("SELECT credited_invoice_id, credited_line_id FROM invoice_lines "
                            "WHERE proration").fetchall() == [("in_reg", "il_reg")]


def test_credit_of_an_earlier_proration_cancels_it():
    """Two changes in one period: the second credit names the first change's debit,
    itself a proration; it is valued as that debit was (nominal month), so they cancel."""
    acct = account(("small", 3100), ("large", 6200), ("xl", 9300))
    acct.invoice("cus_1", "sub_1", [acct.line("small", "2024-01-01", "2024-02-01", id="il_reg")],
                 id="in_reg")
    acct.invoice("cus_1", "sub_1", [
        acct.line("small", "2024-01-15", "2024-02-01", amount=-1700, proration=True,
                  credited=("in_reg", "il_reg")),
        acct.line("large", "2024-01-15", "2024-02-01", amount=3400, proration=True, id="il_up")],
        id="in_up", billing_reason="subscription_update")
    acct.invoice("cus_1", "sub_1", [
        acct.line("large", "2024-01-20", "2024-02-01", amount=-2400, proration=True,
                  credited=("in_up", "il_up")),
        acct.line("xl", "2024-01-20", "2024-02-01", amount=3600, proration=True)],
        billing_reason="subscription_update")
    # 3100 - 3100 + 6087.5 - 6087.5 + 3600 x 30.4375 / 12
    assert series(acct.con, "2024-01", "2024-01") == {"2024-01": 9131.25}
