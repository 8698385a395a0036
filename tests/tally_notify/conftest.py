"""Real parts for the notifier: a local SMTP server (aiosmtpd), a local HTTP server
playing Slack's incoming webhook, and a small demo account."""
from __future__ import annotations

import json
import shutil
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tally_notify import config as settings
from tally_notify import deliver
from tally_notify.state import NotifyState
from tests.support.servers import QuietHandler, free_port, serving


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory):
    from etl.demo import generate_database
    path = tmp_path_factory.mktemp("notify-demo") / "demo.duckdb"
    generate_database(str(path), customers=80, seed=11, months=18)
    return str(path)


@pytest.fixture
def demo_db(tmp_path, demo_source, monkeypatch):
    """A private copy of the demo account, as TALLY_DB (tests may write to it)."""
    path = tmp_path / "tally.duckdb"
    shutil.copyfile(demo_source, path)
    monkeypatch.setenv("TALLY_DB", str(path))
    return str(path)


@pytest.fixture(autouse=True)
def no_outside_secrets(monkeypatch):
    """Only the secrets a test sets: none from the developer's secrets.toml or shell."""
    monkeypatch.setattr(settings, "_secrets_files", lambda: [])
    for name in ("TALLY_SMTP_PASSWORD", "TALLY_SLACK_WEBHOOK_URL", "TALLY_NOTIFY_DB", "TALLY_UPDATER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """The retry schedule's shape stays; its waits shrink so tests stay short."""
    monkeypatch.setattr(deliver, "BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(deliver, "TIMEOUT_SECONDS", 1.0)


@pytest.fixture
def state(tmp_path):
    return NotifyState(str(tmp_path / "notify.duckdb"))


class Inbox:
    def __init__(self):
        self.messages: list = []
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; yields (port, inbox)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


class SlackPlay:
    """What the webhook answers: statuses to give in turn (then 200), and a delay."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.requests = 0


@pytest.fixture
def slack_server():
    """A local HTTP server playing Slack's incoming webhook; yields (url, play)."""
    play = SlackPlay()

    class Handler(QuietHandler):
        def do_POST(self):
            play.requests += 1
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if play.delay:
                time.sleep(play.delay)
            status = play.statuses.pop(0) if play.statuses else 200
            if status == 200:
                assert self.headers.get("Content-Type") == "application/json"
                play.bodies.append(json.loads(body))
            answer = b"ok" if status == 200 else b"internal_error"
            try:
                self.answer(status, answer)
            except OSError:
                pass  # the client gave up waiting

    with serving(Handler, daemon_threads=True) as base:
        yield f"{base}/services/T000/B000/secretpart", play
