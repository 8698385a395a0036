"""Cancel now / at period end / undo, against localstripe over HTTP."""
import duckdb

from tally_admin.stripe_api import client_from_env
from tally_admin.subscriptions import (
    cancel_confirmation,
    cancel_subscription,
    subscription_facts,
    undo_cancellation,
    unused_refund,
)
from tests.tally_admin.failing_reads import fail_reads_after


def _cancel(audit, db_path, sub_id, when, unused="none", refund=None, nonce="n"):
    return cancel_subscription(client_from_env(), audit, db_path, actor="alice",
                               subscription_id=sub_id, when=when, unused=unused,
                               refund=refund, nonce=nonce)


def _db_subscription(db_path, sub_id):
    con = duckdb.connect(db_path, read_only=True)
    try:
        return con.execute("SELECT status, cancel_at_period_end FROM subscriptions WHERE id = ?",
                           [sub_id]).fetchone()
    finally:
        con.close()


def test_cancel_now_ends_the_subscription_and_the_database_shows_it(
        stripe_env, audit, db_path, make_subscription, localstripe_client):
    sub = make_subscription()
    result = _cancel(audit, db_path, sub["id"], "now")
    assert result.ok and result.saved == "published"
    assert localstripe_client.v1.subscriptions.retrieve(sub["id"]).status == "canceled"
    assert _db_subscription(db_path, sub["id"])[0] == "canceled"


def test_cancel_a_canceled_subscription_is_refused(stripe_env, audit, db_path, make_subscription):
    sub = make_subscription()
    assert _cancel(audit, db_path, sub["id"], "now", nonce="a").ok
    again = _cancel(audit, db_path, sub["id"], "now", nonce="b")
    assert again.outcome == "refused" and "already canceled" in again.message


def test_cancel_at_period_end_then_undo(stripe_env, audit, db_path, make_subscription,
                                        localstripe_client):
    sub = make_subscription()
    scheduled = _cancel(audit, db_path, sub["id"], "period_end")
    assert scheduled.ok
    assert _db_subscription(db_path, sub["id"]) == ("active", True)
    undone = undo_cancellation(client_from_env(), audit, db_path, actor="alice",
                               subscription_id=sub["id"], nonce="u")
    assert undone.ok
    live = localstripe_client.v1.subscriptions.retrieve(sub["id"])
    assert (live.status, live.cancel_at_period_end) == ("active", False)
    assert _db_subscription(db_path, sub["id"]) == ("active", False)


def test_undo_without_a_scheduled_cancellation_is_refused(stripe_env, audit, db_path,
                                                          make_subscription):
    sub = make_subscription()
    result = undo_cancellation(client_from_env(), audit, db_path, actor="alice",
                               subscription_id=sub["id"], nonce="u")
    assert result.outcome == "refused" and "not scheduled to cancel" in result.message


def test_cancel_now_with_a_refund_of_the_unused_time(stripe_env, audit, db_path,
                                                     make_subscription, localstripe_client):
    sub = make_subscription(amount=3000)
    client = client_from_env()
    facts = subscription_facts(client, sub["id"])
    halfway = (facts.period_start + facts.period_end) / 2
    refund = unused_refund(client, facts, now=halfway)
    assert refund.amount == 1500 and refund.currency == "eur"
    text = cancel_confirmation(facts, "now", "refund", refund)
    assert f"refund 15.00 EUR for the unused time on {refund.charge_id}" in text
    result = _cancel(audit, db_path, sub["id"], "now", unused="refund", refund=refund)
    assert result.ok and result.result["refund_id"]
    assert localstripe_client.v1.charges.retrieve(refund.charge_id).amount_refunded == 1500
    # The same submission again neither cancels nor refunds twice.
    again = _cancel(audit, db_path, sub["id"], "now", unused="refund", refund=refund)
    assert again.repeated
    assert len(localstripe_client.v1.refunds.list(params={"charge": refund.charge_id}).data) == 1


def test_cancel_unknown_subscription_is_a_clear_failure(stripe_env, audit, db_path):
    result = _cancel(audit, db_path, "sub_doesnotexist", "now")
    assert result.outcome == "failed" and "no such object" in result.message


def test_cancel_now_with_prorated_credit_writes_the_final_invoice(stripe_env, audit, db_path,
                                                                  make_subscription):
    sub = make_subscription()
    result = _cancel(audit, db_path, sub["id"], "now", unused="prorate")
    assert result.ok
    con = duckdb.connect(db_path, read_only=True)
    assert con.execute("SELECT count(*) FROM invoices WHERE subscription_id = ?",
                       [sub["id"]]).fetchone()[0] >= 1
    con.close()


