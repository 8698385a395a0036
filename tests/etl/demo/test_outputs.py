"""JSONL files for the fake Stripe server, the CLI, and the dashboard's demo database."""
from collections import Counter

import duckdb
import orjson
import pytest

from etl.__main__ import main
from etl.demo import ensure_demo_database, generate_database, generate_objects, is_demo_database, write_jsonl
from etl.load import connect, load_mixed
from etl.schema import TABLES

ARGS = dict(customers=50, seed=3, months=24)


def test_jsonl_files_hold_every_object_once(tmp_path):
    counts = write_jsonl(str(tmp_path), **ARGS)
    expected = Counter(o["object"] for o in generate_objects(**ARGS))
    assert sum(counts.values()) == sum(expected.values())
    assert counts["invoices"] == expected["invoice"] and counts["charges"] == expected["charge"]
    for name in ("customers", "products", "prices", "coupons", "subscriptions", "invoices",
                 "invoice_payments", "charges", "payment_intents", "balance_transactions",
                 "tax_rates", "events"):
        assert (tmp_path / f"{name}.jsonl").exists(), name
    invoices = [orjson.loads(line) for line in (tmp_path / "invoices.jsonl").read_bytes().splitlines()]
    assert all(len(i["lines"]["data"]) == i["lines"]["total_count"] and not i["lines"]["has_more"]
               for i in invoices)


def test_loading_the_jsonl_gives_the_same_tables_as_the_generator(tmp_path):
    """The loader cannot tell a served file (without the `_tally*` notes for the fake,
    which it never serves) from the generator's own stream."""
    write_jsonl(str(tmp_path / "files"), **ARGS)
    con = connect(str(tmp_path / "from_files.duckdb"))
    for path in sorted((tmp_path / "files").glob("*.jsonl")):
        objects = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        load_mixed(con, [{k: v for k, v in o.items() if not k.startswith("_tally")}
                         for o in objects])
    generate_database(str(tmp_path / "direct.duckdb"), **ARGS)
    direct = duckdb.connect(str(tmp_path / "direct.duckdb"), read_only=True)
    # The generator only inserts; the loader upserts: every table must agree.
    for table in sorted(TABLES) + ["invoice_line_taxes"]:
        columns = "invoice_id, line_id, amount" if table == "invoice_line_taxes" else "raw"
        query = f"SELECT count(*), sum(hash({columns})) FROM {table}"
        assert con.execute(query).fetchone() == direct.execute(query).fetchone(), table


def test_cli_writes_a_demo_database(tmp_path, capsys):
    db = str(tmp_path / "cli.duckdb")
    assert main(["demo", "--db", db, "--customers", "50", "--months", "24", "--seed", "5",
                 "--now", "2026-06-01"]) == 0
    con = duckdb.connect(db, read_only=True)
    meta = dict(con.execute("SELECT key, value FROM tally_meta").fetchall())
    assert meta["source"] == "demo" and meta["demo_seed"] == "5"
    assert meta["generated_at"].startswith("2026-06-01")
    assert con.execute("SELECT max(month) FROM demo_truth_mrr").fetchone()[0].isoformat() == "2026-05-01"
    assert con.execute("SELECT count(*) FROM marketing_spend").fetchone()[0] > 0
    assert is_demo_database(con)


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    for bad in (["--customers", "0"], ["--customers", "5"], ["--customers", "49"],
                ["--customers", "500001"], ["--customers", "many"], ["--now", "2026-13-01"]):
        with pytest.raises(SystemExit) as exit_:
            main(["demo", "--db", str(tmp_path / "x.duckdb"), *bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and "error: argument" in err.strip().splitlines()[-1]
        if bad[0] == "--customers":
            assert "from 50 to 500,000" in err
    assert not (tmp_path / "x.duckdb").exists()


def test_cli_logs_plain_progress_lines_when_not_on_a_terminal(tmp_path, capsys):
    assert main(["demo", "--db", str(tmp_path / "log.duckdb"), "--customers", "50",
                 "--months", "24"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Simulated 50/50 customers in ")
    assert out[-1].startswith("Demo database with 50 customers written to ")


def test_cli_reports_a_failed_run_in_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["demo", "--db", str(blocker / "x.duckdb"), "--customers", "50"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Demo generation failed") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_dashboard_demo_database_is_made_once(tmp_path, monkeypatch):
    path = str(tmp_path / "demo.duckdb")
    assert ensure_demo_database(path, customers=50, months=24) == path
    first = (tmp_path / "demo.duckdb").stat().st_mtime_ns
    assert ensure_demo_database(path, customers=50, months=24) == path
    assert (tmp_path / "demo.duckdb").stat().st_mtime_ns == first
    con = duckdb.connect(path, read_only=True)
    assert is_demo_database(con)
    plain = duckdb.connect(str(tmp_path / "other.duckdb"))
    assert not is_demo_database(plain)


def test_demo_refuses_to_take_a_working_file_another_writer_holds(tmp_path):
    import subprocess
    import sys

    import pytest

    from etl.demo import generate_database
    db = str(tmp_path / "busy.duckdb")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", db + ".work"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RuntimeError, match="another sync or demo"):
            generate_database(db, customers=50, months=24)
        assert (tmp_path / "busy.duckdb.work").exists()
    finally:
        holder.kill()
        holder.wait()
