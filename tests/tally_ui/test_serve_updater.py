"""`make run` (python -m tally_ui.serve) with a Stripe key runs the dashboard, the
updater and the notifier (digests and alerts) together, and one Ctrl-C stops them all."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.servers import ROOT, free_port, wait_for_http


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except OSError:
        return False


def notifier_running(hook: int) -> bool:
    """Is a `python -m tally_notify serve` reading this updater's /healthz running?"""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tally_notify" in args and f"http://127.0.0.1:{hook}".encode() in args:
            return True
    return False


def test_one_command_starts_dashboard_and_updater_and_ctrl_c_stops_both(tmp_path):
    web, hook = free_port(), free_port()
    env = {**os.environ, "STRIPE_API_KEY": "sk_test_not_called", "TALLY_DB": str(tmp_path / "t.duckdb"),
           "STRIPE_API_BASE": f"http://127.0.0.1:{free_port()}", "STRIPE_WEBHOOK_SECRET": "whsec_x",
           "TALLY_UPDATER_PORT": str(hook), "TALLY_PREFETCH": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "tally_ui.serve", "--server.port", str(web),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{web}/_stcore/health", 60, proc)
        wait_for_http(f"http://127.0.0.1:{hook}/healthz", 60, proc)
        deadline = time.monotonic() + 60  # the updater starts it once it listens; it then makes its state file
        while not (tmp_path / "notify.duckdb").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert notifier_running(hook)
        proc.send_signal(signal.SIGINT)  # Ctrl-C, sent to the dashboard's process alone
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not answers(f"http://127.0.0.1:{hook}/healthz"), output
    assert "Notifier for" in output, output  # it ran beside the updater
    assert not notifier_running(hook)  # and stopped with it
    assert "whsec_x" not in output and "sk_test_not_called" not in output
