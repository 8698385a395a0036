"""Time every metric on a large demo account (default 100,000 customers, 36 months).

    .venv/bin/python bench/metrics.py [--customers N] [--months M] [--seed S] [--repeat R] [--db PATH]

The account is generated once and cached under data/bench/. Targets: the MRR
series plus movements for 36 months under 2 s together; every other metric
under 1 s. Prints one line per metric (best of --repeat runs); no assertions.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.demo import generate_database  # noqa: E402
from etl.load import connect  # noqa: E402
from metrics import METRICS  # noqa: E402
from metrics.common import add_months, month_range  # noqa: E402
from metrics.params import Params  # noqa: E402

SERIES = ("mrr", "mrr_movements")


def account(customers: int, months: int, seed: int) -> str:
    path = Path("data/bench") / f"metrics-c{customers}-m{months}-s{seed}.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {customers:,} customers x {months} months (cached at {path}) ...", flush=True)
        started = time.perf_counter()
        generate_database(str(path), customers=customers, seed=seed, months=months)
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    return str(path)


def best_time(function, con, params: Params, repeat: int) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(function(con, params))
        best = min(best, time.perf_counter() - started)
    return best, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--db", help="time an existing database instead")
    args = parser.parse_args()
    con = connect(args.db or account(args.customers, args.months, args.seed), read_only=True)
    counts = con.execute("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoice_lines), "
                         "(SELECT count(*) FROM charges)").fetchall()[0]
    print(f"customers {counts[0]:,}  invoice lines {counts[1]:,}  charges {counts[2]:,}  "
          f"cores {os.cpu_count()}")
    first, last = month_range(con, Params())
    window = Params(start=max(first, add_months(last, -35)), end=last)
    customer = con.execute("SELECT customer_id FROM subscriptions LIMIT 1").fetchall()[0][0]
    extras = {"mrr_drilldown": {"month": add_months(last, -1)}, "customer_timeline": {"customer_id": customer}}
    print(f"range {window.start:%Y-%m} .. {window.end:%Y-%m}\n")
    print(f"{'metric':<22}{'seconds':>9}{'rows':>9}  target")
    series_total = 0.0
    for name in sorted(METRICS, key=lambda n: (n not in SERIES, n)):
        params = Params(start=window.start, end=window.end, extra=extras.get(name, {}))
        seconds, rows = best_time(METRICS[name].function, con, params, args.repeat)
        if name in SERIES:
            series_total += seconds
            target = "(series)"
        else:
            target = "ok  < 1 s" if seconds < 1 else "SLOW > 1 s"
        print(f"{name:<22}{seconds:>9.3f}{rows:>9}  {target}", flush=True)
    verdict = "ok  < 2 s" if series_total < 2 else "SLOW > 2 s"
    print(f"\n{'mrr + mrr_movements':<22}{series_total:>9.3f}{'':>9}  {verdict}")
    usd = Params(start=window.start, end=window.end, currency="usd")
    seconds, _ = best_time(METRICS["mrr_movements"].function, con, usd, args.repeat)
    print(f"{'mrr_movements in usd':<22}{seconds:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
