"""fakestripe's writes: idempotent replays and a clear refusal of writes it does not model."""
import json
import urllib.error
import urllib.request

import pytest

from fakestripe.testing import DEFAULT_API_KEY, put_objects, serve, stats


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("writes")) as url:
        put_objects(url, [{"id": "cus_w", "object": "customer", "created": 1, "balance": 0}])
        yield url


def _post(base, path, body, key=None):
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}",
               "Content-Type": "application/x-www-form-urlencoded"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + path, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_repeated_idempotency_key_replays_the_first_answer(base):
    path = "/v1/customers/cus_w/balance_transactions"
    first = _post(base, path, "amount=-500&currency=usd", key="k1")
    again = _post(base, path, "amount=-500&currency=usd", key="k1")
    other = _post(base, path, "amount=-500&currency=usd", key="k2")
    assert first == again and first[0] == 200
    assert other[1]["id"] != first[1]["id"]
    assert other[1]["ending_balance"] == -1000
    assert stats(base)["endpoints"]["POST /v1/customers/{id}/balance_transactions"] == 3


def test_a_write_it_does_not_model_is_refused_clearly(base):
    status, body = _post(base, "/v1/refunds", "charge=ch_1")
    assert status == 400
    assert "does not support POST /v1/refunds" in body["error"]["message"]


def test_paying_a_missing_invoice_is_a_404(base):
    status, body = _post(base, "/v1/invoices/in_missing/pay", "")
    assert status == 404 and body["error"]["code"] == "resource_missing"
