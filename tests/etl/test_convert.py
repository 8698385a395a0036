"""The page converter: a worker process that gives the pages the fetch thread would."""
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import orjson
import pytest

from etl import convert
from etl.convert import ROOT, PageConverter, convert_body, warm_up
from tests.etl import sync_account

SYNCED_AT = dt.datetime(2026, 11, 1, 12, 0)
VERSION = "2025-03-31.basil"


@pytest.fixture
def account():
    return sync_account.build(customers=40, now=1_790_000_000)


@pytest.fixture
def converter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the worker finds etl/ from anywhere
    converter = PageConverter()
    converter.start()
    yield converter
    converter.stop()


def body(objects, has_more=True) -> bytes:
    return orjson.dumps({"object": "list", "data": objects, "has_more": has_more})


def same_page(a, b) -> None:
    assert (a.count, a.last_id, a.has_more, a.created) == (b.count, b.last_id, b.has_more, b.created)
    assert a.rows.rows.equals(b.rows.rows) and a.rows.ids == b.rows.ids
    if a.rows.lines or b.rows.lines:
        assert a.rows.lines.rows.equals(b.rows.lines.rows)
        assert a.rows.lines.line_taxes.equals(b.rows.lines.line_taxes)
    if a.rows.items or b.rows.items:
        assert a.rows.items.equals(b.rows.items)


@pytest.mark.parametrize("table", ["customers", "subscriptions", "invoices", "charges", "events"])
def test_worker_gives_the_page_the_fetch_thread_would(converter, account, table, monkeypatch):
    objects = account[table][1:30]  # not the first invoice: it has more lines than it embeds
    page = converted_by_the_worker(converter, table, objects, monkeypatch)
    assert page.count == len(objects) and page.last_id == objects[-1]["id"]
    assert page.rows.rows.column("api_version").to_pylist() == [VERSION] * len(objects)


def converted_by_the_worker(converter, table, objects, monkeypatch):
    """The converter's page, checked equal to one converted here."""
    expected = convert_body(table, body(objects), SYNCED_AT, VERSION)
    monkeypatch.setattr("etl.convert.convert_body", _not_here)  # only the worker may convert
    page = converter.convert(table, body(objects), SYNCED_AT, VERSION)
    same_page(page, expected)
    return page


def _not_here(*args):
    raise AssertionError("converted in the sync process, not in the worker")


def test_a_long_invoice_is_left_to_the_fetch_thread(converter, account):
    long_invoice = {**account["invoices"][0]}
    long_invoice["lines"] = {**long_invoice["lines"], "has_more": True}
    assert converter.convert("invoices", body([long_invoice]), SYNCED_AT, VERSION) is None


def test_the_last_page_says_so(converter, account):
    page = converter.convert("customers", body(account["customers"][:3], has_more=False),
                             SYNCED_AT, VERSION)
    assert page.has_more is False
    empty = converter.convert("customers", body([], has_more=True), SYNCED_AT, VERSION)
    assert (empty.count, empty.has_more, empty.rows) == (0, False, None)


def test_a_page_the_worker_cannot_convert_raises_on_the_calling_thread(converter):
    converter.start()
    with pytest.raises(orjson.JSONDecodeError):
        converter.convert("customers", b"{not json", SYNCED_AT, VERSION)
    assert converter._worker.poll() is None  # still serving the next page


def test_a_dead_worker_is_done_without(converter, account):
    converter.start()
    converter._worker.kill()
    converter._worker.wait()
    objects = account["customers"][:10]
    page = converter.convert("customers", body(objects), SYNCED_AT, VERSION)
    same_page(page, convert_body("customers", body(objects), SYNCED_AT, VERSION))
    assert converter._worker is None  # not restarted: the rest of the sync converts here


@pytest.mark.parametrize("warmed_up", [False, True])
def test_the_worker_gets_no_stripe_key(monkeypatch, warmed_up):
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_secret_for_the_parent_only")
    if warmed_up:
        warm_up()
    converter = PageConverter()
    converter.start()
    try:
        environ = open(f"/proc/{converter._worker.pid}/environ", "rb").read()
    finally:
        converter.stop()
    assert b"sk_test_secret_for_the_parent_only" not in environ
    assert b"STRIPE_API_KEY" not in environ


def test_a_warmed_up_worker_is_the_next_converters(account, monkeypatch):
    convert.discard_warm_workers()  # any an earlier test left
    warm_up()
    warm = convert._WARM[-1][0]
    converter = PageConverter()
    converter.start()
    try:
        assert converter._worker is warm and convert._WARM == []
        converted_by_the_worker(converter, "charges", account["charges"][:20], monkeypatch)
    finally:
        converter.stop()
    assert warm.returncode == 0


