"""What admins configure on the Notifications page, checked when entered, and the secrets.

Settings (rules, recipients, SMTP host) are stored in the notify database.
Secrets never are: the SMTP password and the Slack webhook URL are read from
env vars (TALLY_SMTP_PASSWORD, TALLY_SLACK_WEBHOOK_URL) or from the
`[tally_notify]` section of `.streamlit/secrets.toml` (smtp_password,
slack_webhook_url), where the sign-in secrets live. Pages only say whether
each is set.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

EMAIL = re.compile(r"^[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[A-Za-z0-9-]{2,}$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class BadSetting(ValueError):
    """A value an admin entered that cannot be used (one clear line)."""


@dataclass
class NotifyConfig:
    base_url: str = "http://127.0.0.1:8501"  # where links in messages point
    email_to: list[str] = field(default_factory=list)
    email_from: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_starttls: bool = True
    slack: bool = False  # post to the Slack webhook URL kept in the secrets
    daily: bool = False
    daily_hour: int = 8  # UTC
    weekly: bool = False
    weekly_day: int = 0  # Monday
    weekly_hour: int = 8
    movement_above: float | None = None  # churn/contraction over this many major units
    success_rate_below: float | None = None  # percent
    success_window_days: int = 7
    disputes: bool = False  # a dispute opened or an early fraud warning
    sync_failing_minutes: int | None = None

    @classmethod
    def from_dict(cls, data: dict) -> NotifyConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def email(self) -> bool:
        return bool(self.email_to and self.smtp_host)


def check_email(address: str) -> str:
    address = (address or "").strip()
    if not EMAIL.match(address):
        raise BadSetting(f"{address!r} is not an email address (name@example.com).")
    return address


def check_emails(text: str) -> list[str]:
    """Recipients, one per line or comma-separated."""
    return [check_email(a) for a in re.split(r"[\s,;]+", text or "") if a.strip()]


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str = "URL") -> str:
    """An http(s) URL with a host; plain http only to this machine for a webhook."""
    url = (url or "").strip()
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in url:
        raise BadSetting(f"The {what} must start with http:// or https:// and name a host.")
    return url.rstrip("/") if what == "dashboard address" else url


def check_webhook_url(url: str) -> str:
    url = check_url(url, "Slack webhook URL")
    parts = urlparse(url)
    if parts.scheme != "https" and not _local(parts.hostname or ""):
        raise BadSetting("The Slack webhook URL must use https:// "
                         "(https://hooks.slack.com/services/...).")
    return url


def check_config(config: NotifyConfig) -> NotifyConfig:
    """Every value checked together: raises BadSetting with the first problem."""
    config.base_url = check_url(config.base_url, "dashboard address")
    config.email_to = [check_email(a) for a in config.email_to]
    if config.email_to or config.email_from:
        config.email_from = check_email(config.email_from)
        if not config.smtp_host.strip() or re.search(r"[\s/:@]", config.smtp_host.strip()):
            raise BadSetting("Give the SMTP server's host name (smtp.example.com) to send email.")
    config.smtp_host = config.smtp_host.strip()
    if not 1 <= int(config.smtp_port) <= 65535:
        raise BadSetting("The SMTP port must be between 1 and 65535.")
    for hour in (config.daily_hour, config.weekly_hour):
        if not 0 <= int(hour) <= 23:
            raise BadSetting("Hours are 0 to 23 (UTC).")
    if config.movement_above is not None and config.movement_above <= 0:
        raise BadSetting("The movement amount must be above zero.")
    if config.success_rate_below is not None and not 0 < config.success_rate_below <= 100:
        raise BadSetting("The payment success rate threshold is a percentage above 0 and up to 100.")
    if not 1 <= int(config.success_window_days) <= 90:
        raise BadSetting("The success rate window is 1 to 90 days.")
    if config.sync_failing_minutes is not None and config.sync_failing_minutes < 1:
        raise BadSetting("The sync failure alert needs at least 1 minute.")
    return config


# --- secrets ----------------------------------------------------------------------

def _secrets_files() -> list[Path]:
    """Where Streamlit reads secrets.toml: the user's, then the project's (which wins)."""
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


def _secrets_section() -> dict:
    section: dict = {}
    for path in _secrets_files():
        try:
            with open(path, "rb") as file:
                section.update(tomllib.load(file).get("tally_notify") or {})
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return section


@dataclass(frozen=True)
class Secrets:
    smtp_password: str = field(default="", repr=False)
    slack_webhook_url: str = field(default="", repr=False)

    def values(self) -> list[str]:
        return [v for v in (self.smtp_password, self.slack_webhook_url) if v]

    def scrub(self, text: str) -> str:
        """The text with every secret (and the webhook's path) replaced."""
        for value in self.values():
            text = text.replace(value, "***")
        if self.slack_webhook_url:
            path = urlparse(self.slack_webhook_url).path
            if len(path) > 1:
                text = text.replace(path, "/***")
        return text


def secrets() -> Secrets:
    section = _secrets_section()
    return Secrets(
        smtp_password=os.environ.get("TALLY_SMTP_PASSWORD") or str(section.get("smtp_password") or ""),
        slack_webhook_url=(os.environ.get("TALLY_SLACK_WEBHOOK_URL")
                           or str(section.get("slack_webhook_url") or "")).strip())


def slack_problem(found: Secrets) -> str | None:
    """Why the configured Slack URL cannot be used (never echoing it), or None."""
    if not found.slack_webhook_url:
        return ("No Slack webhook URL: set TALLY_SLACK_WEBHOOK_URL or slack_webhook_url "
                "in the [tally_notify] section of .streamlit/secrets.toml.")
    try:
        check_webhook_url(found.slack_webhook_url)
    except BadSetting as error:
        return str(error)
    return None
