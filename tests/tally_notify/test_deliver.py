"""Messages reach a real SMTP server and a Slack-like webhook; failures are retried and logged."""
from __future__ import annotations

import pytest

from tally_notify.config import NotifyConfig, Secrets
from tally_notify.deliver import ATTEMPTS, Message, deliver
from tests.support.servers import free_port

MESSAGE = Message("test", "Tally test: MRR 1,000.00 USD", "MRR 1,000.00 USD\nhttp://x/mrr\n",
                  '<html><body><a href="http://x/mrr">MRR</a> 1,000.00 USD</body></html>',
                  "*<http://x/mrr|MRR>* 1,000.00 USD")


def email_config(port: int, **extra) -> NotifyConfig:
    return NotifyConfig(email_to=["founder@example.com", "cfo@example.com"], email_from="tally@example.com",
                        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, **extra)


def test_an_email_arrives_as_html_with_a_plain_text_part(smtp_server, state):
    port, inbox = smtp_server
    outcomes = deliver(MESSAGE, email_config(port), Secrets(), state)
    assert [(o.channel, o.status, o.attempts) for o in outcomes] == [("email", "sent", 1)]
    [mail] = inbox.messages
    assert mail["Subject"] == MESSAGE.subject and mail["From"] == "tally@example.com"
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["cfo@example.com", "founder@example.com"]
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in mail.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "MRR 1,000.00 USD" in parts["text/plain"] and '<a href="http://x/mrr">' in parts["text/html"]
    [row] = state.sent().to_dict("records")
    assert (row["channel"], row["status"], row["destination"]) == (
        "email", "sent", "founder@example.com, cfo@example.com")


def test_slack_gets_json_with_the_text(slack_server, state):
    url, play = slack_server
    outcomes = deliver(MESSAGE, NotifyConfig(slack=True), Secrets(slack_webhook_url=url), state)
    assert [o.status for o in outcomes] == ["sent"]
    assert play.bodies == [{"text": MESSAGE.slack, "unfurl_links": False}]
    assert state.sent()["destination"].tolist() == ["Slack webhook"]


def test_smtp_down_is_retried_then_logged_as_failed(state):
    secret = "hunter2-smtp-password"
    outcomes = deliver(MESSAGE, email_config(free_port(), smtp_user="tally"), Secrets(smtp_password=secret),
                       state)
    assert [(o.status, o.attempts) for o in outcomes] == [("failed", ATTEMPTS)]
    [row] = state.sent().to_dict("records")
    assert row["status"] == "failed" and row["attempts"] == ATTEMPTS
    assert "ConnectionRefusedError" in row["error"] and secret not in row["error"]


def test_slack_500_is_retried_and_a_later_success_counts(slack_server, state):
    url, play = slack_server
    play.statuses = [500]
    [outcome] = deliver(MESSAGE, NotifyConfig(slack=True), Secrets(slack_webhook_url=url), state)
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert play.requests == 2 and len(play.bodies) == 1


@pytest.mark.parametrize("answer", ["500", "timeout"])
def test_slack_failing_every_time_is_logged_without_its_url(slack_server, state, answer, caplog):
    url, play = slack_server
    if answer == "500":
        play.statuses = [500] * ATTEMPTS
    else:
        play.delay = 1.5  # over the client's timeout (1 s in tests)
    [outcome] = deliver(MESSAGE, NotifyConfig(slack=True), Secrets(slack_webhook_url=url), state)
    assert (outcome.status, outcome.attempts) == ("failed", ATTEMPTS)
    assert play.requests == ATTEMPTS
    [row] = state.sent().to_dict("records")
    assert ("500" in row["error"]) if answer == "500" else ("did not answer" in row["error"])
    for text in (row["error"], caplog.text):
        assert "secretpart" not in text and url not in text


def test_a_malformed_slack_url_in_the_secrets_is_not_called(state):
    [outcome] = deliver(MESSAGE, NotifyConfig(slack=True), Secrets(slack_webhook_url="hooks.slack.com/x"),
                        state)
    assert outcome.status == "failed" and outcome.attempts == 0
    assert "https://" in outcome.error and "hooks.slack.com/x" not in outcome.error


def test_the_smtp_login_uses_the_secret_password_which_no_message_carries(state):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.tally_notify.conftest import Inbox

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret-pass", handled=False)

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    try:
        config = email_config(controller.port, smtp_user="tally")
        [ok] = deliver(MESSAGE, config, Secrets(smtp_password="s3cret-pass"), state)
        [refused] = deliver(MESSAGE, config, Secrets(smtp_password="wrong-pass"), state)
    finally:
        controller.stop()
    assert ok.status == "sent" and refused.status == "failed"
    assert logins[0] == (b"tally", b"s3cret-pass")
    assert len(inbox.messages) == 1 and b"s3cret" not in inbox.envelopes[0].original_content
    assert "SMTPAuthenticationError" in refused.error and "wrong-pass" not in refused.error
    assert refused.attempts == 1  # a refused login is not tried again: it would fail the same way
