"""Refunds against localstripe over HTTP: full, partial, over-refund, repeats, audit."""
import os

import duckdb

from tally_admin.audit import AuditLog
from tally_admin.refunds import charge_facts, refund_charge, refund_confirmation
from tally_admin.stripe_api import client_from_env
from tests.tally_admin.failing_reads import fail_reads_after


def _refund(audit, db_path, charge_id, amount, nonce="n1", reason="requested_by_customer"):
    return refund_charge(client_from_env(), audit, db_path, actor="alice", charge_id=charge_id,
                         amount=amount, reason=reason, nonce=nonce)


def _stripe_refunds(client, charge_id):
    return client.v1.refunds.list(params={"charge": charge_id}).data


def test_full_refund_is_written_to_the_database_at_once(stripe_env, audit, db_path, make_charge,
                                                        localstripe_client):
    charge = make_charge(amount=10000)
    result = _refund(audit, db_path, charge["id"], 10000)
    assert result.ok and result.saved == "published"
    assert localstripe_client.v1.charges.retrieve(charge["id"]).amount_refunded == 10000
    con = duckdb.connect(db_path, read_only=True)
    assert con.execute("SELECT amount, currency FROM refunds WHERE charge_id = ?",
                       [charge["id"]]).fetchall() == [(10000, "eur")]
    assert con.execute("SELECT amount_refunded FROM charges WHERE id = ?",
                       [charge["id"]]).fetchone() == (10000,)


def test_partial_refunds_add_up_and_the_rest_stays_refundable(stripe_env, audit, db_path,
                                                              make_charge):
    charge = make_charge(amount=10000)
    assert _refund(audit, db_path, charge["id"], 2500, nonce="a").ok
    assert _refund(audit, db_path, charge["id"], 7500, nonce="b").ok
    facts = charge_facts(client_from_env(), charge["id"])
    assert (facts.refunded, facts.refundable) == (10000, 0)


def test_over_refund_is_refused_before_stripe_is_called(stripe_env, audit, db_path, make_charge,
                                                        localstripe_client):
    charge = make_charge(amount=10000)
    assert _refund(audit, db_path, charge["id"], 6000, nonce="a").ok
    result = _refund(audit, db_path, charge["id"], 6000, nonce="b")
    assert result.outcome == "refused"
    assert "only 40.00 EUR of 100.00 EUR is still refundable" in result.message
    assert len(_stripe_refunds(localstripe_client, charge["id"])) == 1


def test_the_same_submission_twice_makes_one_refund(stripe_env, audit, db_path, make_charge,
                                                    localstripe_client):
    charge = make_charge(amount=10000)
    first = _refund(audit, db_path, charge["id"], 3000, nonce="same")
    second = _refund(audit, db_path, charge["id"], 3000, nonce="same")
    assert first.ok and second.ok and second.repeated
    assert second.result["refund_id"] == first.result["refund_id"]
    assert len(_stripe_refunds(localstripe_client, charge["id"])) == 1


def test_a_retry_after_a_lost_answer_finds_the_refund_instead_of_repeating_it(
        stripe_env, audit, db_path, make_charge, localstripe_client, monkeypatch):
    charge = make_charge(amount=10000)
    lost = _refund_losing_the_answer(audit, db_path, charge["id"], 1000, "t", monkeypatch)
    assert lost.outcome == "unknown"
    retried = refund_charge(client_from_env(), audit, db_path, actor="alice",
                            charge_id=charge["id"], amount=1000, reason="duplicate", nonce="t")
    assert retried.ok and retried.result["amount"] == 1000
    assert len(_stripe_refunds(localstripe_client, charge["id"])) == 1


def test_every_attempt_is_audited_including_failures(stripe_env, audit, db_path, make_charge):
    charge = make_charge(amount=5000)
    _refund(audit, db_path, charge["id"], 5000, nonce="a")       # succeeds
    _refund(audit, db_path, charge["id"], 5000, nonce="a")       # repeated
    _refund(audit, db_path, charge["id"], 100, nonce="b")        # refused: nothing left
    _refund(audit, db_path, "ch_doesnotexist", 100, nonce="c")   # Stripe: no such charge
    rows = audit.frame().sort_values("seq")
    attempts = rows[rows.phase == "attempt"]
    outcomes = rows[rows.phase == "outcome"]
    assert len(attempts) == 4
    assert list(outcomes.outcome) == ["succeeded", "repeated", "refused", "failed"]
    assert set(rows.actor) == {"alice"}
    assert "no such object" in outcomes.message.iloc[-1]


def test_the_confirmation_restates_the_refund_in_the_charge_currency(stripe_env, make_charge):
    charge = make_charge(amount=5000, currency="jpy")
    facts = charge_facts(client_from_env(), charge["id"])
    text = refund_confirmation(facts, 1200, "requested_by_customer")
    assert text == (f"Refund 1,200 JPY of 5,000 JPY paid (0 JPY already refunded) on {charge['id']} "
                    "to jane@example.com, reason: requested_by_customer")


