"""`python -m metrics list|export`: major units, YYYY-MM months, one-line errors."""
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from etl.load import connect
from metrics.__main__ import main
from metrics.registry import METRICS
from tests.metrics.builders import Account

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = ["mrr", "mrr_movements", "churn", "payments", "recovery", "tax", "ltv_cac",
            "cohorts", "trial_conversion", "forecast"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli") / "tally.duckdb")
    acct = Account(connect(path))
    acct.price("usd_week", 1000, "week")
    acct.price("jpy_month", 5000, currency="jpy")
    for name, price, end in (("u", "usd_week", "2024-02-05"), ("j", "jpy_month", "2024-02-01")):
        acct.customer(f"cus_{name}")
        acct.subscription(f"sub_{name}", f"cus_{name}")
        acct.invoice(f"cus_{name}", f"sub_{name}", [acct.line(price, "2024-01-29" if name == "u"
                                                              else "2024-01-01", end)])
    acct.con.close()
    return path


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_every_required_metric(capsys):
    code, out, _ = run(capsys, "list")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and set(REQUIRED) <= set(names) and len(names) == len(METRICS)
    # one hop from a page's metric name to the file with its SQL
    assert "(metrics/refunds.py)" in next(line for line in out.splitlines() if line.startswith("recent_refunds "))
    assert all((ROOT / METRICS[name].source).is_file() for name in METRICS)


def test_export_mrr_csv_in_major_units(db, capsys):
    code, out, _ = run(capsys, "export", "mrr", "--db", db, "--start", "2024-01", "--end", "2024-01")
    assert code == 0
    assert out.splitlines() == [
        "month,currency,mrr,arr,customers,arpa",
        "2024-01,jpy,5000,60000,1,5000",
        "2024-01,usd,43.33,520.00,1,43.33",
    ]


def test_export_json(db, capsys):
    code, out, _ = run(capsys, "export", "mrr_movements", "--db", db, "--start", "2024-01",
                       "--end", "2024-01", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [(r["month"], r["currency"], r["new"], r["end_mrr"]) for r in rows] == [
        ("2024-01", "jpy", 5000, 5000), ("2024-01", "usd", 43.33, 43.33)]


@pytest.mark.parametrize("args, message", [
    (["export", "nope"], "unknown metric 'nope'"),
    (["export", "mrr", "--start", "2024-13"], "bad --start date"),
    (["export", "mrr", "--db", "/nonexistent/tally.duckdb"], "no database at"),
    (["export", "mrr", "--currency", "dollars"], "bad currency"),
    (["export"], "required"),
])
def test_errors_are_one_line_and_exit_2(db, capsys, args, message):
    if "--db" not in args and args[1:2] == ["mrr"]:
        args = args + ["--db", db]
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_missing_rate_is_one_line(db, capsys):
    code, _, err = run(capsys, "export", "mrr", "--db", db, "--currency", "xts")
    assert code == 2 and "no exchange rate" in err and len(err.strip().splitlines()) == 1


def test_module_entry_point(db):
    result = subprocess.run([sys.executable, "-m", "metrics", "export", "tax", "--db", db],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == ("month,currency,tax_rate_id,jurisdiction,country,"
                                             "state,rate,tax_collected,taxable_amount")


def test_daily_export_with_month_bounds_covers_the_whole_month(db, capsys):
    code, out, _ = run(capsys, "export", "mrr_daily", "--db", db, "--start", "2024-01", "--end", "2024-01")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "date,currency,mrr,arr,customers,arpa"
    assert lines[1] == "2024-01-01,jpy,5000,60000,1,5000"
    assert lines[-1] == "2024-01-31,usd,43.33,520.00,1,43.33"
    assert len(lines) == 1 + 31 + 3  # jpy all month; the weekly usd plan from Jan 29


def test_export_reports_lines_with_unknown_prices_on_stderr(tmp_path, capsys):
    """A paid subscription line whose price the database lacks (an archived price a
    sync missed) is not valued, and every export says so per currency, no traceback."""
    path = str(tmp_path / "tally.duckdb")
    acct = Account(connect(path))
    acct.price("m", 10000)
    acct.price("y", 120000, "year", currency="eur")
    acct.customer("cus_1")
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("m", "2024-01-01", "2024-02-01")])
    for start, end in (("2024-02-01", "2024-03-01"), ("2024-03-01", "2024-04-01")):
        archived = acct.line("m", start, end, amount=10440 if start == "2024-02-01" else 10000)
        archived["pricing"]["price_details"]["price"] = "price_archived"
        acct.invoice("cus_1", "sub_1", [archived])
    acct.customer("cus_2")
    acct.subscription("sub_2", "cus_2")
    inline = acct.line("y", "2024-01-01", "2025-01-01")  # 366 days of 2024
    inline["pricing"]["price_details"]["price"] = "price_inline"
    acct.invoice("cus_2", "sub_2", [inline])
    acct.con.close()
    code, out, err = run(capsys, "export", "mrr", "--db", path, "--start", "2024-01", "--end", "2024-03")
    assert code == 0
    assert out.splitlines()[1:] == ["2024-01,usd,100.00,1200.00,1,100.00"]
    # estimated from each line's own period: 120000 x 30.4375 / 366;
    # 10440 x 30.4375 / 29 + 10000 x 30.4375 / 31
    assert err.splitlines() == [
        "1 invoice lines with unknown prices (affecting about 99.80 EUR of MRR in 2024-01)"
        " — run a full sync",
        "2 invoice lines with unknown prices (affecting about 207.76 USD of MRR in 2024-02 to 2024-03)"
        " — run a full sync"]


def test_unknown_price_lines_metric_lists_each_line(tmp_path):
    from metrics.data_checks import unknown_price_lines
    from metrics.params import Params
    acct = Account()
    acct.price("m", 10000)
    acct.customer("cus_1")
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("m", "2024-01-01", "2024-02-01", id="il_reg")],
                 id="in_reg")
    nameless = acct.line("m", "2024-02-01", "2024-03-01", id="il_none")
    del nameless["pricing"]
    credit = acct.line("m", "2024-01-16", "2024-02-01", amount=-5000, proration=True,
                       credited=("in_gone", "il_gone"), id="il_credit")
    acct.invoice("cus_1", "sub_1", [nameless, credit], id="in_2")
    df = unknown_price_lines(acct.con, Params())
    assert [tuple(r) for r in df[["invoice_id", "line_id", "price_id", "currency", "problem"]].fillna("")
            .itertuples(index=False)] == [
        ("in_2", "il_credit", "m", "usd", "credited_line_missing"),
        ("in_2", "il_none", "", "usd", "no_price")]
    # -5000 x 30.4375 / 16, 10000 x 30.4375 / 29
    assert df["estimated_mrr"].round(2).tolist() == [-9511.72, 10495.69]


