"""The rules every admin action follows, without a Stripe server."""
import stripe

from tally_admin.actions import Done, Refused, idempotency_key, run_action
from tally_admin.refunds import ChargeFacts, refusal
from tally_admin.stripe_api import explain


def _facts(**overrides):
    values = dict(charge_id="ch_1", currency="eur", paid=10000, refunded=0,
                  status="succeeded", dispute=None, email=None)
    return ChargeFacts(**(values | overrides))


def test_the_key_depends_on_every_part_of_the_submission():
    base = idempotency_key("refund", "ch_1", {"amount": 100, "reason": "duplicate"}, "nonce")
    assert base == idempotency_key("refund", "ch_1", {"reason": "duplicate", "amount": 100}, "nonce")
    assert base != idempotency_key("refund", "ch_1", {"amount": 101, "reason": "duplicate"}, "nonce")
    assert base != idempotency_key("refund", "ch_1", {"amount": 100, "reason": "duplicate"}, "other")
    assert base != idempotency_key("refund", "ch_2", {"amount": 100, "reason": "duplicate"}, "nonce")
    assert len(base) <= 255


def test_a_recorded_outcome_answers_a_repeat_without_performing_again(audit):
    calls = []

    def perform(key):
        calls.append(key)
        return Done("done", result={"n": len(calls)})

    first = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                       perform=perform)
    second = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                        perform=perform)
    assert len(calls) == 1 and second.repeated and second.result == {"n": 1}
    assert first.message == second.message == "done"


def test_a_refusal_is_recorded_and_final(audit):
    def perform(key):
        raise Refused("no")

    result = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                        perform=perform)
    assert result.outcome == "refused"
    assert list(audit.frame().sort_values("seq").phase) == ["attempt", "outcome"]


def test_refusals_name_the_problem():
    assert "disputed" in refusal(_facts(dispute="This charge is disputed."), 100, "duplicate")
    assert "already been refunded" in refusal(_facts(refunded=10000), 100, "duplicate")
    assert "Nothing was captured" in refusal(_facts(paid=0), 100, "duplicate")
    assert "more than zero" in refusal(_facts(), 0, "duplicate")
    assert "Choose a reason" in refusal(_facts(), 100, "because")
    assert "only 1.00 EUR of 100.00 EUR" in refusal(_facts(refunded=9900), 101, "duplicate")
    assert refusal(_facts(refunded=9900), 100, "duplicate") is None


def test_each_stripe_error_gets_its_own_line():
    already = stripe.InvalidRequestError("x", None, code="charge_already_refunded")
    disputed = stripe.InvalidRequestError("x", None, code="charge_disputed")
    missing = stripe.InvalidRequestError("x", "charge", code="resource_missing", http_status=404)
    denied = stripe.PermissionError("The provided key 'rk_test_***abc' does not have access")
    assert "already been refunded" in explain(already)
    assert "disputed" in explain(disputed)
    assert "no such object" in explain(missing)
    assert "restricted key" in explain(denied)
    assert "rk_test" not in explain(denied)


def test_no_action_without_an_audit_record(audit, monkeypatch):
    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(audit, "attempt", broken)
    calls = []
    result = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                        perform=lambda key: calls.append(key))
    assert result.outcome == "failed" and "nothing was sent" in result.message
    assert calls == []


def test_two_sessions_submitting_at_once_act_once(audit):
    import threading
    calls, started = [], threading.Event()

    def perform(key):
        calls.append(key)
        started.set()
        threading.Event().wait(0.2)  # still in flight when the other session arrives
        return Done("done")

    def submit():
        run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                   perform=perform)

    first = threading.Thread(target=submit)
    first.start()
    started.wait(5)
    submit()
    first.join()
    assert len(calls) == 1


def test_a_stripe_server_error_leaves_the_outcome_open_for_a_checked_retry(audit):
    def perform(key):
        raise stripe.APIError("boom", http_status=500)

    first = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                       perform=perform)
    assert first.outcome == "unknown" and "outcome is unknown" in first.message
    assert audit.final_outcome(idempotency_key("x", "o", {}, "1")) is None
    retried = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                         perform=lambda key: Done("checked: done"))
    assert retried.ok and not retried.repeated


def test_a_failed_audit_write_is_not_final_while_an_earlier_try_exists(audit, monkeypatch):
    def lost(key):
        raise stripe.APIConnectionError("timed out")

    first = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                       perform=lost)
    assert first.outcome == "unknown"

    def disk_full(rows):
        raise OSError("No space left on device")

    monkeypatch.setattr(audit, "_write_rows", disk_full)
    calls = []
    again = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                       perform=lambda key: calls.append(key))
    assert again.outcome == "unknown" and not again.audited and calls == []
    fresh = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="2",
                       perform=lambda key: calls.append(key))
    assert fresh.outcome == "failed" and "nothing was sent" in fresh.message and calls == []


def test_held_outcomes_are_written_when_the_audit_page_reads_the_trail(audit, monkeypatch):
    write = type(audit)._write_rows

    def outcomes_fail(rows):
        if rows[-1].get("phase") == "outcome":
            raise OSError("No space left on device")
        write(audit, rows)

    monkeypatch.setattr(audit, "_write_rows", outcomes_fail)
    result = run_action(audit, None, actor="a", action="x", object_id="o", params={}, nonce="1",
                        perform=lambda key: Done("done at Stripe", result={"id": "re_1"}))
    assert result.ok and not result.audited and "done at Stripe" in result.message
    monkeypatch.undo()  # space again
    rows = audit.frame().sort_values("seq")
    assert list(rows.phase) == ["attempt", "outcome"] and list(rows.outcome.dropna()) == ["succeeded"]
    assert audit.write_held() == 0


def test_a_data_change_made_is_not_reported_failed_when_its_outcome_row_is_held(tmp_path,
                                                                               monkeypatch):
    from tally_admin.audit import AuditLog
    from tally_admin.data_changes import audited_change
    monkeypatch.setenv("TALLY_AUDIT_DB", str(tmp_path / "audit.duckdb"))
    write = AuditLog._write_rows

    def outcomes_fail(self, rows):
        if rows[-1].get("phase") == "outcome":
            raise OSError("No space left on device")
        write(self, rows)

    monkeypatch.setattr(AuditLog, "_write_rows", outcomes_fail)
    assert audited_change("a", "save_exchange_rates", "fx_rates", {}, lambda: "saved") == "saved"
    monkeypatch.undo()
    frame = AuditLog(str(tmp_path / "audit.duckdb")).frame()
    assert sorted(frame.phase) == ["attempt", "outcome"]
