"""Payments, dunning, tax, trials and fraud on hand-built charges and invoices."""
import datetime as dt

import pytest

from etl.load import load_objects
from metrics.dunning import recovery
from metrics.fx_rates_input import ensure_table as ensure_fx_rates
from metrics.params import Params
from metrics.payments import disputes_by_reason, fraud, payment_failures, payments
from metrics.tax import tax
from metrics.trials import trial_conversion, trials_started
from tests.metrics.builders import Account, month, ts

JAN = Params(start=month("2024-01"), end=month("2024-01"))


def charge(id, amount, status, day="2024-01-10", **kw):
    obj = {"id": id, "object": "charge", "amount": amount, "currency": "usd", "status": status,
           "created": ts(day), "outcome": {"type": kw.pop("outcome", "authorized"),
                                           "risk_level": kw.pop("risk", "normal"),
                                           "reason": kw.pop("reason", None)}}
    return obj | kw


@pytest.fixture(scope="module")
def cash():
    acct = Account()
    load_objects(acct.con, "charges", [
        charge("ch_1", 1000, "succeeded"), charge("ch_2", 2000, "succeeded"),
        charge("ch_3", 3000, "succeeded", risk="elevated"),
        charge("ch_4", 500, "failed", failure_code="card_declined", outcome="issuer_declined"),
        charge("ch_5", 700, "failed", outcome="blocked", risk="highest", reason="highest_risk_level",
               failure_code="card_declined"),
        charge("ch_6", 900, "pending"),
        charge("ch_7", 4000, "succeeded", day="2024-02-02")])
    load_objects(acct.con, "refunds", [
        {"id": "re_1", "object": "refund", "amount": 1000, "currency": "usd", "status": "succeeded",
         "charge": "ch_1", "created": ts("2024-01-12")},
        {"id": "re_2", "object": "refund", "amount": 500, "currency": "usd", "status": "pending",
         "charge": "ch_2", "created": ts("2024-01-12")}])
    load_objects(acct.con, "disputes", [
        {"id": "dp_1", "object": "dispute", "amount": 2000, "currency": "usd", "status": "lost",
         "reason": "fraudulent", "charge": "ch_2", "created": ts("2024-01-20")}])
    load_objects(acct.con, "balance_transactions", [
        {"id": f"txn_{i}", "object": "balance_transaction", "amount": a, "fee": f, "net": a - f,
         "currency": "usd", "type": "charge", "created": ts("2024-01-10")}
        for i, (a, f) in enumerate([(1000, 59), (2000, 88), (3000, 117), (-2000, 36)])])
    return acct


def test_payments_month(cash):
    jan = payments(cash.con, JAN).iloc[0]
    assert (jan.charges, jan.succeeded, jan.failed) == (5, 3, 2)
    assert jan.success_rate == pytest.approx(0.6)
    assert jan.amount_success_rate == pytest.approx(6000 / 7200)
    assert (jan.gross_volume, jan.refunds, jan.disputes, jan.lost_disputes, jan.fees) == \
        (6000, 1000, 1, 2000, 300)
    assert jan.refund_rate == pytest.approx(1 / 6)
    assert jan.dispute_rate == pytest.approx(1 / 3)
    assert jan.net_revenue == 6000 - 1000 - 2000 - 300


def test_payments_by_day(cash):
    df = payments(cash.con, Params(start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 28), granularity="day"))
    assert df["day"].dt.strftime("%m-%d").tolist() == ["01-10", "01-12", "01-20", "02-02"]
    assert df.set_index(df["day"].dt.strftime("%m-%d")).loc["02-02", "gross_volume"] == 4000


def test_failure_breakdown_and_fraud_view(cash):
    failures = payment_failures(cash.con, JAN)
    assert sorted(failures[["failure_code", "outcome_type", "failed"]].values.tolist()) == [
        ["card_declined", "blocked", 1], ["card_declined", "issuer_declined", 1]]
    view = fraud(cash.con, JAN)
    got = {(r.risk_level, r.outcome_type): r.charges for r in view.itertuples()}
    assert got == {("normal", "authorized"): 3, ("elevated", "authorized"): 1,
                   ("highest", "blocked"): 1, ("normal", "issuer_declined"): 1}
    reasons = disputes_by_reason(cash.con, JAN)
    assert reasons[["reason", "disputes", "amount", "lost"]].values.tolist() == [["fraudulent", 1, 2000, 1]]


