"""Benchmark the demo generator: `python -m etl demo` as a subprocess.

Prints wall seconds, CPU seconds (the generator and its worker processes),
customers/s, and the resident memory of the generator's processes sampled
over the run, so that flat memory can be told from memory that grows with
the account: the first and last thirds of the run are compared.

    .venv/bin/python bench/demo.py                       # 10,000 customers
    .venv/bin/python bench/demo.py --customers 500000    # the issue's largest size
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(p) for p in listing.read().split()]
    except OSError:
        return []


def sample(pid: int, samples: list[tuple[float, float, float]], done: threading.Event) -> None:
    """(seconds, generator MB, largest worker MB) every SAMPLE_SECONDS."""
    started = time.perf_counter()
    while not done.wait(SAMPLE_SECONDS):
        workers = [rss_mb(c) for c in children(pid)]
        samples.append((time.perf_counter() - started, rss_mb(pid), max(workers, default=0.0)))


def thirds(samples, index: int) -> str:
    values = [s[index] for s in samples]
    if len(values) < 3:
        return "too short to tell"
    third = len(values) // 3
    first, last = values[:third], values[-third:]
    return (f"first third median {statistics.median(first):,.0f} MB (max {max(first):,.0f}), "
            f"last third median {statistics.median(last):,.0f} MB (max {max(last):,.0f})")


def main() -> int:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="tally-bench-demo-"))
    command = [sys.executable, "-m", "etl", "demo", "--db", str(work / "demo.duckdb"),
               "--customers", str(args.customers), "--months", str(args.months),
               "--seed", str(args.seed)]
    samples: list[tuple[float, float, float]] = []
    done = threading.Event()
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        sampler = threading.Thread(target=sample, args=(proc.pid, samples, done), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        code = os.waitstatus_to_exitcode(status)
        errors = proc.stderr.read().decode(errors="replace").strip()
        if code != 0:
            print(f"etl demo failed with exit code {code}: {errors.splitlines()[-1:]}")
            return 1
        size_mb = (work / "demo.duckdb").stat().st_size / 2**20
        print(f"customers: {args.customers:,} x {args.months} months (seed {args.seed})")
        print(f"seconds: {seconds:.1f}  customers/s: {args.customers / seconds:,.0f}")
        # wait4 counts the generator with the worker processes it waited for;
        # its peak RSS is the largest of any of them.
        print(f"CPU (user + system), generator and workers: "
              f"{usage.ru_utime + usage.ru_stime:.1f} s")
        print(f"peak RSS of any of its processes: {usage.ru_maxrss / 1024:,.0f} MB")
        print(f"generator RSS over the run: {thirds(samples, 1)}")
        print(f"largest worker RSS over the run: {thirds(samples, 2)}")
        print(f"database: {size_mb:,.0f} MB")
        if errors:
            print(f"stderr said: {errors.splitlines()[-1]}")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
