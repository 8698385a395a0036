"""Movements, their identity, the drill-down and a customer's timeline."""
import pytest

from metrics.fx_rates_input import ensure_table as ensure_fx_rates
from metrics.movements import customer_timeline, mrr_drilldown, mrr_movements
from metrics.params import Params
from tests.metrics import scenario
from tests.metrics.builders import Account, month

RANGE = Params(start=month("2024-01"), end=month("2024-06"))


@pytest.fixture(scope="module")
def acct():
    return scenario.build()


def by_month(df):
    return {row["month"].strftime("%Y-%m"): row for _, row in df.iterrows()}


def assert_identity(df):
    expected = (df["start_mrr"] + df["new"] + df["reactivation"] + df["expansion"]
                - df["contraction"] - df["churn"] + df["fx"])
    assert (expected - df["end_mrr"]).abs().max() < 1e-6


def test_each_movement_amount(acct):
    rows = by_month(mrr_movements(acct.con, RANGE))
    cols = ["start_mrr", "new", "reactivation", "expansion", "contraction", "churn", "end_mrr"]
    assert [rows["2024-01"][c] for c in cols] == [0, 25000, 0, 0, 0, 0, 25000]
    assert [rows["2024-02"][c] for c in cols] == [25000, 0, 0, 0, 0, 0, 25000]
    assert [rows["2024-03"][c] for c in cols] == [25000, 20000, 0, 0, 5000, 5000, 35000]
    assert [rows["2024-04"][c] for c in cols] == [35000, 0, 5000, 5000, 0, 0, 45000]
    assert rows["2024-01"]["new_customers"] == 3
    assert rows["2024-03"]["churned_customers"] == 1
    assert rows["2024-04"]["reactivated_customers"] == 1


def test_new_and_churned_inside_a_month_is_no_movement(acct):
    rows = by_month(mrr_movements(acct.con, RANGE))
    assert rows["2024-03"]["new_and_churned_in_month"] == 1
    assert rows["2024-03"]["new_customers"] == 1  # only D
    assert rows["2024-02"]["new_and_churned_in_month"] == 0


def test_identity_holds_every_month(acct):
    assert_identity(mrr_movements(acct.con, RANGE))


def test_once_coupon_shows_as_expansion_next_month():
    acct = Account()
    acct.customer("cus_1")
    acct.price("p", 5000)
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01", discount=1000)])
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-02-01", "2024-03-01")])
    rows = by_month(mrr_movements(acct.con, Params(start=month("2024-01"), end=month("2024-02"))))
    assert (rows["2024-01"]["new"], rows["2024-02"]["expansion"]) == (4000, 1000)


def test_reporting_currency_adds_fx_movement_and_keeps_identity():
    acct = Account()
    acct.price("eur_plan", 10000, currency="eur")
    acct.price("usd_plan", 5000)
    for name, price in (("e", "eur_plan"), ("u", "usd_plan")):
        acct.customer(f"cus_{name}")
        acct.subscription(f"sub_{name}", f"cus_{name}")
        acct.monthly_invoices(f"cus_{name}", f"sub_{name}", price, "2024-01-01", 2)
    ensure_fx_rates(acct.con)  # metrics' own table: made when first written
    acct.con.execute("""INSERT INTO fx_rates VALUES ('2024-01-01', 'eur', 'usd', 1.0),
                                                    ('2024-02-01', 'eur', 'usd', 1.1)""")
    df = mrr_movements(acct.con, Params(start=month("2024-01"), end=month("2024-02"), currency="usd"))
    rows = by_month(df)
    assert (rows["2024-01"]["new"], rows["2024-01"]["end_mrr"]) == (15000, 15000)
    feb = rows["2024-02"]
    assert (feb["start_mrr"], feb["fx"], feb["end_mrr"], feb["expansion"]) == \
        (15000, pytest.approx(1000), pytest.approx(16000), 0)
    assert set(df["currency"]) == {"usd"}
    assert_identity(df)


def test_drilldown_lists_customers_subscriptions_and_movements(acct):
    df = mrr_drilldown(acct.con, Params(extra={"month": "2024-03"}))
    got = {r.customer_id: (r.movement, r.movement_amount, r.customer_start_mrr, r.customer_end_mrr,
                           r.subscription_id, r.subscription_end_mrr) for r in df.itertuples()}
    assert got == {
        "cus_A": ("unchanged", 0, 10000, 10000, "sub_A", 10000),
        "cus_B": ("contraction", 5000, 10000, 5000, "sub_B", 5000),
        "cus_C": ("churn", 5000, 5000, 0, "sub_C", 0),
        "cus_D": ("new", 20000, 0, 20000, "sub_D", 20000),
    }
    by_type = df.groupby("movement")["movement_amount"].sum()
    movements = by_month(mrr_movements(acct.con, RANGE))["2024-03"]
    assert by_type["contraction"] == movements["contraction"]
    assert by_type["new"] == movements["new"]


def test_customer_timeline(acct):
    df = customer_timeline(acct.con, Params(start=month("2024-01"), end=month("2024-05"),
                                            extra={"customer_id": "cus_C"}))
    assert [(m.strftime("%Y-%m"), mv, amt) for m, mv, amt in
            zip(df["month"], df["movement"], df["movement_amount"])] == [
        ("2024-01", "new", 5000), ("2024-02", "unchanged", 0), ("2024-03", "churn", 5000),
        ("2024-04", "reactivation", 5000), ("2024-05", "unchanged", 0)]
    assert df["mrr"].tolist() == [5000, 5000, 0, 5000, 5000]
