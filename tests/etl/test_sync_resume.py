"""Kill a sync at any point, or feed it faults: it still ends with the clean result."""
import os
import signal
import subprocess
import sys
import time

from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import (
    configure,
    delete_object,
    hold_after,
    hold_state,
    lift_hold,
    put_objects,
    reset_stats,
    serve,
    stats,
)
from tests.etl import sync_account
from tests.etl.sync_account import event
from tests.etl.synced import DATA_TABLES, query, rows, sync
from tests.support.servers import ROOT


def _start_sync(base, db):
    env = {**os.environ, "STRIPE_API_KEY": DEFAULT_API_KEY, "STRIPE_API_BASE": base,
           "TALLY_SYNC_RATE": "200"}
    return subprocess.Popen([sys.executable, "-m", "etl", "sync", "--db", str(db)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _killed_after(base, db, requests: int) -> None:
    """Start a sync, let the server answer exactly `requests` of its requests, SIGKILL it while
    it waits for the next one. The server holds that answer, so the kill lands there however
    fast or slow the machine is."""
    hold_after(base, requests)
    proc = _start_sync(base, db)
    try:
        while not (state := hold_state(base))["held"] or state["answered"] < requests:
            assert proc.poll() is None, f"the sync ended within {requests} requests: {state}"
            time.sleep(0.005)
        assert state["answered"] == requests and state["admitted"] == requests, state
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        lift_hold(base)


def test_sigkilled_syncs_resume_to_exactly_the_clean_result(tmp_path):
    account = sync_account.build(customers=200)
    with serve(sync_account.write(account, tmp_path / "account"), latency_ms=20) as base:
        clean = tmp_path / "clean.duckdb"
        sync(base, clean)
        crashed = tmp_path / "crashed.duckdb"
        for requests in (3, 14, 30):
            _killed_after(base, crashed, requests)

        final = _start_sync(base, crashed)
        assert final.wait(timeout=120) == 0, final.stderr.read().decode()
        # Each killed run is found interrupted by the next one, and the last one completes.
        assert query(crashed, "SELECT status, count(*) FROM sync_runs GROUP BY ALL ORDER BY ALL") \
            == [("interrupted", 3), ("ok", 1)]
        for table in DATA_TABLES:
            assert rows(crashed, table) == rows(clean, table), table

        # Then changes arrive, and the incremental run is killed too.
        _change_account(base, account)
        sync(base, clean)
        for requests in (3, 12):
            _killed_after(base, crashed, requests)
        final = _start_sync(base, crashed)
        assert final.wait(timeout=120) == 0, final.stderr.read().decode()

    assert query(crashed, "SELECT status, count(*) FROM sync_runs GROUP BY ALL ORDER BY ALL") \
        == [("interrupted", 5), ("ok", 2)]
    assert query(crashed, "SELECT mode FROM sync_runs ORDER BY started_at DESC LIMIT 1") == \
        [("incremental",)]
    for table in DATA_TABLES:
        assert rows(crashed, table) == rows(clean, table), table


def _change_account(base, account):
    now = int(time.time())
    new = [{"id": f"cus_new{i}", "object": "customer", "created": now, "email": f"n{i}@example.com",
            "livemode": False} for i in range(150)]
    canceled = {**account["subscriptions"][8], "status": "canceled", "canceled_at": now}
    put_objects(base, new + [canceled])
    delete_object(base, "customer", "cus_0005")
    put_objects(base, [event(f"evt_new{i}", "customer.created", c, now) for i, c in enumerate(new)]
                + [event("evt_cancel", "customer.subscription.deleted", canceled, now),
                   event("evt_gone", "customer.deleted", account["customers"][5], now)])


def test_server_errors_and_rate_limits_end_with_the_same_database(tmp_path):
    account = sync_account.build(customers=150)
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        clean = tmp_path / "clean.duckdb"
        sync(base, clean)
        # Seed 7 draws five 500s among the first twenty requests: a small
        # account makes few, and the test must see faults.
        configure(base, error_rate=0.1, seed=7, rate_limit=8, endpoint_rate_limit=2)
        reset_stats(base)
        faulty = tmp_path / "faulty.duckdb"

        summary = sync(base, faulty)
        served = stats(base)

    assert summary.status == "ok", summary.message
    assert served["server_errors"] > 0 and served["rate_limited"] > 0
    # Every rate limit was retried (a failed filter probe may give up on a 500).
    assert summary.retries >= served["rate_limited"] and summary.retries > 0
    for table in DATA_TABLES:
        assert rows(faulty, table) == rows(clean, table), table
