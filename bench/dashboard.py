"""Time every dashboard page (AppTest, in-process) on a large demo account, cold and warm.

    .venv/bin/python bench/dashboard.py [--customers N] [--copies C] [--months M] [--seed S] [--db PATH]

Uses the same cached account as bench/metrics.py (data/bench/, built once: by
default 5,000 generated customers copied 20 times = 100,000 customers).
Cold: Streamlit's and the metrics' caches emptied, as after a sync publishes
(background prefetch off). Warm: the same page again (switching back to it).
Switch: first visit of each page after the Overview was opened cold and its
background prefetch finished (what a user clicking through feels).
The page per customer (/customer?id=...) is timed for the customer with the
most invoice lines, the heaviest to show.
Targets per page: warm under 0.5 s, cold under 3 s. Prints numbers; no assertions.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

import streamlit as st  # noqa: E402

from tests.pages.apptest import PAGES, VIEWER, goto, open_app  # noqa: E402

COLD_TARGET, WARM_TARGET = 3.0, 0.5


def load_bench_metrics():
    """bench/metrics.py: its options and cached account (one 100k build serves both benches)."""
    spec = importlib.util.spec_from_file_location("bench_metrics", ROOT / "bench" / "metrics.py")
    bench_metrics = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_metrics)
    return bench_metrics


def clear_caches() -> None:
    from metrics.mrr import stage_cache
    st.cache_data.clear()
    st.cache_resource.clear()
    stage_cache.clear()


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> int:
    bench_metrics = load_bench_metrics()
    parser = bench_metrics.account_parser(__doc__.splitlines()[0])
    parser.add_argument("--currency", help="the Currency control: native, or a reporting currency "
                                           "(default: the dashboard's own default)")
    args = parser.parse_args()
    query = {"currency": args.currency} if args.currency else {}
    os.environ["TALLY_DB"] = args.db or bench_metrics.account(args.customers, args.copies, args.months,
                                                              args.seed)
    os.environ.pop("STRIPE_API_KEY", None)
    import tally_auth
    tally_auth.authenticate = lambda: VIEWER  # AppTest is no localhost browser
    print(f"database {os.environ['TALLY_DB']}  cores {os.cpu_count()}\n")
    switch = switch_times(query)
    os.environ["TALLY_PREFETCH"] = "0"
    at = open_app(query, timeout=300)
    print(f"view: {dict(at.query_params)}\n")
    print(f"{'page':<24}{'cold s':>8}{'warm s':>8}{'switch s':>9}  target (cold < {COLD_TARGET:g} s, "
          f"warm < {WARM_TARGET:g} s)")
    slow = 0
    for title in PAGES:
        clear_caches()
        cold = timed(lambda title=title: goto(at, title))
        warm = min(timed(lambda title=title: goto(at, title)) for _ in range(2))
        problems = [e.value for e in at.exception] + [e.value for e in at.error]
        ok = cold < COLD_TARGET and warm < WARM_TARGET and not problems
        slow += not ok
        verdict = "ok" if ok else ("ERROR " + problems[0][:60] if problems else "SLOW")
        print(f"{title:<24}{cold:>8.2f}{warm:>8.2f}{switch[title]:>9.2f}  {verdict}", flush=True)
    slow += not customer_page_times(query)
    print(f"\n{len(PAGES) + 1 - slow} of {len(PAGES) + 1} pages within target")
    return 0


def customer_page_times(query: dict) -> bool:
    """The page per customer, cold and warm, for the customer with the most invoice lines."""
    import duckdb
    con = duckdb.connect(os.environ["TALLY_DB"], read_only=True)
    try:
        customer = con.execute("""SELECT i.customer_id FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
                                  GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1""").fetchone()[0]
    finally:
        con.close()
    at = open_app({**query, "id": customer}, timeout=300)
    clear_caches()
    cold = timed(lambda: goto(at, "Customer"))
    warm = min(timed(lambda: goto(at, "Customer")) for _ in range(2))
    problems = [e.value for e in at.exception] + [e.value for e in at.error] + [
        w.value for w in at.warning if "No customer" in w.value]
    ok = cold < COLD_TARGET and warm < WARM_TARGET and not problems
    verdict = "ok" if ok else ("ERROR " + problems[0][:60] if problems else "SLOW")
    print(f"{'Customer (' + customer + ')':<24}{cold:>8.2f}{warm:>8.2f}{'':>9}  {verdict}", flush=True)
    return ok


def switch_times(query: dict) -> dict[str, float]:
    """Open the Overview cold, let the prefetch finish, then visit every page once."""
    clear_caches()
    os.environ["TALLY_PREFETCH"] = "1"
    started = time.perf_counter()
    at = open_app(query, timeout=300)
    for thread in threading.enumerate():
        if thread.name == "tally-prefetch":
            thread.join()
    print(f"first Overview plus background prefetch: {time.perf_counter() - started:.1f} s\n")
    return {title: timed(lambda title=title: goto(at, title)) for title in PAGES}


if __name__ == "__main__":
    sys.exit(main())
