"""Read a list request's query string the way Stripe does, and answer it from a collection."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from fakestripe import errors
from fakestripe.resources import ENDED_SUBSCRIPTION_STATUSES, Resource
from fakestripe.store import Collection, Key

MAX_LIMIT = 100
MAX_EVENT_TYPES = 20
CREATED_OPERATORS = ("gt", "gte", "lt", "lte")
# `expand[]`, `expand[0]`, `types[]`, `types[3]`: arrays as stripe-python and curl send them
ARRAY_PARAM = re.compile(r"^(expand|types)\[\d*\]$")


@dataclass
class ListQuery:
    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    low: int | None = None  # created >= low
    high: int | None = None  # created <= high
    index: tuple[str, str] | None = None  # one equality filter answered from an index
    checks: list[tuple[int, Callable[[str | None], bool]]] = field(default_factory=list)

    def match(self) -> Callable[[tuple], bool] | None:
        if not self.checks:
            return None
        checks = self.checks
        return lambda values: all(test(values[at]) for at, test in checks)


def parse_limit(query) -> int:
    raw = query.get("limit")
    if raw is None:
        return 10
    try:
        limit = int(raw)
    except ValueError:
        raise errors.bad_parameter("limit", f"Invalid integer: {raw}") from None
    if limit < 1:
        raise errors.bad_parameter("limit", "This value must be greater than or equal to 1.")
    if limit > MAX_LIMIT:
        raise errors.bad_parameter("limit", f"This value must be less than or equal to {MAX_LIMIT}.")
    return limit


def parse_created(query, into: ListQuery) -> None:
    """`created=N` and `created[gt|gte|lt|lte]=N` as one inclusive window."""
    for name, raw in query.items():
        if name == "created":
            op = "eq"
        elif name.startswith("created[") and name[8:-1] in CREATED_OPERATORS and name.endswith("]"):
            op = name[8:-1]
        else:
            continue
        try:
            value = int(raw)
        except ValueError:
            raise errors.bad_parameter(name, f"Invalid integer: {raw}") from None
        if op in ("eq", "gt", "gte"):
            low = value + 1 if op == "gt" else value
            into.low = low if into.low is None else max(into.low, low)
        if op in ("eq", "lt", "lte"):
            high = value - 1 if op == "lt" else value
            into.high = high if into.high is None else min(into.high, high)


def check_known(query, resource: Resource) -> None:
    allowed = {"limit", "starting_after", "ending_before", "expand", *resource.filters}
    for name in query.keys():
        if name in allowed or ARRAY_PARAM.match(name) or name == "created" \
                or (name.startswith("created[") and name[8:-1] in CREATED_OPERATORS):
            if name.startswith("types[") and resource.object != "event":
                raise errors.unknown_parameter(name)
            continue
        raise errors.unknown_parameter(name)


def add_filters(query, resource: Resource, into: ListQuery) -> None:
    """Equality filters; subscription `status` and event `type` have their own rules."""
    defaults = dict(resource.defaults)
    for position, name in enumerate(resource.filters):
        wanted = query.get(name, defaults.get(name))
        if resource.object == "subscription" and name == "status":
            add_subscription_status(wanted, position, into)
        elif resource.object == "event" and name == "type" and wanted == "*":
            continue  # every type
        elif resource.object == "event" and name == "type" and wanted and wanted.endswith(".*"):
            prefix = wanted[:-1]
            into.checks.append((position, _starts_with(prefix)))
        elif wanted is not None:
            add_equal(name, position, wanted, into)
    if resource.object == "event":
        add_event_types(query, resource, into)


def add_equal(name: str, position: int, wanted: str, into: ListQuery) -> None:
    if into.index is None:
        into.index = (name, wanted)
    else:
        into.checks.append((position, _equals(wanted)))


def _equals(wanted: str) -> Callable[[str | None], bool]:
    return lambda value: value == wanted


def _starts_with(prefix: str) -> Callable[[str | None], bool]:
    return lambda value: value is not None and value.startswith(prefix)


def add_subscription_status(wanted: str | None, position: int, into: ListQuery) -> None:
    if wanted == "all":
        return
    if wanted is None:  # Stripe hides ended subscriptions unless asked
        into.checks.append((position, lambda v: v not in ENDED_SUBSCRIPTION_STATUSES))
    elif wanted == "ended":
        into.checks.append((position, lambda v: v in ENDED_SUBSCRIPTION_STATUSES))
    else:
        add_equal("status", position, wanted, into)


def add_event_types(query, resource: Resource, into: ListQuery) -> None:
    names = [v for k, v in query.items() if k.startswith("types[")]
    if not names:
        return
    if len(names) > MAX_EVENT_TYPES:
        raise errors.StripeError(400, f"You may pass at most {MAX_EVENT_TYPES} values for types.",
                                 code="parameter_invalid_array", param="types")
    position = resource.filters.index("type")
    wanted = set(names)
    into.checks.append((position, lambda v: v in wanted))


def parse(query, resource: Resource) -> ListQuery:
    check_known(query, resource)
    check_one_cursor(query)
    into = ListQuery(limit=parse_limit(query),
                     starting_after=query.get("starting_after") or None,
                     ending_before=query.get("ending_before") or None)
    parse_created(query, into)
    add_filters(query, resource, into)
    return into


def check_one_cursor(query) -> None:
    if query.get("starting_after") and query.get("ending_before"):
        raise errors.StripeError(400, "You may only specify one of these parameters: "
                                      "ending_before, starting_after.", param="ending_before")


def parse_line_query(query) -> tuple[int, str | None, str | None]:
    """(limit, starting_after, ending_before) of /v1/invoices/{id}/lines."""
    for name in query.keys():
        if name not in ("limit", "starting_after", "ending_before", "expand") \
                and not (ARRAY_PARAM.match(name) and name.startswith("expand")):
            raise errors.unknown_parameter(name)
    check_one_cursor(query)
    return parse_limit(query), query.get("starting_after") or None, query.get("ending_before") or None


def cursor(collection: Collection, object_id: str | None, param: str) -> Key | None:
    if object_id is None:
        return None
    key = collection.key_of(object_id)
    if key is None:  # Stripe answers an unknown cursor with 400 resource_missing
        raise errors.no_such(collection.resource.object, object_id, param=param, status=400)
    return key


def answer(collection: Collection, query: ListQuery) -> tuple[list[bytes], bool]:
    keys = collection.candidates(*(query.index or (None, None)))
    return collection.page(keys, query.low, query.high, query.limit,
                           starting_after=cursor(collection, query.starting_after, "starting_after"),
                           ending_before=cursor(collection, query.ending_before, "ending_before"),
                           match=query.match())


def list_body(items: list[bytes], has_more: bool, url: str) -> bytes:
    return b"".join((b'{"object":"list","data":[', b",".join(items), b'],"has_more":',
                     b"true" if has_more else b"false", b',"url":"', url.encode(), b'"}'))
