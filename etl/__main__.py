"""`python -m etl sync|demo|serve`: one CLI, each command in its own module."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    syncing = (sys.argv[1:] if argv is None else argv)[:1] == ["sync"]
    if syncing:
        from etl import convert
        convert.warm_up()  # before the imports below: the page converter starts meanwhile
    try:
        from etl import cli_sync
        cli_sync.add_arguments(commands.add_parser("sync", help="pull a Stripe account into DuckDB"))
        if not syncing:  # their imports (the updater's HTTP stacks) would stay in the sync's memory
            from etl import demo, updater
            demo.add_arguments(commands.add_parser("demo", help="generate the demo account"))
            updater.add_arguments(commands.add_parser("serve", help="apply Stripe webhooks and sync on a schedule"))
        args = parser.parse_args(argv)
        return args.run(args)
    finally:
        if syncing:  # the sync took the worker, unless it stopped first
            convert.discard_warm_workers()


if __name__ == "__main__":
    if sys.argv[1:2] == ["sync"]:
        # A process that only syncs never needs pandas, and its memory would stay.
        # Not in main(): a caller in its own process (the tests) may well need it.
        from etl import memory
        memory.without_pandas()
    sys.exit(main())
