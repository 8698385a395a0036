"""Churn rates, NRR/GRR, LTV, cohorts and CAC on the known scenario."""
import pandas as pd
import pytest

from metrics.acquisition import ltv_cac
from metrics.churn import churn, cohorts, ltv
from metrics.common import MetricError
from metrics.marketing_spend import save_marketing_spend
from metrics.params import Params
from tests.metrics import scenario
from tests.metrics.builders import Account, month

RANGE = Params(start=month("2024-01"), end=month("2024-06"))


@pytest.fixture(scope="module")
def acct():
    return scenario.build()


def row(df, when, column="month"):
    return df[df[column].dt.strftime("%Y-%m") == when].iloc[0]


def test_march_churn_rates(acct):
    mar = row(churn(acct.con, RANGE), "2024-03")
    assert (mar.start_customers, mar.churned_customers) == (3, 1)
    assert mar.logo_churn_rate == pytest.approx(1 / 3)
    assert mar.gross_mrr_churn == pytest.approx(0.4)
    assert mar.net_mrr_churn == pytest.approx(0.4)
    assert (mar.nrr, mar.grr) == (pytest.approx(0.6), pytest.approx(0.6))


def test_april_net_churn_is_negative(acct):
    apr = row(churn(acct.con, RANGE), "2024-04")
    assert apr.logo_churn_rate == 0
    assert apr.gross_mrr_churn == 0
    assert apr.net_mrr_churn == pytest.approx(-10000 / 35000)
    assert (apr.nrr, apr.grr) == (pytest.approx(40000 / 35000), pytest.approx(1.0))


def test_first_month_rates_are_empty_not_zero(acct):
    jan = row(churn(acct.con, RANGE), "2024-01")
    assert pd.isna(jan.logo_churn_rate) and pd.isna(jan.nrr)


def test_twelve_month_nrr_and_grr():
    acct = Account()
    acct.price("p", 10000)
    for name in ("x", "y", "z"):
        acct.customer(f"cus_{name}")
        acct.subscription(f"sub_{name}", f"cus_{name}")
    acct.monthly_invoices("cus_x", "sub_x", "p", "2024-01-01", 12)
    acct.invoice("cus_x", "sub_x", [acct.line("p", "2025-01-01", "2025-02-01", quantity=2)])
    acct.monthly_invoices("cus_y", "sub_y", "p", "2024-01-01", 5)
    acct.monthly_invoices("cus_z", "sub_z", "p", "2024-03-01", 11)
    jan = row(churn(acct.con, Params(start=month("2025-01"), end=month("2025-01"))), "2025-01")
    assert jan.nrr_12m == pytest.approx(20000 / 20000)  # x doubled, y churned
    assert jan.grr_12m == pytest.approx(10000 / 20000)


def test_ltv_uses_mean_churn_of_six_months_before(acct):
    df = ltv(acct.con, RANGE)
    jun = row(df, "2024-06")
    # Logo churn Feb 0, Mar 1/3, Apr 0, May 0 (Jan has no start customers): mean 1/12.
    assert jun.mean_logo_churn_6m == pytest.approx(1 / 12)
    assert jun.ltv == pytest.approx(11250 * 12)
    assert pd.isna(row(df, "2024-03").ltv)  # mean churn of Jan-Feb is 0: empty


def test_cohorts_logo_and_revenue_retention(acct):
    df = cohorts(acct.con, RANGE)
    jan = df[df["cohort"].dt.strftime("%Y-%m") == "2024-01"].set_index("months_since")
    assert jan["customers"].unique().tolist() == [3]
    assert jan["active_customers"].tolist() == [3, 3, 2, 3, 3, 3]
    assert jan.loc[2, "logo_retention"] == pytest.approx(2 / 3)
    assert jan.loc[2, "revenue_retention"] == pytest.approx(15000 / 25000)
    assert jan.loc[3, "revenue_retention"] == pytest.approx(1.0)  # C reactivated, stays in Jan
    mar = df[df["cohort"].dt.strftime("%Y-%m") == "2024-03"]
    assert mar["customers"].unique().tolist() == [1]


def test_cac_payback_and_ltv_to_cac(acct):
    con = acct.con.cursor()  # writes stay out of the shared module fixture
    con.execute("BEGIN")
    try:
        save_marketing_spend(con, [
            {"month": "2024-01", "amount": "300.00", "currency": "USD"},
            {"month": "2024-02", "amount": 10, "currency": "usd", "channel": "ads"},
            {"month": "2024-03", "amount": "400", "currency": "usd", "channel": "ads"}])
        df = ltv_cac(con, Params(start=month("2024-01"), end=month("2024-06"),
                                 extra={"gross_margin": 0.8}))
        jan, feb, mar = (row(df, m) for m in ("2024-01", "2024-02", "2024-03"))
        assert (jan.marketing_spend, jan.new_customers, jan.cac) == (30000, 3, 10000)
        assert jan.cac_payback_months == pytest.approx(10000 / (25000 / 3 * 0.8))
        assert pd.isna(feb.cac)  # spend but no new customer: empty, not infinite
        assert (mar.cac, mar.cac_payback_months) == (40000, pytest.approx(2.5))
        assert pd.isna(mar.ltv_to_cac)  # LTV empty in March
        jun = row(df, "2024-06")
        assert pd.isna(jun.cac) and jun.ltv == pytest.approx(135000)
    finally:
        con.execute("ROLLBACK")


def test_marketing_spend_replaces_same_month_and_rejects_bad_rows():
    acct = Account()
    save_marketing_spend(acct.con, [{"month": "2024-01", "amount": "100", "currency": "usd"}])
    save_marketing_spend(acct.con, pd.DataFrame([{"month": "2024-01", "amount": "150.5", "currency": "usd"},
                                                 {"month": "2024-01", "amount": "5000", "currency": "jpy"}]))
    assert sorted(acct.con.execute("SELECT currency, amount FROM marketing_spend").fetchall()) == \
        [("jpy", 5000), ("usd", 15050)]
    with pytest.raises(MetricError, match="row 2: month"):
        save_marketing_spend(acct.con, [{"month": "2024-02", "amount": 1, "currency": "usd"},
                                        {"month": "Feb", "amount": 1, "currency": "usd"}])
    with pytest.raises(MetricError, match="amount"):
        save_marketing_spend(acct.con, [{"month": "2024-02", "amount": "-3", "currency": "usd"}])
    assert acct.con.execute("SELECT count(*) FROM marketing_spend").fetchall() == [(2,)]
