"""Quick ratio, ARPA by plan, concentration, churn reasons and CMRR, with exact numbers."""
import math

import pandas as pd
import pytest

from etl.load import load_objects
from metrics.committed import cmrr
from metrics.figures import arpa_by_plan, churn_reasons, concentration, quick_ratio
from metrics.params import Params
from tests.metrics import scenario
from tests.metrics.builders import Account, month, ts

RANGE = Params(start=month("2024-01"), end=month("2024-06"))


def by_month(df):
    return {row["month"].strftime("%Y-%m"): row for _, row in df.iterrows()}


def subscription(acct, id, customer, price=None, **fields):
    """A subscription with fields the builder does not offer (cancellation_details, discount)."""
    items = ([{"id": f"si_{id}", "object": "subscription_item", "price": acct.prices[price], "quantity": 1}]
             if price else [])
    load_objects(acct.con, "subscriptions", [{
        "id": id, "object": "subscription", "customer": customer, "status": "active",
        "created": ts("2020-01-01"), "currency": "usd", "livemode": False,
        "items": {"object": "list", "data": items}, **fields}])


@pytest.fixture(scope="module")
def acct():
    return scenario.build()


def test_quick_ratio_is_growth_over_losses_and_empty_without_losses(acct):
    rows = by_month(quick_ratio(acct.con, RANGE))
    # March: new 20000 (D) / (contraction 5000 (B) + churn 5000 (C)) = 2
    assert rows["2024-03"]["quick_ratio"] == 2.0
    assert (rows["2024-03"]["new"], rows["2024-03"]["contraction"], rows["2024-03"]["churn"]) == (20000, 5000, 5000)
    # January (all new) and April (expansion and reactivation only) have no losses: undefined
    assert math.isnan(rows["2024-01"]["quick_ratio"])
    assert math.isnan(rows["2024-04"]["quick_ratio"])


def test_arpa_by_plan_divides_each_plan_by_its_own_customers():
    acct = Account()
    acct.price("a", 10000, product="prod_a")
    acct.price("a_small", 5000, product="prod_a")
    acct.price("b", 3000, product="prod_b")
    for customer, price in (("cus_1", "a"), ("cus_2", "a_small"), ("cus_1", "b")):
        if customer not in {r[0] for r in acct.con.execute("SELECT id FROM customers").fetchall()}:
            acct.customer(customer)
        sub = f"sub_{customer}_{price}"
        acct.subscription(sub, customer)
        acct.invoice(customer, sub, [acct.line(price, "2024-01-01", "2024-02-01")])
    df = arpa_by_plan(acct.con, Params(start=month("2024-01"), end=month("2024-01")))
    rows = {row["product_id"]: row for _, row in df.iterrows()}
    assert (rows["prod_a"]["mrr"], rows["prod_a"]["customers"], rows["prod_a"]["arpa"]) == (15000, 2, 7500)
    assert (rows["prod_b"]["mrr"], rows["prod_b"]["customers"], rows["prod_b"]["arpa"]) == (3000, 1, 3000)


def test_concentration_top_10_and_top_decile():
    acct = Account()
    for n in range(1, 13):  # 12 customers paying $1 .. $12 a month: $78 in all
        acct.price(f"p{n}", n * 100)
        acct.customer(f"cus_{n:02d}")
        acct.subscription(f"sub_{n}", f"cus_{n:02d}")
        acct.invoice(f"cus_{n:02d}", f"sub_{n}", [acct.line(f"p{n}", "2024-01-01", "2024-02-01")])
    row = concentration(acct.con, Params(start=month("2024-01"), end=month("2024-01"))).iloc[0]
    assert (row["mrr"], row["customers"], row["top_10_mrr"]) == (7800, 12, 7500)  # all but $1 and $2
    assert row["top_10_share"] == pytest.approx(7500 / 7800)
    # top 10% of 12 customers: ceil(1.2) = 2, the $12 and $11 ones
    assert (row["top_decile_customers"], row["top_decile_mrr"]) == (2, 2300)
    assert row["top_decile_share"] == pytest.approx(2300 / 7800)


