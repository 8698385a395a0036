"""On generated demo accounts: MRR equals the generator's ground truth for every
month and customer, customer counts match, and the movement identity holds."""
import datetime as dt

import pandas as pd
import pytest

from etl.demo import generate_database
from etl.load import connect
from metrics.common import add_months
from metrics.movements import mrr_movements
from metrics.mrr.by_day import mrr_daily
from metrics.mrr.by_month import mrr
from metrics.mrr.chain_sql import mrr_ctes
from metrics.params import Params

ACCOUNTS = [(1, 60, 24), (2, 90, 30), (5, 40, 14)]  # (seed, customers, months)


@pytest.fixture(scope="module", params=ACCOUNTS, ids=lambda a: f"seed{a[0]}-{a[1]}c-{a[2]}m")
def demo(request, tmp_path_factory):
    seed, customers, months = request.param
    path = str(tmp_path_factory.mktemp("demo") / f"demo{seed}.duckdb")
    generate_database(path, customers=customers, seed=seed, months=months)
    con = connect(path, read_only=True)
    yield con
    con.close()


def truth_range(con):
    return con.execute("SELECT min(month), max(month) FROM demo_truth_mrr").fetchall()[0]


def test_mrr_per_customer_and_month_equals_truth(demo):
    first, last = truth_range(demo)
    sql = mrr_ctes(Params(), last) + f"""
SELECT period AS month, customer_id, currency, mrr FROM customer_points
WHERE period BETWEEN DATE '{first}' AND DATE '{last}'"""
    mine = demo.execute(sql).df()
    truth = demo.execute("SELECT month, customer_id, lower(currency) AS currency, mrr "
                         "FROM demo_truth_mrr").df()
    both = mine.merge(truth, on=["month", "customer_id", "currency"], how="outer",
                      suffixes=("", "_truth"), indicator=True)
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"].head()
    assert (both["mrr"] - both["mrr_truth"]).abs().max() < 0.01
    assert len(truth) > 100


def test_monthly_totals_and_customer_counts_match_truth(demo):
    first, last = truth_range(demo)
    df = mrr(demo, Params(start=first, end=last))
    truth = demo.execute("""SELECT month, lower(currency) AS currency, sum(mrr) AS mrr,
                                   count(DISTINCT customer_id) AS customers
                            FROM demo_truth_mrr GROUP BY ALL""").df()
    both = df.merge(truth, on=["month", "currency"], how="outer", suffixes=("", "_truth"))
    assert len(both) == len(truth) == len(df)
    assert (both["customers"] == both["customers_truth"]).all()
    assert (both["mrr"] - both["mrr_truth"]).abs().max() < 0.5


@pytest.mark.parametrize("currency", [None, "usd"])
def test_movement_identity_every_month_and_currency(demo, currency):
    first, last = truth_range(demo)
    df = mrr_movements(demo, Params(start=first, end=last, currency=currency))
    expected = (df["start_mrr"] + df["new"] + df["reactivation"] + df["expansion"]
                - df["contraction"] - df["churn"] + df["fx"])
    assert (expected - df["end_mrr"]).abs().max() < 1e-4
    # Each month's start is the previous month's end.
    for _, group in df.groupby("currency"):
        group = group.sort_values("month")
        gaps = group["start_mrr"].iloc[1:].values - group["end_mrr"].iloc[:-1].values
        assert abs(gaps).max() < 1e-4
    assert df["new"].sum() > 0 and df["churn"].sum() > 0


def test_daily_series_agrees_with_month_ends(demo):
    """The daily (change-based) and monthly (point-based) chains give the same
    MRR and customers on each month's last day."""
    first, last = truth_range(demo)
    start = add_months(last, -3)
    days = mrr_daily(demo, Params(start=start, end=add_months(last, 1) - dt.timedelta(days=1)))
    month_ends = days[(days["date"] + pd.Timedelta(days=1)).dt.day == 1].copy()
    month_ends["month"] = month_ends["date"].dt.to_period("M").dt.to_timestamp()
    months = mrr(demo, Params(start=start, end=last))
    both = months.merge(month_ends, on=["month", "currency"], suffixes=("", "_daily"))
    assert len(both) == len(months) > 0
    assert (both["mrr"] - both["mrr_daily"]).abs().max() < 0.01
    assert (both["customers"] == both["customers_daily"]).all()
    weeks = mrr_daily(demo, Params(start=start, end=last, granularity="week"))
    assert (weeks["date"].dt.weekday == 0).all() and len(weeks) >= 12
