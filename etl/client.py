"""A thin, fast, polite HTTP client for Stripe's read API.

Why not `stripe.StripeClient.raw_request`: it parses every body twice (stdlib
json into OrderedDicts inside `StripeResponse`), raises on a 429 before we can
read `Retry-After`, and retries a plain 429 not at all. Bulk syncing is mostly
100-object list pages, so we send the same request the library sends
(Authorization, Stripe-Version = the pinned `stripe.api_version`, a
User-Agent) through one urllib3 connection pool shared by the fetch threads
(`requests` costs about a millisecond of CPU per call more) and parse with
orjson.

Every request passes the rate limiter (account and endpoint buckets, which
slow down on a 429 and recover on success) and the adaptive concurrency gate;
429, 409 and 5xx are retried with exponential back-off and full jitter,
honouring `Stripe-Should-Retry` and `Retry-After`. The API key never appears in an error message.
"""
from __future__ import annotations

import random
import re
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

import orjson
import urllib3

from etl.ratelimit import ACCOUNT_BURST, AdaptiveConcurrency, EndpointLimiters
from etl.stripe_version import API_VERSION, LIBRARY_VERSION

DEFAULT_BASE = "https://api.stripe.com"
USER_AGENT = f"Tally-sync/1.0 stripe-python/{LIBRARY_VERSION}"
RATE_BY_MODE = {"live": 100.0, "test": 25.0}
ENDPOINT_RATE = 25.0
# What we aim at. The account's limiter lets ACCOUNT_BURST requests through
# at once (etl/ratelimit.py), so it runs at the limit minus that burst: at
# most the limit falls in any one second the server counts (98 + 2 live,
# 23 + 2 in test mode; a request that arrives late may still tip a second
# over now and then, and is retried). An endpoint
# runs at its whole limit: on an account whose invoices carry many lines,
# `/v1/invoices/{id}/lines` alone sets the sync's pace, and each request
# below its limit is time lost; its send window (etl/ratelimit.py) keeps
# any second the server counts within the limit.
CONNECT_RETRIES = 3  # a refused connection rarely heals within seconds: say so soon
RATE_LIMIT_RETRIES = 20  # a 429 passes within a second or two: wait it out rather than fail the sync
KEY_PATTERN = re.compile(r"\b[sr]k_(live|test)_[A-Za-z0-9_]+")


class StripeSyncError(Exception):
    """A failure worth one clear line to the user."""


class AuthError(StripeSyncError):
    pass


class PermissionDenied(StripeSyncError):
    pass


class NotAvailable(StripeSyncError):
    """The API does not offer this endpoint (404), e.g. localstripe's missing types."""


class BadRequest(StripeSyncError):
    pass


class Unreachable(StripeSyncError):
    pass


class ServerError(StripeSyncError):
    pass


class NotStripe(Unreachable):
    """STRIPE_API_BASE answers, but not as Stripe does: retrying or resuming will not help."""


def key_mode(api_key: str) -> str:
    """`live` or `test` from the key prefix (secret sk_ or restricted rk_)."""
    return "live" if api_key.startswith(("sk_live_", "rk_live_")) else "test"


@dataclass
class Response:
    body: bytes
    api_version: str | None

    @cached_property
    def data(self) -> dict:
        return orjson.loads(self.body)


