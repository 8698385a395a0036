"""`python -m etl demo`: build the demo database (or JSONL files) with a progress bar."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from etl.demo.clock import DEFAULT_NOW
from etl.store import demo_db_path, who_shows


def add_arguments(parser) -> None:
    parser.add_argument("--db", default=None, help="database path (default: the demo account's, "
                        "$TALLY_DEMO_DB or data/demo.duckdb, which the dashboard shows until a sync)")
    parser.add_argument("--customers", type=_customer_count, default=300,
                        help=f"customers to simulate ({MIN_CUSTOMERS}-{MAX_CUSTOMERS})")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same database")
    parser.add_argument("--months", type=_positive, default=30, help="months of history (24-36 is typical)")
    parser.add_argument("--now", default=None, type=_day,
                        help=f"the simulated today, YYYY-MM-DD (default {DEFAULT_NOW:%Y-%m-%d})")
    parser.add_argument("--jsonl", metavar="DIR", default=None,
                        help="write one <table>.jsonl per object type instead of a database")
    parser.set_defaults(run=run)


MIN_CUSTOMERS, MAX_CUSTOMERS = 50, 500_000  # the sizes the demo is built and measured for


def _customer_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not MIN_CUSTOMERS <= value <= MAX_CUSTOMERS:
        raise argparse.ArgumentTypeError(
            f"expected a number of customers from {MIN_CUSTOMERS} to {MAX_CUSTOMERS:,}, not {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _day(text: str) -> str:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-11-15, not {text!r}") from None
    return text


def run(args) -> int:
    from etl.demo.generate import generate_database, write_jsonl
    try:
        started = time.monotonic()
        if args.jsonl:
            counts = write_jsonl(args.jsonl, args.customers, args.seed, args.months, args.now)
            print(f"Wrote {sum(counts.values()):,} objects to {args.jsonl} "
                  f"in {time.monotonic() - started:.1f}s")
            return 0
        db = args.db or demo_db_path()
        with _progress_bar() as progress:
            generate_database(db, args.customers, args.seed, args.months, args.now, progress=progress)
        print(f"Demo database with {args.customers:,} customers written to {db} "
              f"in {time.monotonic() - started:.1f}s; {who_shows(db)}.")
        return 0
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"Demo generation failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a user sees one line, never a traceback
        print(f"Demo generation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


class _progress_bar:
    """A rich progress bar fed by generate_database's progress(done, total); when the
    output is not a terminal (a log file), a plain line every PLAIN_EVERY customers
    instead, so a long background run still shows how far it got."""

    def __enter__(self):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
        self.bar = Progress(TextColumn("Simulating customers"), BarColumn(),
                            TextColumn("{task.completed:,}/{task.total:,}"), TimeRemainingColumn(),
                            transient=True)
        self.plain = not self.bar.console.is_terminal
        if self.plain:
            self.started, self.reported = time.monotonic(), 0
            return self.update_plain
        self.bar.__enter__()
        self.task = None
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task("demo", total=total)
        self.bar.update(self.task, completed=done)

    def update_plain(self, done: int, total: int) -> None:
        if done - self.reported >= PLAIN_EVERY or (done == total and done > self.reported):
            self.reported = done
            print(f"Simulated {done:,}/{total:,} customers in {time.monotonic() - self.started:.0f}s",
                  flush=True)

    def __exit__(self, *exc):
        return None if self.plain else self.bar.__exit__(*exc)


PLAIN_EVERY = 10_000
