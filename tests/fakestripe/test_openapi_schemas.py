"""Every object the demo generator writes, and every object fakestripe serves from it
(each list, each retrieve, invoice lines), matches Stripe's schema for our pinned API
version (tests/fakestripe/openapi: required fields, nullability, enums, no unknown fields)."""
from __future__ import annotations

import inspect
import json
from collections import Counter
from pathlib import Path

import pytest

from etl.demo.clock import DEFAULT_NOW, to_ts
from etl.demo.generate import write_jsonl
from etl.stripe_version import API_VERSION
from fakestripe.resources import RESOURCES
from fakestripe.testing import serve
from tests.fakestripe.http import get
from tests.fakestripe.openapi import document, schema_errors

DEMO = dict(customers=150, seed=5, months=30)  # seed 5 has every object type and case
# extra list queries Stripe needs to show everything: ended subscriptions, archived prices
EXTRA_QUERIES = {"subscriptions": [{"status": "all"}], "prices": [{"active": "false"}],
                 "products": [{"active": "false"}], "tax_rates": [{"active": "false"}]}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_jsonl")
    write_jsonl(str(out), **DEMO)
    return out


@pytest.fixture(scope="module")
def demo_objects(demo_dir) -> list[dict]:
    return [json.loads(line) for path in sorted(demo_dir.glob("*.jsonl"))
            for line in path.read_text().splitlines()]


def summary(errors: list[str], limit: int = 25) -> str:
    """The distinct problems (ids left out), most frequent first."""
    kinds = Counter(e.split(": ", 1)[0].split()[0] + ": " + e.split(": ", 1)[1] for e in errors)
    return "\n".join(f"{n:5d} × {kind}" for kind, n in kinds.most_common(limit))


def test_schemas_are_for_our_pinned_api_version():
    assert document()["api_version"] == API_VERSION


def test_demo_writes_every_object_type_fakestripe_serves(demo_objects):
    written = {o["object"] for o in demo_objects}
    served = {r.object for r in RESOURCES} - {"plan"}  # plans are prices seen through an old API
    assert served <= written
    # and the awkward cases: inline and archived prices, invoices with more than 10 lines
    prices = [o for o in demo_objects if o["object"] == "price"]
    assert any(o.get("_tally_inline") for o in prices) and any(not o["active"] for o in prices)
    assert any(len(o["lines"]["data"]) > 10 for o in demo_objects if o["object"] == "invoice")


def test_every_demo_object_matches_stripe_schema(demo_objects):
    errors = [e for obj in demo_objects for e in schema_errors(obj)]
    assert not errors, summary(errors)


def list_all(base: str, path: str, query: dict) -> list[dict]:
    objects, after = [], None
    while True:
        params = dict(query, limit=100, **({"starting_after": after} if after else {}))
        status, _, body = get(base, path, params)
        assert status == 200, (path, body)
        assert body["object"] == "list" and isinstance(body["has_more"], bool)
        objects += body["data"]
        if not body["has_more"]:
            return objects
        after = body["data"][-1]["id"]


def served_objects(base: str, retrieve: int = 25) -> list[dict]:
    """Every object of every list (and of its usual filters); the first few of each
    retrieved too, the lines of those invoices and of every invoice with more lines
    than it embeds (paged from /v1/invoices/{id}/lines), and every price a subscription
    item uses. (`_tally*` keys are notes for the fake, which strips them: see its README.)"""
    seen: list[dict] = []
    for resource in RESOURCES:
        listed = []
        for query in [{}] + EXTRA_QUERIES.get(resource.table, []):
            listed += list_all(base, resource.url, query)
        seen += listed
        for n, obj in enumerate({o["id"]: o for o in listed}.values()):
            if n < retrieve:
                status, _, body = get(base, f"{resource.url}/{obj['id']}")
                assert status == 200, body
                seen.append(body)
            if resource.table == "invoices" and (n < retrieve or obj["lines"]["has_more"]):
                seen += list_all(base, f"{resource.url}/{obj['id']}/lines", {})
    # prices no list shows (inline ones), retrieved by the id their subscription items give
    referenced = {i["price"]["id"] for s in seen if s["object"] == "subscription"
                  for i in s["items"]["data"]}
    for price_id in sorted(referenced):
        status, _, body = get(base, f"/v1/prices/{price_id}")
        assert status == 200, body
        seen.append(body)
    return seen


def test_every_served_object_matches_stripe_schema(demo_dir):
    # A fake that lists only 30 days of events needs the demo's clock to list its events.
    clock = {"now": to_ts(DEFAULT_NOW)} if "now" in inspect.signature(serve).parameters else {}
    with serve(demo_dir, **clock) as base:
        objects = served_objects(base)
    assert {o["object"] for o in objects} >= {r.object for r in RESOURCES} - {"plan"}
    errors = [e for obj in objects for e in schema_errors(obj)]
    assert not errors, summary(errors)


@pytest.mark.parametrize("change, problem", [
    (lambda inv: inv.update(subscription="sub_x"), "'subscription' was unexpected"),
    (lambda inv: inv.pop("total"), "'total' is a required property"),
    (lambda inv: inv.update(status="canceled"), "'canceled' is not one of"),
    (lambda inv: inv["lines"]["data"][0].update(price="price_x"), "'price' was unexpected"),
    (lambda inv: inv["lines"]["data"][0].update(amount=None), "None is not of type"),
    (lambda inv: inv.update(amount_due=12.5), "12.5 is not of type 'integer'"),
])
def test_the_check_catches_old_shapes_missing_fields_and_bad_values(demo_objects, change, problem):
    invoice = json.loads(json.dumps(next(o for o in demo_objects if o["object"] == "invoice")))
    assert schema_errors(invoice) == []
    change(invoice)
    assert any(problem in e for e in schema_errors(invoice)), schema_errors(invoice)
