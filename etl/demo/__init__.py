"""The demo account: a simulated subscription business, loaded like a real sync.

`python -m etl demo [--db PATH] [--customers N] [--seed S] [--months M] [--now YYYY-MM-DD]
[--jsonl DIR]`. Same seed and clock => identical database.

Modules: catalog (what is sold), simulate + payments (one customer's life, as
plain records in state), billing (Stripe's invoice arithmetic), shapes + emit
(records -> current-API JSON and events), truth (the MRR the simulation meant,
by METRICS.md), generate + batches (the database, JSONL, workers), cli,
dashboard (what the dashboard calls). Objects are test-mode (`livemode: false`).

The business has what real accounts have: grandfathered subscribers on archived
prices, inline prices (`price_data`; marked `"_tally_inline": true` for fakestripe,
which hides them from lists and never serves the key), trials, coupons, taxes,
upgrades, seat changes and monthly <-> yearly switches with prorations, invoices
with more lines than Stripe embeds, paused collection, failed payments ending
uncollectible or void, refunds and disputes, and subscription schedules (seat
changes and upgrades booked for the renewal; released, completed and canceled
ones: etl/demo/schedules.py). Every object matches Stripe's schema
for our API version (tests/fakestripe/test_openapi_schemas.py).
"""
from __future__ import annotations

from etl.demo.cli import add_arguments
from etl.demo.demo_database import DEFAULT_DEMO_DB, ensure_demo_database, is_demo_database
from etl.demo.generate import generate_database, generate_objects, truth_rows, write_jsonl

__all__ = ["add_arguments", "generate_objects", "generate_database", "write_jsonl",
           "truth_rows", "ensure_demo_database", "is_demo_database", "DEFAULT_DEMO_DB"]
