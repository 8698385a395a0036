"""`python -m metrics list`, `python -m metrics export NAME ...` (to stdout) and
`python -m metrics refresh-stages` (the stored MRR stages, metrics/mrr/refresh_stages.py)."""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

import duckdb

from etl.load import connect
from etl.store import shown_db_path, upgrade_published
from metrics import METRICS, data_checks, segments
from metrics.common import MetricError, add_months
from metrics.export import to_csv, to_json
from metrics.mrr import refresh_stages, stored_stages
from metrics.params import Params


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        raise UsageError(message)


def _month_or_day(text: str | None, role: str) -> dt.date | None:
    if text is None:
        return None
    for fmt in ("%Y-%m", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise UsageError(f"bad {role} date {text!r}: use YYYY-MM (or YYYY-MM-DD for days)")


def build_parser() -> Parser:
    parser = Parser(prog="python -m metrics", description="Tally metrics")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    sub.add_parser("list", help="every metric name with a one-line description and the file computing it")
    export = sub.add_parser("export", help="write one metric to stdout")
    export.add_argument("name")
    export.add_argument("--db", help="database file (default: the one the dashboard shows: $TALLY_DB, "
                        "or the demo account $TALLY_DEMO_DB while there is no key and no sync)")
    export.add_argument("--start", help="first month YYYY-MM (or day YYYY-MM-DD)")
    export.add_argument("--end", help="last month YYYY-MM (or day YYYY-MM-DD), inclusive")
    export.add_argument("--currency", help="reporting currency, e.g. usd (default: per currency)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--granularity", choices=("day", "week", "month"), default="month")
    export.add_argument("--plan", action="append", default=[], help="product id (repeatable)")
    export.add_argument("--interval", action="append", default=[],
                        choices=("day", "week", "month", "year"))
    export.add_argument("--country", action="append", default=[], help="ISO code (repeatable)")
    export.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                        help="Stripe metadata filter (repeatable): key=value (a customer's), "
                             "customer.key=value, subscription.key=value or product.key=value; "
                             "values of one key are alternatives, different keys must all match")
    export.add_argument("--split-by", metavar="KEY",
                        help="one set of rows per value of this metadata key (same forms as --where), "
                             "in a `segment` column")
    export.add_argument("--month", help="month for mrr_drilldown (the cohort for cohort_customers), YYYY-MM")
    export.add_argument("--customer", help="customer id for customer_timeline and the other customer_* metrics")
    export.add_argument("--gross-margin", type=float, help="for ltv_cac, 0..1 (default 1)")
    stages = sub.add_parser("refresh-stages", help="store the MRR stages next to the database "
                            "(the dashboard does this itself after each publish)")
    stages.add_argument("--db", help="database file (default: the one the dashboard shows)")
    return parser


def params_from(args) -> Params:
    extra = {}
    if args.month:
        extra["month"] = _month_or_day(args.month, "--month")
    if args.customer:
        extra["customer_id"] = args.customer
    if args.gross_margin is not None:
        extra["gross_margin"] = args.gross_margin
    end = _month_or_day(args.end, "--end")
    if end and len(args.end) == 7 and (args.granularity != "month" or args.name == "mrr_daily"):
        end = add_months(end, 1) - dt.timedelta(days=1)  # a month of days ends on its last day
    currency = args.currency.lower() if args.currency else None
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise UsageError(f"bad currency {args.currency!r}: use a 3-letter code like usd")
    return Params(start=_month_or_day(args.start, "--start"), end=end,
                  currency=currency, granularity=args.granularity, plans=tuple(args.plan),
                  intervals=tuple(args.interval), countries=tuple(c.upper() for c in args.country),
                  where=segments.parse_where(args.where),
                  split_by=segments.parse_target(args.split_by) if args.split_by else None,
                  extra=extra)


def export(args) -> int:
    metric = METRICS.get(args.name)
    if metric is None:
        raise UsageError(f"unknown metric {args.name!r}; `python -m metrics list` shows them")
    params = params_from(args)
    db, source = shown_db_path(args.db)
    if not os.path.exists(db):
        maker = "etl demo" if source.startswith("the demo") else "etl sync"
        raise UsageError(f"no database at {db} ({source}): run `.venv/bin/python -m {maker}` first")
    _upgrade(db)
    con = connect(db, read_only=True)
    try:
        stored_stages.attach(con, db)  # when fresh; else the metric computes from invoice lines
        df = metric.function(con, params)
        notes = data_notes(con)
    finally:
        con.close()
    sys.stdout.write(to_json(metric, df) if args.format == "json" else to_csv(metric, df))
    if not args.db:
        print(f"Read {db}: {source}.", file=sys.stderr)  # stdout is the data
    for note in notes:
        print(note, file=sys.stderr)
    return 0


def refresh(args) -> int:
    db, source = shown_db_path(args.db)
    if not os.path.exists(db):
        raise UsageError(f"no database at {db} ({source})")
    _upgrade(db)
    built = refresh_stages.refresh(db)
    state = "stored" if built else "already current (or nothing to store)"
    print(f"MRR stages of {db} ({source}): {state} in {stored_stages.sidecar_path(db)}", file=sys.stderr)
    return 0


def _upgrade(db: str) -> None:
    """A file from an older Tally gets this version's tables first, as the dashboard does."""
    try:
        if upgrade_published(db):
            print(f"Upgraded {db} to this version's tables.", file=sys.stderr)
    except Exception:  # noqa: BLE001 - reading it will say what is wrong, in one line
        pass


def data_notes(con) -> list[str]:
    """Lines MRR cannot value (METRICS.md: reported, never dropped silently);
    a check that fails says so in one line and never stops the export."""
    try:
        return data_checks.warnings(con)
    except duckdb.Error as error:
        return [f"could not check for unknown prices: {str(error).splitlines()[0]}"]


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            width = max(len(name) for name in METRICS)
            for name in sorted(METRICS):
                print(f"{name:<{width}}  {METRICS[name].description} ({METRICS[name].source})")
            return 0
        if args.command == "refresh-stages":
            return refresh(args)
        return export(args)
    except (UsageError, MetricError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except duckdb.Error as error:
        print(f"error: the database could not be read: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
