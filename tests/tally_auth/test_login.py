"""Sign-in, roles and the admin gate, driven through Streamlit's AppTest."""
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from tally_auth import tokens
from tally_auth.passwords import hash_password
from tally_auth.ratelimit import FREE_FAILURES
from tests.conftest import ROOT

HARNESS = str(ROOT / "tests" / "tally_auth" / "harness_app.py")
HASHES = {"admin-pass": hash_password("admin-pass"), "viewer-pass": hash_password("viewer-pass")}


@pytest.fixture(autouse=True)
def private_files(tmp_path, monkeypatch):
    """Admin pages open the audit trail: keep it (and any database) out of data/."""
    monkeypatch.setenv("TALLY_DB", str(tmp_path / "tally.duckdb"))
    monkeypatch.setenv("TALLY_AUDIT_DB", str(tmp_path / "audit.duckdb"))


def app(secrets=None, user=None):
    at = AppTest.from_file(HARNESS, default_timeout=30)
    for name, value in (secrets or {}).items():
        at.secrets[name] = value
    if user is not None:
        at.user = user
    return at


def local_users(prefix=""):
    return {"tally_auth": {"users": {
        f"{prefix}root": {"password_hash": HASHES["admin-pass"], "role": "admin",
                          "email": "root@example.com"},
        f"{prefix}vera": {"password_hash": HASHES["viewer-pass"], "role": "viewer"}}}}


def sign_in(at, name, password):
    at.text_input[0].input(name)
    at.text_input[1].input(password)
    at.button[0].click()
    return at.run()


def open_url_path(at, url_path):
    """What a deep link to /<url_path> asks for."""
    at._page_hash = calc_hash(url_path)
    return at.run()


def titles(at):
    return [t.value for t in at.title]


def errors(at):
    return " ".join(e.value for e in at.error)


def test_without_auth_viewers_get_in_and_admin_is_locked_with_instructions():
    at = app().run()
    assert titles(at) == ["Overview"]
    at = open_url_path(at, "admin")
    assert titles(at) == ["Admin"]
    assert "python -m tally_auth hash-password" in at.info[0].value
    at = open_url_path(at, "refund")
    assert titles(at) == ["Overview"]


def test_with_auth_nothing_shows_until_signed_in():
    at = app(local_users("a")).run()
    assert titles(at) == ["Sign in to Tally"]
    at = open_url_path(at, "refund")
    assert titles(at) == ["Sign in to Tally"]


def test_a_wrong_password_is_refused_and_repeated_failures_lock_the_name():
    at = app(local_users("b")).run()
    for _ in range(FREE_FAILURES):
        at = sign_in(at, "broot", "wrong")
        assert "Wrong user name or password." in errors(at)
    at = sign_in(at, "broot", "admin-pass")  # right password, but locked now
    assert "Too many failed sign-ins for broot" in errors(at)
    assert titles(at) == ["Sign in to Tally"]


def test_a_viewer_cannot_reach_admin_pages_by_url():
    at = sign_in(app(local_users("c")).run(), "cvera", "viewer-pass")
    assert titles(at) == ["Overview"]
    for url_path in ("refund", "cancel", "audit", "admin", "notifications"):
        at = open_url_path(at, url_path)
        assert titles(at) == ["Overview"], url_path


@pytest.mark.parametrize("tamper", [
    lambda state: state.__setitem__("_tally_auth_token", tokens.issue("droot") + "0"),
    lambda state: state.__setitem__("_tally_auth_token", "eyJ1c2VyIjogImRyb290In0=." + "a" * 64),
    lambda state: state.__setitem__("user", "droot"),
    lambda state: state.__setitem__("role", "admin"),
])
def test_session_tampering_does_not_make_a_viewer_an_admin(tamper):
    at = sign_in(app(local_users("d")).run(), "dvera", "viewer-pass")
    tamper(at.session_state)
    at = open_url_path(at, "refund")
    assert "Refund a charge" not in titles(at)


def test_admin_pages_check_the_role_themselves():
    """Even if a page were registered for a viewer, it refuses to render."""
    def page_as_registered_by_mistake():
        from pages.views.admin import refund_page
        refund_page()

    at = AppTest.from_function(page_as_registered_by_mistake)
    at.secrets["tally_auth"] = local_users("e")["tally_auth"]
    at.session_state["_tally_auth_token"] = tokens.issue("evera")
    at.run()
    assert "for admins only" in errors(at)
    assert not at.text_input


