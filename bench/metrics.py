"""Time every metric on a large demo account (default 100,000 customers, 36 months).

    .venv/bin/python bench/metrics.py [--customers N] [--copies C] [--months M] [--seed S]
                                      [--repeat R] [--db PATH] [--segments-only]

The account is built once and cached under data/bench/: the demo generator
makes N customers (default 5,000), and C copies of them with their own ids
(default 20) make N x C customers. Why copies: the generator runs at roughly
70 customers a second on this shared 2-core machine, so 100,000 generated
customers would take over 20 minutes; copies keep the demo's shapes and mix.
`--copies 1 --customers 100000` generates them all for real.

Targets: the MRR series plus movements for 36 months under 2 s together; every
other metric under 1 s; a segmented MRR export (a customer metadata filter,
`metrics export mrr --where channel=...`) under 2 s cold. Each metric is timed cold (first call after the
month-end cache is cleared) and warm (the cache a dashboard page shares).
Like a database the dashboard shows, the account gets the stored MRR stages
(metrics/mrr/refresh_stages.py: a file next to it, built once, timed); `--db`
files are used as they are, with their stages when those match.
Prints numbers only; no assertions.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.demo import generate_database  # noqa: E402
from etl.demo.truth import TRUTH_DDL  # noqa: E402
from etl.load import connect  # noqa: E402
from metrics import METRICS, marketing_spend  # noqa: E402
from metrics.common import add_months, data_months, month_range  # noqa: E402
from metrics.mrr import refresh_stages, stage_cache, stored_stages
from metrics.params import Params  # noqa: E402

SERIES = ("mrr", "mrr_movements")


# Tables whose rows belong to one customer: copied with every id suffixed.
PER_CUSTOMER = ["customers", "subscriptions", "subscription_items", "invoices", "invoice_lines",
                "invoice_line_taxes", "charges", "refunds", "disputes", "balance_transactions",
                "early_fraud_warnings", "demo_truth_mrr"]
SHARED_IDS = {"price_id", "product_id", "tax_rate_id"}  # the catalogue is shared by all copies


def generated(customers: int, months: int, seed: int) -> Path:
    # "-meta": built since the demo customers carry metadata (older caches have none)
    path = Path("data/bench") / f"metrics-demo-c{customers}-m{months}-s{seed}-meta.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {customers:,} customers x {months} months ...", flush=True)
        started = time.perf_counter()
        generate_database(str(path), customers=customers, seed=seed, months=months)
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _copy_columns(con, table: str, copy: int) -> str:
    columns = con.execute(f"""SELECT column_name, data_type FROM information_schema.columns
                              WHERE table_catalog = 'demo' AND table_name = '{table}'
                              ORDER BY ordinal_position""").fetchall()
    exprs = []
    for name, sql_type in columns:
        is_id = name == "id" or name.endswith("_id")
        if name == "raw" and table != "customers":
            # not read by metrics; keeps the file small. Customers keep theirs: segments read its metadata
            exprs.append("NULL")
        elif sql_type == "VARCHAR" and is_id and name not in SHARED_IDS:
            exprs.append(f"{name} || '_{copy}'")
        else:
            exprs.append(name)
    return ", ".join(exprs)


def account(customers: int, copies: int, months: int, seed: int) -> str:
    source = generated(customers, months, seed)
    if copies == 1:
        return str(source)
    path = Path("data/bench") / f"metrics-c{customers}x{copies}-m{months}-s{seed}-meta.duckdb"
    if not path.exists():
        print(f"copying it {copies} times ...", flush=True)
        work = path.with_suffix(".building")
        work.unlink(missing_ok=True)
        con = connect(str(work))
        con.execute(f"ATTACH '{source}' AS demo (READ_ONLY)")
        marketing_spend.ensure_table(con)  # metrics' own table, which connect() does not make
        con.execute(TRUTH_DDL)  # the demo's own table, likewise
        for table in ("prices", "products", "tax_rates", "coupons", "marketing_spend"):
            con.execute(f"INSERT INTO {table} SELECT * FROM demo.{table}")
        for table in PER_CUSTOMER:
            for copy in range(copies):
                con.execute(f"INSERT INTO {table} SELECT {_copy_columns(con, table, copy)} "
                            f"FROM demo.{table}")
        con.execute("DETACH demo")
        con.execute("CHECKPOINT")
        con.close()
        work.rename(path)
    return str(path)


def with_stored_stages(path: str) -> None:
    """Store the MRR stages as the dashboard does after a publish (once: the
    copies above are not published), timing the refresh."""
    started, cpu = time.perf_counter(), cpu_seconds()
    if refresh_stages.refresh(path):
        print(f"stored MRR stages (what the dashboard builds after a publish): "
              f"{time.perf_counter() - started:.1f} s wall, {cpu_seconds() - cpu:.1f} s cpu", flush=True)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(function, con, params: Params) -> tuple[float, int, float]:
    """(wall seconds, rows, CPU seconds of this process: all threads, so on an
    idle 2-core machine wall time lies between cpu/2 and cpu)."""
    started, cpu = time.perf_counter(), cpu_seconds()
    rows = len(function(con, params))
    return time.perf_counter() - started, rows, cpu_seconds() - cpu


def cold_and_warm(function, con, params: Params, repeat: int):
    """(cold wall, cold cpu, warm wall, rows): an empty month-end cache, then the
    best of `repeat` runs with it filled."""
    stage_cache.clear()
    cold, rows, cpu = timed(function, con, params)
    warm = min(timed(function, con, params)[0] for _ in range(repeat))
    return cold, cpu, warm, rows


def account_parser(description: str) -> argparse.ArgumentParser:
    """The options naming the bench account (bench/dashboard.py times the same one)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--customers", type=int, default=5_000, help="generated customers")
    parser.add_argument("--copies", type=int, default=20, help="copies of them (ids suffixed)")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="time an existing database instead")
    return parser


