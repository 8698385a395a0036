"""The aiohttp app: Stripe's read API over the fake store, plus /_fake test controls.

Every /v1 request goes through, in order: a hold set by /_fake/hold, auth (401), the rate limiter (429),
the configured latency, random faults (500), then the handler. Test controls
under /_fake need no key but answer loopback clients only.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from resource import RUSAGE_SELF, getrusage

import orjson
from aiohttp import web

from fakestripe import DEFAULT_API_KEY, errors, listing, writes
from fakestripe.hold import Hold
from fakestripe.resources import BY_OBJECT, BY_PATH, EVENT_RETENTION_SECONDS, Resource
from fakestripe.store import Store

LOOPBACK = ("127.0.0.1", "::1")


@dataclass
class Config:
    api_key: str = DEFAULT_API_KEY
    latency_ms: float = 0.0
    rate_limit: int = 0  # requests/s for the whole account; 0 = unlimited
    endpoint_rate_limit: int = 0  # requests/s per endpoint; 0 = unlimited
    error_rate: float = 0.0  # share of requests answered 500
    seed: int = 0
    now: float = 0.0  # the account's clock (unix seconds) for event retention; 0 = wall clock

    def update(self, changes: dict) -> None:
        settable = {f.name for f in fields(self)} - {"api_key"}
        for name, value in changes.items():
            if name not in settable:
                raise errors.unknown_parameter(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise errors.StripeError(400, f"{name} must be a number >= 0", param=name)
            setattr(self, name, type(getattr(self, name))(value))

    def public(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "api_key"}


class RateLimiter:
    """Fixed one-second windows, one for the account and one per endpoint.

    Only admitted requests count, so a client that backs off gets through.
    """

    def __init__(self, config: Config):
        self.config = config
        self.second = -1
        self.total = 0
        self.per_endpoint: Counter = Counter()

    def refuse(self, endpoint: str) -> str | None:
        """The Stripe-Rate-Limited-Reason to refuse with, or None to admit."""
        second = int(time.monotonic())
        if second != self.second:
            self.second, self.total = second, 0
            self.per_endpoint.clear()
        if self.config.rate_limit and self.total >= self.config.rate_limit:
            return "global-rate"
        limit = self.config.endpoint_rate_limit
        if limit and self.per_endpoint[endpoint] >= limit:
            return "endpoint-rate"
        self.total += 1
        self.per_endpoint[endpoint] += 1
        return None


class Stats:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.endpoints: Counter = Counter()
        self.rate_limited: Counter = Counter()  # by reason
        self.rate_limited_by_endpoint: Counter = Counter()
        self.server_errors = 0
        self.unauthorized = 0
        self.objects_served: Counter = Counter()  # by endpoint

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "endpoints": dict(self.endpoints),
            "rate_limited": sum(self.rate_limited.values()),
            "rate_limited_by_reason": dict(self.rate_limited),
            "rate_limited_by_endpoint": dict(self.rate_limited_by_endpoint),
            "server_errors": self.server_errors,
            "unauthorized": self.unauthorized,
            "objects_served": sum(self.objects_served.values()),
            "objects_served_by_endpoint": dict(self.objects_served),
        }


# --- routing ---------------------------------------------------------------

def route(tail: str) -> tuple[str, Resource, str | None]:
    """(kind, resource, id) for a path after /v1/; kind is list, retrieve or lines."""
    if tail in BY_PATH:
        return "list", BY_PATH[tail], None
    parent, _, last = tail.rpartition("/")
    if parent.startswith("invoices/") and last == "lines" and parent.count("/") == 1:
        return "lines", BY_PATH["invoices"], parent.split("/")[1]
    if parent in BY_PATH and last:
        return "retrieve", BY_PATH[parent], last
    raise KeyError(tail)


def endpoint_name(kind: str, resource: Resource) -> str:
    """Stripe rate-limits each operation apart: list, retrieve and lines differ."""
    suffix = {"list": "", "retrieve": "/{id}", "lines": "/{id}/lines"}[kind]
    return f"GET {resource.url}{suffix}"


def json_response(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


# --- the app ---------------------------------------------------------------

class FakeStripe:
    def __init__(self, store: Store, config: Config):
        self.store, self.config = store, config
        self.limiter = RateLimiter(config)
        self.stats = Stats()
        self.faults = random.Random(config.seed)
        self.request_ids = itertools.count(1)
        self.writes = writes.Writes(store, self.now)
        self.hold: Hold | None = None  # /_fake/hold: answer `after` requests, keep the rest waiting

    # /v1 -------------------------------------------------------------------

    async def api(self, request: web.Request) -> web.Response:
        hold = self.hold
        if hold is not None:
            await hold.admit()
        request_id = f"req_fake{next(self.request_ids):010d}"
        try:
            response = await self.serve_api(request)
        except errors.StripeError as error:
            response = error.response()
        except Exception as error:  # a bug here must not print tracebacks into the test's pipe
            response = errors.StripeError(500, f"fakestripe internal error: {type(error).__name__}",
                                          type_="api_error").response()
        response.headers["Request-Id"] = request_id
        if "Stripe-Version" in request.headers:
            response.headers["Stripe-Version"] = request.headers["Stripe-Version"]
        if hold is not None:
            hold.done()
        return response

    async def serve_api(self, request: web.Request) -> web.Response:
        self.stats.requests += 1
        self.authenticate(request)
        if request.method == "POST":
            return await self.write(request)
        if request.method != "GET":
            raise errors.StripeError(400, f"This fake Stripe does not support {request.method} "
                                          f"{request.path}.")
        try:
            kind, resource, object_id = route(request.match_info["tail"])
        except KeyError:
            raise errors.unrecognized_url(request.method, request.path) from None
        endpoint = endpoint_name(kind, resource)
        self.stats.endpoints[endpoint] += 1
        refused = self.limiter.refuse(endpoint)
        await self.delay()
        if refused:
            self.stats.rate_limited[refused] += 1
            self.stats.rate_limited_by_endpoint[endpoint] += 1
            raise errors.rate_limited(refused)
        if self.config.error_rate and self.faults.random() < self.config.error_rate:
            self.stats.server_errors += 1
            raise errors.api_error()
        handler: Callable[..., tuple[bytes, int]] = {"list": self.list, "retrieve": self.retrieve,
                                                     "lines": self.lines}[kind]
        body, served = handler(request, resource, object_id)
        self.stats.objects_served[endpoint] += served
        return json_response(body)

    async def write(self, request: web.Request) -> web.Response:
        """The dunning writes in fakestripe/writes.py, after the same limits and faults as reads."""
        try:
            endpoint, handler, object_id = self.writes.route(request.match_info["tail"])
        except KeyError:
            raise errors.StripeError(400, f"This fake Stripe does not support POST {request.path} "
                                          "(see fakestripe/README.md for the writes it models).") from None
        self.stats.endpoints[endpoint] += 1
        refused = self.limiter.refuse(endpoint)
        await self.delay()
        if refused:
            self.stats.rate_limited[refused] += 1
            raise errors.rate_limited(refused)
        if self.config.error_rate and self.faults.random() < self.config.error_rate:
            self.stats.server_errors += 1
            raise errors.api_error()
        params = writes.form(await request.read())
        status, body = self.writes.answer(handler, object_id, params,
                                          request.headers.get("Idempotency-Key"))
        return json_response(body, status)

    def authenticate(self, request: web.Request) -> None:
        key = api_key_of(request.headers.get("Authorization", ""))
        if key == self.config.api_key:
            return
        self.stats.unauthorized += 1
        raise errors.missing_api_key() if not key else errors.invalid_api_key(key)

    async def delay(self) -> None:
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)

    def now(self) -> float:
        return self.config.now or time.time()

    def oldest_event(self) -> int:
        """Stripe keeps 30 days of events: older ones are gone from lists and retrieval."""
        return int(self.now()) - EVENT_RETENTION_SECONDS

    def list(self, request, resource: Resource, _id) -> tuple[bytes, int]:
        query = listing.parse(request.query, resource)
        if resource.object == "event":
            query.low = max(query.low or 0, self.oldest_event())
        items, has_more = listing.answer(self.store.collections[resource.table], query)
        return listing.list_body(items, has_more, resource.url), len(items)

    def retrieve(self, request, resource: Resource, object_id: str) -> tuple[bytes, int]:
        collection = self.store.collections[resource.table]
        if resource.object == "event" and collection.created.get(object_id, 0) < self.oldest_event():
            raise errors.no_such(resource.object, object_id)
        if object_id in collection.raw:
            return collection.raw_of(object_id), 1
        if object_id in collection.deleted and resource.retrieves_deleted:
            return orjson.dumps({"id": object_id, "object": resource.object, "deleted": True}), 1
        raise errors.no_such(resource.object, object_id)

    def lines(self, request, resource: Resource, invoice_id: str) -> tuple[bytes, int]:
        invoices = self.store.collections["invoices"]
        if invoice_id not in invoices.raw:
            raise errors.no_such("invoice", invoice_id)
        limit, starting_after, ending_before = listing.parse_line_query(request.query)
        page = invoices.line_page(invoice_id, limit, starting_after, ending_before)
        if page is None:
            param = "starting_after" if starting_after else "ending_before"
            raise errors.no_such("line_item", starting_after or ending_before or "", param=param,
                                 status=400)
        items, has_more = page
        url = f"/v1/invoices/{invoice_id}/lines"
        return listing.list_body(items, has_more, url), len(items)

    # /_fake ------------------------------------------------------------------

    @web.middleware
    async def loopback_only(self, request: web.Request, handler):
        if request.path.startswith("/_fake/") and request.remote not in LOOPBACK:
            return json_response(b'{"error":{"message":"test controls answer loopback only"}}', 403)
        try:
            return await handler(request)
        except errors.StripeError as error:
            return error.response()

    async def put_objects(self, request: web.Request) -> web.Response:
        objects = await read_json(request)
        if not isinstance(objects, list):
            objects = [objects]
        routed = []
        for obj in objects:
            collection = self.store.collection_for(obj) if isinstance(obj, dict) else None
            if collection is None or not obj.get("id"):
                kind = obj.get("object") if isinstance(obj, dict) else type(obj).__name__
                raise errors.StripeError(400, f"cannot route object of type {kind!r}")
            routed.append((collection, obj))
        for collection, obj in routed:
            collection.upsert(obj)
        return json_response(orjson.dumps({"upserted": len(routed)}))

    async def delete_object(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        resource = BY_OBJECT.get(str(body.get("object"))) if isinstance(body, dict) else None
        if resource is None:
            raise errors.StripeError(400, "expected {\"object\": <stripe object type>, \"id\": ...}")
        if not self.store.collections[resource.table].delete(str(body.get("id"))):
            raise errors.no_such(resource.object, str(body.get("id")))
        return json_response(orjson.dumps({"id": body["id"], "deleted": True}))

    async def set_config(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise errors.StripeError(400, "expected a JSON object")
        self.config.update(body)
        if "seed" in body:  # restart the fault sequence, so a test can replay it
            self.faults = random.Random(self.config.seed)
        return json_response(orjson.dumps(self.config.public()))

    async def get_stats(self, request: web.Request) -> web.Response:
        stats = self.stats.as_dict()
        stats["objects"] = self.store.counts()
        stats["peak_rss_mb"] = round(getrusage(RUSAGE_SELF).ru_maxrss / 1024, 1)
        stats["private_rss_mb"] = private_rss_mb()
        return json_response(orjson.dumps(stats))

    async def reset_stats(self, request: web.Request) -> web.Response:
        self.stats.reset()
        return json_response(b'{"reset":true}')

    async def set_hold(self, request: web.Request) -> web.Response:
        """{"after": N} answers N more requests and holds the rest; {"after": null} lifts the hold."""
        body = await read_json(request)
        after = body.get("after", -1) if isinstance(body, dict) else -1
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            raise errors.StripeError(400, "expected {\"after\": <requests to answer, >= 0> or null}",
                                     param="after")
        if self.hold is not None:
            self.hold.lifted.set()  # a replaced hold lets its waiters go
        self.hold = None if after is None else Hold(after)
        return await self.get_hold(request)

    async def get_hold(self, request: web.Request) -> web.Response:
        return json_response(orjson.dumps(self.hold.state() if self.hold else {"after": None}))


def private_rss_mb() -> float | None:
    """Resident memory of our own (RssAnon), without the mapped JSONL's shared page cache."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def api_key_of(authorization: str) -> str:
    """The key from `Bearer KEY` or HTTP basic auth with the key as user name."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


async def read_json(request: web.Request):
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise errors.StripeError(400, "request body is not valid JSON") from None


def make_app(store: Store, config: Config | None = None) -> web.Application:
    fake = FakeStripe(store, config or Config())
    app = web.Application(middlewares=[fake.loopback_only], client_max_size=256 * 1024 * 1024)
    app["fake"] = fake
    app.router.add_route("*", "/v1/{tail:.*}", fake.api)
    app.router.add_post("/_fake/objects", fake.put_objects)
    app.router.add_post("/_fake/delete", fake.delete_object)
    app.router.add_post("/_fake/config", fake.set_config)
    app.router.add_get("/_fake/stats", fake.get_stats)
    app.router.add_post("/_fake/reset_stats", fake.reset_stats)
    app.router.add_post("/_fake/hold", fake.set_hold)
    app.router.add_get("/_fake/hold", fake.get_hold)
    return app
