"""Goals and annotations are the user's data, like marketing spend and exchange rates:
a sync, full or incremental, keeps them (the sync writes only Stripe's tables)."""
import datetime as dt

import duckdb
import pytest

from etl.client import StripeHTTP
from etl.sync import run_sync
from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import serve
from metrics.annotations import add_annotation
from metrics.goals import clean_goal, save_goal
from metrics.marketing_spend import save_marketing_spend
from tally_ui import writes
from tests.etl import sync_account


@pytest.fixture
def served(tmp_path):
    with serve(sync_account.write(sync_account.build(), tmp_path / "account")) as base:
        yield base


def sync(base, db, **kwargs):
    return run_sync(str(db), client=StripeHTTP(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01), **kwargs)


def user_rows(db):
    with duckdb.connect(str(db), read_only=True) as con:
        return (con.execute("SELECT metric, target, currency, start_month, target_month, created_by "
                            "FROM goals").fetchall(),
                con.execute("SELECT day, text, created_by FROM annotations").fetchall(),
                con.execute("SELECT month, amount, currency, channel FROM marketing_spend").fetchall())


def test_a_full_sync_keeps_goals_annotations_and_spend(served, tmp_path):
    db = tmp_path / "tally.duckdb"
    sync(served, db)
    goal = clean_goal("mrr", "5000", "usd", "2026-01", "2027-06", today=dt.date(2026, 1, 1))

    def enter(con):  # what the dashboard's forms do, through its own write path
        save_goal(con, goal, "root")
        add_annotation(con, "2026-02-03", "price change", "vera")
        save_marketing_spend(con, [{"month": "2026-01", "amount": "1250.00", "currency": "usd", "channel": "podcasts"}])

    writes.write(str(db), enter)
    entered = user_rows(db)
    assert entered == ([("mrr", 500000, "usd", dt.date(2026, 1, 1), dt.date(2027, 6, 1), "root")],
                       [(dt.date(2026, 2, 3), "price change", "vera")],
                       [(dt.date(2026, 1, 1), 125000, "usd", "podcasts")])

    full = sync(served, db, full=True)
    assert full.mode == "full" and full.status == "ok"
    assert user_rows(db) == entered
    sync(served, db)  # and an incremental one after it
    assert user_rows(db) == entered
