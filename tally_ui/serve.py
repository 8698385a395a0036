"""`python -m tally_ui.serve [streamlit options]`: the dashboard as `make run` serves it.

It runs `serve.py` (dashboard.py with frame-protection headers) with pages
registered by st.navigation only.

Whenever a `pages/` folder sits next to the entry point, Streamlit treats it as
its old-style pages folder until some script calls `st.navigation`: on a fresh
server the first visit to a deep link such as `/mrr` then gets "Page not
found" (only the folder's files are known), and signed-out visitors, whose runs
stop before `st.navigation`, get the folder's contents as a sidebar. Our pages
are all registered by dashboard.py, so this turns that off before the server
starts (`make run` and the browser tests start the dashboard this way).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "serve.py"  # dashboard.py with frame protection


def no_pages_folder() -> None:
    """Streamlit must not discover pages in pages/: dashboard.py's st.navigation lists them all."""
    from streamlit.runtime.pages_manager import PagesManager
    PagesManager.uses_pages_directory = False


def start_updater() -> subprocess.Popen | None:
    """With a Stripe key, the updater (`python -m etl serve`: webhooks, the
    scheduled sync, and digests and alerts from its notifier child) runs beside
    the dashboard; TALLY_UPDATER=0 leaves it out and
    TALLY_UPDATER_PORT moves it from 8502."""
    if not os.environ.get("STRIPE_API_KEY") or os.environ.get("TALLY_UPDATER") == "0":
        return None
    port = os.environ.get("TALLY_UPDATER_PORT") or "8502"
    return subprocess.Popen([sys.executable, "-m", "etl", "serve", "--port", port])


def stop_updater(updater: subprocess.Popen | None) -> None:
    if updater is None or updater.poll() is not None:
        return
    updater.send_signal(signal.SIGINT)  # a Ctrl-C in a terminal reached it already
    try:
        updater.wait(timeout=10)
    except subprocess.TimeoutExpired:
        updater.kill()
        updater.wait()


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli
    no_pages_folder()
    updater = start_updater()  # and, as its child, the notifier (etl/notifier_child.py)
    try:
        cli.main(["run", str(APP), *(sys.argv[1:] if argv is None else argv)], prog_name="streamlit")
    finally:  # one Ctrl-C (or SIGTERM) stops them all
        stop_updater(updater)


if __name__ == "__main__":
    main()
