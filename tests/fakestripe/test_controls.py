"""The /_fake controls tests use to change the account between syncs."""
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from fakestripe.testing import configure, hold_after, hold_state, lift_hold, put_objects, reset_stats, stats
from tests.fakestripe.http import get, ids
from tests.support.servers import ROOT


def test_upsert_adds_and_replaces_by_id_in_created_order(fake_stripe):
    put_objects(fake_stripe, [{"id": "cus_a", "object": "customer", "created": 1},
                              {"id": "cus_b", "object": "customer", "created": 2}])
    assert ids(get(fake_stripe, "/v1/customers")[2]) == ["cus_b", "cus_a"]
    put_objects(fake_stripe, [{"id": "cus_a", "object": "customer", "created": 3, "email": "new"}])
    body = get(fake_stripe, "/v1/customers")[2]
    assert ids(body) == ["cus_a", "cus_b"]
    assert body["data"][0]["email"] == "new"


def test_upsert_routes_by_object_field(fake_stripe):
    configure(fake_stripe, now=100)  # the event is within the account's 30 days
    put_objects(fake_stripe, [
        {"id": "issfr_1", "object": "radar.early_fraud_warning", "created": 5, "charge": "ch_1"},
        {"id": "evt_1", "object": "event", "created": 6, "type": "customer.created"},
        {"id": "sub_1", "object": "subscription", "created": 7, "status": "active"},
    ])
    assert ids(get(fake_stripe, "/v1/radar/early_fraud_warnings")[2]) == ["issfr_1"]
    assert ids(get(fake_stripe, "/v1/events")[2]) == ["evt_1"]
    assert get(fake_stripe, "/v1/radar/early_fraud_warnings/issfr_1")[2]["charge"] == "ch_1"
    # a cached filter index must see later upserts
    assert ids(get(fake_stripe, "/v1/subscriptions", {"status": "active"})[2]) == ["sub_1"]
    put_objects(fake_stripe, [{"id": "sub_2", "object": "subscription", "created": 8,
                               "status": "active"}])
    assert ids(get(fake_stripe, "/v1/subscriptions", {"status": "active"})[2]) == ["sub_2", "sub_1"]


def test_upserted_invoice_gets_truncated_lines(fake_stripe):
    lines = [{"id": f"il_{n:02d}", "object": "line_item"} for n in range(12)]
    put_objects(fake_stripe, [{"id": "in_1", "object": "invoice", "created": 1,
                               "lines": {"object": "list", "data": lines}}])
    invoice = get(fake_stripe, "/v1/invoices/in_1")[2]
    assert len(invoice["lines"]["data"]) == 10 and invoice["lines"]["has_more"] is True
    assert ids(get(fake_stripe, "/v1/invoices/in_1/lines", {"starting_after": "il_09"})[2]) == [
        "il_10", "il_11"]


def test_unroutable_object_is_refused(fake_stripe):
    request = urllib.request.Request(fake_stripe + "/_fake/objects", method="POST",
                                     data=json.dumps([{"id": "x_1", "object": "widget"}]).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400


def test_stats_count_requests_and_reset(fake_stripe):
    get(fake_stripe, "/v1/customers")
    get(fake_stripe, "/v1/customers/cus_nope")
    get(fake_stripe, "/v1/customers", key="sk_test_bad")
    counted = stats(fake_stripe)
    assert counted["requests"] == 3
    assert counted["endpoints"] == {"GET /v1/customers": 1, "GET /v1/customers/{id}": 1}
    assert counted["unauthorized"] == 1
    assert 0 < counted["private_rss_mb"] <= counted["peak_rss_mb"]
    reset_stats(fake_stripe)
    assert stats(fake_stripe)["requests"] == 0


def test_config_changes_apply_and_never_show_the_key(fake_stripe):
    shown = configure(fake_stripe, latency_ms=5, error_rate=0)
    assert shown["latency_ms"] == 5
    assert "api_key" not in shown
    request = urllib.request.Request(fake_stripe + "/_fake/config", method="POST",
                                     data=json.dumps({"api_key": "sk_live_x"}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400


def test_a_hold_answers_n_requests_and_keeps_the_next_waiting_until_lifted(fake_stripe):
    put_objects(fake_stripe, [{"id": "cus_a", "object": "customer", "created": 1}])
    hold_after(fake_stripe, 2)
    statuses: list[int] = []
    clients = [threading.Thread(target=lambda: statuses.append(get(fake_stripe, "/v1/customers")[0]))
               for _ in range(3)]
    for client in clients:
        client.start()
    while hold_state(fake_stripe)["held"] < 1:
        time.sleep(0.005)
    time.sleep(0.2)  # the held request stays held: nothing answers it meanwhile
    assert hold_state(fake_stripe) == {"after": 2, "admitted": 2, "answered": 2, "held": 1}
    assert statuses == [200, 200]

    assert lift_hold(fake_stripe) == {"after": None}
    for client in clients:
        client.join(timeout=30)
    assert statuses == [200, 200, 200]
    assert get(fake_stripe, "/v1/customers")[0] == 200  # no hold: answered at once


def test_a_hold_of_nonsense_is_refused(fake_stripe):
    for after in (-1, "3", True, 1.5):
        with pytest.raises(urllib.error.HTTPError) as refused:
            hold_after(fake_stripe, after)
        assert refused.value.code == 400
    assert hold_state(fake_stripe) == {"after": None}


def test_cli_prints_its_url_first_and_serves_loopback(tmp_path):
    (tmp_path / "customers.jsonl").write_text('{"id":"cus_1","object":"customer","created":1}\n')
    proc = subprocess.Popen([sys.executable, "-m", "fakestripe", "--data", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert ids(get(url, "/v1/customers")[2]) == ["cus_1"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_without_data_directory_says_so_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fakestripe", "--data", str(tmp_path / "none")],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no data directory" in done.stderr


def test_cli_with_a_malformed_line_says_so_in_one_line(tmp_path):
    (tmp_path / "customers.jsonl").write_text('{"id":"cus_1","object":"customer"}\n{not json\n')
    done = subprocess.run([sys.executable, "-m", "fakestripe", "--data", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith("fakestripe: cannot load") and "Traceback" not in done.stderr
