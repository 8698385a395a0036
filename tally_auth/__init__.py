"""Who is using the dashboard, and whether they may take admin actions.

Interface used by dashboard.py and pages/views/admin.py:
- `authenticate() -> User | None`: renders the sign-in screen when needed and
  returns the signed-in user, or None (the caller then calls st.stop()).
- `auth_configured() -> bool`: is OIDC or a local user list configured?
- `current_user() -> User | None`: the verified user, rendering nothing.
- `require_admin() -> User`: for admin pages; shows an error and stops otherwise.
- `data_writer() -> User | None`: who may change shared data (rates, spend,
  syncs): admins when sign-in is configured, anyone on localhost otherwise.

Configuration lives in `.streamlit/secrets.toml` (see secrets.toml.example).
"""
from __future__ import annotations

from tally_auth.login import (
    ENABLE_HINT,
    READ_ONLY_NOTE,
    auth_configured,
    authenticate,
    current_user,
    data_writer,
    require_admin,
    sign_out,
)
from tally_auth.user import User

__all__ = ["User", "ENABLE_HINT", "READ_ONLY_NOTE", "auth_configured", "authenticate",
           "current_user", "data_writer", "require_admin", "sign_out"]
