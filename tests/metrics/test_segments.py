"""Segments by Stripe metadata: filters and splits on the known scenario (tests/metrics/scenario.py).

Metadata: customers A and B came through channel=partner, C is organic, D and F
carry no channel; sub_D is tier=gold. MRR (cents): Jan 25000 (A 10000, B 10000,
C 5000), Mar 35000 (A 10000, B 5000, D 20000), Apr 45000 (A 15000, B 5000,
C 5000, D 20000).
"""
import pytest

from metrics import METRICS
from metrics.churn import churn, cohorts
from metrics.common import MetricError
from metrics.movements import mrr_movements
from metrics.mrr.by_month import mrr
from metrics.params import Params
from metrics.segments import parse_where, segment_values, where_texts
from tests.metrics import scenario
from tests.metrics.builders import Account, month

RANGE = dict(start=month("2024-01"), end=month("2024-06"))
PARTNER = (("customer", "channel", ("partner",)),)


@pytest.fixture(scope="module")
def acct():
    acct = scenario.build()
    for name, channel in (("A", "partner"), ("B", "partner"), ("C", "organic")):
        acct.customer(f"cus_{name}", country="US", metadata={"channel": channel, "industry": "saas"})
    acct.subscription("sub_D", "cus_D", metadata={"tier": "gold"})
    return acct


def by_month(df, column):
    return {m.strftime("%Y-%m"): v for m, v in zip(df["month"], df[column])}


def test_customer_metadata_filters_mrr(acct):
    df = mrr(acct.con, Params(**RANGE, where=PARTNER))
    assert by_month(df, "mrr") == {"2024-01": 20000, "2024-02": 20000, "2024-03": 15000,
                                   "2024-04": 20000, "2024-05": 20000, "2024-06": 20000}
    assert set(df["customers"]) == {2}


def test_values_of_one_key_are_alternatives(acct):
    both = (("customer", "channel", ("partner", "organic")),)
    assert by_month(mrr(acct.con, Params(**RANGE, where=both)), "mrr")["2024-04"] == 25000


def test_not_set_picks_customers_without_the_key(acct):
    df = mrr(acct.con, Params(**RANGE, where=(("customer", "channel", ("",)),)))
    assert by_month(df, "mrr") == {"2024-03": 20000, "2024-04": 20000, "2024-05": 20000,
                                   "2024-06": 20000}


def test_filters_combine_with_country(acct):
    df = mrr(acct.con, Params(**RANGE, where=(("customer", "channel", ("", "organic")),),
                              countries=("DE",)))
    assert by_month(df, "mrr")["2024-04"] == 20000  # D only: C is in the US


def test_subscription_metadata(acct):
    df = mrr(acct.con, Params(**RANGE, where=(("subscription", "tier", ("gold",)),)))
    assert by_month(df, "mrr") == {"2024-03": 20000, "2024-04": 20000, "2024-05": 20000,
                                   "2024-06": 20000}


def test_product_metadata():
    acct = Account()
    acct.product("prod_a", metadata={"line": "core"})
    acct.product("prod_b", metadata={"line": "pro"})
    acct.price("basic", 1000, product="prod_a")
    acct.price("pro", 3000, product="prod_b")
    for customer, price in (("cus_x", "basic"), ("cus_y", "pro"), ("cus_z", "pro")):
        acct.customer(customer)
        acct.subscription(f"sub_{customer}", customer)
        acct.monthly_invoices(customer, f"sub_{customer}", price, "2024-01-01", 3)
    params = Params(start=month("2024-01"), end=month("2024-03"),
                    where=(("product", "line", ("pro",)),))
    df = mrr(acct.con, params)
    assert list(df["mrr"]) == [6000, 6000, 6000] and list(df["customers"]) == [2, 2, 2]


def test_movements_and_churn_follow_the_segment(acct):
    moves = mrr_movements(acct.con, Params(**RANGE, where=PARTNER))
    assert by_month(moves, "contraction")["2024-03"] == 5000  # B
    assert by_month(moves, "expansion")["2024-04"] == 5000  # A
    assert by_month(moves, "new")["2024-03"] == 0  # D is not a partner customer
    organic = churn(acct.con, Params(**RANGE, where=(("customer", "channel", ("organic",)),)))
    march = organic[organic["month"].dt.strftime("%Y-%m") == "2024-03"].iloc[0]
    assert (march.start_customers, march.churned_customers, march.churn) == (1, 1, 5000)
    assert march.logo_churn_rate == 1.0


def test_cohort_retention_follows_the_segment(acct):
    df = cohorts(acct.con, Params(**RANGE, where=PARTNER))
    march = df[(df["cohort"].dt.strftime("%Y-%m") == "2024-01") & (df["months_since"] == 2)].iloc[0]
    assert (march.customers, march.active_customers, march.cohort_mrr, march.mrr) == (2, 2, 20000, 15000)
    assert march.revenue_retention == pytest.approx(0.75)


def test_split_by_customer_metadata(acct):
    df = METRICS["mrr"].function(acct.con, Params(**RANGE, split_by=("customer", "channel")))
    april = df[df["month"].dt.strftime("%Y-%m") == "2024-04"]
    assert dict(zip(april["segment"], april["mrr"])) == {"partner": 20000, "organic": 5000,
                                                           "(not set)": 20000}
    assert list(df.columns[:3]) == ["month", "segment", "currency"]


def test_split_of_a_filtered_view_adds_up_to_it(acct):
    params = Params(**RANGE, where=(("customer", "channel", ("partner", "organic")),),
                    split_by=("customer", "channel"))
    df = METRICS["mrr_movements"].function(acct.con, params)
    assert set(df["segment"]) == {"partner", "organic"}
    march = df[df["month"].dt.strftime("%Y-%m") == "2024-03"]
    assert dict(zip(march["segment"], march["churn"])) == {"partner": 0, "organic": 5000}


def test_segment_values_most_common_first(acct):
    df = segment_values(acct.con, Params())
    rows = list(df.itertuples(index=False, name=None))
    assert rows == [("customer", "channel", "partner", 2), ("customer", "channel", "organic", 1),
                    ("customer", "industry", "saas", 3), ("subscription", "tier", "gold", 1)]


def test_where_text_round_trip():
    where = parse_where(["channel=partner", "customer.channel=organic", "subscription.tier=gold",
                         "product.line = pro"])
    assert where == (("customer", "channel", ("partner", "organic")),
                     ("subscription", "tier", ("gold",)), ("product", "line", ("pro",)))
    assert parse_where(where_texts(where)) == where
    # a dot that names no object type is part of a customer key
    assert parse_where(["plan.v2=yes"]) == (("customer", "plan.v2", ("yes",)),)


@pytest.mark.parametrize("text", ["channel", "channel=", "=partner", "subscription.=x"])
def test_malformed_where(text):
    with pytest.raises(MetricError, match="bad"):
        parse_where([text])
