"""`python -m etl sync [--db PATH] [--full]`: pull the Stripe account into DuckDB.

Configuration comes from the environment: STRIPE_API_KEY (secret sk_... or
restricted rk_... key), STRIPE_API_BASE (optional, e.g. a local fake server),
TALLY_DB (default data/tally.duckdb). Exit codes: 0 synced, 2 synced except
object types the key may not read, 1 failed.
"""
from __future__ import annotations

import os

from rich.console import Console, JustifyMethod
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl import store
from etl.client import StripeHTTP, StripeSyncError
from etl.sync import OBJECT_TYPES, Summary, run_sync


def add_arguments(parser) -> None:
    parser.add_argument("--db", help="DuckDB file to publish (default: $TALLY_DB or "
                        f"{store.DEFAULT_DB})")
    parser.add_argument("--full", action="store_true",
                        help="re-list every object instead of fetching only changes")
    parser.set_defaults(run=main)


def main(args) -> int:
    console = Console(stderr=True)
    client = None
    try:
        client = StripeHTTP(os.environ.get("STRIPE_API_KEY", ""),
                            os.environ.get("STRIPE_API_BASE") or None,
                            rate=_rate_from_env())
        with ProgressBars(console) as (bars, on_progress):
            summary = run_sync(args.db, full=args.full, progress=on_progress, client=client)
    except StripeSyncError as exc:
        console.print(f"[red]Sync failed:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("Sync interrupted; run it again to resume where it stopped.", soft_wrap=True)
        return 130
    except Exception as exc:  # one line, never a traceback (and never the key)
        detail = client.scrub(str(exc).splitlines()[0] if str(exc) else "") if client else ""
        console.print(f"[red]Sync failed:[/] unexpected {type(exc).__name__}: {detail} "
                      "Run sync again to resume.", highlight=False, soft_wrap=True)
        return 1
    _print_summary(console, summary)
    if summary.status != "failed":  # published
        db = store.db_path_from_env(args.db)
        console.print(f"Database {db}: {store.who_shows(db)}.", highlight=False, soft_wrap=True)
    return summary.exit_code


def _rate_from_env() -> float | None:
    raw = os.environ.get("TALLY_SYNC_RATE")
    try:
        return float(raw) if raw else None
    except ValueError:
        raise StripeSyncError(f"TALLY_SYNC_RATE must be requests per second, not {raw!r}.") from None


class ProgressBars:
    """One bar per object type; `on_progress` is the sync's progress callback."""

    def __init__(self, console: Console):
        self.bars = Progress(SpinnerColumn(), TextColumn("{task.description:<22}"), BarColumn(),
                             TextColumn("{task.completed:>8,.0f} objects"), TimeElapsedColumn(),
                             console=console, transient=False, disable=not console.is_terminal)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self):
        self.bars.start()
        for kind in OBJECT_TYPES:
            self.tasks[kind.name] = self.bars.add_task(kind.name, total=None)
        return self.bars, self.on_progress

    def __exit__(self, *exc):
        self.bars.stop()

    def on_progress(self, name: str, fetched: int, done: bool) -> None:
        task = self.tasks.get(name)
        if task is None:
            return
        if done:
            self.bars.update(task, completed=fetched, total=max(fetched, 1))
        else:
            self.bars.update(task, completed=fetched)


def _print_summary(console: Console, summary: Summary) -> None:
    table = Table(title=f"Stripe sync ({summary.mode})")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("object type", "left"), ("status", "left"), ("fetched", "right"), ("written", "right"),
        ("requests", "right"), ("retries", "right"), ("seconds", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for name, job in summary.jobs.items():
        table.add_row(name, job["status"], f"{job['fetched']:,}", f"{job['written']:,}",
                      f"{job.get('requests', 0):,}", f"{job.get('retries', 0):,}",
                      f"{job['seconds']:.1f}")
    table.add_row("total", summary.status, "", "", f"{summary.requests:,}",
                  f"{summary.retries:,}", f"{summary.seconds:.1f}", end_section=True)
    out = Console()
    out.print(table)
    for note in summary.notes:
        console.print(note, highlight=False, soft_wrap=True)
    for name, job in summary.jobs.items():
        if job["note"]:
            console.print(f"{name}: {job['note']}", highlight=False, soft_wrap=True)
    console.print(summary.message, highlight=False, soft_wrap=True)
