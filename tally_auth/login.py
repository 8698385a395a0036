"""Who is signed in, the sign-in screen, and the admin gate pages call.

The identity is always re-derived on the server: from st.user (Streamlit's
signed OIDC cookie) or from a signed token checked against secrets.toml.
Nothing a page writes into st.session_state can make someone an admin.
"""
from __future__ import annotations

import math

import streamlit as st

from tally_auth import config, tokens
from tally_auth.passwords import hash_password, verify_password
from tally_auth.ratelimit import LIMITER
from tally_auth.user import User

TOKEN_KEY = "_tally_auth_token"
LOCAL_VIEWER = User("local viewer", None, "viewer")
LOCAL_WRITER = User("local user (no sign-in)", None, "viewer")
READ_ONLY_NOTE = "Read-only: only an admin can change this."
ENABLE_HINT = ("To enable admin actions, add a local user: run `.venv/bin/python -m tally_auth hash-password` "
               "and paste its output into `.streamlit/secrets.toml`; or configure OIDC in an "
               "`[auth]` section and list admin emails in `[tally_auth] admins`.")
# Checked when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not a password")


def auth_configured() -> bool:
    return config.auth_configured()


def _oidc_identity() -> tuple[str, str, bool | None] | None:
    """(name, email, email_verified) of the st.login user, or None when nobody is signed in."""
    if not config.oidc_configured():
        return None
    try:
        if not st.user.is_logged_in:
            return None
        email = str(st.user.get("email") or "").strip()
        name = st.user.get("name") or email or "signed-in user"
        verified = st.user.get("email_verified")  # only a real true or false counts either way
        return str(name), email, verified if isinstance(verified, bool) else None
    except Exception:
        return None


def _on_viewer_list(email: str) -> bool:
    email = email.lower()
    allowed = config.viewer_allowlist()
    return "@" in email and (email in allowed or "@" + email.rsplit("@", 1)[1] in allowed)


def _oidc_user() -> User | None:
    """The st.login user if Tally admits them: the identity provider admitting them is not enough.

    Admin: on `admins` and the provider says the address is verified (a missing
    claim does not count). Viewer: on `admins` or `viewers` (email or @domain),
    unless the provider says the address is unverified.
    """
    identity = _oidc_identity()
    if identity is None:
        return None
    name, email, verified = identity
    if not email or verified is False:
        return None
    if email.lower() in config.admin_emails():
        return User(name, email, "admin" if verified is True else "viewer")
    return User(name, email, "viewer") if _on_viewer_list(email) else None


def _oidc_refused() -> str | None:
    """Signed in with the identity provider but not allowed into Tally: the line to show."""
    identity = _oidc_identity()
    if identity is None or _oidc_user() is not None:
        return None
    who = identity[1] or identity[0]
    return (f"You are signed in as {who}, but this account is not allowed to use Tally. "
            "Ask an admin to add it to `[tally_auth] viewers` in secrets.toml.")


def _local_user() -> User | None:
    name = tokens.verified_user_name(st.session_state.get(TOKEN_KEY))
    spec = config.local_users().get(name) if name else None
    if not name or spec is None:
        return None
    return User(name, spec.get("email"), spec["role"])


def _is_local_request() -> bool:
    """Streamlit reports no IP for a browser on this computer.

    A proxy on this machine (reverse proxy, tunnel) makes every visitor look
    local; one that says so (`X-Forwarded-For`, `Forwarded`) is not local.
    A plain TCP forward says nothing: configure sign-in before any proxy.
    """
    try:
        ip = st.context.ip_address
    except Exception:
        return False
    # None on localhost (AppTest has no connection at all)
    return not isinstance(ip, str) and _forwarded_for() is None


def _forwarded_for() -> str | None:
    """Whom a proxy in front of Tally forwards this session for ("unknown" if unsaid), or None."""
    try:
        headers = st.context.headers
        forwarded_for = headers.get_all("x-forwarded-for")
        forwarded = headers.get_all("forwarded")
    except Exception:
        return None
    if forwarded_for:  # the last hop is the one our own proxy added
        return forwarded_for[-1].split(",")[-1].strip() or "unknown"
    if forwarded:
        last = forwarded[-1].split(",")[-1]
        for part in last.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "for" and value.strip('"'):
                return value.strip('"')
        return "unknown"
    return None


