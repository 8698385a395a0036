"""Benchmark the updater: signed webhook POST -> change visible to a fresh reader.

Serves a generated demo account through fakestripe (no latency, no rate limit),
syncs it, starts `python -m etl serve` against it, then 50 times: changes a
customer's email in the fake account, POSTs a signed `customer.updated` event
and polls new read-only connections to the published database until they see
it. Prints p50 and p95 of those times per account size.

    .venv/bin/python bench/freshness.py                       # 10,000 and 100,000 customers
    .venv/bin/python bench/freshness.py --customers 10000     # one size
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import stripe  # noqa: E402

from fakestripe import DEFAULT_API_KEY  # noqa: E402
from fakestripe.store import read_jsonl  # noqa: E402
from fakestripe.testing import put_objects, serve  # noqa: E402
from tests.support.servers import free_port, wait_for_http  # noqa: E402

SECRET = "whsec_bench"
CHANGES = 50


def sync_bench():
    """bench/sync.py's cached account generator."""
    spec = importlib.util.spec_from_file_location("bench_sync", ROOT / "bench" / "sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def signed_post(url: str, event: dict) -> None:
    body = json.dumps(event).encode()
    at = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{body.decode()}", SECRET)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Stripe-Signature": f"t={at},v1={signature}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def seen(db: Path, customer: str, email: str) -> bool:
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            row = con.execute("SELECT email FROM customers WHERE id = ?", [customer]).fetchone()
    except duckdb.Error:
        return False
    return bool(row) and row[0] == email


def run(customers: int, months: int, demo: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="freshness-", dir=ROOT / "data"))
    db = work / "tally.duckdb"
    env = {**os.environ, "STRIPE_API_KEY": DEFAULT_API_KEY, "STRIPE_WEBHOOK_SECRET": SECRET,
           "TALLY_SYNC_RATE": "1000"}
    t0 = time.monotonic()
    if demo:  # the demo database stands in for the synced one; the fake serves the changed customers
        account = work / "account"
        account.mkdir()
        subprocess.run([sys.executable, "-m", "etl", "demo", "--db", str(db), "--customers", str(customers),
                        "--months", str(months)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        with duckdb.connect(str(db), read_only=True) as con:
            ids = [r[0] for r in con.execute("SELECT id FROM customers ORDER BY id LIMIT ?", [CHANGES]).fetchall()]
        people = [{"id": i, "object": "customer", "created": 1700000000, "email": "x@example.com",
                   "livemode": False} for i in ids]
        (account / "customers.jsonl").write_text("".join(json.dumps(p) + "\n" for p in people))
    else:
        account = sync_bench().account_dir(customers, months, 1)
        people = [c for _, (c, _line) in zip(range(CHANGES), read_jsonl(account / "customers.jsonl"))]
    with serve(account) as base:
        env["STRIPE_API_BASE"] = base
        if not demo:
            subprocess.run([sys.executable, "-m", "etl", "sync", "--db", str(db)], cwd=ROOT, env=env,
                           check=True, stdout=subprocess.DEVNULL)
        print(f"{customers:,} customers: {'generated' if demo else 'synced'} in {time.monotonic() - t0:.0f} s, "
              f"database {db.stat().st_size / 2**20:.0f} MB", flush=True)
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "etl", "serve", "--db", str(db), "--port",
                                 str(port), "--every", "1000"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
            times, publishes = [], []
            for i, person in enumerate(people):
                times.append(one_change(base, f"http://127.0.0.1:{port}/stripe/webhook", db, person, i))
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
                    info = json.loads(answer.read())
                publishes.append((info.get("published_as"), info.get("write_seconds")))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            shutil.rmtree(work, ignore_errors=True)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    print(f"{customers:,} customers: POST -> visible to a new reader over {len(times)} changes: "
          f"p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {times[-1]:.2f} s", flush=True)
    for how in sorted({h for h, _ in publishes if h}):
        spent = sorted(w for h, w in publishes if h == how and w is not None)
        print(f"  published as {how}: {len(spent)} times, write + publish p50 {statistics.median(spent):.2f} s, "
              f"max {spent[-1]:.2f} s", flush=True)


def one_change(base: str, url: str, db: Path, person: dict, i: int) -> float:
    email = f"fresh-{i}-{time.time_ns()}@bench.example"
    changed = {**person, "email": email}
    put_objects(base, [changed])
    event = {"id": f"evt_bench_{time.time_ns()}", "object": "event", "type": "customer.updated",
             "created": int(time.time()), "livemode": False, "data": {"object": changed}}
    t0 = time.monotonic()
    signed_post(url, event)
    while not seen(db, person["id"], email):
        if time.monotonic() - t0 > 120:
            raise SystemExit(f"change {i} not visible after 120 s")
        time.sleep(0.02)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, action="append",
                        help="account size (repeatable; default 10,000 and 100,000)")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--demo", action="store_true",
                        help="generate a demo database instead of syncing (a 100,000-customer sync "
                             "takes most of an hour here); the fake serves only the changed customers")
    args = parser.parse_args()
    for customers in args.customers or [10_000, 100_000]:
        run(customers, args.months, args.demo)


if __name__ == "__main__":
    main()
