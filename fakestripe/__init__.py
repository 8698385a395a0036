"""A local Stripe-compatible read server for tests and benchmarks.

It serves an account written as JSONL files (one per object type, named after
the Tally table: customers.jsonl, invoices.jsonl, ...; each line the object as
the API returns it, invoices with all their lines) with Stripe's list
semantics, errors, rate limits and faults, over real HTTP on 127.0.0.1.
Nothing here ever talks to the real Stripe.

    python -m fakestripe --data DIR [--port 0] [--api-key KEY] [--latency-ms MS]
        [--rate-limit N] [--endpoint-rate-limit N] [--error-rate F] [--seed S] [--now UNIX]

- GET /v1/<type> lists (newest first, limit <= 100, starting_after / ending_before,
  created[gt|gte|lt|lte], the filters Stripe offers such as customer=, status=,
  invoice=, type= / types[]); GET /v1/<type>/{id}; GET /v1/invoices/{id}/lines.
  Each list keeps Stripe's documented defaults (active prices only, no inline
  prices, no ended subscriptions, 30 days of events...): see README.md.
- Test controls (no key, loopback only): POST /_fake/objects, POST /_fake/delete,
  POST /_fake/config, GET /_fake/stats, POST /_fake/reset_stats, POST and GET
  /_fake/hold (answer N requests, hold the rest: fakestripe/hold.py); see
  fakestripe.testing for helpers and the `serve()` context manager.
"""

DEFAULT_API_KEY = "sk_test_tally_fake"