class StripeHTTP:
    def __init__(self, api_key: str, api_base: str | None = None, *, rate: float | None = None,
                 endpoint_rate: float = ENDPOINT_RATE, max_concurrency: int = 40,
                 max_retries: int = 8, backoff_base: float = 0.5, backoff_cap: float = 20.0,
                 timeout: float = 60.0):
        if not api_key:
            raise AuthError("No Stripe API key: set STRIPE_API_KEY to a secret (sk_...) "
                            "or restricted (rk_...) key.")
        self._key = api_key
        self.base = checked_base(api_base or DEFAULT_BASE)
        self.mode = key_mode(api_key)
        rate = rate or RATE_BY_MODE[self.mode]
        self.limiters = EndpointLimiters(max(1.0, rate - ACCOUNT_BURST), min(rate, endpoint_rate))
        self.concurrency = AdaptiveConcurrency(max_concurrency)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.stats: dict[str, dict[str, int]] = defaultdict(lambda: {"requests": 0, "retries": 0})
        self._stats_lock = threading.Lock()
        self._http = urllib3.PoolManager(maxsize=max_concurrency + 8, block=False, retries=False,
                                         timeout=urllib3.Timeout(connect=10, read=timeout),
                                         headers={"Authorization": f"Bearer {api_key}",
                                                  "Stripe-Version": API_VERSION,
                                                  "User-Agent": USER_AGENT})

    # --- public ------------------------------------------------------------

    def get(self, path: str, params: dict | None = None, *, label: str | None = None,
            max_retries: int | None = None, priority: float = 0.0,
            endpoint: str | None = None) -> Response:
        """GET a JSON resource, retrying what Stripe says is retryable.

        Requests of higher `priority` get the account's rate limit first.
        `endpoint` names the limit the request counts against, where its path
        does not tell (a retrieve by an id of the account's own choosing).
        """
        endpoint = endpoint or _endpoint(path)
        retries = self.max_retries if max_retries is None else max_retries
        # Rate limits and failures count apart: waiting out 429s must not use
        # up the retries a 500 that follows them deserves.
        attempts = {"limited": 0, "failed": 0}
        while True:
            kind = "failed"
            self._count(label, "requests")
            try:
                resp = self._send(path, params, priority, endpoint)
            except urllib3.exceptions.HTTPError as exc:
                if attempts["failed"] >= min(retries, CONNECT_RETRIES):
                    raise Unreachable(f"Cannot reach the Stripe API at {self.base} "
                                      f"({type(exc).__name__}); check the network or STRIPE_API_BASE.") from None
                delay = self._backoff(attempts["failed"])
            else:
                if resp.status < 300:
                    if not _looks_like_json(resp.data):
                        raise self._not_stripe(resp, path)
                    self.concurrency.succeeded()
                    self.limiters.speed_up(endpoint)
                    return Response(resp.data, resp.headers.get("Stripe-Version"))
                if resp.status == 429:
                    self.limiters.slow_down(endpoint)
                    kind = "limited"
                retry_in = self._retry_delay(resp, attempts[kind], retries)
                if retry_in is None:
                    raise self._error(resp, path)
                delay = retry_in
            attempts[kind] += 1
            self._count(label, "retries")
            backoff_sleep(delay)

    def total(self, key: str) -> int:
        with self._stats_lock:
            return sum(s[key] for s in self.stats.values())

    def scrub(self, text: str) -> str:
        return KEY_PATTERN.sub("[key]", text.replace(self._key, "[key]"))

    # --- internals ---------------------------------------------------------

    def _send(self, path: str, params: dict | None, priority: float,
              endpoint: str) -> urllib3.BaseHTTPResponse:
        self.limiters.acquire(endpoint, priority)
        with self.concurrency:
            return self._http.request("GET", self.base + path, fields=params)

    def _retry_delay(self, resp: urllib3.BaseHTTPResponse, attempt: int,
                     retries: int) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        should = resp.headers.get("Stripe-Should-Retry")
        if resp.status == 429:
            self.concurrency.rate_limited()
            retries = max(retries, RATE_LIMIT_RETRIES)  # a rate limit passes: wait it out
        if attempt >= retries or should == "false":
            return None
        if should != "true" and not (resp.status in (409, 429) or resp.status >= 500):
            return None
        delay = self._backoff(attempt)
        retry_after = resp.headers.get("Retry-After")
        if retry_after:
            try:
                delay = max(delay, min(float(retry_after), self.backoff_cap * 3))
            except ValueError:
                pass
        return delay

    def _backoff(self, attempt: int) -> float:
        # Full jitter: concurrent workers that failed together retry apart.
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt)) + \
            self.backoff_base / 4

    def _not_stripe(self, resp: urllib3.BaseHTTPResponse, path: str) -> NotStripe:
        kind = resp.headers.get("Content-Type", "no content type").split(";")[0]
        start = " ".join(resp.data[:60].decode(errors="replace").split())
        return NotStripe(self.scrub(f"{self.base} is not the Stripe API: GET {path} answered HTTP "
                                    f"{resp.status} {kind} ({start!r}), where Stripe answers JSON; "
                                    "check STRIPE_API_BASE."))

    def not_a_list(self, path: str, body: bytes) -> NotStripe:
        start = " ".join(body[:60].decode(errors="replace").split())
        return NotStripe(self.scrub(f"{self.base} is not the Stripe API: GET {path} answered JSON "
                                    f"({start!r}) without the \"data\" of a Stripe list; check STRIPE_API_BASE."))

    def _error(self, resp: urllib3.BaseHTTPResponse, path: str) -> StripeSyncError:
        try:
            message = orjson.loads(resp.data)["error"]["message"]
        except Exception:
            if resp.status < 500 and resp.status != 404:  # localstripe's missing types are plain 404s
                return self._not_stripe(resp, path)  # Stripe's 4xx always carry a JSON error
            message = resp.data[:200].decode(errors="replace").strip() or resp.reason
        message = self.scrub(str(message))
        code = resp.status
        if code == 401:
            return AuthError("Stripe rejected the API key (401): check STRIPE_API_KEY "
                             "(a secret sk_... or restricted rk_... key of the right account and mode).")
        if code == 403:
            return PermissionDenied(f"The API key may not read {path} (403): give the restricted "
                                    "key read access to it, or use a secret key.")
        if code == 404:
            return NotAvailable(f"{path} is not offered by this API (404).")
        if code == 400:
            return BadRequest(f"Stripe refused {path} (400): {message}")
        return ServerError(f"Stripe kept failing on {path} (HTTP {code}) after retries: {message}")

    def _count(self, label: str | None, key: str) -> None:
        with self._stats_lock:
            self.stats[label or "other"][key] += 1


def checked_base(base: str) -> str:
    """STRIPE_API_BASE without a trailing slash, or one line on what is wrong with it."""
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StripeSyncError(f"STRIPE_API_BASE {base!r} is not a URL like https://api.stripe.com "
                              "(or http://127.0.0.1:PORT for a local fake); fix or unset it.")
    return base.rstrip("/")


def _looks_like_json(body: bytes) -> bool:
    # Every Stripe answer is a JSON object; a web page or a proxy's text is not.
    return body.lstrip()[:1] == b"{"


def backoff_sleep(seconds: float) -> None:
    """Wait before a retry (tests replace this to record the delays)."""
    time.sleep(seconds)


def _endpoint(path: str) -> str:
    """`/v1/invoices/in_1/lines` -> `/v1/invoices/lines`: Stripe limits per endpoint."""
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(p for i, p in enumerate(parts) if i < 2 or not _looks_like_id(p))


def _looks_like_id(part: str) -> bool:
    return bool(re.fullmatch(r"[a-z]+_[A-Za-z0-9]+", part)) and \
        any(ch.isdigit() or ch.isupper() for ch in part)
