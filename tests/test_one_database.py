"""Every command uses the database the dashboard shows, and names it (#13 item 5)."""
import os

from etl.__main__ import main as etl_main
from metrics.__main__ import main as metrics_main
from tally_ui import published


def test_demo_then_export_use_the_dashboards_database_and_say_so(capsys, monkeypatch):
    demo, synced = os.environ["TALLY_DEMO_DB"], os.environ["TALLY_DB"]  # this test's own (tests/conftest.py)
    code = metrics_main(["export", "mrr"])
    err = capsys.readouterr().err
    assert code == 2 and f"no database at {demo}" in err  # the dashboard's, not TALLY_DB
    assert "run `.venv/bin/python -m etl demo` first" in err  # and the hint writes exactly that file

    assert etl_main(["demo", "--customers", "50", "--months", "24"]) == 0
    out = capsys.readouterr().out
    assert f"written to {demo} in " in out and "; the dashboard and `python -m metrics` show it: " in out
    assert published.db_path() == demo

    code = metrics_main(["export", "mrr"])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("month,currency,mrr")
    assert err == f"Read {demo}: the demo account, shown while there is no STRIPE_API_KEY and no {synced}.\n"

    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_not_used")  # a key: the dashboard shows the synced account
    assert published.db_path() == synced
    code = metrics_main(["export", "mrr"])
    err = capsys.readouterr().err
    assert code == 2 and f"no database at {synced}" in err and "python -m etl sync" in err