def test_a_failing_charge_read_after_the_refund_still_records_success(
        stripe_env, audit, db_path, make_charge, localstripe_client, monkeypatch):
    charge = make_charge(amount=10000)
    client = client_from_env()
    fail_reads_after(client, monkeypatch, (client.v1.refunds, "create"),
                      (client.v1.charges, "retrieve"))
    result = refund_charge(client, audit, db_path, actor="alice", charge_id=charge["id"],
                           amount=2500, reason="duplicate", nonce="r")
    assert result.outcome == "succeeded", result.message
    assert result.result["amount"] == 2500
    again = refund_charge(client, audit, db_path, actor="alice", charge_id=charge["id"],
                          amount=2500, reason="duplicate", nonce="r")
    assert again.repeated and again.outcome == "succeeded"  # recorded final: no second refund
    assert len(_stripe_refunds(localstripe_client, charge["id"])) == 1


class _Disputes:
    """client.v1.disputes answering with `disputes`, or raising `error`."""
    def __init__(self, disputes=(), error=None):
        self.disputes, self.error, self.asked = list(disputes), error, []

    def list(self, params=None, options=None):
        self.asked.append(params)
        if self.error:
            raise self.error
        disputes = self.disputes

        class Page:
            def auto_paging_iter(self):
                return iter(disputes)
        return Page()


def _client_with(disputes):
    from types import SimpleNamespace
    return SimpleNamespace(v1=SimpleNamespace(disputes=disputes))


def _facts_of(disputes, disputed=True):
    from tally_admin.refunds import charge_facts
    charge = {"id": "ch_d", "currency": "eur", "amount": 5000, "amount_captured": 5000,
              "amount_refunded": 0, "status": "succeeded", "disputed": disputed,
              "receipt_email": "jane@example.com"}
    return charge_facts(_client_with(disputes), "ch_d", charge)


def test_a_won_dispute_no_longer_blocks_a_refund():
    from tally_admin.refunds import refusal
    disputes = _Disputes([{"id": "dp_1", "status": "won", "is_charge_refundable": True}])
    facts = _facts_of(disputes)
    assert refusal(facts, 1000, "duplicate") is None
    assert disputes.asked[0]["charge"] == "ch_d"


def test_an_open_or_unrefundable_dispute_blocks_the_refund():
    from tally_admin.refunds import refusal
    open_one = _facts_of(_Disputes([{"id": "dp_2", "status": "needs_response",
                                     "is_charge_refundable": False}]))
    assert "open dispute (dp_2, needs_response)" in refusal(open_one, 1000, "duplicate")
    lost = _facts_of(_Disputes([{"id": "dp_3", "status": "lost", "is_charge_refundable": False}]))
    assert "cannot be refunded" in refusal(lost, 1000, "duplicate")
    assert "dp_3" in refusal(lost, 1000, "duplicate")


def test_without_a_disputes_endpoint_the_disputed_flag_decides():
    import stripe

    from tally_admin.refunds import refusal
    missing = stripe.InvalidRequestError("Not Found", None, http_status=404)
    assert "disputed" in refusal(_facts_of(_Disputes(error=missing)), 1000, "duplicate")
    assert refusal(_facts_of(_Disputes(error=missing), disputed=False), 1000, "duplicate") is None


def test_a_localstripe_charge_is_refundable_without_a_disputes_endpoint(stripe_env, make_charge):
    from tally_admin.refunds import refusal
    facts = charge_facts(client_from_env(), make_charge(amount=3000)["id"])
    assert facts.dispute is None and refusal(facts, 3000, "duplicate") is None


def test_after_a_lost_answer_a_changed_amount_from_the_same_form_is_refused(
        stripe_env, audit, db_path, make_charge, localstripe_client, monkeypatch):
    charge = make_charge(amount=10000)
    lost = _refund_losing_the_answer(audit, db_path, charge["id"], 1000, "form-1", monkeypatch)
    assert lost.outcome == "unknown"
    changed = _refund(audit, db_path, charge["id"], 2000, nonce="form-1")  # "Change", re-submit
    assert changed.outcome == "refused" and "This form already refunded 10.00 EUR" in changed.message
    assert len(_stripe_refunds(localstripe_client, charge["id"])) == 1
    assert _refund(audit, db_path, charge["id"], 2000, nonce="form-2").ok  # a new form may


