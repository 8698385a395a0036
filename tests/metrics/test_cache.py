"""The month-end cache follows the database: any load changes the answer."""
from etl.load import connect
from metrics.movements import mrr_movements
from metrics.mrr import stage_cache
from metrics.mrr.by_month import mrr
from metrics.params import Params
from tests.metrics.builders import Account, month

JAN = Params(start=month("2024-01"), end=month("2024-01"))


def test_cached_results_follow_new_loads_and_filters(tmp_path):
    stage_cache.clear()
    acct = Account(connect(str(tmp_path / "tally.duckdb")))
    acct.customer("cus_1")
    acct.price("p", 5000)
    acct.price("q", 700, product="prod_q")
    acct.subscription("sub_1", "cus_1")
    first = acct.line("p", "2024-01-01", "2024-02-01") | {"id": "il_first"}
    acct.invoice("cus_1", "sub_1", [first], id="in_1")
    assert mrr(acct.con, JAN)["mrr"].tolist() == [5000]
    assert mrr_movements(acct.con, JAN)["new"].tolist() == [5000]
    doubled = acct.line("p", "2024-01-01", "2024-02-01", quantity=2) | {"id": "il_first"}
    acct.invoice("cus_1", "sub_1", [doubled, acct.line("q", "2024-01-01", "2024-02-01")], id="in_1")
    assert mrr(acct.con, JAN)["mrr"].tolist() == [10700]
    assert mrr(acct.con, Params(start=JAN.start, end=JAN.end, plans=("prod_q",)))["mrr"].tolist() == [700]
    acct.invoice("cus_1", "sub_1", [doubled], status="void", id="in_1")
    assert mrr(acct.con, JAN).empty


def test_customer_timeline_uses_the_cache_without_filling_it(tmp_path):
    from metrics.movements import customer_timeline
    stage_cache.clear()
    acct = Account(connect(str(tmp_path / "tally.duckdb")))
    acct.price("p", 5000)
    for name in ("a", "b"):
        acct.customer(f"cus_{name}")
        acct.subscription(f"sub_{name}", f"cus_{name}")
        acct.monthly_invoices(f"cus_{name}", f"sub_{name}", "p", "2024-01-01", 2)
    one = Params(start=month("2024-01"), end=month("2024-02"), extra={"customer_id": "cus_b"})
    alone = customer_timeline(acct.con, one)
    assert len(stage_cache._entries) == 0
    mrr(acct.con, JAN)  # a page fills the cache
    assert customer_timeline(acct.con, one).equals(alone)
    assert alone["movement"].tolist() == ["new", "unchanged"]


def test_daily_series_is_the_same_with_and_without_the_cache(tmp_path):
    import datetime as dt

    from metrics.mrr.by_day import mrr_daily
    stage_cache.clear()
    acct = Account(connect(str(tmp_path / "tally.duckdb")))
    acct.price("p", 5000)
    acct.customer("cus_1")
    acct.subscription("sub_1", "cus_1")
    acct.monthly_invoices("cus_1", "sub_1", "p", "2024-01-15", 2)
    days = Params(start=dt.date(2024, 1, 10), end=dt.date(2024, 3, 20))
    alone = mrr_daily(acct.con, days)
    mrr(acct.con, JAN)
    assert len(stage_cache._entries) == 1
    assert mrr_daily(acct.con, days).equals(alone)
    assert alone["date"].min().date() == dt.date(2024, 1, 15)
    assert alone["date"].max().date() == dt.date(2024, 3, 14)
