"""METRICS.md "Ranges, filters and exports": the default range is the 12 months
ending with the last complete month before "as of" (the newest sync's time),
never cut at the month of the newest invoice."""
import pytest

from etl.load import connect
from metrics.common import as_of, data_months, month_range
from metrics.params import Params
from tests.metrics.builders import month
from tests.metrics.ranges import annual_only_db


@pytest.fixture(scope="module")
def annual_only(tmp_path_factory):
    return annual_only_db(str(tmp_path_factory.mktemp("ranges") / "tally.duckdb"))


def test_the_default_range_ends_before_the_sync_not_at_the_newest_invoice(annual_only):
    con = connect(annual_only, read_only=True)
    try:
        assert as_of(con).isoformat() == "2025-11-20"
        assert data_months(con) == (month("2024-05"), month("2025-11"))
        assert month_range(con, Params()) == (month("2024-11"), month("2025-10"))
        # an explicit end keeps 12 months up to it, within the data
        assert month_range(con, Params(end=month("2025-02"))) == (month("2024-05"), month("2025-02"))
    finally:
        con.close()


def test_cli_export_without_a_range_shows_every_month_since_the_last_invoice(metrics_cli, annual_only):
    assert metrics_cli("export", "mrr", "--db", annual_only).splitlines() == [
        "month,currency,mrr,arr,customers,arpa",
        *[f"2024-{m},usd,200.00,2400.00,1,200.00" for m in ("11", "12")],
        *[f"2025-{m},usd,200.00,2400.00,1,200.00" for m in ("01", "02")],
        *[f"2025-{m},usd,300.00,3600.00,2,150.00" for m in ("03", "04")],
        *[f"2025-{m:02d},usd,100.00,1200.00,1,100.00" for m in range(5, 11)],
    ]


def test_cli_export_without_a_range_shows_the_churn_when_it_comes(metrics_cli, annual_only):
    out = metrics_cli("export", "mrr_movements", "--db", annual_only)
    rows = [line.split(",") for line in out.splitlines()]
    header, body = rows[0], rows[1:]
    churn = {r[header.index("month")]: r[header.index("churn")] for r in body}
    assert body[0][header.index("month")] == "2024-11" and body[-1][header.index("month")] == "2025-10"
    assert churn["2025-05"] == "200.00"
    assert {m for m, value in churn.items() if value not in ("0", "0.00")} == {"2025-05"}


def test_cash_metrics_default_to_the_same_twelve_months(metrics_cli, annual_only):
    out = metrics_cli("export", "payments", "--db", annual_only).splitlines()
    header = out[0].split(",")
    months = [(r.split(",")[header.index("month")], r.split(",")[header.index("charges")]) for r in out[1:]]
    # 2024-10-31 is before the range, 2025-11-02 in the month still running
    assert months == [("2024-11", "1"), ("2025-10", "1")]


def test_daily_mrr_defaults_to_the_days_of_the_same_twelve_months(metrics_cli, annual_only):
    days = metrics_cli("export", "mrr_daily", "--db", annual_only).splitlines()[1:]
    assert (days[0], days[-1]) == ("2024-11-01,usd,200.00,2400.00,1,200.00",
                                   "2025-10-31,usd,100.00,1200.00,1,100.00")
    assert len(days) == 365
