"""The dashboard's default range and its metric CSV, against `python -m metrics export`."""
import csv
import datetime as dt
import io
import re

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import app_test

from tests.metrics.ranges import annual_only_db
from tests.pages.apptest import goto, open_app, selected_end, shown_currency
from tests.pages.demo_truth import truth


class RecordingFiles(MediaFileManager):
    """AppTest's media files, kept after the run so a test can read a download's bytes."""
    made: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingFiles.made.append(self)


@pytest.fixture
def downloads(monkeypatch):
    RecordingFiles.made = []
    monkeypatch.setattr(app_test, "MediaFileManager", RecordingFiles)

    def read(at, key: str) -> bytes:
        """What clicking the download button with this key hands the browser."""
        file_id = at.download_button(key=key).proto.deferred_file_id
        files = next(m for m in reversed(RecordingFiles.made) if file_id in m._deferred_callables)
        data = files._deferred_callables[file_id]["callable"]()
        return data.encode() if isinstance(data, str) else data
    return read


def metric_download(at, read, name: str) -> bytes:
    at = goto(at, "Data & export")
    at.selectbox(key="export_metric").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return read(at, "export_metric_csv")


@pytest.mark.parametrize("name, query, args", [
    ("mrr", {"from": "2025-01", "to": "2025-06", "currency": "native"},
     ["--start", "2025-01", "--end", "2025-06"]),
    ("payments", {"from": "2025-01", "to": "2025-06", "currency": "usd"},
     ["--start", "2025-01", "--end", "2025-06", "--currency", "usd"]),
    ("mrr_movements", {"from": "2024-09", "to": "2025-08", "currency": "eur", "interval": "year"},
     ["--start", "2024-09", "--end", "2025-08", "--currency", "eur", "--interval", "year"]),
    ("churn", {"from": "2025-03", "to": "2025-08", "currency": "native"},
     ["--start", "2025-03", "--end", "2025-08"]),
    ("payments", {"from": "2025-01", "to": "2025-12", "currency": "native", "country": "DE",
                  "plan": "prod_demo_starter"},
     ["--start", "2025-01", "--end", "2025-12", "--country", "de", "--plan", "prod_demo_starter"]),
])
def test_the_dashboard_csv_is_the_clis_byte_for_byte(metrics_cli, dashboard_env, downloads, name, query,
                                                     args):
    dashboard = metric_download(open_app(query), downloads, name)
    assert dashboard == metrics_cli("export", name, "--db", dashboard_env, *args).encode()
    rows = list(csv.DictReader(io.StringIO(dashboard.decode())))
    assert rows and all(len(r["month"]) == 7 for r in rows)  # YYYY-MM
    money = {"mrr": "mrr", "payments": "gross_volume", "mrr_movements": "end_mrr", "churn": "start_mrr"}[name]
    assert all(re.fullmatch(r"-?\d+(\.\d\d)?", r[money]) for r in rows if r[money])  # whole units or cents


def test_the_dashboard_default_range_ends_before_the_sync(monkeypatch, tmp_path):
    """An annual-only account billed last in March: the range still runs to the last
    complete month before the sync, and its months reach the sync's own month."""
    from tests.pages import apptest
    db = annual_only_db(str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    apptest.sign_in_as_viewer(monkeypatch)
    at = open_app()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="f_start").value == dt.date(2024, 11, 1)
    assert at.selectbox(key="f_end").value == dt.date(2025, 10, 1)
    assert at.selectbox(key="f_end").options[:2] == ["Nov 2025", "Oct 2025"]  # newest first


def success_rates(db, end, currency, countries=()) -> str:
    from etl.load import connect
    from metrics.params import Params
    from metrics.payments import payments
    from tally_ui.widgets import percent
    con = connect(db, read_only=True)
    try:
        frame = payments(con, Params(start=end, end=end, countries=countries))
    finally:
        con.close()
    rates = frame.loc[frame["currency"] == currency, "success_rate"]
    return percent(rates.iloc[0]) if len(rates) else "—"


def test_the_overview_payment_success_rate_follows_the_country_filter(dashboard_env):
    """The card beside MRR narrows with the country filter like MRR does."""
    from tests.pages.apptest import cards
    countries = [row[0] for row in truth(dashboard_env, """
        SELECT DISTINCT country FROM customers WHERE country IS NOT NULL ORDER BY 1""")]
    checked = 0
    for country in countries:
        at = open_app({"currency": "native", "country": country})
        assert not at.exception, [e.value for e in at.exception]
        end, currency = selected_end(at), shown_currency(at)
        filtered = success_rates(dashboard_env, end, currency, (country,))
        if filtered == success_rates(dashboard_env, end, currency):
            continue  # the same rate either way proves nothing
        assert cards(at)["Payment success rate"][0] == filtered
        checked += 1
        if checked == 2:
            break
    assert checked == 2


def test_the_payments_page_says_how_a_plan_filter_reaches_charges(dashboard_env):
    from tests.pages.apptest import shown_text
    note = "payments without an invoice are left out"
    plain = goto(open_app({"currency": "native"}), "Payments")
    by_plan = goto(open_app({"currency": "native", "plan": "prod_demo_starter"}), "Payments")
    assert not by_plan.exception and not by_plan.error
    assert note not in shown_text(plain) and note in shown_text(by_plan)


def test_an_account_of_one_off_charges_gets_the_same_default_range(monkeypatch, tmp_path):
    from etl.load import connect, load_objects
    from tests.metrics.builders import ts
    from tests.pages import apptest
    db = str(tmp_path / "tally.duckdb")
    con = connect(db)
    load_objects(con, "charges", [{"id": "ch_1", "object": "charge", "amount": 1000, "currency": "usd",
                                   "status": "succeeded", "created": ts("2025-06-10")}])
    con.execute("INSERT INTO tally_meta VALUES ('last_sync_at', '2025-11-20T08:00:00+00:00')")
    con.close()
    monkeypatch.setenv("TALLY_DB", db)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    apptest.sign_in_as_viewer(monkeypatch)
    at = open_app()
    assert not at.exception, [e.value for e in at.exception]
    assert (at.selectbox(key="f_start").value, at.selectbox(key="f_end").value) == \
        (dt.date(2024, 11, 1), dt.date(2025, 10, 1))
