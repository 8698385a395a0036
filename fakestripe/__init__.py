"""A local Stripe-compatible read server for tests and benchmarks.

It serves an account written as JSONL files (one per object type, named after
the Tally table) with Stripe's list semantics, errors, rate limits and faults,
over real HTTP on 127.0.0.1. Nothing here ever talks to the real Stripe.
"""

DEFAULT_API_KEY = "sk_test_tally_fake"