def test_a_deep_link_to_the_page_file_renders_nothing():
    at = AppTest.from_file(str(ROOT / "pages" / "views" / "admin.py")).run()
    assert not at.main.children or all(not c.children for c in at.main.children.values())
    assert not at.exception


def test_a_local_admin_reaches_the_admin_pages():
    at = sign_in(app(local_users("f")).run(), "froot", "admin-pass")
    assert at.sidebar.caption[0].value == "Signed in as froot (admin)"
    at = open_url_path(at, "audit")
    assert titles(at) == ["Audit trail"]


OIDC = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                 "cookie_secret": "x" * 32, "client_id": "tally",
                 "client_secret": "s", "server_metadata_url": "https://idp.example/.well-known"},
        "tally_auth": {"admins": ["Boss@Example.com"],
                       "viewers": ["staff@example.com", "@team.example"]}}


def test_oidc_users_are_admins_only_when_allowlisted_and_verified():
    boss = app(OIDC, {"is_logged_in": True, "email": "boss@example.com", "name": "Boss",
                      "email_verified": True}).run()
    assert titles(open_url_path(boss, "refund")) == ["Refund a charge"]
    staff = app(OIDC, {"is_logged_in": True, "email": "staff@example.com",
                       "email_verified": True}).run()
    assert titles(open_url_path(staff, "refund")) == ["Overview"]
    unverified = app(OIDC, {"is_logged_in": True, "email": "boss@example.com",
                            "email_verified": False}).run()
    assert titles(open_url_path(unverified, "refund")) != ["Refund a charge"]
    nobody = app(OIDC, {"is_logged_in": False}).run()
    assert titles(nobody) == ["Sign in to Tally"]
    assert nobody.button[0].label == "Sign in with single sign-on"


def test_an_oidc_admin_without_the_email_verified_claim_is_only_a_viewer():
    boss = app(OIDC, {"is_logged_in": True, "email": "boss@example.com", "name": "Boss"}).run()
    assert titles(boss) == ["Overview"]
    assert titles(open_url_path(boss, "refund")) == ["Overview"]


def test_oidc_viewers_come_from_the_allowlist_by_email_or_domain():
    member = app(OIDC, {"is_logged_in": True, "email": "ann@team.example"}).run()
    assert titles(member) == ["Overview"]
    stranger = app(OIDC, {"is_logged_in": True, "email": "eve@elsewhere.example",
                          "email_verified": True}).run()
    assert "Overview" not in titles(stranger)
    assert "not allowed to use Tally" in errors(stranger)
    assert "eve@elsewhere.example" in errors(stranger)
    lookalike = app(OIDC, {"is_logged_in": True, "email": "eve@evilteam.example"}).run()
    assert "not allowed to use Tally" in errors(lookalike)


def test_sign_out_returns_to_the_sign_in_screen():
    at = sign_in(app(local_users("g")).run(), "groot", "admin-pass")
    next(b for b in at.sidebar.button if b.label == "Sign out").click()
    assert titles(at.run()) == ["Sign in to Tally"]


def test_a_user_removed_from_secrets_loses_access_at_once():
    at = sign_in(app(local_users("h")).run(), "hroot", "admin-pass")
    assert titles(at) == ["Overview"]
    at.secrets["tally_auth"] = {"users": {}, "admins": ["someone@example.com"]}
    at.secrets["auth"] = {"client_id": "x"}  # still configured, via OIDC only
    assert titles(at.run()) == ["Sign in to Tally"]


class _Headers(dict):
    def get_all(self, name):
        return self.get(name, [])


def _request(monkeypatch, ip, **headers):
    from types import SimpleNamespace

    from tally_auth import login
    context = SimpleNamespace(ip_address=ip, headers=_Headers({k.replace("_", "-"): v for k, v in headers.items()}))
    monkeypatch.setattr(login, "st", SimpleNamespace(context=context))
    return login


def test_a_local_connection_that_a_proxy_forwards_is_not_local(monkeypatch):
    # uvicorn rewrites a forwarded *remote* address itself; a proxy forwarding for
    # 127.0.0.1 (or saying only `Forwarded`) leaves no IP, and only the headers tell
    assert _request(monkeypatch, None)._is_local_request()
    assert not _request(monkeypatch, None, x_forwarded_for=["127.0.0.1"])._is_local_request()
    assert not _request(monkeypatch, None, forwarded=["for=192.0.2.1;proto=https"])._is_local_request()
    assert not _request(monkeypatch, "203.0.113.7")._is_local_request()
    assert _request(monkeypatch, None, x_forwarded_for=["198.51.100.4"]).client_address() == "198.51.100.4"
