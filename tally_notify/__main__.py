"""`python -m tally_notify send-digest [--db PATH] [--dry-run]` and `python -m tally_notify serve`.

send-digest sends one digest now to the destinations set on the Notifications
page (or, with --dry-run, prints it as plain text and sends nothing). serve
runs the notifier: digests on schedule, alerts after each publish.
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys

from etl.store import shown_db_path
from tally_notify import alerts
from tally_notify.digest import digest
from tally_notify.loop import TICK_SECONDS, Notifier, send
from tally_notify.state import NotifyState, notify_path_from_env


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tally_notify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("send-digest", help="send one digest now, or print it (--dry-run)")
    one.add_argument("--db", help="the database (default: $TALLY_DB, or the demo account)")
    one.add_argument("--dry-run", action="store_true", help="print it as plain text; send nothing")
    one.add_argument("--weekly", action="store_true", help="the 7 days through --through (default 1 day)")
    one.add_argument("--through", type=_day, help="last day covered, YYYY-MM-DD (default yesterday, UTC)")
    loop = commands.add_parser("serve", help="send digests on schedule and alerts after each publish")
    loop.add_argument("--db", help="the database (default: $TALLY_DB)")
    loop.add_argument("--every", type=float, default=TICK_SECONDS, help="seconds between checks")
    loop.add_argument("--updater-url", default=alerts.updater_url(),
                      help="the updater whose /healthz the sync alert reads")
    return parser


def send_digest(args) -> int:
    db_path, why = shown_db_path(args.db)
    through = args.through or dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    state = NotifyState(notify_path_from_env(args.db))
    config = state.config()
    try:
        message = digest(db_path, config.base_url, through, 7 if args.weekly else 1)
    except Exception as error:  # noqa: BLE001 - an unreadable database: one line, not a traceback
        print(f"Cannot build the digest from {db_path}: {error}", file=sys.stderr)
        return 1
    print(f"Digest of {db_path} ({why})", file=sys.stderr)
    if args.dry_run:
        print(message.text, end="")
        return 0
    if not config.email and not config.slack:
        print("No destination is set: add email recipients or Slack on the Notifications page "
              "(or use --dry-run).", file=sys.stderr)
        return 1
    outcomes = send(message, config, state)
    for outcome in outcomes:
        print(f"{outcome.channel}: {outcome.status}" + (f" ({outcome.error})" if outcome.error else ""),
              file=sys.stderr)
    return 0 if all(o.status == "sent" for o in outcomes) else 1


def serve(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    db_path, _ = shown_db_path(args.db)
    notifier = Notifier(db_path, NotifyState(notify_path_from_env(args.db)), args.updater_url)
    print(f"Notifier for {db_path}: checking every {args.every:g} s", file=sys.stderr, flush=True)
    try:
        notifier.run(args.every)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return send_digest(args) if args.command == "send-digest" else serve(args)


if __name__ == "__main__":
    sys.exit(main())
