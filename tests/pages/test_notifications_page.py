"""The admin-only Notifications page: settings checked when entered, secrets never shown, the send log."""
from __future__ import annotations

import pytest

import tally_auth
from tally_auth import login
from tally_notify import config as settings
from tally_notify.state import NotifyState, notify_path_from_env
from tests.pages.apptest import goto, open_app, shown_text
from tests.tally_notify.conftest import slack_server  # noqa: F401 - a fixture: Slack's webhook, played locally

ADMIN = tally_auth.User("root", "root@example.com", "admin")
VIEWER = tally_auth.User("vera", "vera@example.com", "viewer")
SLACK_URL = "https://hooks.slack.com/services/T0001/B0001/topsecretpart"


@pytest.fixture
def as_user(monkeypatch, writable_db):
    monkeypatch.setattr(settings, "_secrets_files", lambda: [])
    monkeypatch.delenv("TALLY_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("TALLY_SLACK_WEBHOOK_URL", raising=False)

    def sign_in(user):
        monkeypatch.setattr(tally_auth, "authenticate", lambda: user)
        monkeypatch.setattr(login, "auth_configured", lambda: True)
        monkeypatch.setattr(login, "current_user", lambda: user)
    return sign_in


def widget(at, kind: str, label: str):
    [found] = [w for w in getattr(at, kind) if w.label == label]
    return found


def everything_shown(at) -> str:
    values = [w.value for kind in ("text_input", "text_area") for w in getattr(at, kind)]
    return shown_text(at) + "\n" + "\n".join(map(str, values)) + "\n" + str(at.main)


def test_viewers_do_not_get_the_page(as_user):
    as_user(VIEWER)
    at = open_app()
    assert not at.exception
    assert all(info.get("page_name") != "Notifications" for info in at._registered_pages.values())


def test_an_admin_saves_settings_and_a_bad_address_is_refused(as_user, monkeypatch):
    as_user(ADMIN)
    monkeypatch.setenv("TALLY_SLACK_WEBHOOK_URL", SLACK_URL)
    monkeypatch.setenv("TALLY_SMTP_PASSWORD", "smtp-pass-777")
    at = goto(open_app(), "Notifications")
    assert not at.exception
    assert "Slack webhook URL: set" in shown_text(at) and "SMTP password: set" in shown_text(at)
    widget(at, "text_area", "Recipients (one per line)").input("ceo@example.com\nnot-an-address")
    widget(at, "text_input", "From address").input("tally@example.com")
    widget(at, "text_input", "SMTP server").input("smtp.example.com")
    widget(at, "checkbox", "Daily digest").check()
    at = widget(at, "button", "Save").click().run()
    assert not at.exception
    assert "Not saved: 'not-an-address' is not an email address" in shown_text(at)
    assert "not-an-address" in widget(at, "text_area", "Recipients (one per line)").value  # kept
    state = NotifyState(notify_path_from_env())
    assert state.config().email_to == []
    widget(at, "text_area", "Recipients (one per line)").input("ceo@example.com, cfo@example.com")
    at = widget(at, "button", "Save").click().run()
    assert "Saved." in shown_text(at)
    saved = state.config()
    assert (saved.email_to, saved.smtp_host, saved.daily) == (
        ["ceo@example.com", "cfo@example.com"], "smtp.example.com", True)
    shown = everything_shown(at)
    assert "topsecretpart" not in shown and "smtp-pass-777" not in shown


def test_a_malformed_slack_url_in_the_secrets_is_named_not_shown(as_user, monkeypatch):
    as_user(ADMIN)
    monkeypatch.setenv("TALLY_SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/T/B/leakme")
    at = goto(open_app(), "Notifications")
    assert "must use https://" in shown_text(at)
    assert "leakme" not in everything_shown(at)


def test_every_send_and_failure_is_listed(as_user):
    as_user(ADMIN)
    state = NotifyState(notify_path_from_env())
    state.log_send(kind="digest", subject="Tally daily digest", channel="email", destination="ceo@example.com",
                   status="sent", attempts=1)
    state.log_send(kind="alert", subject="Tally alert: dispute", channel="slack", destination="Slack webhook",
                   status="failed", attempts=3, error="OSError: Slack answered 500")
    at = goto(open_app(), "Notifications")
    assert not at.exception
    assert "1 of the 2 messages listed failed to send." in shown_text(at)
    [table] = at.dataframe
    assert table.value["status"].tolist() == ["failed", "sent"]
    assert table.value["error"].iloc[0] == "OSError: Slack answered 500"


def test_the_page_checks_the_role_itself(as_user):
    """Even if it were registered for a viewer, it refuses to render."""
    from streamlit.testing.v1 import AppTest

    def registered_by_mistake():
        from pages.views.notifications_page import notifications_page
        notifications_page()

    as_user(VIEWER)
    at = AppTest.from_function(registered_by_mistake).run()
    assert "for admins only" in shown_text(at)
    assert not at.text_input and not at.button


def test_send_now_posts_a_digest_to_slack_and_lists_it(as_user, monkeypatch, slack_server):  # noqa: F811
    url, play = slack_server
    as_user(ADMIN)
    monkeypatch.setenv("TALLY_SLACK_WEBHOOK_URL", url)
    NotifyState(notify_path_from_env()).save_config(
        settings.NotifyConfig(slack=True, base_url="https://tally.example.com"), by="test")
    at = goto(open_app(), "Notifications")
    at = widget(at, "button", "Send yesterday's digest now").click().run()
    assert not at.exception
    assert "slack: sent" in shown_text(at)
    [body] = play.bodies
    assert body["text"].startswith("*Tally daily digest") and "https://tally.example.com/payments" in body["text"]
    [table] = at.dataframe
    assert table.value[["channel", "status", "destination"]].values.tolist() == [["slack", "sent", "Slack webhook"]]
    assert "secretpart" not in everything_shown(at)
