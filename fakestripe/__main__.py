"""`python -m fakestripe --data DIR`: serve a JSONL account on 127.0.0.1.

The first line on stdout is the base URL (useful with the default --port 0).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from fakestripe import DEFAULT_API_KEY
from fakestripe.server import Config, make_app
from fakestripe.store import Store


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fakestripe", description=__doc__)
    parser.add_argument("--data", required=True, type=Path, help="directory of <table>.jsonl files")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=0, help="requests/s overall; 0 = none")
    parser.add_argument("--endpoint-rate-limit", type=int, default=0,
                        help="requests/s per endpoint; 0 = none")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500")
    parser.add_argument("--seed", type=int, default=0, help="makes the random 500s repeatable")
    parser.add_argument("--now", type=float, default=0.0,
                        help="the account's clock (unix seconds) for the 30 days of events; "
                             "0 = the wall clock")
    parser.add_argument("--quiet", action="store_true",
                        help="log nothing (for a parent that never reads our stderr)")
    return parser.parse_args(argv)


async def serve(app: web.Application, port: int) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # loopback only, never every interface
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.quiet:  # aiohttp logs client hang-ups; a full unread pipe would stall us
        logging.disable(logging.CRITICAL)
    if not args.data.is_dir():
        print(f"fakestripe: no data directory at {args.data}", file=sys.stderr)
        return 2
    config = Config(api_key=args.api_key, latency_ms=args.latency_ms, rate_limit=args.rate_limit,
                    endpoint_rate_limit=args.endpoint_rate_limit, error_rate=args.error_rate,
                    seed=args.seed, now=args.now)
    try:
        store = Store.from_dir(args.data)
    except (ValueError, KeyError, TypeError, OSError) as error:  # malformed line, no id, unreadable
        print(f"fakestripe: cannot load {args.data}: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve(make_app(store, config), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