def _refund_losing_the_answer(audit, db_path, charge_id, amount, nonce, monkeypatch,
                              still_down=True):
    """Refund through a client whose answer is lost: Stripe acts, the call times out.

    `still_down`: the re-check right after fails too, so the outcome stays unknown.
    """
    import stripe
    client = client_from_env()
    send, read = client.v1.refunds.create, client.v1.refunds.list
    lost = []

    def send_then_lose_the_answer(**kwargs):
        send(**kwargs)
        lost.append(True)
        raise stripe.APIConnectionError("timed out")

    def read_unless_down(*args, **kwargs):
        if still_down and lost and lost.pop():
            raise stripe.APIConnectionError("still down")
        return read(*args, **kwargs)

    monkeypatch.setattr(client.v1.refunds, "create", send_then_lose_the_answer)
    monkeypatch.setattr(client.v1.refunds, "list", read_unless_down)
    return refund_charge(client, audit, db_path, actor="alice", charge_id=charge_id,
                         amount=amount, reason="duplicate", nonce=nonce)


def test_a_lost_answer_is_checked_at_once_and_reported(stripe_env, audit, db_path, make_charge,
                                                       localstripe_client, monkeypatch):
    charge = make_charge(amount=10000)
    result = _refund_losing_the_answer(audit, db_path, charge["id"], 1500, "lost", monkeypatch,
                                       still_down=False)
    refunds = _stripe_refunds(localstripe_client, charge["id"])
    assert len(refunds) == 1
    assert result.ok and result.result["refund_id"] == refunds[0].id
    assert result.message.startswith("Stripe's answer was lost; Tally checked again: Refunded 15.00 EUR")
    assert refunds[0].id in result.message
    outcomes = audit.frame().query("phase == 'outcome'")
    assert list(outcomes.outcome) == ["succeeded"]


class DiskFullAfterFirstWrite(AuditLog):
    """An audit store whose second write (and every one after, until healed) fails."""

    def __init__(self, path):
        super().__init__(path)
        self.writes, self.full = 0, False

    def _write_rows(self, rows):
        self.writes += 1
        self.full = self.full or self.writes == 2
        if self.full:
            raise duckdb.IOException("No space left on device")
        super()._write_rows(rows)


def test_an_outcome_the_audit_cannot_write_is_reported_held_and_written_later(
        stripe_env, tmp_path, db_path, make_charge, localstripe_client):
    charge = make_charge(amount=10000)
    audit = DiskFullAfterFirstWrite(str(tmp_path / "audit.duckdb"))
    first = _refund(audit, db_path, charge["id"], 2500, nonce="full")
    [refund] = _stripe_refunds(localstripe_client, charge["id"])
    assert first.ok and not first.audited  # Stripe refunded; the audit has only the attempt
    assert f"Refunded 25.00 EUR on {charge['id']} ({refund.id}" in first.message
    assert "could not record this" in first.message
    assert list(audit.frame().phase) == ["attempt"]
    # Confirm again while the disk is still full: answered from the held record, no new refund.
    again = _refund(audit, db_path, charge["id"], 2500, nonce="full")
    assert again.repeated and again.ok and not again.audited
    assert again.result["refund_id"] == refund.id
    # Space again: the held outcome is written first, then this submission is answered from it.
    audit.full = False
    healed = _refund(audit, db_path, charge["id"], 2500, nonce="full")
    assert healed.repeated and healed.audited and healed.result["refund_id"] == refund.id
    rows = audit.frame().sort_values("seq")
    assert list(rows.outcome.dropna()) == ["succeeded", "repeated", "repeated"]
    assert len(_stripe_refunds(localstripe_client, charge["id"])) == 1


def test_typed_amounts_are_parsed_per_currency_and_a_comma_is_refused():
    from tally_admin.refunds import to_minor
    assert to_minor("12,50", "eur") is None and to_minor("1,250.00", "usd") is None
    assert to_minor("12.50", "eur") == 1250 and to_minor(10.5, "usd") == 1050
    assert to_minor("1200", "jpy") == 1200 and to_minor("12.5", "jpy") is None
    assert to_minor("1.234", "kwd") == 1234 and to_minor("10.505", "usd") is None
    assert to_minor("abc", "eur") is None and to_minor("nan", "eur") is None


def test_a_held_outcome_survives_a_restart_and_is_written_once_there_is_room(
        stripe_env, tmp_path, db_path, make_charge, localstripe_client):
    from tally_admin import audit as audit_module
    charge = make_charge(amount=10000)
    path = str(tmp_path / "audit.duckdb")
    audit = DiskFullAfterFirstWrite(path)
    first = _refund(audit, db_path, charge["id"], 2500, nonce="restart")
    assert first.ok and not first.audited
    audit_module._HELD.clear()  # the dashboard restarts: nothing held in memory any more
    restarted = AuditLog(path)
    again = _refund(restarted, db_path, charge["id"], 2500, nonce="restart")  # disk has room again
    assert again.repeated and again.ok and again.audited
    [refund] = _stripe_refunds(localstripe_client, charge["id"])
    assert again.result["refund_id"] == refund.id
    outcomes = restarted.frame().sort_values("seq").query("phase == 'outcome'")
    assert list(outcomes.outcome) == ["succeeded", "repeated"]
    assert not os.path.exists(f"{path}.held.jsonl")  # written, so no longer held
