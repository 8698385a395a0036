"""Run the fake server for a test or a bench, and drive its /_fake controls.

    with serve(data_dir, rate_limit=5) as base:
        client = stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": base})
        put_objects(base, [{"id": "cus_1", "object": "customer", "created": 1}])
"""
from __future__ import annotations

import json
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from fakestripe import DEFAULT_API_KEY
from fakestripe.processes import free_port, running

__all__ = ["serve", "put_objects", "delete_object", "configure", "stats", "reset_stats",
           "hold_after", "hold_state", "lift_hold", "DEFAULT_API_KEY"]


@contextmanager
def serve(data_dir: str | Path, *, port: int | None = None, api_key: str = DEFAULT_API_KEY,
          latency_ms: float = 0, rate_limit: int = 0, endpoint_rate_limit: int = 0,
          error_rate: float = 0, seed: int = 0, now: float = 0, startup_timeout: float = 120):
    """Serve `data_dir` from a subprocess on 127.0.0.1; yield the base URL.

    `now` is the account's clock for Stripe's 30 days of events (0: the wall clock)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "fakestripe", "--data", str(data_dir), "--port", str(port),
            "--api-key", api_key, "--latency-ms", str(latency_ms),
            "--rate-limit", str(rate_limit), "--endpoint-rate-limit", str(endpoint_rate_limit),
            "--error-rate", str(error_rate), "--seed", str(seed), "--now", str(now), "--quiet"]
    with running(args, base + "/_fake/stats", timeout=startup_timeout) as proc:
        yield base
        if proc.poll() is not None:
            raise RuntimeError(f"fakestripe exited early with {proc.returncode}")


def _call(base: str, path: str, body=None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def put_objects(base: str, objects: list[dict]) -> dict:
    """Upsert objects by id, each into the list its `object` field names."""
    return _call(base, "/_fake/objects", objects)


def delete_object(base: str, object_name: str, object_id: str) -> dict:
    return _call(base, "/_fake/delete", {"object": object_name, "id": object_id})


def configure(base: str, **changes) -> dict:
    """Change latency_ms, rate_limit, endpoint_rate_limit, error_rate, seed (restarts
    the random 500s) or now (the account's clock; 0 = wall clock) while serving."""
    return _call(base, "/_fake/config", changes)


def stats(base: str) -> dict:
    return _call(base, "/_fake/stats")


def reset_stats(base: str) -> dict:
    return _call(base, "/_fake/reset_stats", {})


def hold_after(base: str, requests: int) -> dict:
    """Answer the next `requests` /v1 requests, then keep every later one waiting (fakestripe/hold.py)."""
    return _call(base, "/_fake/hold", {"after": requests})


def hold_state(base: str) -> dict:
    """{"after", "admitted", "answered", "held"} of the current hold, or {"after": None}."""
    return _call(base, "/_fake/hold")


def lift_hold(base: str) -> dict:
    """Answer every request again, the waiting ones first."""
    return _call(base, "/_fake/hold", {"after": None})