def client_address() -> str | None:
    """Who is signing in, for the per-client limit: the connection's address, or the
    address a local proxy forwards for; "localhost" for this computer."""
    try:
        ip = st.context.ip_address
    except Exception:
        return None
    if isinstance(ip, str):
        return ip
    return _forwarded_for() or "localhost"


def current_user() -> User | None:
    """The verified user of this session, or None when nobody is signed in."""
    if not auth_configured():
        return LOCAL_VIEWER if _is_local_request() else None
    return _oidc_user() or _local_user()


def data_writer() -> User | None:
    """Who may change shared data (exchange rates, marketing spend, syncs), or None.

    With sign-in configured: admins only. Without it Tally serves only this
    computer (authenticate() refuses anyone else), so whoever sits at it may
    write, as before sign-in existed: the local-only dashboard is a
    single-person tool, and locking these would leave no way to use them.
    """
    if not auth_configured():
        return LOCAL_WRITER if _is_local_request() else None
    user = current_user()
    return user if user is not None and user.is_admin else None


def require_admin() -> User:
    """For admin pages: the verified admin, or an error and st.stop() for anyone else."""
    user = current_user()
    if user is None or not user.is_admin:
        if not auth_configured():
            st.error("Admin actions are locked: no sign-in is configured. " + ENABLE_HINT)
        else:
            st.error("This page is for admins only. Sign in with an admin account.")
        st.stop()
    return user


def sign_in(name: str, password: str) -> str | None:
    """Check a local user's password; returns an error line, or None when signed in."""
    name = (name or "").strip()
    error = check_password(name, password, client_address())
    if error is None:
        st.session_state[TOKEN_KEY] = tokens.issue(name)
    return error


def check_password(name: str, password: str, client: str | None) -> str | None:
    """The limiter's verdict, then the password: an error line, or None when right.

    The try is counted as a failure before the (slow) password check, so
    parallel sessions cannot all guess before the lock takes hold.
    """
    verdict = LIMITER.reserve(name, client)
    if verdict.wait > 0:
        who = "from your address" if verdict.by_client else f"for {name}"
        return f"Too many failed sign-ins {who}. Try again in {math.ceil(verdict.wait)} seconds."
    spec = config.local_users().get(name)
    ok = verify_password(password or "", spec["password_hash"] if spec else _DUMMY_HASH)
    if not (ok and spec):
        return "Wrong user name or password."
    LIMITER.succeeded(name, client)
    return None


def sign_out() -> None:
    st.session_state.pop(TOKEN_KEY, None)
    if _oidc_identity() is not None:
        st.logout()


def _login_screen() -> None:
    st.title("Sign in to Tally")
    for provider in config.oidc_providers():
        label = f"Sign in with {provider.title()}" if provider else "Sign in with single sign-on"
        if st.button(label, key=f"tally_auth_oidc_{provider}"):
            if provider:
                st.login(provider)
            else:
                st.login()
    if config.local_users():
        with st.form("tally_auth_login"):
            name = st.text_input("User name")
            password = st.text_input("Password", type="password")
            submitted = st.form_submit_button("Sign in")
        if submitted:
            error = sign_in(name, password)
            if error:
                st.error(error)
            else:
                st.rerun()


def _signed_in_sidebar(user: User) -> None:
    with st.sidebar:
        st.caption(f"Signed in as {user.name} ({user.role})")
        if st.button("Sign out", key="tally_auth_sign_out"):
            sign_out()
            st.rerun()


def authenticate() -> User | None:
    """The signed-in user; otherwise renders the sign-in screen and returns None."""
    user = current_user()
    if user is not None:
        if auth_configured():
            _signed_in_sidebar(user)
        return user
    if not auth_configured():
        st.error("Tally without sign-in only serves this computer (localhost). " + ENABLE_HINT)
        return None
    refused = _oidc_refused()
    if refused:
        st.error(refused)
        if st.button("Sign out", key="tally_auth_refused_sign_out"):
            st.logout()
        return None
    _login_screen()
    return None
