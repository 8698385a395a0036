"""A populated data/ (what `make run` or a sync leaves) and an exported key change no test."""
import os
from pathlib import Path

from etl import store
from tally_admin.audit import audit_path_from_env
from tally_ui import published


def publish_empty(path: Path) -> None:
    con = store.open_working(str(path))
    store.publish(con, str(path))
    con.close()


def test_a_populated_data_folder_and_an_exported_key_change_nothing(tmp_path, monkeypatch):
    user_data = tmp_path / "data"
    for name in ("demo.duckdb", "tally.duckdb", "audit.duckdb"):
        publish_empty(user_data / name)
    monkeypatch.chdir(tmp_path)  # the defaults (data/...) are relative to where pytest runs
    resolved = [published.db_path(), published.demo_db_path(), store.db_path_from_env(), audit_path_from_env()]
    assert all(not Path(path).resolve().is_relative_to(user_data) for path in resolved), resolved
    assert not published.has_data()  # this test's own database paths: nothing published there
    assert "STRIPE_API_KEY" not in os.environ and "STRIPE_API_BASE" not in os.environ
