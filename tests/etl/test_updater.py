"""`python -m etl serve` over real HTTP: signed webhooks against fakestripe keep the
published database current; forged, expired, foreign and bad deliveries change nothing."""
from __future__ import annotations

import copy
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest
import stripe

from etl.client import StripeHTTP
from etl.sync import run_sync
from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import delete_object, put_objects, serve
from tests.etl import sync_account
from tests.etl.sync_account import event
from tests.support.servers import ROOT, free_port, wait_for_http

SECRET = "whsec_test_current"
OLD_SECRET = "whsec_test_rotating_out"


@pytest.fixture(scope="module")
def account():
    return sync_account.build(customers=40)


@pytest.fixture
def synced(account, tmp_path):
    """A fake account, synced once into a database."""
    db = tmp_path / "tally.duckdb"
    with serve(sync_account.write(copy.deepcopy(account), tmp_path / "account")) as base:
        client = StripeHTTP(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01)
        assert run_sync(str(db), client=client).status == "ok"
        yield base, db


def start_updater(db, base, port=None, secrets=f"{SECRET},{OLD_SECRET}", extra=()):
    port = port or free_port()
    env = {**os.environ, "STRIPE_API_KEY": DEFAULT_API_KEY, "STRIPE_API_BASE": base,
           "STRIPE_WEBHOOK_SECRET": secrets, "TALLY_NOTIFY": "0"}  # its notifier: tests/tally_notify
    proc = subprocess.Popen([sys.executable, "-m", "etl", "serve", "--db", str(db), "--port", str(port), *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=10)[0].decode()
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0].decode()


