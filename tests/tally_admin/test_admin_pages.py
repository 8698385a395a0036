"""An admin sees the confirmation, then the result, through the real page functions (AppTest)."""
import re

import duckdb
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from tally_auth import tokens
from tally_auth.passwords import hash_password
from tests.conftest import ROOT

HARNESS = str(ROOT / "tests" / "tally_auth" / "harness_app.py")
USERS = {"users": {"ada": {"password_hash": hash_password("ada-password"), "role": "admin",
                           "email": "ada@example.com"}}}


@pytest.fixture
def admin_app(stripe_env, tmp_path, monkeypatch):
    monkeypatch.setenv("TALLY_DB", str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("TALLY_AUDIT_DB", str(tmp_path / "audit.duckdb"))

    def open_page(url_path):
        at = AppTest.from_file(HARNESS, default_timeout=30)
        at.secrets["tally_auth"] = USERS
        at.session_state["_tally_auth_token"] = tokens.issue("ada")
        at.run()
        at._page_hash = calc_hash(url_path)  # a link to /<url_path>
        return at.run()
    return open_page


def _click(at, label):
    next(b for b in at.button if b.label == label).click()
    return at.run()


def _texts(elements):
    """What the reader sees: markdown escapes removed."""
    return re.sub(r"\\(.)", r"\1", " ".join(e.value for e in elements))


def test_refund_page_confirms_then_refunds_once(admin_app, make_charge, localstripe_client, tmp_path):
    charge = make_charge(amount=4200, currency="usd")
    at = admin_app("refund")
    at.text_input(key="admin_refund_query").input(charge["id"]).run()
    assert [m.value for m in at.metric] == ["42.00 USD", "0.00 USD", "42.00 USD"]
    at.number_input[0].set_value(10.5)
    at.selectbox[1].set_value("duplicate")
    at = _click(at, "Review refund")
    assert _texts(at.warning) == (f"Please confirm: Refund 10.50 USD of 42.00 USD paid "
                                  f"(0.00 USD already refunded) on {charge['id']} to "
                                  "jane@example.com, reason: duplicate")
    assert not localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data
    at = _click(at, "Confirm refund")
    assert "Refunded 10.50 USD" in _texts(at.success)
    assert [m.value for m in at.metric] == ["42.00 USD", "10.50 USD", "31.50 USD"]
    assert len(localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data) == 1
    con = duckdb.connect(str(tmp_path / "tally.duckdb"), read_only=True)
    assert con.execute("SELECT amount FROM refunds").fetchall() == [(1050,)]
    con.close()
    at = admin_app("audit")
    assert at.title[0].value == "Audit trail"
    audit = at.dataframe[0].value
    assert list(audit.outcome.dropna()) == ["succeeded"]
    assert set(audit.actor) == {"ada <ada@example.com>"}


def test_cancel_page_schedules_then_undoes(admin_app, make_subscription, localstripe_client):
    sub = make_subscription()
    at = admin_app("cancel")
    at.text_input(key="admin_cancel_query").input("jane@example.com").run()
    at.radio[0].set_value("period_end")
    at = _click(at, "Review cancellation")
    assert f"Please confirm: Cancel {sub['id']} for jane@example.com at the end of the current period" \
        in _texts(at.warning)
    at = _click(at, "Confirm cancellation")
    assert "will cancel at the end of the period" in _texts(at.success)
    assert localstripe_client.v1.subscriptions.retrieve(sub["id"]).cancel_at_period_end
    assert "Please confirm: Undo the scheduled cancellation" in _texts(at.warning)
    at = _click(at, "Undo the cancellation")
    assert "no longer scheduled to cancel" in _texts(at.success)
    assert not localstripe_client.v1.subscriptions.retrieve(sub["id"]).cancel_at_period_end


def test_a_stripe_error_is_one_clear_line(admin_app):
    at = admin_app("refund")
    at.text_input(key="admin_refund_query").input("ch_doesnotexist").run()
    assert _texts(at.error) == "Stripe has no such object (it may be in another account or mode)."
    assert not at.exception


@pytest.fixture
def real_dashboard(tmp_path, monkeypatch, empty_published_db):
    """dashboard.py itself, on an empty published database."""
    db = empty_published_db
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.setenv("TALLY_AUDIT_DB", str(tmp_path / "audit.duckdb"))
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")

    def open_as(user_name, role, url_path):
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
        at.secrets["tally_auth"] = {"users": {user_name: {
            "password_hash": USERS["users"]["ada"]["password_hash"], "role": role}}}
        at.session_state["_tally_auth_token"] = tokens.issue(user_name)
        at.run()
        at._page_hash = calc_hash(url_path)
        return at.run()
    return open_as


@pytest.mark.parametrize("url_path", ["refund", "cancel", "audit", "admin-locked"])
def test_the_dashboard_serves_admin_urls_to_admins_only(real_dashboard, url_path):
    viewer = real_dashboard("vic", "viewer", url_path)
    assert not viewer.exception
    assert {t.value for t in viewer.title} & {"Refund a charge", "Cancel a subscription",
                                              "Audit trail", "Admin"} == set()
    if url_path != "admin-locked":
        admin = real_dashboard("ada", "admin", url_path)
        assert admin.title[0].value in {"Refund a charge", "Cancel a subscription", "Audit trail"}


def test_the_audit_trail_filters_by_outcome_and_search(admin_app, make_charge):
    from tally_admin.audit import AuditLog, audit_path_from_env
    from tally_admin.refunds import refund_charge
    from tally_admin.stripe_api import client_from_env
    charge = make_charge(amount=1000)
    audit = AuditLog(audit_path_from_env())
    for amount, nonce in ((400, "a"), (900, "b")):  # the second is more than is left
        refund_charge(client_from_env(), audit, None, actor="ada", charge_id=charge["id"],
                      amount=amount, reason="duplicate", nonce=nonce)
    at = admin_app("audit")
    assert len(at.dataframe[0].value) == 4
    at.multiselect(key="admin_audit_outcomes").set_value(["refused"]).run()
    shown = at.dataframe[0].value
    assert list(shown.phase) == ["outcome", "attempt"] and "refused" in list(shown.outcome)
    at.multiselect(key="admin_audit_outcomes").set_value([]).run()
    at.text_input(key="admin_audit_search").input("ch_nothing_like_it").run()
    assert len(at.dataframe[0].value) == 0


def test_a_replayed_confirmation_is_answered_from_the_audit_trail(admin_app, make_charge,
                                                                  localstripe_client):
    charge = make_charge(amount=5000)
    at = admin_app("refund")
    at.text_input(key="admin_refund_query").input(charge["id"]).run()
    at.number_input[0].set_value(20.0)
    at = _click(at, "Review refund")
    submission = dict(at.session_state["_tally_admin_refund"])
    at = _click(at, "Confirm refund")
    assert "Refunded 20.00 EUR" in _texts(at.success)
    # A second click or a rerun that still carries the same submission:
    at.session_state["_tally_admin_refund"] = submission
    at = _click(at.run(), "Confirm refund")
    assert _texts(at.success).startswith("Already done (same submission): Refunded 20.00 EUR")
    assert len(localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data) == 1
    # A new review of the same charge is a new submission with a new nonce.
    assert at.session_state["_tally_admin_nonces"].get(f"refund:{charge['id']}") is None


def test_a_refund_the_audit_cannot_record_is_reported_and_stays_open(admin_app, make_charge,
                                                                     localstripe_client,
                                                                     monkeypatch):
    from tally_admin.audit import AuditLog
    write = AuditLog._write_rows
    disk = {"writes": 0, "full": False}

    def fails_from_the_second_write(self, rows):
        disk["writes"] += 1
        disk["full"] = disk["full"] or disk["writes"] == 2
        if disk["full"]:
            raise duckdb.IOException("No space left on device")
        write(self, rows)

    monkeypatch.setattr(AuditLog, "_write_rows", fails_from_the_second_write)
    charge = make_charge(amount=4200, currency="usd")
    at = admin_app("refund")
    at.text_input(key="admin_refund_query").input(charge["id"]).run()
    at.number_input[0].set_value(10.5)
    at = _click(at, "Review refund")
    nonce = at.session_state["_tally_admin_refund"]["nonce"]
    at = _click(at, "Confirm refund")
    [refund] = localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data
    shown = _texts(at.warning)
    assert f"Refunded 10.50 USD on {charge['id']} ({refund.id}" in shown
    assert "could not record this" in shown and "Something went wrong" not in _texts(at.error)
    assert at.session_state["_tally_admin_refund"]["nonce"] == nonce  # the submission stays open
    disk["full"] = False
    at = _click(at, "Confirm refund")
    assert _texts(at.success).startswith("Already done (same submission): Refunded 10.50 USD")
    assert len(localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data) == 1
    assert "_tally_admin_refund" not in at.session_state


@pytest.mark.parametrize("typed, error", [
    (50.0, "Refusing to refund 50.00 USD: only 42.00 USD of 42.00 USD is still refundable"),
    (0.0, "The refund amount must be more than zero."),
    (-5.0, "The refund amount must be more than zero."),
    (10.555, "Type the amount in USD with at most 2 decimals after a point, e.g. 12.50."),
])
def test_an_amount_the_refund_cannot_take_is_refused_before_the_confirm_step(
        admin_app, make_charge, typed, error):
    charge = make_charge(amount=4200, currency="usd")
    at = admin_app("refund")
    at.text_input(key="admin_refund_query").input(charge["id"]).run()
    at.number_input[0].set_value(typed)
    at = _click(at, "Review refund")
    assert _texts(at.error).startswith(error)
    assert "Please confirm" not in _texts(at.warning)
    assert "_tally_admin_refund" not in at.session_state


def test_a_refund_whose_answer_is_lost_on_the_wire_is_checked_and_reported(
        admin_app, make_charge, localstripe_client, localstripe_url, monkeypatch):
    from tests.support.answer_losing_proxy import answer_losing_proxy
    charge = make_charge(amount=4200, currency="usd")
    with answer_losing_proxy(localstripe_url, lose=("POST", "/v1/refunds")) as (proxy, lost):
        monkeypatch.setenv("STRIPE_API_BASE", proxy)
        at = admin_app("refund")
        at.text_input(key="admin_refund_query").input(charge["id"]).run()
        at.number_input[0].set_value(12.0)
        at = _click(at, "Review refund")
        at = _click(at, "Confirm refund")
    assert lost == ["POST /v1/refunds"]
    [refund] = localstripe_client.v1.refunds.list(params={"charge": charge["id"]}).data
    assert _texts(at.success).startswith(
        f"Stripe's answer was lost; Tally checked again: Refunded 12.00 USD on {charge['id']} "
        f"({refund.id}")
    assert not at.warning or "outcome is unknown" not in _texts(at.warning)


def test_an_amount_the_step_buttons_left_binary_noise_in_is_taken(admin_app, make_charge):
    charge = make_charge(amount=4200, currency="usd")
    at = admin_app("refund")
    at.text_input(key="admin_refund_query").input(charge["id"]).run()
    at.number_input[0].set_value(0.1 + 0.2)  # 0.30000000000000004, as three clicks of the step leave it
    at = _click(at, "Review refund")
    assert not at.error
    assert at.session_state["_tally_admin_refund"]["amount"] == 30
