"""`python -m etl serve`: Stripe webhooks and a scheduled sync keep the database current.

How it works:
- `POST /stripe/webhook` verifies `Stripe-Signature` (stripe's own check, 300 s
  tolerance) against each secret in STRIPE_WEBHOOK_SECRET (comma-separated
  while one is rotated), refuses other accounts' and the other mode's events,
  appends the raw event to `<db>.webhooks.jsonl` with fsync, and only then
  answers 200 (etl/webhooks.py). The handler never waits for DuckDB, so it
  answers at once even while a sync runs.
- One applier thread takes what is queued, GETs the current state of every
  touched object by id, writes it to the working copy and publishes; only
  then does it move `<db>.webhooks.done` (the queue offset applied). Killed
  mid-apply, the next start applies the same events again: upserts make that
  harmless. Every `--every` minutes the incremental sync runs in this process,
  under the same writer lock, as the safety net (etl/applier.py).
- A lock file refuses a second updater on the same database.
- It runs the notifier (digests on schedule, alerts after each publish) as its
  child process (etl/notifier_child.py).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

from etl import notifier_child, store
from etl.applier import Updater
from etl.client import StripeHTTP, StripeSyncError
from etl.webhooks import foreign, verified, webhook_secrets

log = logging.getLogger("tally.updater")
MAX_BODY = 1024 * 1024
# An oversized body up to this size is read and dropped before the 413: answering
# while the client still sends makes its next write fail (broken pipe) instead of
# letting it read why. Anything bigger is cut off.
DRAINED_BODY = 8 * MAX_BODY


class UpdaterRefused(Exception):
    """The updater cannot start (one clear line)."""


# --- HTTP ------------------------------------------------------------------------

def make_handler(updater: Updater):
    class Handler(BaseHTTPRequestHandler):
        server_version = "tally-updater"
        timeout = 30  # a client that stops sending holds its thread no longer
        sys_version = ""

        def log_message(self, fmt, *args):  # headers (the signature) never reach the log
            log.debug("%s %s", self.command, self.path.split("?")[0])

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _drop(self, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(length, 64 * 1024))
                if not chunk:
                    return
                length -= len(chunk)

        def do_GET(self):
            if self.path.split("?")[0] == "/healthz":
                return self._answer(200, updater.healthz())
            self._answer(404, {"error": "not found"})

        def do_POST(self):
            if self.path.split("?")[0] != "/stripe/webhook":
                return self._answer(404, {"error": "not found"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return self._answer(400, {"error": "bad Content-Length"})
            if length > MAX_BODY:
                self.close_connection = True
                if length <= DRAINED_BODY:
                    self._drop(length)
                return self._answer(413, {"error": "body over 1 MB"})
            payload = self.rfile.read(length)
            if not verified(payload, self.headers.get("Stripe-Signature"), updater.secrets):
                return self._answer(400, {"error": "missing, forged or expired signature"})
            try:
                event = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return self._answer(400, {"error": "not JSON"})
            if not isinstance(event, dict) or not event.get("id"):
                return self._answer(400, {"error": "not a Stripe event"})
            why = foreign(event, updater.client.mode, updater.account)
            if why:
                return self._answer(400, {"error": why})
            updater.queue.append(event)  # durable before the answer
            self._answer(200, {"received": True})

    return Handler


def hold_lock(db_path: str):
    """The updater's lock file: a second updater on the same database is refused."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    lock = open(f"{db_path}.updater.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise UpdaterRefused(f"Another updater is already running for {db_path}; "
                             "stop it first (one writer per database).") from None
    return lock


def serve(db_path: str, host: str, port: int, every_minutes: float, ready=None, notify: bool = True) -> None:
    lock = hold_lock(db_path)
    try:
        secrets = webhook_secrets()
        if not secrets:  # the scheduled sync still runs; every delivery is refused
            log.warning("STRIPE_WEBHOOK_SECRET is not set: webhooks are refused (400) until it is "
                        "(whsec_...; several comma-separated while rotating); syncing every %g min.",
                        every_minutes)
        from etl.cli_sync import _rate_from_env
        client = StripeHTTP(os.environ.get("STRIPE_API_KEY", ""),
                            os.environ.get("STRIPE_API_BASE") or None, rate=_rate_from_env())
        updater = Updater(db_path, client, secrets, every_minutes)
        try:
            server = ThreadingHTTPServer((host, port), make_handler(updater))
        except OSError as exc:
            raise UpdaterRefused(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
        server.daemon_threads = True
        updater.learn_account()
        for target, name in ((updater.apply_forever, "tally-apply"),
                             (updater.sync_forever, "tally-sync")):
            threading.Thread(target=target, name=name, daemon=True).start()
        notifier = None
        if notifier_child.wanted(notify):
            local = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # its /healthz, from this machine
            notifier = notifier_child.NotifierChild(db_path, f"http://{local}:{server.server_address[1]}")
            notifier.start()
        if ready:
            ready(server)
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            updater.stopping.set()
            server.server_close()
            if notifier:
                notifier.stop()
    finally:
        lock.close()


def add_arguments(parser) -> None:
    parser.add_argument("--db", help=f"DuckDB file to keep current (default: $TALLY_DB or {store.DEFAULT_DB})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8502, help="port (default 8502)")
    parser.add_argument("--every", type=float, default=10,
                        help="minutes between incremental syncs (default 10)")
    parser.add_argument("--no-notify", dest="notify", action="store_false",
                        help="do not start the notifier (digests and alerts; also TALLY_NOTIFY=0)")
    parser.set_defaults(run=main)


def main(args) -> int:
    import signal
    import sys

    # Ctrl-C stops the updater even when whatever started it ignored or blocked
    # SIGINT (both survive exec): one Ctrl-C must stop it and its notifier.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db_path = store.db_path_from_env(args.db)
    try:
        serve(db_path, args.host, args.port, args.every, notify=args.notify,
              ready=lambda s: print(f"Updater for {db_path} listening on "
                                    f"http://{args.host}:{s.server_address[1]}/stripe/webhook",
                                    file=sys.stderr, flush=True))
    except (UpdaterRefused, StripeSyncError) as exc:
        print(f"Updater refused: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
