"""The Stripe read client: headers, retries, back-off, clear errors, pacing."""
import json
import threading
import time
from contextlib import contextmanager

import pytest
import stripe

from etl import client as client_module
from etl import ratelimit
from etl.client import AuthError, NotAvailable, PermissionDenied, ServerError, StripeHTTP, Unreachable, key_mode
from tests.support.servers import QuietHandler, free_port, serving

KEY = "sk_test_client_secret_123"


@contextmanager
def scripted(answers):
    """A loopback server answering each request with the next (status, headers, body)."""
    seen = []

    class Handler(QuietHandler):
        def do_GET(self):
            seen.append({"path": self.path, "headers": dict(self.headers)})
            status, headers, body = answers[min(len(seen), len(answers)) - 1]
            self.answer(status, json.dumps(body).encode(), headers)

    with serving(Handler, poll_interval=0.05) as base:
        yield base, seen


OK = (200, {}, {"object": "list", "data": [{"id": "cus_1"}], "has_more": False})


def error(status, message="boom", **headers):
    return (status, headers, {"error": {"message": message, "type": "api_error"}})


@pytest.fixture
def sleeps(monkeypatch):
    """Record back-off delays instead of sleeping them."""
    delays = []
    monkeypatch.setattr(client_module, "backoff_sleep", delays.append)
    return delays