def test_recovery_of_first_attempt_failures():
    acct = Account()
    acct.price("p", 1000)
    def inv(**kw):
        acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01")],
                     created="2024-01-01", **kw)
    inv(attempt_count=1)                                   # paid first time
    inv(attempt_count=3)                                   # failed, recovered
    inv(attempt_count=2, status="open")                    # failed, still in dunning
    inv(attempt_count=1, status="void")                    # attempted, never paid
    inv(attempt_count=2, billing_reason="manual")          # not a subscription invoice
    inv(attempt_count=2, status="open", amount_due=0)      # nothing to collect
    row = recovery(acct.con, JAN).iloc[0]
    assert (row.failed_first_attempt, row.recovered, row.open_dunning) == (3, 1, 1)
    assert row.recovery_rate == pytest.approx(1 / 3)
    assert (row.failed_amount, row.recovered_amount) == (3000, 1000)


def test_tax_collected_by_rate_on_paid_invoices():
    acct = Account()
    acct.price("p", 10000)
    load_objects(acct.con, "tax_rates", [
        {"id": "txr_de", "object": "tax_rate", "jurisdiction": "DE", "country": "DE",
         "percentage": 19.0, "display_name": "VAT", "inclusive": False}])
    vat = {"amount": 1900, "tax_behavior": "exclusive", "taxable_amount": 10000,
           "tax_rate_details": {"tax_rate": "txr_de"}}
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01", taxes=[vat])],
                 created="2024-01-01", paid_at="2024-02-03")
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01", taxes=[vat])],
                 created="2024-01-05", paid_at="2024-02-10")
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-02-01", "2024-03-01", taxes=[vat])],
                 status="open")
    df = tax(acct.con, Params(start=month("2024-01"), end=month("2024-02")))
    assert df[["jurisdiction", "country", "rate", "tax_collected", "taxable_amount"]].values.tolist() == \
        [["DE", "DE", 19.0, 3800, 20000]]
    assert df["month"].dt.strftime("%Y-%m").tolist() == ["2024-02"]  # by paid month


def test_trial_conversion():
    acct = Account()
    acct.price("p", 1000)
    trials = {"sub_t1": ("2024-02-01", "paid"), "sub_t2": ("2024-02-10", "open"),
              "sub_t3": ("2024-03-05", "paid")}
    for sub, (end, status) in trials.items():
        acct.subscription(sub, "cus_1", trial_start=ts("2024-01-01"), trial_end=ts(end))
        acct.invoice("cus_1", sub, [acct.line("p", "2024-01-01", end, amount=0)], created="2024-01-01")
        acct.invoice("cus_1", sub, [acct.line("p", end, "2024-04-01")], status=status,
                     attempt_count=1, created=end)
    acct.subscription("sub_none", "cus_1", trial_start=ts("2024-01-15"), trial_end=ts("2024-02-15"))
    df = trial_conversion(acct.con, Params(start=month("2024-02"), end=month("2024-03")))
    assert df[["trials_ended", "converted"]].values.tolist() == [[3, 1], [1, 1]]
    assert df["conversion_rate"].tolist() == [pytest.approx(1 / 3), 1.0]
    acct.subscription("sub_march", "cus_1", trial_start=ts("2024-03-20"), trial_end=ts("2024-04-03"))
    started = trials_started(acct.con, Params(start=month("2024-01"), end=month("2024-03")))
    assert started["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-03"]  # no row: none started
    assert started["trials_started"].tolist() == [4, 1]


def test_reporting_currency_converts_cash_at_month_rate(cash):
    cur = cash.con.cursor()
    cur.execute("BEGIN")
    try:
        load_objects(cur, "charges", [charge("ch_jpy", 10000, "succeeded") | {"currency": "jpy"}])
        ensure_fx_rates(cur)  # metrics' own table: made when first written
        cur.execute("INSERT INTO fx_rates VALUES (NULL, 'jpy', 'usd', 0.007)")
        jan = payments(cur, Params(start=month("2024-01"), end=month("2024-01"), currency="usd")).iloc[0]
        assert jan.currency == "usd"
        assert (jan.succeeded, jan.gross_volume) == (4, pytest.approx(6000 + 7000))
    finally:
        cur.execute("ROLLBACK")


def test_early_fraud_warnings_by_type():
    from metrics.payments import early_fraud_warnings
    acct = Account()
    load_objects(acct.con, "early_fraud_warnings", [
        {"id": f"issfr_{i}", "object": "radar.early_fraud_warning", "charge": "ch_1",
         "fraud_type": kind, "actionable": actionable, "created": ts("2024-01-15")}
        for i, (kind, actionable) in enumerate([("card_never_received", True),
                                                ("card_never_received", False),
                                                ("stolen_card", True)])])
    df = early_fraud_warnings(acct.con, JAN)
    assert df[["fraud_type", "warnings", "actionable"]].values.tolist() == [
        ["card_never_received", 2, 1], ["stolen_card", 1, 1]]