def test_refresh_stages_stores_them_and_export_reads_them(tmp_path, capsys):
    from metrics.mrr import stored_stages
    path = str(tmp_path / "tally.duckdb")
    acct = Account(connect(path))
    acct.price("p", 5000)
    acct.customer("cus_1")
    acct.subscription("sub_1", "cus_1")
    acct.invoice("cus_1", "sub_1", [acct.line("p", "2024-01-01", "2024-02-01")])
    acct.con.close()
    code, _, err = run(capsys, "refresh-stages", "--db", path)
    assert code == 0 and "stored" in err and stored_stages.sidecar_path(path) in err
    marked = duckdb.connect(stored_stages.sidecar_path(path))  # a reader that shows the mark read the stages
    marked.execute("UPDATE mrr_customer_points SET mrr = 2 * mrr")
    marked.close()
    code, out, _ = run(capsys, "export", "mrr", "--db", path, "--start", "2024-01", "--end", "2024-01")
    assert code == 0 and out.splitlines()[1].split(",")[2] == "100.00"
    code, _, err = run(capsys, "refresh-stages", "--db", path)
    assert code == 0 and "already current" in err


@pytest.fixture(scope="module")
def segmented_db(tmp_path_factory):
    """Three customers at $10, $20 and $40 a month in January 2024; metadata on each kind of object."""
    path = str(tmp_path_factory.mktemp("cli_segments") / "tally.duckdb")
    acct = Account(connect(path))
    acct.product("prod_a", metadata={"line": "core"})
    acct.product("prod_b", metadata={"line": "pro"})
    acct.price("small", 1000, product="prod_a")
    acct.price("big", 2000, product="prod_b")
    acct.price("huge", 4000, product="prod_b")
    for name, price, channel, tier in (("a", "small", "partner", "gold"), ("b", "big", "partner", None),
                                       ("c", "huge", "organic", None)):
        acct.customer(f"cus_{name}", metadata={"channel": channel})
        acct.subscription(f"sub_{name}", f"cus_{name}", metadata={"tier": tier} if tier else None)
        acct.invoice(f"cus_{name}", f"sub_{name}", [acct.line(price, "2024-01-01", "2024-02-01")])
    acct.con.close()
    return path


def export_mrr(capsys, db, *flags):
    code, out, err = run(capsys, "export", "mrr", "--db", db, "--start", "2024-01", "--end", "2024-01",
                         *flags)
    return code, out.splitlines(), err


@pytest.mark.parametrize("flags, mrr, customers", [
    (("--where", "channel=partner"), "30.00", 2),
    (("--where", "customer.channel=partner", "--where", "channel=organic"), "70.00", 3),
    (("--where", "channel=partner", "--where", "product.line=pro"), "20.00", 1),
    (("--where", "subscription.tier=gold"), "10.00", 1),
])
def test_export_where(segmented_db, capsys, flags, mrr, customers):
    code, lines, _ = export_mrr(capsys, segmented_db, *flags)
    assert code == 0
    assert lines[1].split(",")[2] == mrr and lines[1].split(",")[4] == str(customers)


def test_export_split_by(segmented_db, capsys):
    code, lines, _ = export_mrr(capsys, segmented_db, "--split-by", "channel")
    assert code == 0
    assert lines == ["month,segment,currency,mrr,arr,customers,arpa",
                     "2024-01,partner,usd,30.00,360.00,2,15.00",
                     "2024-01,organic,usd,40.00,480.00,1,40.00"]
    code, lines, _ = export_mrr(capsys, segmented_db, "--split-by", "product.line",
                                "--where", "channel=partner")
    # one product each: values in name order
    assert lines[1:] == ["2024-01,core,usd,10.00,120.00,1,10.00", "2024-01,pro,usd,20.00,240.00,1,20.00"]


@pytest.mark.parametrize("flag", ["channel", "channel=", "=x", "product.=x"])
def test_export_malformed_where_is_one_line(segmented_db, capsys, flag):
    code, lines, err = export_mrr(capsys, segmented_db, "--where", flag)
    assert code == 2 and lines == []
    assert err.startswith("error: bad ") and len(err.strip().splitlines()) == 1