def post(url, body: bytes, signature: str | None, path="/stripe/webhook") -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    request = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def sign(body: bytes, secret=SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{body.decode()}", secret)
    return f"t={at},v1={signature}"


def deliver(url, evt: dict, secret=SECRET, at=None) -> int:
    body = json.dumps(evt).encode()
    return post(url, body, sign(body, secret, at))


def health(url) -> dict:
    with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
        return json.loads(response.read())


def published(db, sql, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def wait_until(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def email(db, customer):
    return published(db, "SELECT email, deleted FROM customers WHERE id = ?", [customer])


def test_shuffled_repeated_and_stale_deliveries_end_at_stripes_current_state(synced, account):
    base, db = synced
    customers = {c["id"]: c for c in account["customers"]}
    subs = {s["id"]: s for s in account["subscriptions"]}
    old = copy.deepcopy(customers["cus_0001"])
    new_email = {**old, "email": "new@example.com"}
    canceled = {**subs["sub_0002"], "status": "canceled", "canceled_at": int(time.time())}
    newcomer = {**copy.deepcopy(customers["cus_0003"]), "id": "cus_new", "email": "hi@example.com",
                "created": int(time.time())}
    charge = next(c for c in account["charges"] if c["id"] == "ch_0008")
    refunded = {**charge, "amount_refunded": charge["amount"], "refunded": True}
    refund = {"id": "re_new", "object": "refund", "created": int(time.time()), "charge": "ch_0008",
              "amount": charge["amount"], "currency": charge["currency"], "status": "succeeded",
              "livemode": False}
    put_objects(base, [new_email, canceled, newcomer, refunded, refund])
    delete_object(base, "customer", "cus_0004")
    proc, url = start_updater(db, base)
    try:
        deliveries = [event("evt_a", "customer.updated", new_email),
                      event("evt_b", "customer.subscription.deleted", canceled),
                      event("evt_c", "customer.created", newcomer),
                      event("evt_d", "customer.deleted", {**customers["cus_0004"]}),
                      event("evt_e", "payout.paid", {"id": "po_1", "object": "payout"}),
                      event("evt_f", "charge.refunded", refunded)]
        random.Random(4).shuffle(deliveries)
        deliveries += deliveries[:2]  # some twice
        deliveries.append(event("evt_old", "customer.updated", old, created=old["created"]))  # stale, last
        deliveries.append(event("evt_old_secret", "customer.updated", old,  # signed with the old secret
                                created=old["created"]))
        statuses = [deliver(url, e) for e in deliveries[:-1]] + [deliver(url, deliveries[-1], OLD_SECRET)]
        assert statuses == [200] * len(deliveries)
        assert wait_until(lambda: health(url)["events_waiting"] == 0 and health(url)["last_event"])
        assert email(db, "cus_0001") == [("new@example.com", False)]
        assert published(db, "SELECT status FROM subscriptions WHERE id = 'sub_0002'") == [("canceled",)]
        assert email(db, "cus_new") == [("hi@example.com", False)]
        assert email(db, "cus_0004")[0][1] is True
        assert published(db, "SELECT amount_refunded FROM charges WHERE id = 'ch_0008'") == [(charge["amount"],)]
        assert published(db, "SELECT amount FROM refunds WHERE id = 're_new'") == [(charge["amount"],)]
        info = health(url)
        assert info["last_event"]["id"] and info["last_event"]["lag_seconds"] >= 0
        assert info["last_sync"]["status"] == "ok"  # the sync before the updater started
    finally:
        output = stop(proc)
    assert SECRET not in output and OLD_SECRET not in output


def test_forged_expired_foreign_and_bad_deliveries_change_nothing(synced, account):
    base, db = synced
    changed = {**account["customers"][5], "email": "forged@example.com"}
    put_objects(base, [changed])  # were any delivery accepted, this email would be published
    proc, url = start_updater(db, base)
    try:
        evt = event("evt_x", "customer.updated", changed)
        body = json.dumps(evt).encode()
        assert post(url, body, None) == 400  # missing
        assert post(url, body, sign(body, "whsec_forged")) == 400
        assert post(url, body, sign(body, at=int(time.time()) - 301)) == 400  # expired
        assert post(url, body, sign(body + b" ")) == 400  # another body
        assert deliver(url, {**evt, "livemode": True}) == 400  # the other mode
        assert deliver(url, {**evt, "account": "acct_someone_else"}) == 400
        assert post(url, b"not json", sign(b"not json")) == 400
        big = b"x" * (1024 * 1024 + 1)
        assert post(url, big, sign(big)) == 413
        assert post(url, b"{}", sign(b"{}"), path="/elsewhere") == 404
        assert health(url)["events_waiting"] == 0
        assert os.path.getsize(f"{db}.webhooks.jsonl") == 0 if os.path.exists(f"{db}.webhooks.jsonl") else True
        assert email(db, changed["id"])[0][0] != "forged@example.com"
    finally:
        stop(proc)


def test_a_second_updater_on_the_same_database_is_refused(synced):
    base, db = synced
    proc, _ = start_updater(db, base)
    try:
        second = subprocess.run([sys.executable, "-m", "etl", "serve", "--db", str(db), "--port",
                                 str(free_port())], cwd=ROOT, capture_output=True, text=True,
                                env={**os.environ, "STRIPE_API_KEY": DEFAULT_API_KEY,
                                     "STRIPE_API_BASE": base, "STRIPE_WEBHOOK_SECRET": SECRET},
                                timeout=60)
        assert second.returncode == 1
        assert "Another updater is already running" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        stop(proc)


def test_events_wait_while_stripe_is_unreachable_and_survive_kill_9(synced, account):
    base, db = synced
    changed = {**account["customers"][6], "email": "after-restart@example.com"}
    put_objects(base, [changed])
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc, url = start_updater(db, dead)
    try:
        assert deliver(url, event("evt_wait", "customer.updated", changed)) == 200
        assert wait_until(lambda: health(url)["apply_error"] is not None)
        info = health(url)
        assert info["events_waiting"] == 1 and info["ok"] is False
    finally:
        stop(proc, signal.SIGKILL)
    assert email(db, changed["id"])[0][0] != "after-restart@example.com"
    proc, url = start_updater(db, base)
    try:
        assert wait_until(lambda: email(db, changed["id"])[0][0] == "after-restart@example.com")
        assert wait_until(lambda: health(url)["events_waiting"] == 0)
    finally:
        stop(proc)


def test_the_scheduled_sync_is_the_safety_net_for_missed_webhooks(synced, account):
    base, db = synced
    missed = {**account["customers"][7], "id": "cus_missed", "created": int(time.time())}
    put_objects(base, [missed])  # no webhook tells of it
    proc, url = start_updater(db, base, extra=("--every", "0.02"))
    try:
        assert wait_until(lambda: "seconds" in (health(url)["last_sync"] or {}), 60)  # one this process ran
        assert health(url)["last_sync"]["status"] == "ok"
        assert email(db, "cus_missed") == [(missed["email"], False)]
    finally:
        stop(proc)


def stages_stored(db) -> bool:
    from metrics.mrr import stored_stages
    with duckdb.connect(str(db), read_only=True) as con:
        return stored_stages.attach(con, str(db)) and stored_stages.stored_through(con) is not None


def test_a_batch_publishes_without_the_mrr_stages_which_the_dashboard_builds_later(synced, account):
    from metrics.mrr import refresh_stages
    base, db = synced
    assert not stages_stored(db)  # the sync does not build them
    assert refresh_stages.refresh(str(db))  # the dashboard does, once it sees the published file
    assert stages_stored(db)
    sub = {**account["subscriptions"][3], "cancel_at_period_end": True}
    put_objects(base, [sub])
    proc, url = start_updater(db, base)
    try:
        assert deliver(url, event("evt_sched", "customer.subscription.updated", sub)) == 200
        assert wait_until(lambda: published(db, "SELECT cancel_at_period_end FROM subscriptions "
                                                "WHERE id = ?", [sub["id"]]) == [(True,)])
        assert not stages_stored(db)  # metrics compute from the lines meanwhile
    finally:
        stop(proc)
    assert refresh_stages.refresh(str(db))
    assert stages_stored(db)


def test_the_queue_hands_out_each_event_until_applied_and_never_loses_new_ones(tmp_path):
    from etl.webhooks import EventQueue
    db = str(tmp_path / "t.duckdb")
    queue = EventQueue(db)
    for i in range(3):
        queue.append({"id": f"evt_{i}"})
    entries, offset = queue.pending(limit=2)
    assert [e["event"]["id"] for e in entries] == ["evt_0", "evt_1"]
    assert [e["event"]["id"] for e in queue.pending(limit=2)[0]] == ["evt_0", "evt_1"]  # not yet applied
    queue.mark_applied(offset)
    assert queue.waiting() == 1
    with open(queue.path, "ab") as f:
        f.write(b'{"event": {"id": "evt_half"')  # an append cut short by kill -9: never answered 200
    queue = EventQueue(db)  # the restart
    queue.append({"id": "evt_after_restart"})
    entries, offset = queue.pending()
    assert [e["event"]["id"] for e in entries] == ["evt_2", "evt_after_restart"]
    queue.mark_applied(offset)
    assert queue.waiting() == 0 and os.path.getsize(queue.path) == 0
    Path(queue.done_path).write_text("999")  # killed between saving an offset and emptying the queue
    queue.append({"id": "evt_new"})
    assert [e["event"]["id"] for e in queue.pending()[0]] == ["evt_new"]


def test_a_paid_invoice_arrives_with_all_its_lines(synced, account):
    base, db = synced
    invoice = copy.deepcopy(account["invoices"][0])  # more lines than an invoice embeds
    lines = published(db, "SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [invoice["id"]])
    assert lines[0][0] > 10
    invoice.update(status="paid", amount_paid=invoice.get("amount_due") or 0, number="PAID-1")
    put_objects(base, [invoice])
    proc, url = start_updater(db, base)
    try:
        stale = {**invoice, "status": "open", "lines": {**invoice["lines"], "data": []}}
        assert deliver(url, event("evt_paid", "invoice.paid", invoice)) == 200
        assert deliver(url, event("evt_open", "invoice.finalized", stale, created=1)) == 200  # older, later
        assert wait_until(lambda: health(url)["events_waiting"] == 0 and health(url)["last_event"])
        assert published(db, "SELECT status, number FROM invoices WHERE id = ?", [invoice["id"]]) == \
            [("paid", "PAID-1")]
        assert published(db, "SELECT count(*) FROM invoice_lines WHERE invoice_id = ?", [invoice["id"]]) == lines
    finally:
        stop(proc)


def test_a_subscription_schedule_update_is_applied_from_its_current_state(synced, account):
    base, db = synced
    old = copy.deepcopy(account["subscription_schedules"][0])
    assert published(db, "SELECT status FROM subscription_schedules WHERE id = ?", [old["id"]]) == \
        [("active",)]
    now = int(time.time())
    released = {**old, "status": "released", "released_at": now, "subscription": None,
                "released_subscription": old["subscription"], "current_phase": None,
                "phases": old["phases"][:1]}
    put_objects(base, [released])
    proc, url = start_updater(db, base)
    try:
        # the payload is a snapshot; the updater stores Stripe's current state
        assert deliver(url, event("evt_sched", "subscription_schedule.updated", old)) == 200
        assert wait_until(lambda: health(url)["events_waiting"] == 0 and health(url)["last_event"])
        assert published(db, "SELECT status, subscription_id, released_subscription_id "
                             "FROM subscription_schedules WHERE id = ?", [old["id"]]) == \
            [("released", None, old["subscription"])]
        assert published(db, "SELECT count(*) FROM subscription_schedule_phase_items "
                             "WHERE schedule_id = ?", [old["id"]]) == [(1,)]
    finally:
        stop(proc)


def test_steady_batches_are_published_onto_the_standby_copy_not_by_copying(synced, account):
    base, db = synced
    proc, url = start_updater(db, base)
    try:
        for n in range(4):
            changed = {**account["customers"][10], "email": f"step{n}@example.com"}
            put_objects(base, [changed])
            assert deliver(url, event(f"evt_step{n}", "customer.updated", changed)) == 200
            want = changed["email"]
            assert wait_until(lambda want=want: email(db, account["customers"][10]["id"])[0][0] == want)
        info = health(url)
        # the first two make the pair of copies; from then on only the batch is written
        assert info["published_as"] == "standby" and info["write_seconds"] is not None
        assert os.path.islink(db) and len(list(Path(db).parent.glob(Path(db).name + ".pub-*"))) == 2
    finally:
        stop(proc)