def test_a_retry_after_a_lost_cancel_answer_completes_without_acting_twice(
        stripe_env, audit, db_path, make_subscription, localstripe_client, monkeypatch):
    import stripe
    sub = make_subscription()
    client = client_from_env()
    send, read = client.v1.subscriptions.cancel, client.v1.subscriptions.retrieve
    down = []

    def cancel_then_lose_the_answer(*args, **kwargs):  # a timeout after Stripe acted
        send(*args, **kwargs)
        down.append(True)
        raise stripe.APIConnectionError("timed out")

    def read_unless_down(*args, **kwargs):  # the re-check right after fails too
        if down and down.pop():
            raise stripe.APIConnectionError("still down")
        return read(*args, **kwargs)

    monkeypatch.setattr(client.v1.subscriptions, "cancel", cancel_then_lose_the_answer)
    monkeypatch.setattr(client.v1.subscriptions, "retrieve", read_unless_down)
    lost = cancel_subscription(client, audit, db_path, actor="alice", subscription_id=sub["id"],
                               when="now", nonce="t")
    assert lost.outcome == "unknown"
    retried = _cancel(audit, db_path, sub["id"], "now", nonce="t")
    assert retried.ok and _db_subscription(db_path, sub["id"])[0] == "canceled"
    other = _cancel(audit, db_path, sub["id"], "now", nonce="new form")
    assert other.outcome == "refused"


def test_failing_reads_after_cancel_and_unused_refund_still_record_success(
        stripe_env, audit, db_path, make_subscription, localstripe_client, monkeypatch):
    sub = make_subscription(amount=3000)
    client = client_from_env()
    facts = subscription_facts(client, sub["id"])
    refund = unused_refund(client, facts, now=(facts.period_start + facts.period_end) / 2)
    fail_reads_after(client, monkeypatch, (client.v1.refunds, "create"),
                      (client.v1.charges, "retrieve"))
    result = cancel_subscription(client, audit, db_path, actor="alice", subscription_id=sub["id"],
                                 when="now", unused="refund", refund=refund, nonce="x")
    assert result.ok and result.result["refund_id"], result.message
    assert "Refunded 15.00 EUR" in result.message


def test_a_failing_invoice_read_after_a_prorated_cancel_still_records_success(
        stripe_env, audit, db_path, make_subscription, monkeypatch):
    sub = make_subscription()
    client = client_from_env()
    fail_reads_after(client, monkeypatch, (client.v1.subscriptions, "cancel"),
                      (client.v1.invoices, "retrieve"))
    result = cancel_subscription(client, audit, db_path, actor="alice", subscription_id=sub["id"],
                                 when="now", unused="prorate", nonce="p")
    assert result.ok, result.message
    assert _db_subscription(db_path, sub["id"])[0] == "canceled"


def test_cancel_now_is_sent_with_the_submission_idempotency_key(
        stripe_env, audit, db_path, make_subscription, monkeypatch):
    from tally_admin.actions import idempotency_key
    sub = make_subscription()
    client = client_from_env()
    send, sent = client.v1.subscriptions.cancel, []

    def recording(*args, **kwargs):
        sent.append(kwargs.get("options"))
        return send(*args, **kwargs)

    monkeypatch.setattr(client.v1.subscriptions, "cancel", recording)
    result = cancel_subscription(client, audit, db_path, actor="alice", subscription_id=sub["id"],
                                 when="now", nonce="k")
    assert result.ok
    params = {"when": "now", "unused": "none", "refund_amount": None, "refund_charge": None}
    assert sent == [{"idempotency_key": idempotency_key("cancel_subscription", sub["id"],
                                                        params, "k")}]


def test_lost_answers_of_cancel_and_undo_are_checked_and_reported(
        stripe_env, audit, db_path, make_subscription, localstripe_client, monkeypatch):
    from tests.support.answer_losing_proxy import answer_losing_proxy
    scheduled, ended = make_subscription(), make_subscription()
    checked = "Stripe's answer was lost; Tally checked again: "
    steps = [(("POST", f"/v1/subscriptions/{scheduled['id']}"),
              lambda: _cancel(audit, db_path, scheduled["id"], "period_end", nonce="p"),
              f"{scheduled['id']} will cancel at the end of the period."),
             (("POST", f"/v1/subscriptions/{scheduled['id']}"),
              lambda: undo_cancellation(client_from_env(), audit, db_path, actor="alice",
                                        subscription_id=scheduled["id"], nonce="u"),
              f"{scheduled['id']} is no longer scheduled to cancel."),
             (("DELETE", f"/v1/subscriptions/{ended['id']}"),
              lambda: _cancel(audit, db_path, ended["id"], "now", nonce="c"),
              f"{ended['id']} is canceled.")]
    for lose, act, message in steps:
        with answer_losing_proxy(stripe_env, lose=lose) as (proxy, lost):
            monkeypatch.setenv("STRIPE_API_BASE", proxy)
            result = act()
        assert lost and result.ok and result.message == checked + message
    assert not localstripe_client.v1.subscriptions.retrieve(scheduled["id"]).cancel_at_period_end
    assert localstripe_client.v1.subscriptions.retrieve(ended["id"]).status == "canceled"