def test_a_warmed_up_worker_that_died_is_replaced(account, monkeypatch):
    warm_up()
    dead = convert._WARM[-1][0]
    dead.kill()
    dead.wait()
    converter = PageConverter()
    converter.start()
    try:
        assert converter._worker is not dead and converter._worker.poll() is None
        converted_by_the_worker(converter, "customers", account["customers"][:5], monkeypatch)
    finally:
        converter.stop()


def test_the_cli_starts_a_worker_before_its_heavy_imports_and_ends_it_unused(tmp_path):
    # A fresh interpreter, as `python -m etl sync` has: what was imported when
    # the worker started, and whether a sync that stops at once (no key) left it.
    script = textwrap.dedent("""
        import contextlib, io, json, sys
        from etl import convert
        import etl.__main__ as cli
        started, spawn = [], convert._spawn
        def spy():
            spawned = spawn()
            started.append((spawned[0], [m for m in ("duckdb", "pyarrow", "pandas")
                                         if m in sys.modules]))
            return spawned
        convert._spawn = spy
        code = cli.main(["sync", "--db", sys.argv[1]])
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            cli.main(["demo", "--help"])
        print(json.dumps({"code": code, "imported": [m for _, m in started],
                          "ended": [w.poll() is not None for w, _ in started],
                          "warm": len(convert._WARM)}))
    """)
    env = {k: v for k, v in os.environ.items() if k != "STRIPE_API_KEY"}
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "t.duckdb")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=60)
    assert orjson.loads(out.stdout.splitlines()[-1]) == {
        "code": 1, "imported": [[]], "ended": [True], "warm": 0}


def test_the_worker_does_without_pandas(converter, account, monkeypatch):
    # Arrow would import it on the first page (0.3 s, ~30 MB); the worker has no use for it.
    converted_by_the_worker(converter, "charges", account["charges"][:20], monkeypatch)
    maps = open(f"/proc/{converter._worker.pid}/maps").read()
    assert "/pyarrow/" in maps and "/pandas/" not in maps


def test_a_killed_sync_leaves_no_worker_behind(tmp_path):
    # The sync process dies outright (SIGKILL): its worker must not wait forever.
    script = textwrap.dedent("""
        import sys, time
        from etl.convert import PageConverter
        converter = PageConverter()
        converter.start()
        print(converter._worker.pid, flush=True)
        time.sleep(60)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=root, stdout=subprocess.PIPE)
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_hung_worker_is_given_up(converter, account, monkeypatch):
    monkeypatch.setattr("etl.convert.ANSWER_SECONDS", 1)
    worker = converter._worker
    converter.convert("customers", body(account["customers"][:2]), SYNCED_AT, VERSION)  # started
    os.kill(worker.pid, signal.SIGSTOP)  # stuck mid-page, as a thrashing machine might leave it
    try:
        objects = account["customers"][:10]
        page = converter.convert("customers", body(objects), SYNCED_AT, VERSION)
        same_page(page, convert_body("customers", body(objects), SYNCED_AT, VERSION))
        assert converter.lost and converter._worker is None
        assert worker.poll() is not None  # killed, not left behind
    finally:
        if worker.poll() is None:
            worker.kill()


def test_stray_output_of_the_worker_never_reaches_an_answer(account, monkeypatch, tmp_path):
    # Something below Python in the worker writes to its standard output.
    noisy = ("import os, sys; from etl.convert import serve; os.write(1, b'note: x\\n'); "
             "serve(int(sys.argv[1]))")
    popen = subprocess.Popen
    monkeypatch.setattr("etl.convert.subprocess.Popen",
                        lambda args, **kw: popen([sys.executable, "-c", noisy, *args[3:]], **kw))
    converter = PageConverter()
    try:
        converted_by_the_worker(converter, "customers", account["customers"][:10], monkeypatch)
        assert not converter.lost
    finally:
        converter.stop()


def test_the_worker_runs_our_code_whatever_the_current_directory_holds(account, monkeypatch,
                                                                        tmp_path):
    shadow = tmp_path / "etl"  # someone else's package of the same name
    shadow.mkdir()
    (shadow / "__init__.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    converter = PageConverter()
    try:
        converted_by_the_worker(converter, "customers", account["customers"][:3], monkeypatch)
    finally:
        converter.stop()
    assert not (tmp_path / "imported").exists()
