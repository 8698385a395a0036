"""Benchmark a full sync against a rate-limited, slow fake Stripe.

Serves a generated demo account (>= 200,000 objects, cached under data/bench/)
through fakestripe with Stripe's live limits (100 requests/s for the account,
25/s per endpoint) and a per-request latency, runs `python -m etl sync --full`
against it as a subprocess, and prints objects/s, the bound the rate limits
allow, their ratio, the share of requests answered 429 and the sync's peak RSS.

Two account shapes: `demo` as generated, and `b2b`, the same account where
about 5% of invoices carry 11-300 lines (seat plans with add-ons, modules,
usage lines), so `GET /v1/invoices/{id}/lines`, an endpoint of its own,
sets the bound. Targets for each: >= 90% of the bound, under 1% of requests
answered 429, peak RSS under 400 MB, every object (and line) landed once.

    .venv/bin/python bench/sync.py                  # both shapes, full size, 150 ms latency
    .venv/bin/python bench/sync.py --customers 300 --shape b2b  # a quick smoke run
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from fakestripe import DEFAULT_API_KEY  # noqa: E402
from fakestripe.resources import BY_TABLE, EMBEDDED_LINES, INLINE_FLAG  # noqa: E402
from fakestripe.store import read_jsonl  # noqa: E402
from fakestripe.testing import serve, stats  # noqa: E402

GLOBAL_RATE = 100  # requests/s, Stripe live mode
ENDPOINT_RATE = 25  # requests/s per endpoint
PAGE = 100  # objects per list request, Stripe's maximum
TARGET_OBJECTS = 200_000
TARGET_RATIO = 0.90
TARGET_429_SHARE = 0.01
LINES_ENDPOINT = "GET /v1/invoices/{id}/lines"
PRICE_ENDPOINT = "GET /v1/prices/{id}"
B2B_LONG_SHARE = 0.05  # of invoices, given 11-300 lines in the b2b shape
B2B_MAX_LINES = 300
TARGET_RSS_MB = 400
BENCH_DIR = ROOT / "data" / "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=6600,
                        help="demo customers to generate (default sized for >= 200,000 objects)")
    parser.add_argument("--months", type=int, default=24, help="months of demo history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shape", choices=["demo", "b2b", "both"], default="both",
                        help="the demo account as generated, or with ~5%% of invoices at 11-300 lines")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--timeout", type=float, default=1800, help="kill the sync after this many s")
    parser.add_argument("--keep", action="store_true",
                        help="keep the synced database and the sync's log in a temp directory")
    return parser.parse_args()


# --- the account ---------------------------------------------------------------

def account_dir(customers: int, months: int, seed: int) -> Path:
    """The cached JSONL account for these settings and this generator, generated on first use."""
    name = f"account-c{customers}-m{months}-s{seed}"
    target = BENCH_DIR / f"{name}-{generator_fingerprint()}"
    if (target / "COMPLETE").exists():
        return target
    for stale in BENCH_DIR.glob(f"{name}-*"):  # made by an older generator
        shutil.rmtree(stale, ignore_errors=True)
    try:
        from etl.demo import write_jsonl
    except ImportError:
        sys.exit("bench/sync.py: etl.demo.write_jsonl is not available yet; cannot generate the account.")
    partial = Path(tempfile.mkdtemp(prefix="account-", dir=ensure(BENCH_DIR)))
    print(f"generating {customers} customers x {months} months into {target} ...", flush=True)
    write_jsonl(partial, customers=customers, seed=seed, months=months)
    (partial / "COMPLETE").touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)  # atomic: a crash never leaves a half account marked complete
    return target


def b2b_dir(data: Path) -> Path:
    """The account `data` with about 5% of its invoices carrying 11-300 lines (cached).

    A bench-only transform of the JSONL: a chosen invoice's lines are its own
    repeated under new ids, so every line stays a well-formed line of it.
    """
    target = data.with_name(data.name + "-b2b")
    if (target / "COMPLETE").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix="account-b2b-", dir=BENCH_DIR))
    for path in data.glob("*.jsonl"):
        if path.stem != "invoices":
            os.link(path, partial / path.name)
    with open(data / "invoices.jsonl", "rb") as src, open(partial / "invoices.jsonl", "wb") as out:
        for line in src:
            if line.strip():
                out.write(orjson.dumps(_lengthened(orjson.loads(line))) + b"\n")
    (partial / "COMPLETE").touch()
    partial.rename(target)
    return target


def _lengthened(invoice: dict) -> dict:
    digest = int.from_bytes(hashlib.sha256(invoice["id"].encode()).digest()[:8], "big")
    lines = (invoice.get("lines") or {}).get("data") or []
    if not lines or digest % 10_000 >= B2B_LONG_SHARE * 10_000:
        return invoice
    count = EMBEDDED_LINES + 1 + (digest >> 16) % (B2B_MAX_LINES - EMBEDDED_LINES)
    longer = [{**lines[k % len(lines)], "id": f"{lines[k % len(lines)]['id']}x{k}"}
              for k in range(len(lines), count)]
    return {**invoice, "lines": {**invoice["lines"], "data": lines + longer}}


def generator_fingerprint() -> str:
    """Changes whenever the demo generator's code does, so the cache never goes stale."""
    digest = hashlib.sha256()
    for source in sorted((ROOT / "etl" / "demo").glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def ensure(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def count_account(data: Path) -> tuple[dict[str, int], int, int, int]:
    """Objects per list endpoint, the /lines requests invoices need beyond their
    embedded lines, the invoices' lines in all, and the prices that lines and
    subscription items name but no list gives (inline ones: retrieved by id)."""
    objects, line_requests, all_lines = {}, 0, 0
    listed, named = set(), set()
    for path in sorted(data.glob("*.jsonl")):
        resource = BY_TABLE.get(path.stem)
        if resource is None:
            continue
        count = 0
        for obj, _ in read_jsonl(path):
            count += 1
            if resource.object == "price" and not obj.get(INLINE_FLAG):  # inline: in no list
                listed.add(obj["id"])
            named.update(_prices_named(obj))
            if resource.object == "invoice":
                lines = len(((obj.get("lines") or {}).get("data")) or [])
                all_lines += lines
                line_requests += math.ceil(max(0, lines - EMBEDDED_LINES) / PAGE)
        objects[f"GET {resource.url}"] = count
    return objects, line_requests, all_lines, len(named - listed)


def _prices_named(obj: dict) -> set[str]:
    """Price ids an invoice's lines or a subscription's items name."""
    named = set()
    for child in ((obj.get("lines") or obj.get("items") or {}).get("data") or []):
        price = ((child.get("pricing") or {}).get("price_details") or {}).get("price") or child.get("price")
        price = price.get("id") if isinstance(price, dict) else price
        if price:
            named.add(price)
    return named


# --- the bound -------------------------------------------------------------------

def rate_limit_bound(objects: dict[str, int], line_requests: int,
                     retrieves: int = 0) -> tuple[float, str, str]:
    """The most objects/s the limits allow for this account, and how it was derived.

    A full sync must fetch at least pages_e = ceil(n_e / 100) list pages from
    each endpoint e it reads, plus the /v1/invoices/{id}/lines pages of invoices
    with more than the embedded lines (its own endpoint), and one
    /v1/prices/{id} request per inline price (no list gives those). Each endpoint serves at
    most 25 requests/s, so the sync needs at least max_e(pages_e / 25) seconds;
    the account serves 100/s overall, so at least sum_e(pages_e) / 100 seconds.
    With T = the larger of the two, the bound is (total objects) / T; the
    third value names whichever sets it (an endpoint, or the account). Latency
    does not enter: a client that splits each list into `created` windows can
    keep enough requests in flight to hide it.
    """
    pages = {e: math.ceil(n / PAGE) for e, n in objects.items() if n}
    if line_requests:
        pages[LINES_ENDPOINT] = line_requests
    if retrieves:
        pages[PRICE_ENDPOINT] = retrieves
    by_endpoint = max(p / ENDPOINT_RATE for p in pages.values())
    by_account = sum(pages.values()) / GLOBAL_RATE
    seconds = max(by_endpoint, by_account)
    slowest = max(pages, key=pages.get)
    why = (f"T >= max(account: sum(pages)={sum(pages.values())}/{GLOBAL_RATE}/s = {by_account:.1f}s, "
           f"endpoint: {pages[slowest]} pages/{ENDPOINT_RATE}/s = {by_endpoint:.1f}s on {slowest})")
    setter = slowest if by_endpoint >= by_account else "the account"
    return sum(objects.values()) / seconds, why, setter


# --- the run -------------------------------------------------------------------

def run_sync(base: str, db: Path, log: Path,
             timeout: float) -> tuple[int, float, float, float, float]:
    """(exit code, wall seconds, peak RSS MB of the sync process, peak RSS MB of it and
    its worker processes together, CPU seconds of all of them) of one full sync."""
    # the fake key is a test-mode key, which the sync would pace at 25/s; the account
    # here is served at live-mode limits, so tell the sync its real budget
    env = dict(os.environ, STRIPE_API_BASE=base, STRIPE_API_KEY=DEFAULT_API_KEY, TALLY_DB=str(db),
               TALLY_SYNC_RATE=str(GLOBAL_RATE))
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "etl", "sync", "--db", str(db), "--full"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        watchdog = threading.Timer(timeout, proc.kill)  # a hung sync must not hang the bench
        watchdog.start()
        tree = TreeRSS(proc.pid)
        # wait4 gives this child's rusage and its reaped workers' (not the server's,
        # also our child); its ru_maxrss is the biggest one process, hence TreeRSS
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        watchdog.cancel()
        tree.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return (proc.returncode, seconds, usage.ru_maxrss / 1024, tree.peak_mb,
            usage.ru_utime + usage.ru_stime)


class TreeRSS:
    """Peak of the summed RSS of a process and its descendants, sampled every 50 ms.

    Shared pages (the libraries every process maps) count once per process:
    an upper bound on the memory the sync takes.
    """

    def __init__(self, pid: int):
        self.pid, self.peak_mb = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mb = max(self.peak_mb, sum(map(_rss_mb, _descendants(self.pid))))


def _descendants(pid: int) -> list[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # the parent pid follows the parenthesised command name
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grown = {pid}, True
    while grown:
        found = {child for child, parent in parents.items() if parent in tree}
        grown = not found <= tree
        tree |= found
    return list(tree)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def db_row_counts(db: Path, tables: list[str]) -> dict[str, int | None]:
    """Rows per table; None where a table is missing or holds an id twice."""
    import duckdb
    counts = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for table in tables:
            try:
                key = "invoice_id || '/' || id" if table == "invoice_lines" else "id"  # its key
                rows, ids = con.execute(f'SELECT count(*), count(DISTINCT {key}) FROM "{table}"').fetchone()
                counts[table] = rows if rows == ids else None
            except duckdb.Error:
                counts[table] = None
    return counts


def report(shape, objects, line_requests, all_lines, inline_prices, seconds, rss_mb, tree_mb, cpu_seconds,
           served, db_counts) -> float:
    """Print one shape's results; returns its ratio to the bound."""
    touched = {e: n for e, n in objects.items() if e in served["endpoints"]}
    total = sum(touched.values())
    lines_served = served["endpoints"].get(LINES_ENDPOINT, 0)
    bound, why, setter = rate_limit_bound(touched, line_requests if lines_served else 0,
                                          inline_prices if PRICE_ENDPOINT in served["endpoints"] else 0)
    rate = total / seconds
    share_429 = served["rate_limited"] / max(1, served["requests"])
    print(f"objects in the endpoints synced: {total:,} (account: {sum(objects.values()):,}; "
          f"served incl. re-reads and lines: {served['objects_served']:,})")
    print(f"requests: {served['requests']:,}  429s: {served['rate_limited']:,}  "
          f"500s: {served['server_errors']:,}")
    print(f"seconds: {seconds:.1f}")
    # the server shares the machine's cores: the sync's CPU must leave it room
    print(f"sync CPU (user + system, its worker process included): {cpu_seconds:.1f} s")
    print(f"objects/s: {rate:,.0f}")
    print(f"rate-limit bound: {bound:,.0f} objects/s, set by {setter}  [{why}]")
    print(f"{LINES_ENDPOINT}: {lines_served:,} requests for {line_requests:,} pages needed; "
          f"{PRICE_ENDPOINT}: {served['endpoints'].get(PRICE_ENDPOINT, 0):,} for {inline_prices:,} inline prices")
    print(f"ratio: {rate / bound:.0%} (target >= {TARGET_RATIO:.0%})")
    print(f"share of requests answered 429: {share_429:.2%} (target < {TARGET_429_SHARE:.0%}; "
          f"by endpoint: {served.get('rate_limited_by_endpoint') or {}})")
    print(f"sync peak RSS: {tree_mb:.0f} MB, its processes summed (target < {TARGET_RSS_MB} MB; "
          f"the sync process alone: {rss_mb:.0f} MB)")
    print(f"server peak RSS: "
          f"{served['peak_rss_mb']:.0f} MB incl. the mapped JSONL it served, "
          f"{served.get('private_rss_mb') or 0:.0f} MB its own")
    # a shared machine makes wall time noisy: say how busy it was
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    expected = {t: n for t, n in account_tables(objects).items() if f"GET {BY_TABLE[t].url}" in touched}
    if "invoices" in expected:
        expected["invoice_lines"] = all_lines
    wrong = {t: (db_counts.get(t), n) for t, n in expected.items() if db_counts.get(t) != n}
    print("database rows match the account, each object once" if not wrong else
          f"database rows differ from the account (db or None if doubled, account): {wrong}")
    return rate / bound


def account_tables(objects: dict[str, int]) -> dict[str, int]:
    by_url = {f"GET {r.url}": r.table for r in BY_TABLE.values()}
    return {by_url[e]: n for e, n in objects.items()}


def main() -> int:
    args = parse_args()
    data = account_dir(args.customers, args.months, args.seed)
    shapes = {"demo": lambda: data, "b2b": lambda: b2b_dir(data)}
    ratios = {}
    for shape in (["demo", "b2b"] if args.shape == "both" else [args.shape]):
        print(f"\n=== shape: {shape} ===", flush=True)
        ratio = bench_shape(args, shape, shapes[shape]())
        if ratio is None:
            return 1
        ratios[shape] = ratio
    print("\nratio to the bound: " + ", ".join(f"{s} {r:.0%}" for s, r in ratios.items()) +
          f" (target >= {TARGET_RATIO:.0%})")
    return 0


def bench_shape(args, shape: str, data: Path) -> float | None:
    objects, line_requests, all_lines, inline_prices = count_account(data)
    total = sum(objects.values())
    print(f"account: {total:,} objects and {all_lines:,} invoice lines in {data}")
    if total < TARGET_OBJECTS:
        print(f"note: under {TARGET_OBJECTS:,} objects; raise --customers for the full-size bench")
    work = Path(tempfile.mkdtemp(prefix="tally-bench-sync-"))
    try:
        # The fake keeps 30 days of events before its "now": the demo's, not today.
        from etl.demo.clock import DEFAULT_NOW
        with serve(data, latency_ms=args.latency_ms, rate_limit=GLOBAL_RATE,
                   endpoint_rate_limit=ENDPOINT_RATE, now=DEFAULT_NOW.timestamp(),
                   startup_timeout=600) as base:
            code, seconds, rss_mb, tree_mb, cpu_seconds = run_sync(
                base, work / "bench.duckdb", work / "sync.log", args.timeout)
            served = stats(base)
        if code != 0:
            tail = (work / "sync.log").read_text(errors="replace").strip().splitlines()[-5:]
            why = f"was killed after {args.timeout:g}s" if code == -9 else f"failed with exit code {code}"
            print(f"sync {why}:\n  " + "\n  ".join(tail))
            return None
        counts = db_row_counts(work / "bench.duckdb", list(account_tables(objects)) + ["invoice_lines"])
        ratio = report(shape, objects, line_requests, all_lines, inline_prices, seconds, rss_mb, tree_mb,
                       cpu_seconds, served, counts)
        print(f"bench/RESULTS.md: .venv/bin/python bench/sync.py --customers {args.customers} "
              f"--latency-ms {args.latency_ms:g} --shape {shape}")
        return ratio
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