def test_churn_reasons_by_month_with_the_mrr_lost():
    acct = Account()
    acct.price("p50", 5000)
    acct.price("p30", 3000)
    for customer, sub, price, ended, details in (
            ("cus_1", "sub_1", "p50", "2024-03-15",
             {"reason": "cancellation_requested", "feedback": "too_expensive", "comment": "Too pricey"}),
            ("cus_2", "sub_2", "p30", "2024-03-10",
             {"reason": "payment_failed", "feedback": None, "comment": None}),
            ("cus_3", "sub_3", "p30", "2024-02-20",
             {"reason": "cancellation_requested", "feedback": "too_expensive", "comment": None})):
        acct.customer(customer, metadata={"channel": "partner" if customer == "cus_2" else "organic"})
        subscription(acct, sub, customer, status="canceled", ended_at=ts(ended), cancellation_details=details)
        acct.monthly_invoices(customer, sub, price, "2024-01-01", 3)
    partner = churn_reasons(acct.con, Params(start=month("2024-01"), end=month("2024-03"),
                                             where=(("customer", "channel", ("partner",)),)))
    assert partner[["reason", "subscriptions", "mrr_lost"]].values.tolist() == [["payment_failed", 1, 3000]]
    df = churn_reasons(acct.con, Params(start=month("2024-01"), end=month("2024-03")))
    rows = [(r["month"].strftime("%Y-%m"), *[None if pd.isna(r[c]) else r[c] for c in
                                             ("reason", "feedback", "subscriptions", "mrr_lost", "comments")])
            for _, r in df.iterrows()]
    assert rows == [("2024-02", "cancellation_requested", "too_expensive", 1, 3000, None),
                    ("2024-03", "cancellation_requested", "too_expensive", 1, 5000, "Too pricey"),
                    ("2024-03", "payment_failed", None, 1, 3000, None)]


def test_cmrr_takes_scheduled_cancellations_and_adds_ending_discounts():
    acct = Account()
    acct.con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2024-03-15T10:00:00+00:00')")
    acct.price("p100", 10000)
    acct.price("p50", 5000)
    acct.price("p20", 2000)
    setups = (("cus_1", "p100", 0, {"cancel_at_period_end": True}),
              ("cus_2", "p50", 1000, {"discount": {"id": "di_1", "coupon": {"id": "c20"}, "end": ts("2024-06-01")}}),
              ("cus_3", "p20", 0, {}))
    for customer, price, discount, fields in setups:
        acct.customer(customer)
        subscription(acct, f"sub_{customer}", customer, price, **fields)
        acct.invoice(customer, f"sub_{customer}", [acct.line(price, "2024-03-01", "2024-04-01", discount=discount)])
    row = cmrr(acct.con, Params()).iloc[0]
    assert str(row["date"])[:10] == "2024-03-15"
    assert row["mrr"] == 16000  # 10000 + (5000 - 1000) + 2000
    assert (row["scheduled_cancellations"], row["ending_discounts"], row["cmrr"]) == (-10000, 1000, 7000)
    assert (row["cancelling_subscriptions"], row["discounts_ending"]) == (1, 1)
    assert (row["scheduled_phase_changes"], row["next_phases"]) == (0, 0)  # no schedules


def test_each_figure_is_exported_by_name(acct, tmp_path, capsys):
    from metrics.__main__ import main
    path = tmp_path / "tally.duckdb"
    acct.con.execute(f"ATTACH '{path}' AS copy; COPY FROM DATABASE memory TO copy; DETACH copy")
    assert main(["export", "quick_ratio", "--db", str(path), "--start", "2024-03", "--end", "2024-04"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "month,currency,new,expansion,reactivation,contraction,churn,quick_ratio",
        "2024-03,usd,200.00,0.00,0.00,50.00,50.00,2.0",
        "2024-04,usd,0.00,50.00,50.00,0.00,0.00,"]  # no losses: undefined, an empty cell
    assert main(["export", "cohort_customers", "--db", str(path), "--month", "2024-01", "--end", "2024-06"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["2024-01,cus_A,Cus_A,,usd,100.00,150.00",
                                                        "2024-01,cus_B,Cus_B,,usd,100.00,50.00",
                                                        "2024-01,cus_C,Cus_C,,usd,50.00,50.00"]
    for name in ("cmrr", "arpa_by_plan", "concentration", "churn_reasons"):
        assert main(["export", name, "--db", str(path)]) == 0, name
        capsys.readouterr()
