"""Sending a message by email (SMTP, HTML with a plain-text part) and to Slack.

Each channel is tried up to ATTEMPTS times with a doubling wait between tries,
and each message's final result (sent, or failed and why) is logged in
`notifications_sent`. Errors are scrubbed of every secret before they are
logged or shown: an SMTP server or a proxy may echo what it was sent.
"""
from __future__ import annotations

import json
import logging
import smtplib
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tally_notify.config import NotifyConfig, Secrets, slack_problem
from tally_notify.state import NotifyState

log = logging.getLogger("tally.notify")
ATTEMPTS = 3
BACKOFF_SECONDS = 2.0  # then 4 s: a short outage is ridden out, a long one is logged as failed
TIMEOUT_SECONDS = 10.0
# Answers that another try would only repeat: a refused login, refused recipients, no STARTTLS.
PERMANENT = (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused, smtplib.SMTPNotSupportedError)


@dataclass(frozen=True)
class Message:
    kind: str  # digest | alert | test
    subject: str
    text: str  # plain text (the email's text part; `--dry-run` prints it)
    html: str
    slack: str  # Slack mrkdwn


@dataclass(frozen=True)
class Outcome:
    channel: str
    status: str  # sent | failed
    attempts: int
    error: str | None = None


def _with_retries(send, scrub) -> tuple[int, str | None]:
    """(tries made, None or the last error scrubbed)."""
    error = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            send()
            return attempt, None
        except (OSError, smtplib.SMTPException, ValueError) as exc:  # URLError and timeouts are OSErrors
            error = scrub(f"{type(exc).__name__}: {exc}")
            log.warning("send failed (try %d of %d): %s", attempt, ATTEMPTS, error)
            if isinstance(exc, PERMANENT):
                return attempt, error
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    return ATTEMPTS, error


def email_message(message: Message, config: NotifyConfig) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = " ".join(message.subject.split())  # a customer name may hold a line break
    mail["From"] = config.email_from
    mail["To"] = ", ".join(config.email_to)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=config.email_from.rpartition("@")[2] or None)
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def send_email(message: Message, config: NotifyConfig, secrets: Secrets) -> None:
    with smtplib.SMTP(config.smtp_host, int(config.smtp_port), timeout=TIMEOUT_SECONDS) as smtp:
        smtp.ehlo()
        if config.smtp_starttls:
            smtp.starttls()
            smtp.ehlo()
        if config.smtp_user:
            smtp.login(config.smtp_user, secrets.smtp_password)
        smtp.send_message(email_message(message, config))


def send_slack(message: Message, secrets: Secrets) -> None:
    body = json.dumps({"text": message.slack, "unfurl_links": False}).encode()
    request = urllib.request.Request(secrets.slack_webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:  # its text names no URL; the body may help
        detail = exc.read(200).decode("utf-8", "replace").strip()
        raise OSError(f"Slack answered {exc.code}{': ' + detail if detail else ''}") from None
    except socket.timeout:
        raise OSError(f"Slack did not answer within {TIMEOUT_SECONDS:g} s") from None


def deliver(message: Message, config: NotifyConfig, secrets: Secrets, state: NotifyState) -> list[Outcome]:
    """Send to every configured channel; log each result; never raise for a failed send."""
    outcomes = []
    channels = []
    if config.email:
        channels.append(("email", ", ".join(config.email_to),
                         lambda: send_email(message, config, secrets)))
    if config.slack:
        channels.append(("slack", "Slack webhook", lambda: send_slack(message, secrets)))
    for channel, destination, send in channels:
        problem = slack_problem(secrets) if channel == "slack" else None
        attempts, error = (0, problem) if problem else _with_retries(send, secrets.scrub)
        status = "failed" if error else "sent"
        state.log_send(kind=message.kind, subject=message.subject, channel=channel,
                       destination=destination, status=status, attempts=attempts, error=error)
        outcomes.append(Outcome(channel, status, attempts, error))
    return outcomes
