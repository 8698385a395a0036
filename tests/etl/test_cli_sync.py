"""`python -m etl sync`: one clear line on every failure, a summary on success."""
import pytest

from etl import __main__ as etl_main
from etl import cli_sync
from etl import client as client_module
from etl.client import PermissionDenied, StripeHTTP
from fakestripe import DEFAULT_API_KEY
from fakestripe.testing import serve
from tests.etl import sync_account
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = sync_account.write(sync_account.build(customers=40),
                              tmp_path_factory.mktemp("cli") / "account")
    with serve(data) as base:
        yield base


def run_cli(monkeypatch, tmp_path, capsys, key, base, *extra):
    monkeypatch.setenv("TALLY_SYNC_RATE", "500")
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    if key is not None:
        monkeypatch.setenv("STRIPE_API_KEY", key)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    code = etl_main.main(["sync", "--db", str(tmp_path / "tally.duckdb"), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_prints_a_summary_and_exits_zero(monkeypatch, tmp_path, capsys, served):
    code, out, err = run_cli(monkeypatch, tmp_path, capsys, DEFAULT_API_KEY, served)
    assert code == 0, err
    assert "customers" in out and "requests" in out and "total" in out
    assert "Full sync finished." in err
    assert DEFAULT_API_KEY not in out + err

    code, out, err = run_cli(monkeypatch, tmp_path, capsys, DEFAULT_API_KEY, served, "--full")
    assert code == 0 and "Full sync finished." in err


def test_missing_key_is_one_line(monkeypatch, tmp_path, capsys, served):
    code, out, err = run_cli(monkeypatch, tmp_path, capsys, None, served)
    assert code == 1
    assert "STRIPE_API_KEY" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_rejected_key_is_one_line_without_the_key(monkeypatch, tmp_path, capsys, served):
    wrong = "sk_test_not_the_right_one_42"
    code, out, err = run_cli(monkeypatch, tmp_path, capsys, wrong, served)
    assert code == 1
    assert "401" in err and "STRIPE_API_KEY" in err and "Traceback" not in err
    assert wrong not in out + err
    assert len(err.strip().splitlines()) == 1


def test_unreachable_api_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(client_module, "backoff_sleep", lambda s: None)
    base = f"http://127.0.0.1:{free_port()}"
    code, out, err = run_cli(monkeypatch, tmp_path, capsys, DEFAULT_API_KEY, base)
    assert code == 1
    assert "Cannot reach" in err and base in err and "Traceback" not in err


class NoDisputes(StripeHTTP):
    """A restricted key without read access to disputes."""

    def get(self, path, params=None, **kwargs):
        if path == "/v1/disputes":
            raise PermissionDenied(f"The API key may not read {path} (403): give the restricted "
                                   "key read access to it, or use a secret key.")
        return super().get(path, params, **kwargs)


def test_permission_error_on_one_type_names_it_and_syncs_the_rest(monkeypatch, tmp_path, capsys,
                                                                 served):
    monkeypatch.setattr(cli_sync, "StripeHTTP", NoDisputes)
    code, out, err = run_cli(monkeypatch, tmp_path, capsys, DEFAULT_API_KEY, served)
    assert code == 2
    assert "disputes" in err and "restricted key read access" in err
    assert "Traceback" not in err and DEFAULT_API_KEY not in out + err
    import duckdb
    with duckdb.connect(str(tmp_path / "tally.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone() == (40,)


def test_unexpected_error_is_one_line_without_the_key(monkeypatch, tmp_path, capsys, served):
    def broken(*args, **kwargs):
        raise RuntimeError(f"disk trouble near {DEFAULT_API_KEY}\nsecond line")
    monkeypatch.setattr(cli_sync, "run_sync", broken)
    code, out, err = run_cli(monkeypatch, tmp_path, capsys, DEFAULT_API_KEY, served)
    assert code == 1
    assert "RuntimeError" in err and "disk trouble" in err and "Traceback" not in err
    assert DEFAULT_API_KEY not in out + err and len(err.strip().splitlines()) == 1


def test_a_sync_called_in_process_leaves_pandas_to_its_caller(monkeypatch, tmp_path, capsys, served):
    # `python -m etl sync` keeps pandas out of its own process; a caller of main() may need it.
    import sys

    from etl.memory import _WithoutPandas

    run_cli(monkeypatch, tmp_path, capsys, DEFAULT_API_KEY, served)
    assert _WithoutPandas not in sys.meta_path
    import pandas.io.formats.style  # noqa: F401  (a submodule imported lazily: failed before)
