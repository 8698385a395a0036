"""Invoices with more lines than they embed (B2B seat plans, add-ons, usage lines)."""
import threading
import time

from etl.client import StripeHTTP
from etl.sync import run_sync
from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import put_objects, serve
from tests.etl import sync_account
from tests.etl.sync_account import event
from tests.etl.synced import query, sync

LONG = 300


def with_lines(invoice: dict, count: int, prefix: str, created: int) -> dict:
    lines = [sync_account._line(f"il_{prefix}{invoice['id']}_{j:03d}", invoice["id"], "price_1",
                                10 + j, created) for j in range(count)]
    return {**invoice, "lines": {"object": "list", "has_more": False, "data": lines}}


def line_ids(db, invoice_id: str) -> list[str]:
    return sorted(r[0] for r in query(db, "SELECT id FROM invoice_lines WHERE invoice_id = ?",
                                      [invoice_id]))


def test_invoices_of_300_lines_are_complete_after_full_and_incremental_syncs(tmp_path):
    account = sync_account.build(customers=150)
    long_ids = [inv["id"] for inv in account["invoices"][3::37]]
    account["invoices"] = [with_lines(inv, LONG, "a", inv["created"]) if inv["id"] in long_ids
                           else inv for inv in account["invoices"]]
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        db = tmp_path / "tally.duckdb"
        first = sync(base, db)
        assert first.status == "ok", first.message
        for invoice_id in long_ids:
            assert line_ids(db, invoice_id) == sorted(f"il_a{invoice_id}_{j:03d}" for j in range(LONG))

        # Each invoice is billed anew: 300 other lines, announced by events that embed only 10.
        now = int(time.time())
        changed = [with_lines(inv, LONG, "b", now) for inv in account["invoices"]
                   if inv["id"] in long_ids]
        put_objects(base, changed)
        put_objects(base, [event(f"evt_long{i}", "invoice.updated", {**inv, "lines": {
            "object": "list", "has_more": True, "data": inv["lines"]["data"][:10]}}, now)
            for i, inv in enumerate(changed)])
        second = sync(base, db)

    assert second.status == "ok" and second.mode == "incremental", second.message
    for invoice_id in long_ids:
        assert line_ids(db, invoice_id) == sorted(f"il_b{invoice_id}_{j:03d}" for j in range(LONG))
    assert query(db, "SELECT count(*) FROM invoice_lines") == \
        [(len(account["invoices"]) - len(long_ids) + 24 + LONG * len(long_ids),)]


class MeetingClient(StripeHTTP):
    """Holds the first `parties` line requests until all of them have been sent:
    a sync that pages one invoice's lines after another never gets past them."""

    def __init__(self, *args, parties: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.meeting = threading.Barrier(parties, timeout=20)
        self.line_requests = 0
        self.count_lock = threading.Lock()

    def get(self, path, params=None, **kwargs):
        if path.endswith("/lines"):
            with self.count_lock:
                self.line_requests += 1
                first = self.line_requests <= self.meeting.parties
            if first:
                self.meeting.wait()
        return super().get(path, params, **kwargs)


def test_the_long_invoices_of_one_page_have_their_lines_paged_at_once(tmp_path):
    account = sync_account.build(customers=60)
    account["invoices"] = [with_lines(inv, 40, "a", inv["created"]) if 10 <= i < 14 else inv
                           for i, inv in enumerate(account["invoices"])]
    with serve(sync_account.write(account, tmp_path / "account")) as base:
        client = MeetingClient(DEFAULT_API_KEY, base, rate=500, backoff_base=0.01, parties=5)
        summary = run_sync(str(tmp_path / "tally.duckdb"), client=client)

    # 5 parties: the invoice with 25 lines (the first) and the 4 on one page of 60.
    assert summary.status == "ok", summary.message
    assert client.stats["invoice_lines"]["requests"] == 5
