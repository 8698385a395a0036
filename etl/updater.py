"""`python -m etl serve`: Stripe webhooks and a scheduled sync keep the database current.

How it works:
- `POST /stripe/webhook` verifies `Stripe-Signature` (stripe's own check, 300 s
  tolerance) against each secret in STRIPE_WEBHOOK_SECRET (comma-separated
  while one is rotated), refuses other accounts' and the other mode's events,
  appends the raw event to `<db>.webhooks.jsonl` with fsync, and only then
  answers 200. The handler never waits for DuckDB, so it answers at once even
  while a sync runs.
- One applier thread takes what is queued, GETs the current state of every
  touched object by id (so delivery order, duplicates and stale snapshots do
  not matter), writes it to the working copy and publishes; only then does it
  move `<db>.webhooks.done` (the queue offset applied). Killed mid-apply, the
  next start applies the same events again: upserts make that harmless.
- Every `--every` minutes the incremental sync runs in this process, under the
  same writer lock, as the safety net.
- A lock file refuses a second updater on the same database.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import orjson
import stripe

from etl import store
from etl.client import BadRequest, NotAvailable, PermissionDenied, StripeHTTP, StripeSyncError, Unreachable
from etl.load import OBJECT_TABLES, load_mixed, mark_deleted
from etl.sync import run_sync
from etl.sync_jobs import OBJECT_TYPES, forget_fresh_listings

log = logging.getLogger("tally.updater")
MAX_BODY = 1024 * 1024
BATCH = 500  # events per apply-and-publish
RETRY_SECONDS = 5.0  # after Stripe or the working file was unavailable
FETCH_THREADS = 8  # GETs of one batch at once (the client keeps to the rate limit)
GONE = object()
# Objects another object's events stand for: a charge's refunds, an invoice's payments.
RELATED = {"charges": ("/v1/refunds", "charge"), "invoices": ("/v1/invoice_payments", "invoice")}
# Where to GET an object by id: the first listing of its table.
PATH_BY_TABLE = {}
for _kind in OBJECT_TYPES:
    PATH_BY_TABLE.setdefault(_kind.table, _kind.path)


class UpdaterRefused(Exception):
    """The updater cannot start (one clear line)."""


# --- the durable queue -------------------------------------------------------------

class EventQueue:
    """Accepted events, one JSON line each, in `<db>.webhooks.jsonl`; the byte
    offset applied so far in `<db>.webhooks.done`."""

    def __init__(self, db_path: str):
        self.path = f"{db_path}.webhooks.jsonl"
        self.done_path = f"{db_path}.webhooks.done"
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._drop_cut_line()

    def _drop_cut_line(self) -> None:
        """An append cut short by a crash was never answered 200: drop it, or the
        next event would be glued to it and lost."""
        try:
            with open(self.path, "rb+") as queue:
                data = queue.read()
                if data and not data.endswith(b"\n"):
                    queue.truncate(data.rfind(b"\n") + 1)
        except FileNotFoundError:
            pass

    def append(self, event: dict) -> None:
        line = orjson.dumps({"received": time.time(), "event": event}) + b"\n"
        with self.lock, open(self.path, "ab") as queue:
            queue.write(line)
            queue.flush()
            os.fsync(queue.fileno())
        self.arrived.set()

    def applied_offset(self) -> int:
        try:
            offset = int(Path(self.done_path).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0
        return offset if offset <= _size(self.path) else 0  # the queue was emptied: read it all

    def pending(self, limit: int = BATCH) -> tuple[list[dict], int]:
        """Up to `limit` queued entries not yet applied, and the offset after them."""
        offset = self.applied_offset()
        entries = []
        try:
            with open(self.path, "rb") as queue:
                queue.seek(offset)
                for line in queue:
                    if not line.endswith(b"\n"):
                        break  # an append cut short by a crash: never acknowledged
                    offset += len(line)
                    try:
                        entries.append(orjson.loads(line))
                    except orjson.JSONDecodeError:
                        continue
                    if len(entries) >= limit:
                        break
        except FileNotFoundError:
            pass
        return entries, offset

    def waiting(self) -> int:
        offset = self.applied_offset()
        try:
            with open(self.path, "rb") as queue:
                queue.seek(offset)
                return sum(1 for line in queue if line.endswith(b"\n"))
        except FileNotFoundError:
            return 0

    def mark_applied(self, offset: int) -> None:
        """Move the applied offset; once everything is applied, start an empty queue."""
        with self.lock:
            empty = offset >= _size(self.path)
            # Offset 0 before emptying: a crash between the two applies the
            # events again (harmless), never skips new ones.
            self._save_offset(0 if empty else offset)
            if empty:
                with open(self.path, "wb") as queue:
                    os.fsync(queue.fileno())

    def _save_offset(self, offset: int) -> None:
        tmp = f"{self.done_path}.tmp"
        with open(tmp, "w") as done:
            done.write(str(offset))
            done.flush()
            os.fsync(done.fileno())
        os.replace(tmp, self.done_path)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


# --- checking a delivery --------------------------------------------------------------

def webhook_secrets(raw: str | None = None) -> list[str]:
    raw = os.environ.get("STRIPE_WEBHOOK_SECRET", "") if raw is None else raw
    return [s.strip() for s in raw.split(",") if s.strip()]


def verified(payload: bytes, header: str | None, secrets: list[str]) -> bool:
    text = payload.decode("utf-8", errors="replace")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, secret,
                                                  stripe.Webhook.DEFAULT_TOLERANCE)
            return True
        except stripe.SignatureVerificationError:
            continue
    return False


def foreign(event: dict, mode: str, account: str | None) -> str | None:
    """Why an event belongs to another account or mode, or None when it is ours."""
    if bool(event.get("livemode")) != (mode == "live"):
        return "an event of the other mode (live/test)"
    other = event.get("account")
    if other and other != account:
        return "an event of another account"
    return None


# --- applying ----------------------------------------------------------------------

class Updater:
    def __init__(self, db_path: str, client: StripeHTTP, secrets: list[str], every_minutes: float):
        self.db_path = db_path
        self.client = client
        self.secrets = secrets
        self.every = every_minutes * 60
        self.queue = EventQueue(db_path)
        self.writer = threading.Lock()  # one writer: the applier or the sync
        self.stopping = threading.Event()
        self.account = None
        self.health = {"last_event": None, "last_sync": last_sync_run(db_path), "stripe": "not asked yet",
                       "apply_error": None}

    # the applier thread
    def apply_forever(self) -> None:
        while not self.stopping.is_set():
            self.queue.arrived.clear()
            try:
                applied = self.apply_pending()
            except Exception as exc:  # noqa: BLE001 - the events wait; say why in /healthz
                self.health["apply_error"] = self.client.scrub(f"{type(exc).__name__}: {exc}")
                if isinstance(exc, Unreachable):
                    self.health["stripe"] = "unreachable: events wait"
                log.warning("events wait: %s", self.health["apply_error"])
                self.stopping.wait(RETRY_SECONDS)
                continue
            if not applied:
                self.queue.arrived.wait(1.0)

    def apply_pending(self) -> int:
        entries, offset = self.queue.pending()
        if not entries:
            return 0
        events = {}
        for entry in entries:
            event = entry.get("event") or {}
            events.setdefault(event.get("id"), (event, entry.get("received") or time.time()))
        touched = self._touched([e for e, _ in events.values()])
        objects, gone = self._current_states(touched)
        with self.writer:
            self._write(objects, gone)
        self.queue.mark_applied(offset)
        last, received = list(events.values())[-1]
        self.health["last_event"] = {"id": last.get("id"), "type": last.get("type"),
                                     "applied_at": _iso(time.time()),
                                     "lag_seconds": round(time.time() - received, 3)}
        self.health["stripe"], self.health["apply_error"] = "reachable", None
        return len(entries)

    @staticmethod
    def _touched(events: list[dict]) -> dict[tuple[str, str], bool]:
        """(table, id) of each object the events name, and whether one was a deletion."""
        touched: dict[tuple[str, str], bool] = {}
        for event in events:
            obj = (event.get("data") or {}).get("object") or {}
            table = OBJECT_TABLES.get(obj.get("object"))
            if not table or table == "events" or not obj.get("id") or table not in PATH_BY_TABLE:
                continue  # an event type we do not store: acknowledged and ignored
            deleted = str(event.get("type", "")).endswith(".deleted") and table != "subscriptions"
            key = (table, obj["id"])
            touched[key] = touched.get(key, False) or deleted
        return touched

    def _current_states(self, touched) -> tuple[list[dict], dict[str, list[str]]]:
        """GET each object now: its current state makes every delivery order right."""
        objects, gone = [], {}
        with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
            answers = list(pool.map(self._current_state, touched.items()))
        for ((table, object_id), _), (state, related) in zip(touched.items(), answers):
            if state is GONE:
                gone.setdefault(table, []).append(object_id)
            elif state is not None:
                objects += [state, *related]
        return objects, gone

    def _current_state(self, item) -> tuple[dict | object | None, list[dict]]:
        """(the object now, or GONE, or None to leave as is; objects that change with it)."""
        (table, object_id), deleted = item
        try:
            obj = self.client.get(f"{PATH_BY_TABLE[table]}/{object_id}", label="updater").data
        except NotAvailable:
            # A 404 is a deletion only when Stripe said so, never a guess.
            return (GONE if deleted else None), []
        except (BadRequest, PermissionDenied) as exc:  # waiting would not help: the sync has the last word
            log.warning("skipped %s %s: %s", table, object_id, self.client.scrub(str(exc)))
            return None, []
        if obj.get("deleted"):
            return GONE, []
        if table == "invoices":
            self._complete_lines(obj)
        related = RELATED.get(table)
        if not related:
            return obj, []
        path, field = related  # a refund or a payment changes these too: their lists are short
        try:
            page = self.client.get(path, {field: object_id, "limit": 100}, label="updater").data
        except Unreachable:
            raise
        except StripeSyncError:  # not offered here, or failing: the object alone; the sync has the rest
            return obj, []
        return obj, list(page.get("data") or [])

    def _complete_lines(self, invoice: dict) -> None:
        lines = invoice.get("lines") or {}
        data = list(lines.get("data") or [])
        has_more = bool(lines.get("has_more"))
        while has_more:
            params = {"limit": 100, **({"starting_after": data[-1]["id"]} if data else {})}
            page = self.client.get(f"/v1/invoices/{invoice['id']}/lines", params,
                                   label="updater").data
            batch = page.get("data") or []
            data += batch
            has_more = bool(page.get("has_more")) and bool(batch)
        invoice["lines"] = {**lines, "data": data, "has_more": False}

    def _write(self, objects: list[dict], gone: dict[str, list[str]]) -> None:
        con = store.open_working(self.db_path)
        try:
            con.execute("BEGIN")
            invoices = [o["id"] for o in objects if o.get("object") == "invoice"]
            for lines_table in ("invoice_lines", "invoice_line_taxes"):  # lines an invoice no longer has go
                con.execute(f"DELETE FROM {lines_table} WHERE invoice_id IN (SELECT unnest(?::VARCHAR[]))",
                            [invoices])
            load_mixed(con, objects)
            for table, ids in gone.items():
                mark_deleted(con, table, ids)
            forget_fresh_listings(con)  # a resumed backfill may list these objects again
            con.execute("COMMIT")
            store.publish(con, self.db_path)
        finally:
            con.close()

    # the sync thread
    def sync_forever(self) -> None:
        while not self.stopping.wait(self.every):
            self.sync_once()

    def sync_once(self) -> None:
        started = time.time()
        with self.writer:
            try:
                summary = run_sync(self.db_path, client=self.client)
                result = {"status": summary.status, "message": summary.message}
                self.health["stripe"] = "reachable"
            except StripeSyncError as exc:
                result = {"status": "failed", "message": self.client.scrub(str(exc))}
                if isinstance(exc, Unreachable):
                    self.health["stripe"] = "unreachable"
            except Exception as exc:  # noqa: BLE001 - one line; the next run tries again
                result = {"status": "failed",
                          "message": self.client.scrub(f"unexpected {type(exc).__name__}: {exc}")}
        self.health["last_sync"] = {"at": _iso(started), "seconds": round(time.time() - started, 2),
                                    **result}

    def healthz(self) -> dict:
        waiting = self.queue.waiting()
        return {"ok": self.health["apply_error"] is None, "events_waiting": waiting,
                "last_event": self.health["last_event"], "last_sync": self.health["last_sync"],
                "stripe": self.health["stripe"], "apply_error": self.health["apply_error"],
                "db": self.db_path}

    def learn_account(self) -> None:
        """Our account id, so events of connected accounts are refused."""
        try:
            self.account = self.client.get("/v1/account", label="updater", max_retries=1).data.get("id")
        except Exception:  # noqa: BLE001 - unknown: then every event naming an account is refused
            self.account = None


def last_sync_run(db_path: str) -> dict | None:
    """The published database's newest sync, until this process runs one."""
    if store.published_version(db_path) is None:
        return None
    try:
        con = store.open_published(db_path)
        try:
            row = con.execute("SELECT started_at, status, message, mode FROM sync_runs "
                              "ORDER BY started_at DESC LIMIT 1").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return None
    if not row:
        return None
    return {"at": row[0].isoformat(timespec="seconds") + "Z", "status": row[1], "message": row[2],
            "mode": row[3]}


# --- HTTP ------------------------------------------------------------------------

def make_handler(updater: Updater):
    class Handler(BaseHTTPRequestHandler):
        server_version = "tally-updater"
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


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


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


def serve(db_path: str, host: str, port: int, every_minutes: float, ready=None) -> None:
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
        if ready:
            ready(server)
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            updater.stopping.set()
            server.server_close()
    finally:
        lock.close()


def add_arguments(parser) -> None:
    parser.add_argument("--db", help=f"DuckDB file to keep current (default: $TALLY_DB or {store.DEFAULT_DB})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8502, help="port (default 8502)")
    parser.add_argument("--every", type=float, default=10,
                        help="minutes between incremental syncs (default 10)")
    parser.set_defaults(run=main)


def main(args) -> int:
    import sys

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db_path = store.db_path_from_env(args.db)
    try:
        serve(db_path, args.host, args.port, args.every,
              ready=lambda s: print(f"Updater for {db_path} listening on "
                                    f"http://{args.host}:{s.server_address[1]}/stripe/webhook",
                                    file=sys.stderr, flush=True))
    except (UpdaterRefused, StripeSyncError) as exc:
        print(f"Updater refused: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
