"""`python -m etl serve` sends the digests: it runs the notifier as its child, which
mails a due digest to a real SMTP server, and stops with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tally_notify.config import NotifyConfig
from tests.support.servers import ROOT, free_port, wait_for_http


def notifiers_of(db: str) -> list[int]:
    """Pids of `python -m tally_notify serve --db <db>` processes."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tally_notify" in args and db.encode() in args:
            found.append(int(cmdline.parent.name))
    return found


def start_updater(db: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "STRIPE_API_KEY": "sk_test_not_called", "STRIPE_WEBHOOK_SECRET": "whsec_x",
           "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}", "TALLY_NOTIFY": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "etl", "serve", "--db", db, "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
    return proc


def test_the_updater_mails_the_daily_digest_and_its_notifier_stops_with_it(demo_db, state, smtp_server):
    smtp_port, inbox = smtp_server
    assert Path(state.path).parent == Path(demo_db).parent  # where the updater's notifier looks
    state.save_config(NotifyConfig(email_to=["ceo@example.com"], email_from="tally@example.com",
                                   smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_starttls=False,
                                   daily=True, daily_hour=0), by="test")  # yesterday's is due now
    proc = start_updater(demo_db, free_port())
    try:
        deadline = time.monotonic() + 90
        while not inbox.messages and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        assert [m["Subject"] for m in inbox.messages][:1] == [
            "Tally daily digest: " + (time.strftime("%a %d %b %Y", time.gmtime(time.time() - 86400)))]
        assert notifiers_of(demo_db)
        proc.send_signal(signal.SIGINT)
        try:
            output = proc.communicate(timeout=30)[0].decode()
        except subprocess.TimeoutExpired:  # say what still runs, and what it does with SIGINT
            status = Path(f"/proc/{proc.pid}/status")
            signals = [line for line in status.read_text().splitlines() if line.startswith("Sig")] \
                if status.exists() else "exited"
            raise AssertionError(f"not stopped by SIGINT: updater {signals}, "
                                 f"notifiers {notifiers_of(demo_db)}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Notifier for" in output, output
    assert not notifiers_of(demo_db)
    assert "sk_test_not_called" not in output


def test_a_killed_updater_takes_its_notifier_along(demo_db, state):
    proc = start_updater(demo_db, free_port())
    try:
        deadline = time.monotonic() + 30
        while not notifiers_of(demo_db) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert notifiers_of(demo_db)
    finally:
        proc.kill()  # kill -9: no finally of its own runs
        proc.communicate(timeout=30)  # returns once the notifier, which shares its output, is gone too
    deadline = time.monotonic() + 10
    while notifiers_of(demo_db) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not notifiers_of(demo_db)
