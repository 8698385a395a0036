"""Settings are checked when entered; secrets come from env vars or secrets.toml and are scrubbed."""
from __future__ import annotations

import pytest

from tally_notify import config as settings
from tally_notify.config import BadSetting, NotifyConfig, check_config, check_emails, check_webhook_url


@pytest.mark.parametrize("address", ["founder", "a@b", "a b@example.com", "x@example.com,y", "<a@example.com>"])
def test_a_malformed_address_is_refused(address):
    with pytest.raises(BadSetting, match="not an email address"):
        check_emails(address)


def test_recipients_one_per_line_or_comma_separated():
    assert check_emails("a@example.com\n b@example.org, c.d+e@mail.example.co.uk") == [
        "a@example.com", "b@example.org", "c.d+e@mail.example.co.uk"]


@pytest.mark.parametrize("url", ["hooks.slack.com/services/x", "ftp://hooks.slack.com/x", "https://",
                                 "http://hooks.slack.com/services/x", "https://exa mple.com/x"])
def test_a_malformed_or_plain_http_webhook_url_is_refused(url):
    with pytest.raises(BadSetting):
        check_webhook_url(url)


def test_a_webhook_url_on_this_machine_may_be_plain_http():
    assert check_webhook_url("http://127.0.0.1:9000/hook") == "http://127.0.0.1:9000/hook"
    assert check_webhook_url("https://hooks.slack.com/services/T/B/x")


@pytest.mark.parametrize("change, message", [
    (dict(base_url="tally.example.com"), "dashboard address"),
    (dict(email_to=["ceo@example.com"], email_from="tally"), "not an email address"),
    (dict(email_to=["ceo@example.com"], email_from="t@example.com", smtp_host=""), "SMTP server"),
    (dict(email_to=["ceo@example.com"], email_from="t@example.com", smtp_host="smtp://x"), "SMTP server"),
    (dict(success_rate_below=140.0), "percentage"),
    (dict(daily_hour=24), "Hours"),
])
def test_a_bad_configuration_is_refused_with_the_reason(change, message):
    with pytest.raises(BadSetting, match=message):
        check_config(NotifyConfig(**change))


def test_a_good_configuration_passes_and_round_trips(state):
    config = check_config(NotifyConfig(base_url="https://tally.example.com/", email_to=["ceo@example.com"],
                                       email_from="tally@example.com", smtp_host="smtp.example.com",
                                       daily=True, movement_above=500.0, disputes=True))
    assert config.base_url == "https://tally.example.com"
    state.save_config(config, by="root")
    assert state.config() == config


def test_secrets_come_from_the_secrets_file_and_env_wins(tmp_path, monkeypatch):
    toml = tmp_path / "secrets.toml"
    toml.write_text('[tally_notify]\nsmtp_password = "from-file"\n'
                    'slack_webhook_url = "https://hooks.slack.com/services/T/B/filepart"\n')
    monkeypatch.setattr(settings, "_secrets_files", lambda: [toml])
    found = settings.secrets()
    assert (found.smtp_password, found.slack_webhook_url) == (
        "from-file", "https://hooks.slack.com/services/T/B/filepart")
    monkeypatch.setenv("TALLY_SMTP_PASSWORD", "from-env")
    assert settings.secrets().smtp_password == "from-env"
    assert "from-file" not in repr(found) and "filepart" not in repr(found)


def test_scrub_removes_every_secret_and_the_webhook_path():
    found = settings.Secrets(smtp_password="pw123", slack_webhook_url="https://hooks.slack.com/services/T/B/xyz")
    text = found.scrub("login pw123 failed; POST /services/T/B/xyz; https://hooks.slack.com/services/T/B/xyz")
    assert "pw123" not in text and "xyz" not in text
