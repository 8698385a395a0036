"""What secrets.toml configures: local users, the admin allowlist, OIDC.

Everything lives in sections (`[tally_auth]`, `[tally_auth.users.<name>]`,
`[auth]`) because Streamlit copies top-level secrets into os.environ.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from tally_auth.user import ROLES


def _section(name: str) -> dict[str, Any]:
    try:
        value = st.secrets.get(name)
    except Exception:  # no secrets.toml at all, or an unreadable one
        return {}
    return _plain(value) if value is not None else {}


def _plain(value):
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


def local_users() -> dict[str, dict]:
    """User name -> {password_hash, role, email}; entries without a hash are ignored."""
    users = _section("tally_auth").get("users") or {}
    return {name: {"password_hash": spec["password_hash"],
                   "role": spec.get("role") if spec.get("role") in ROLES else "viewer",
                   "email": spec.get("email")}
            for name, spec in users.items()
            if isinstance(spec, dict) and spec.get("password_hash")}


def admin_emails() -> set[str]:
    return {str(e).strip().lower() for e in _section("tally_auth").get("admins") or []}


def viewer_allowlist() -> set[str]:
    """`[tally_auth] viewers`: emails, or whole domains written "@example.com"."""
    return {str(e).strip().lower() for e in _section("tally_auth").get("viewers") or []}


def oidc_providers() -> list[str | None]:
    """st.login providers: None for a single unnamed one, else the section names."""
    auth = _section("auth")
    if not auth:
        return []
    if auth.get("client_id"):
        return [None]
    return [name for name, spec in auth.items() if isinstance(spec, dict) and spec.get("client_id")]


def oidc_configured() -> bool:
    return bool(oidc_providers())


def auth_configured() -> bool:
    return bool(local_users()) or oidc_configured()
