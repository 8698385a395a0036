"""STRIPE_API_BASE pointing at something that is not Stripe: one line saying what answered (#13 item 3)."""
import warnings
from contextlib import contextmanager

import pytest

from etl import __main__ as etl_main
from fakestripe import DEFAULT_API_KEY
from tests.support.servers import QuietHandler, serving

# `python -m etl sync` run in this process still starts its page converter (etl/convert.py).
pytestmark = pytest.mark.subprocess


@contextmanager
def web_server(status: int, body: bytes, content_type: str = "text/html"):
    """A plain web server on 127.0.0.1 answering every GET alike."""
    class Handler(QuietHandler):
        def do_GET(self):
            self.answer(status, body, {"Content-Type": content_type})

    with serving(Handler) as base:
        yield base


def sync(monkeypatch, tmp_path, capsys, base):
    monkeypatch.setenv("STRIPE_API_KEY", DEFAULT_API_KEY)
    monkeypatch.setenv("STRIPE_API_BASE", base)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = etl_main.main(["sync", "--db", str(tmp_path / "tally.duckdb")])
    out, err = capsys.readouterr()
    assert [str(w.message) for w in caught] == []  # no library warning with a site-packages path
    return code, out, err


@pytest.mark.parametrize("status, body, said", [
    (200, b"<!doctype html><html><body>Welcome to nginx</body></html>", "HTTP 200 text/html"),
    (401, b"<html>Sign in to the proxy</html>", "HTTP 401 text/html"),
])
def test_a_web_page_is_one_line_saying_what_answered_and_no_resume(monkeypatch, tmp_path, capsys,
                                                                      status, body, said):
    with web_server(status, body) as base:
        for _ in range(2):  # the second run must not claim to resume anything
            code, out, err = sync(monkeypatch, tmp_path, capsys, base)
            assert code == 1 and out == ""
            assert err.strip().splitlines() == [err.strip()]
            assert f"{base} is not the Stripe API" in err and said in err and "JSON" in err
            assert "STRIPE_API_BASE" in err and "resum" not in err.lower() and "Traceback" not in err
            assert DEFAULT_API_KEY not in err


def test_another_json_api_is_one_line_and_publishes_nothing(monkeypatch, tmp_path, capsys):
    with web_server(200, b'{"status": "ok", "version": 3}', "application/json") as base:
        code, out, err = sync(monkeypatch, tmp_path, capsys, base)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert f"{base} is not the Stripe API" in err and '{"status": "ok"' in err and "Stripe list" in err
    assert not (tmp_path / "tally.duckdb").exists()  # an empty "account" would replace the dashboard's data


def test_a_server_without_stripes_paths_is_one_line(monkeypatch, tmp_path, capsys):
    with web_server(404, b"<html>Not Found</html>") as base:
        code, out, err = sync(monkeypatch, tmp_path, capsys, base)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert f"{base} is not the Stripe API" in err and "404" in err and "every Stripe object type" in err
    assert not (tmp_path / "tally.duckdb").exists()  # nothing published for the dashboard to switch to


@pytest.mark.parametrize("base", ["nonsense", "http//127.0.0.1:9", "ftp://127.0.0.1:9", "http://"])
def test_a_nonsense_base_url_is_one_line(monkeypatch, tmp_path, capsys, base):
    code, out, err = sync(monkeypatch, tmp_path, capsys, base)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"STRIPE_API_BASE {base!r} is not a URL" in err