def main() -> int:
    parser = account_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--segments-only", action="store_true", help="only the segmented MRR export")
    args = parser.parse_args()
    path = args.db or account(args.customers, args.copies, args.months, args.seed)
    if not args.db:
        with_stored_stages(path)
    con = connect(path, read_only=True)
    stored_stages.attach(con, path)
    counts = con.execute("SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM invoice_lines), "
                         "(SELECT count(*) FROM charges)").fetchall()[0]
    print(f"customers {counts[0]:,}  invoice lines {counts[1]:,}  charges {counts[2]:,}  "
          f"cores {os.cpu_count()}  stored MRR stages "
          f"{'used' if stored_stages.stored_through(con) else 'absent or stale: computed'}")
    first, last = data_months(con)[0], month_range(con, Params())[1]  # the whole history
    window = Params(start=max(first, add_months(last, -35)), end=last)
    customer = con.execute("SELECT customer_id FROM subscriptions LIMIT 1").fetchall()[0][0]
    extras = {"mrr_drilldown": {"month": add_months(last, -1)}, "cohort_customers": {"cohort": add_months(last, -12)},
              **{n: {"customer_id": customer} for n in METRICS if n.startswith("customer_")}}
    print(f"range {window.start:%Y-%m} .. {window.end:%Y-%m}\n")
    print(f"load average {os.getloadavg()[0]:.1f}\n")
    segmented(con, window)
    if args.segments_only:
        return 0
    print(f"\n{'metric':<22}{'cold s':>8}{'cpu s':>8}{'warm s':>8}{'rows':>8}  target 1 s (cold)")
    for name in sorted(METRICS):
        params = Params(start=window.start, end=window.end, extra=extras.get(name, {}))
        cold, cpu, warm, rows = cold_and_warm(METRICS[name].function, con, params, args.repeat)
        verdict = "" if name in SERIES else ("ok" if cold < 1 else "SLOW")
        print(f"{name:<22}{cold:>8.3f}{cpu:>8.3f}{warm:>8.3f}{rows:>8}  {verdict}", flush=True)
    for label, params in (("", window), (" in usd", Params(start=window.start, end=window.end,
                                                            currency="usd"))):
        stage_cache.clear()
        runs = [timed(METRICS[name].function, con, params) for name in SERIES]
        wall, cpu = sum(r[0] for r in runs), sum(r[2] for r in runs)
        print(f"\nMRR series + movements{label}, {window.start:%Y-%m}..{window.end:%Y-%m}, cold: "
              f"{wall:.3f} s wall, {cpu:.3f} s cpu  ({'ok' if wall < 2 else 'SLOW'}, target 2 s)")
    return 0


def segmented(con, window: Params) -> None:
    """`metrics export mrr --where channel=<most common>` cold, and split by channel (no target)."""
    values = con.execute("""SELECT json_extract_string(raw, '$.metadata.channel') AS v FROM customers
                            WHERE v IS NOT NULL GROUP BY v ORDER BY count(*) DESC LIMIT 1""").fetchall()
    if not values:
        print("segmented MRR: no customer carries a `channel`; skipped")
        return
    where = (("customer", "channel", (values[0][0],)),)
    for label, params in ((f"--where channel={values[0][0]}", Params(start=window.start, end=window.end,
                                                                        where=where)),
                          ("--split-by channel", Params(start=window.start, end=window.end,
                                                        split_by=("customer", "channel")))):
        cold, cpu, warm, rows = cold_and_warm(METRICS["mrr"].function, con, params, 1)
        verdict = ("ok" if cold < 2 else "SLOW") + ", target 2 s" if label.startswith("--where") else "no target"
        print(f"segmented MRR export {label}: cold {cold:.3f} s wall, {cpu:.3f} s cpu, warm {warm:.3f} s, "
              f"{rows} rows  ({verdict})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