def test_sends_stripe_headers_and_parses_the_page():
    with scripted([OK]) as (base, seen):
        page = StripeHTTP(KEY, base).get("/v1/customers", {"limit": 100, "created[gte]": 5})
    assert page.data["data"] == [{"id": "cus_1"}]
    assert seen[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert seen[0]["headers"]["Stripe-Version"] == stripe.api_version
    assert "created%5Bgte%5D=5" in seen[0]["path"]


def test_retries_server_errors_and_counts_them(sleeps):
    with scripted([error(500), error(503), OK]) as (base, seen):
        http = StripeHTTP(KEY, base)
        http.get("/v1/customers", label="customers")
    assert len(seen) == 3 and len(sleeps) == 2
    assert http.stats["customers"] == {"requests": 3, "retries": 2}


def test_plain_429_is_retried_after_retry_after(sleeps):
    with scripted([error(429, **{"Retry-After": "7"}), OK]) as (base, seen):
        http = StripeHTTP(KEY, base)
        http.get("/v1/charges")
    assert len(seen) == 2 and sleeps[0] >= 7
    assert http.concurrency.limit < http.concurrency.maximum  # backed off


def test_should_retry_header_overrides_the_status(sleeps):
    with scripted([error(500, **{"Stripe-Should-Retry": "false"})]) as (base, seen):
        with pytest.raises(ServerError):
            StripeHTTP(KEY, base).get("/v1/charges")
    assert len(seen) == 1
    with scripted([error(400, **{"Stripe-Should-Retry": "true"}), OK]) as (base, seen):
        StripeHTTP(KEY, base).get("/v1/charges")
    assert len(seen) == 2


def test_waiting_out_rate_limits_leaves_the_retries_for_server_errors(sleeps):
    answers = [error(429)] * 5 + [error(500), OK]
    with scripted(answers) as (base, seen):
        page = StripeHTTP(KEY, base, max_retries=2).get("/v1/customers")
    assert page.data["data"] == [{"id": "cus_1"}]
    assert len(seen) == 7


def test_gives_up_after_the_retry_budget(sleeps):
    with scripted([error(502)]) as (base, seen):
        with pytest.raises(ServerError, match="after retries"):
            StripeHTTP(KEY, base, max_retries=3).get("/v1/invoices")
    assert len(seen) == 4
    # Backoff grows (full jitter stays below the doubling cap).
    assert max(sleeps) <= 0.5 * 2 ** 2 + 0.5


@pytest.mark.parametrize("status, kind, hint", [
    (401, AuthError, "STRIPE_API_KEY"),
    (403, PermissionDenied, "restricted"),
    (404, NotAvailable, "not offered"),
])
def test_final_errors_are_one_clear_line_without_the_key(status, kind, hint):
    answer = error(status, f"Invalid API Key provided: {KEY}")
    with scripted([answer]) as (base, seen):
        with pytest.raises(kind) as raised:
            StripeHTTP(KEY, base).get("/v1/disputes")
    message = str(raised.value)
    assert hint in message and KEY not in message and "\n" not in message
    assert len(seen) == 1


def test_unreachable_api_is_named_without_the_key(sleeps):
    base = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    with pytest.raises(Unreachable) as raised:
        StripeHTTP(KEY, base, max_retries=2).get("/v1/customers")
    assert base in str(raised.value) and KEY not in str(raised.value)
    assert len(sleeps) == 2


def test_missing_key_is_refused_before_any_request():
    with pytest.raises(AuthError, match="STRIPE_API_KEY"):
        StripeHTTP("")


def test_key_mode_and_default_rates():
    assert key_mode("sk_live_x") == key_mode("rk_live_x") == "live"
    assert key_mode("sk_test_x") == key_mode("rk_test_x") == "test"
    live, test = StripeHTTP("rk_live_x").limiters.total, StripeHTTP("sk_test_x").limiters.total
    # the most that can fall in one second, its rate plus its burst, is the limit
    assert (live.rate + live.burst, test.rate + test.burst) == (100, 25)
    assert 20 <= StripeHTTP("rk_live_x").limiters.endpoint_rate <= 25


def test_scrub_hides_any_key_shaped_text():
    http = StripeHTTP(KEY)
    assert http.scrub(f"bad {KEY} and rk_live_abcDEF123") == "bad [key] and [key]"


def test_rate_limiter_spaces_requests(monkeypatch):
    clock = {"now": 0.0}
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(ratelimit.time, "sleep",
                        lambda s: clock.__setitem__("now", clock["now"] + s))
    limiter = ratelimit.RateLimiter(rate=25, burst=5)
    for _ in range(105):
        limiter.acquire()
    # 5 from the burst, then 100 at 25/s: four seconds of (simulated) waiting.
    assert clock["now"] == pytest.approx(4.0, abs=0.05)


def test_rate_limiter_serves_higher_priority_first(monkeypatch):
    # Each leaving head must wake the next: no safety-net timeout to lean on.
    monkeypatch.setattr(ratelimit, "WAKE_FALLBACK_SECONDS", 600)
    limiter = ratelimit.RateLimiter(rate=0.01, burst=1)
    limiter.acquire()  # the one token: now everyone queues
    served = []

    def request(priority):
        limiter.acquire(priority)
        served.append(priority)

    threads = [threading.Thread(target=request, args=(p,)) for p in (1, 3, 2)]
    for thread in threads:
        thread.start()
        while len(limiter._queue) < threads.index(thread) + 1:  # queued in this order
            time.sleep(0.001)
    limiter.rate = 1000.0  # tokens flow again
    for thread in threads:
        thread.join(timeout=10)

    assert served == [3, 2, 1]


def test_adaptive_concurrency_halves_on_rate_limit_and_grows_back(monkeypatch):
    clock = {"now": 100.0}
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock["now"])
    gate = ratelimit.AdaptiveConcurrency(maximum=8, grow_after=3)
    gate.rate_limited()
    gate.rate_limited()  # the same burst of 429s: one signal
    assert gate.limit == 4
    clock["now"] += 1.5
    gate.rate_limited()
    assert gate.limit == 2
    for _ in range(6):
        gate.succeeded()
    assert gate.limit == 4
    for _ in range(10):
        clock["now"] += 1.5
        gate.rate_limited()
    assert gate.limit == 1


def test_a_burst_of_rate_limits_slows_down_once(monkeypatch):
    clock = {"now": 100.0}
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock["now"])
    limiter = ratelimit.RateLimiter(rate=100)
    for _ in range(20):
        limiter.slow_down()
    assert limiter.rate == pytest.approx(70)
    clock["now"] += 1.5
    limiter.slow_down()
    assert limiter.rate == pytest.approx(49)
